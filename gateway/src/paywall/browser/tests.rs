//! Unit tests of the browser paywall: cookies, tickets, `Accept`, the HTML 402.

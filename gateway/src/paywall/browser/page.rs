//! The paywall page: one self-contained HTML document (style and script embedded in the
//! binary, the QR code rendered here as inline SVG), under a strict Content-Security-Policy
//! that allows exactly its own style and script (by SHA-256) and `fetch` to this origin.

use std::sync::OnceLock;

use base64::Engine as _;
use qrcode::{render::svg, EcLevel, QrCode};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// What the page shows.
#[derive(Debug, Clone)]
pub struct PageFacts<'a> {
    /// Route name (what is sold).
    pub route: &'a str,
    /// Path requested.
    pub path: &'a str,
    /// Price, millisatoshis.
    pub price_msat: u64,
    /// How long access lasts once paid, seconds.
    pub access_secs: u64,
    /// The BOLT11 invoice.
    pub invoice: &'a str,
    /// Settlement endpoint for this page (path with the ticket).
    pub wait_url: &'a str,
}

/// The `Content-Security-Policy` of the page.
pub fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let h = |s: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s));
        format!(
            "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            h(CSS),
            h(JS)
        )
    })
}

/// Escape text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The invoice as an SVG QR code (`LIGHTNING:<BOLT11>` upper-cased: the QR alphanumeric
/// mode, the form wallets scan); `None` if it does not fit a QR code.
pub fn qr_svg(invoice: &str) -> Option<String> {
    let text = format!("lightning:{invoice}").to_ascii_uppercase();
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    // Inline in HTML: without the XML prologue.
    Some(match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    })
}

/// Price as text: sats (with the millisatoshis when not whole).
fn price_text(msat: u64) -> String {
    if msat.is_multiple_of(1000) {
        format!("{} <small>sat</small>", msat / 1000)
    } else {
        format!("{}.{:03} <small>sat</small>", msat / 1000, msat % 1000)
    }
}

fn duration_text(secs: u64) -> String {
    match secs {
        s if s.is_multiple_of(86_400) => {
            format!("{} day{}", s / 86_400, if s == 86_400 { "" } else { "s" })
        }
        s if s.is_multiple_of(3600) => {
            format!("{} hour{}", s / 3600, if s == 3600 { "" } else { "s" })
        }
        s if s.is_multiple_of(60) => format!("{} minute{}", s / 60, if s == 60 { "" } else { "s" }),
        s => format!("{s} seconds"),
    }
}

/// Render the page.
pub fn render(f: &PageFacts<'_>) -> String {
    let qr = qr_svg(f.invoice).unwrap_or_default();
    let invoice = esc(f.invoice);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>Payment required · {route}</title>
<style>{CSS}</style></head>
<body><main id="paywall" data-wait="{wait}" data-state="pending">
<h1>Payment required</h1>
<p class="what">Access to <strong id="route">{route}</strong> (<code>{path}</code>) for {access}</p>
<p class="price" id="price" data-msat="{msat}">{price}</p>
<div class="qr" id="qr" role="img" aria-label="QR code of the Lightning invoice">{qr}</div>
<a class="pay" id="wallet" href="lightning:{invoice}">Open in a Lightning wallet</a>
<div class="inv"><input id="invoice" readonly value="{invoice}" aria-label="Lightning invoice"><button id="copy" type="button">Copy</button></div>
<p class="status" id="status">Waiting for the payment…</p>
<p class="foot">Paid with Lightning through gate402. This page opens the content by itself once the invoice is paid.</p>
</main><script>{JS}</script></body></html>
"#,
        route = esc(f.route),
        path = esc(f.path),
        access = duration_text(f.access_secs),
        wait = esc(f.wait_url),
        msat = f.price_msat,
        price = price_text(f.price_msat),
    )
}

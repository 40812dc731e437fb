"use strict";
(function () {
  var root = document.getElementById("paywall");
  var status = document.getElementById("status");
  var invoice = document.getElementById("invoice");
  var copy = document.getElementById("copy");
  var url = root.getAttribute("data-wait");
  copy.addEventListener("click", function () {
    function done() { copy.textContent = "Copied"; }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(invoice.value).then(done, function () {
        invoice.select(); document.execCommand("copy"); done();
      });
    } else { invoice.select(); document.execCommand("copy"); done(); }
  });
  function show(text, cls) { status.textContent = text; status.className = "status " + (cls || ""); }
  var failures = 0;
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
      .then(function (res) {
        var st = res[1] && res[1].state;
        failures = 0;
        if (st === "settled") {
          show("Paid \u2014 loading\u2026", "ok");
          root.setAttribute("data-state", "settled");
          location.reload();
        } else if (st === "expired") {
          show("This invoice expired. Reload the page for a new one.", "bad");
          root.setAttribute("data-state", "expired");
        } else if (st === "pending") {
          setTimeout(poll, 250);
        } else {
          show("Cannot follow this payment. Reload the page.", "bad");
        }
      })
      .catch(function () {
        failures += 1;
        setTimeout(poll, Math.min(30000, 1000 * failures));
      });
  }
  poll();
})();

// gate402 dashboard: reads the admin API with the operator's token (sessionStorage of this
// tab only) and redraws every few seconds. Everything is written with textContent or SVG
// attributes: nothing from the API is parsed as HTML.
"use strict";
(function () {
  const REFRESH_MS = 3000;
  const KEY = "gate402-admin-token";
  const COLORS = ["#f7931a", "#3b6fd8", "#1a9c8c", "#b84dd6", "#d8563b", "#6b8e23", "#c9a227", "#5a6270"];
  const $ = (id) => document.getElementById(id);
  let timer = null;

  function token() { return sessionStorage.getItem(KEY) || ""; }

  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: "Bearer " + token() }, cache: "no-store" });
    if (r.status === 401 || r.status === 403) { const e = new Error("unauthorized"); e.auth = true; throw e; }
    if (!r.ok) { let m = r.status + ""; try { m = (await r.json()).error || m; } catch (_) {} throw new Error(m); }
    return r.json();
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement("tr");
      for (const [text, cls] of cells) tr.appendChild(el("td", text, cls));
      return tr;
    }));
  }

  function fmtTime(s) { return new Date(s * 1000).toISOString().replace("T", " ").slice(0, 19); }
  function sat(msat) { return (msat / 1000).toLocaleString("en-US", { maximumFractionDigits: 3 }); }

  function drawChart(days) {
    const series = [...new Set(days.map((d) => d.route + " / " + d.protocol))].sort();
    const dates = [...new Set(days.map((d) => d.day))].sort().slice(-30);
    const box = $("chart");
    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    const W = 900, H = 240, pad = 40;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const stack = dates.map((day) => series.map((s) => days
      .filter((d) => d.day === day && d.route + " / " + d.protocol === s)
      .reduce((a, d) => a + d.amount_msat, 0)));
    const max = Math.max(1, ...stack.map((v) => v.reduce((a, b) => a + b, 0)));
    const bw = Math.max(4, Math.min(60, (W - pad * 2) / Math.max(1, dates.length) - 6));
    dates.forEach((day, i) => {
      let y = H - pad;
      const x = pad + i * ((W - pad * 2) / Math.max(1, dates.length)) + 3;
      stack[i].forEach((v, j) => {
        if (!v) return;
        const h = (v / max) * (H - pad * 2);
        const r = document.createElementNS(svgNS, "rect");
        r.setAttribute("x", x); r.setAttribute("y", y - h); r.setAttribute("width", bw); r.setAttribute("height", h);
        r.setAttribute("fill", COLORS[j % COLORS.length]);
        const t = document.createElementNS(svgNS, "title");
        t.textContent = `${day} ${series[j]}: ${sat(v)} sat`;
        r.appendChild(t); svg.appendChild(r); y -= h;
      });
      const label = document.createElementNS(svgNS, "text");
      label.setAttribute("x", x); label.setAttribute("y", H - pad + 14); label.setAttribute("font-size", "10");
      label.textContent = day.slice(5); svg.appendChild(label);
    });
    const axis = document.createElementNS(svgNS, "text");
    axis.setAttribute("x", 2); axis.setAttribute("y", pad - 8); axis.setAttribute("font-size", "10");
    axis.textContent = sat(max) + " sat"; svg.appendChild(axis);
    box.replaceChildren(svg);
    $("legend").replaceChildren(...series.map((s, j) => {
      const li = el("li"); const sw = el("span"); sw.style.background = COLORS[j % COLORS.length];
      li.append(sw, document.createTextNode(s)); return li;
    }));
  }

  function health(p, up, text) { p.textContent = text; p.className = "big " + (up ? "up" : "down"); }

  async function refresh() {
    try {
      const [who, stats, ledger, status, routes] = await Promise.all([
        api("/api/whoami"), api("/api/stats"), api("/api/ledger?limit=20"), api("/api/status"), api("/api/routes"),
      ]);
      $("login").hidden = true; $("board").hidden = false;
      $("who").textContent = `${who.sub} (${who.role})`;
      $("total-amount").textContent = sat(stats.total.amount_msat);
      $("total-msat").textContent = stats.total.amount_msat;
      $("total-payments").textContent = stats.total.payments;
      fill($("totals").tBodies[0], stats.totals.map((t) => [[t.route], [t.protocol], [t.payments, "num"], [t.amount_msat, "num"]]));
      $("foot-payments").textContent = stats.total.payments;
      $("foot-msat").textContent = stats.total.amount_msat;
      drawChart(stats.days);
      fill($("payments").tBodies[0], ledger.payments.map((p) => [[fmtTime(p.created_at)], [p.route], [p.protocol], [p.amount_msat, "num"], [p.state], [p.reference, "ref"]]));
      fill($("routes").tBodies[0], routes.routes.map((r) => [[r.name], [(r.host || "") + r.path_prefix], [r.protocols.join(", ")], [r.dynamic ? "dynamic" : r.price_msat, "num"], [r.pool_stock, "num"]]));
      health($("rail"), status.rail.up, status.rail.up ? "up (" + status.rail.id + ")" : "down");
      $("nodes").replaceChildren(...status.rail.nodes.map((n) => el("li", `${n.name}: ${n.up ? "up" : "down"}`)));
      if (status.store) health($("store"), status.store.up, `${status.store.backend}: ${status.store.up ? "up" : "down"}`);
      else health($("store"), false, "none");
      $("pool").textContent = `pool hits ${status.pool.hits}, misses ${status.pool.misses}, minted ${status.pool.minted}`;
      $("updated").textContent = "updated " + fmtTime(status.now);
      $("board").dataset.loaded = String(status.now);
    } catch (e) {
      if (e.auth) { logout("token refused: " + e.message); return; }
      $("updated").textContent = "refresh failed: " + e.message;
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function logout(msg) {
    clearTimeout(timer); sessionStorage.removeItem(KEY);
    $("board").hidden = true; $("login").hidden = false; $("login-error").textContent = msg || "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $("token").value.trim());
      $("token").value = ""; clearTimeout(timer); refresh();
    });
    $("logout").addEventListener("click", () => logout(""));
    if (token()) refresh();
  });
})();

// Reference client -> gate402: @getalby/lightning-tools `fetchWithMpp` pays a gate402 route.
// Usage: node alby_fetch.mjs <url> <wallet-url>
// The wallet is injected: payInvoice({invoice}) POSTs the invoice to <wallet-url> (a loopback
// endpoint of the Rust test that pays it with the buyer's simnet node) and returns the
// preimage. Prints one JSON line: {status, body, receipt, paid, amountSat}.
import { fetchWithMpp } from "@getalby/lightning-tools/402/mpp";

const [url, walletUrl] = process.argv.slice(2);
const wallet = {
  async payInvoice({ invoice }) {
    const r = await fetch(walletUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ invoice }),
    });
    if (!r.ok) throw new Error(`wallet: ${r.status} ${await r.text()}`);
    return await r.json();
  },
};
const resp = await fetchWithMpp(url, {}, { wallet });
console.log(
  JSON.stringify({
    status: resp.status,
    body: await resp.text(),
    receipt: resp.headers.get("payment-receipt"),
    paid: resp.payment?.paid ?? false,
    amountSat: resp.payment?.amountSat ?? 0,
  }),
);

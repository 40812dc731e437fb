// Reference client -> gate402: @getalby/lightning-tools `fetchWithMpp` (mode `mpp`, default)
// or `fetch402` (mode `402`: L402, MPP or x402, whichever Alby finds first) pays a gate402 route.
// Usage: node alby_fetch.mjs <url> <wallet-url> [mpp|402]
// The wallet is injected: payInvoice({invoice}) POSTs the invoice to <wallet-url> (a loopback
// endpoint of the Rust test that pays it with the buyer's simnet node) and returns the
// preimage. Prints one JSON line: {status, body, receipt, paid, amountSat, header}.
import { fetch402 } from "@getalby/lightning-tools/402";
import { fetchWithMpp } from "@getalby/lightning-tools/402/mpp";

const [url, walletUrl, mode = "mpp"] = process.argv.slice(2);
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
const pay = mode === "402" ? fetch402 : fetchWithMpp;
const resp = await pay(url, {}, { wallet });
console.log(
  JSON.stringify({
    status: resp.status,
    body: await resp.text(),
    receipt: resp.headers.get("payment-receipt"),
    paid: resp.payment?.paid ?? false,
    amountSat: resp.payment?.amountSat ?? 0,
    header: resp.payment?.credentials?.header ?? null,
  }),
);

// Alby's x402 Lightning client (@getalby/lightning-tools 9.0.1 `fetchWithX402`) paying one
// URL. Env: X402_URL, WALLET_URL (a test wallet endpoint: POST {invoice} -> {preimage}).
// Prints one JSON line: {status, body, credentials}.
import { fetchWithX402 } from "@getalby/lightning-tools/402";

const { X402_URL, WALLET_URL } = process.env;
const wallet = {
  async payInvoice({ invoice }) {
    const r = await fetch(WALLET_URL, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ invoice }),
    });
    if (!r.ok) throw new Error(`wallet: HTTP ${r.status} ${await r.text()}`);
    return await r.json();
  },
};
const resp = await fetchWithX402(X402_URL, {}, { wallet });
const body = await resp.text();
console.log(JSON.stringify({ status: resp.status, body, credentials: resp.payment?.credentials ?? null }));

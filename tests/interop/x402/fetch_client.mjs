// Reference client (@x402/fetch 2.27.0) paying one URL. Env: X402_URL, X402_BUYER_KEY (hex,
// never a CLI argument), X402_RPC_URL, optional X402_COUNT (sequential paid requests, for the
// throughput comparison). Prints one JSON line: {status, body, paymentResponse, ms[]}.
import { wrapFetchWithPayment, x402Client, decodePaymentResponseHeader } from "@x402/fetch";
import { registerExactEvmScheme } from "@x402/evm/exact/client";
import { toClientEvmSigner } from "@x402/evm";
import { createPublicClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anvil } from "viem/chains";

const { X402_URL, X402_BUYER_KEY, X402_RPC_URL } = process.env;
const count = Number(process.env.X402_COUNT || "1");
const account = privateKeyToAccount(X402_BUYER_KEY);
const publicClient = createPublicClient({ chain: anvil, transport: http(X402_RPC_URL) });
const client = x402Client.fromConfig({ schemes: [], spendControls: { allowedAssets: true } });
registerExactEvmScheme(client, { signer: toClientEvmSigner(account, publicClient) });
const pay = wrapFetchWithPayment(fetch, client);

const ms = [];
let last;
for (let i = 0; i < count; i++) {
  const t0 = performance.now();
  const resp = await pay(X402_URL);
  const body = await resp.text();
  ms.push(performance.now() - t0);
  const header = resp.headers.get("PAYMENT-RESPONSE") || resp.headers.get("X-PAYMENT-RESPONSE");
  last = { status: resp.status, body, paymentResponse: header ? decodePaymentResponseHeader(header) : null };
  if (resp.status !== 200) break;
}
console.log(JSON.stringify({ ...last, ms }));

// mppx 0.11.0's built-in `evm` charge method (EIP-3009 on eip155:31337, the test token), with
// its x402 compatibility on: one route answering with both a `Payment` challenge and a
// `PAYMENT-REQUIRED` header, as mppx serves them. Only the 402 is exercised (the probe grades
// it; nothing is settled: `settle` refuses). Usage: node mppx_evm_server.mjs <secret> <realm>
// <token> <payee>. Prints `LISTENING <port>`; serves GET /paid (0.01 token).
import * as http from "node:http";
import { Mppx, evm } from "mppx/server";

const [secretKey, realm, currency, recipient] = process.argv.slice(2);
const method = evm.charge({
  currency,
  recipient,
  chainId: 31337,
  decimals: 6,
  authorization: { name: "USD Coin", version: "2" },
  settle: async () => {
    throw new Error("the probe peer settles nothing");
  },
  x402: { facilitator: "http://127.0.0.1:9", maxTimeoutSeconds: 300 },
});
const mppx = Mppx.create({ methods: [method], secretKey, realm });
const handler = mppx["evm/charge"] ?? mppx.charge;
const server = http.createServer(async (req, res) => {
  if (req.url !== "/paid") {
    res.statusCode = 404;
    return res.end("not found");
  }
  const result = await Mppx.toNodeListener(handler({ amount: "0.01" }))(req, res);
  if (result.status === 402) return;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ paid: true, by: "mppx evm" }));
});
server.listen(0, "127.0.0.1", () => console.log(`LISTENING ${server.address().port}`));

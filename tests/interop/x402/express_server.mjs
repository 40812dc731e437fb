// The reference x402 resource server (@x402/express 2.27.0 paymentMiddleware) selling
// GET /weather for 10000 units of the test token on eip155:31337. Env: X402_FACILITATOR_URL,
// X402_TOKEN, X402_PAYEE. Prints `LISTENING <port>` once ready; runs until killed.
import express from "express";
import { paymentMiddleware } from "@x402/express";
import { x402ResourceServer, HTTPFacilitatorClient } from "@x402/core/server";
import { ExactEvmScheme } from "@x402/evm/exact/server";

const { X402_FACILITATOR_URL, X402_TOKEN, X402_PAYEE } = process.env;
const server = new x402ResourceServer(new HTTPFacilitatorClient({ url: X402_FACILITATOR_URL }))
  .register("eip155:31337", new ExactEvmScheme());
const routes = {
  "GET /weather": {
    accepts: {
      scheme: "exact",
      network: "eip155:31337",
      payTo: X402_PAYEE,
      price: { asset: X402_TOKEN, amount: "10000", extra: { name: "USD Coin", version: "2" } },
    },
    description: "weather",
  },
};
const app = express();
app.use(paymentMiddleware(routes, server));
app.get("/weather", (_req, res) => res.json({ weather: "sunny" }));
const listener = app.listen(0, "127.0.0.1", () => console.log(`LISTENING ${listener.address().port}`));

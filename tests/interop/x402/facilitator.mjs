// The reference x402 facilitator (@x402/core 2.27.0 x402Facilitator + @x402/evm exact) served
// over express on 127.0.0.1:0. Env: X402_FAC_KEY (settler key; env only), X402_RPC_URL,
// optional X402_POLL_MS (viem receipt polling interval; viem's default otherwise).
// Prints `LISTENING <port>` once ready; runs until killed.
import express from "express";
import { x402Facilitator } from "@x402/core/facilitator";
import { registerExactEvmScheme } from "@x402/evm/exact/facilitator";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { createWalletClient, http, publicActions } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anvil } from "viem/chains";

const account = privateKeyToAccount(process.env.X402_FAC_KEY);
const poll = process.env.X402_POLL_MS ? { pollingInterval: Number(process.env.X402_POLL_MS) } : {};
const wallet = createWalletClient({ account, chain: anvil, transport: http(process.env.X402_RPC_URL), ...poll })
  .extend(publicActions);
const facilitator = new x402Facilitator();
registerExactEvmScheme(facilitator, {
  signer: toFacilitatorEvmSigner({ ...wallet, address: account.address }),
  networks: "eip155:31337",
});

const app = express();
app.use(express.json());
app.get("/supported", (_req, res) => res.json(facilitator.getSupported()));
for (const op of ["verify", "settle"]) {
  app.post(`/${op}`, async (req, res) => {
    try {
      const { paymentPayload, paymentRequirements } = req.body;
      res.json(await facilitator[op](paymentPayload, paymentRequirements));
    } catch (e) {
      res.status(500).json({ error: String(e?.message || e) });
    }
  });
}
const server = app.listen(0, "127.0.0.1", () => console.log(`LISTENING ${server.address().port}`));

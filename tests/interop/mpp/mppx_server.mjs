// gate402 client -> reference server: an mppx 0.11.0 server with a Lightning charge method
// defined here with mppx's custom-method API, so challenge issuance, HMAC ids, credential
// parsing and receipts are mppx's own code. Invoices are minted by the Rust test's seller
// node through a loopback endpoint. Replays are refused the way the Lightning plugins for mppx
// do it (a consumed-hash key per payment), here with mppx's atomic `Store.tryClaim`.
// Usage: node mppx_server.mjs <invoice-url> <secret> <realm>
// Prints `LISTENING <port>` once bound to 127.0.0.1:0; serves GET /paid (10 sat).
import { createHash } from "node:crypto";
import * as http from "node:http";
import { Errors, Method, z } from "mppx";
import { Mppx, Store } from "mppx/server";

const [invoiceUrl, secretKey, realm] = process.argv.slice(2);
const consumed = Store.memory();

const lightningCharge = Method.from({
  name: "lightning",
  intent: "charge",
  schema: {
    request: z.object({
      amount: z.string(),
      currency: z.string(),
      methodDetails: z.optional(
        z.object({
          invoice: z.string(),
          paymentHash: z.string(),
          network: z.optional(z.string()),
        }),
      ),
    }),
    credential: { payload: z.object({ preimage: z.string() }) },
  },
});

const server = Method.toServer(lightningCharge, {
  // Mint a fresh invoice per challenge; when verifying, keep the echoed one.
  async request({ request, credential }) {
    if (credential) return { ...request, methodDetails: credential.challenge.request.methodDetails };
    const r = await fetch(invoiceUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ amount: request.amount }),
    });
    const { bolt11, paymentHash } = await r.json();
    return { ...request, methodDetails: { invoice: bolt11, paymentHash, network: "regtest" } };
  },
  async verify({ credential }) {
    const { paymentHash } = credential.challenge.request.methodDetails;
    const preimage = credential.payload.preimage;
    const hash = createHash("sha256").update(Buffer.from(preimage, "hex")).digest("hex");
    if (!/^[0-9a-f]{64}$/.test(preimage) || hash !== paymentHash)
      throw new Errors.VerificationFailedError({ reason: "invalid preimage" });
    const key = `lightning-charge:consumed:${paymentHash}`;
    if (!(await Store.tryClaim(consumed, key, Date.now() + 600_000)))
      throw new Errors.InvalidChallengeError({ id: credential.challenge.id, reason: "already used" });
    return { method: "lightning", reference: paymentHash, status: "success", timestamp: new Date().toISOString() };
  },
});

const mppx = Mppx.create({ methods: [server], secretKey, realm });
const handler = mppx["lightning/charge"] ?? mppx.charge;

const httpServer = http.createServer(async (req, res) => {
  if (req.url !== "/paid") {
    res.statusCode = 404;
    return res.end("not found");
  }
  const result = await Mppx.toNodeListener(handler({ amount: "10", currency: "sat" }))(req, res);
  if (result.status === 402) return;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ paid: true, by: "mppx" }));
});
httpServer.listen(0, "127.0.0.1", () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});

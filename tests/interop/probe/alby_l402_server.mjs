// An L402 server built only on @getalby/lightning-tools 9.0.1's server utilities:
// `issueL402Macaroon` mints the token, `makeL402AuthenticateHeader` writes the challenge,
// `parseL402Authorization` + `verifyL402Macaroon` check a paid request. Invoices are minted by
// the Rust test's seller node through a loopback endpoint.
// Usage: node alby_l402_server.mjs <invoice-url>. Prints `LISTENING <port>`; serves GET /paid
// (10 sat).
import { createHash } from "node:crypto";
import * as http from "node:http";
import {
  issueL402Macaroon,
  makeL402AuthenticateHeader,
  parseL402Authorization,
  verifyL402Macaroon,
} from "@getalby/lightning-tools/402/l402";

const [invoiceUrl] = process.argv.slice(2);
const secret = "alby-l402-peer-secret-of-at-least-32-bytes";

const server = http.createServer(async (req, res) => {
  if (req.url !== "/paid") {
    res.statusCode = 404;
    return res.end("not found");
  }
  const auth = req.headers.authorization;
  if (auth) {
    try {
      const { token, preimage } = parseL402Authorization(auth);
      const { paymentHash } = await verifyL402Macaroon(secret, token);
      const hash = createHash("sha256").update(Buffer.from(preimage, "hex")).digest("hex");
      if (hash === paymentHash) {
        res.setHeader("content-type", "application/json");
        return res.end(JSON.stringify({ paid: true, by: "alby l402 utilities" }));
      }
    } catch {}
  }
  const r = await fetch(invoiceUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ amount: "10" }),
  });
  const { bolt11, paymentHash } = await r.json();
  const token = await issueL402Macaroon(secret, paymentHash);
  res.statusCode = 402;
  res.setHeader("cache-control", "no-store"); // the script's (the utilities write the challenge only)
  res.setHeader("www-authenticate", makeL402AuthenticateHeader({ token, invoice: bolt11 }));
  res.end("payment required");
});
server.listen(0, "127.0.0.1", () => console.log(`LISTENING ${server.address().port}`));

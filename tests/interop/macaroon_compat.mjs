#!/usr/bin/env node
// gate402 interop oracle: npm `macaroon` 3.0.4 (the JavaScript port of go-macaroon, which
// Aperture and lnget use through gopkg.in/macaroon.v2).
//
// Usage:
//   node macaroon_compat.mjs verify <root_key_hex> <std-b64 macaroon>
//     -> {"ok":bool,"error":string|null,"identifierHex":..,"location":..,"caveats":[..],
//         "signatureHex":..,"reencoded":<std-b64 of the V2 binary as re-exported by the lib>}
//   node macaroon_compat.mjs mint <root_key_hex> <identifier_hex> <location> [<caveat>...]
//     -> std-b64 (with padding) of the V2 binary
//
// Every first-party caveat is accepted during verification: only the HMAC chain is checked.
// Exit status: 0 on success (verify reports failures in the JSON), 2 on usage errors.

import macaroon from 'macaroon';

// Work around a bug in macaroon 3.0.4: `ByteBuffer._grow` compares against `this._capacity`,
// which is never set, so every append doubles the buffer. `exportBinary()` of a macaroon with
// 4+ caveats then throws "Invalid typed array length" (3 caveats already reserve ~3 GB).
// Supplying the intended value (the current buffer length) changes no output byte; the getter
// is non-enumerable and only ByteBuffer reads `_capacity`.
if (!('_capacity' in Object.prototype)) {
  Object.defineProperty(Object.prototype, '_capacity', {
    get() {
      return this._buf instanceof Uint8Array ? this._buf.length : undefined;
    },
    configurable: true,
  });
}

const fromHex = (hex) => {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`not hex: ${hex}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
};
const toHex = (bytes) => Buffer.from(bytes).toString('hex');
const toStdB64 = (bytes) => Buffer.from(bytes).toString('base64');
const fromB64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));

function verify(rootKeyHex, b64) {
  const out = { ok: false, error: null };
  let m;
  try {
    m = macaroon.importMacaroon(fromB64(b64));
  } catch (e) {
    out.error = `import: ${e.message}`;
    return out;
  }
  out.identifierHex = toHex(m.identifier);
  out.location = m.location;
  out.caveats = m.caveats.map((c) => Buffer.from(c.identifier).toString('utf8'));
  out.signatureHex = toHex(m.signature);
  out.reencoded = toStdB64(m.exportBinary());
  try {
    m.verify(fromHex(rootKeyHex), () => null);
    out.ok = true;
  } catch (e) {
    out.error = e.message;
  }
  return out;
}

function mint(rootKeyHex, identifierHex, location, caveats) {
  const m = macaroon.newMacaroon({
    identifier: fromHex(identifierHex),
    location,
    rootKey: fromHex(rootKeyHex),
    version: 2,
  });
  for (const c of caveats) m.addFirstPartyCaveat(c);
  return toStdB64(m.exportBinary());
}

function usage() {
  process.stderr.write(
    'usage: macaroon_compat.mjs verify <root_key_hex> <b64>\n' +
      '       macaroon_compat.mjs mint <root_key_hex> <identifier_hex> <location> [caveat...]\n',
  );
  process.exit(2);
}

const [cmd, ...args] = process.argv.slice(2);
try {
  if (cmd === 'verify' && args.length === 2) {
    process.stdout.write(JSON.stringify(verify(args[0], args[1])) + '\n');
  } else if (cmd === 'mint' && args.length >= 3) {
    process.stdout.write(mint(args[0], args[1], args[2], args.slice(3)) + '\n');
  } else {
    usage();
  }
} catch (e) {
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(2);
}

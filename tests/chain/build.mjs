// Rebuilds EIP3009Token.json (ABI + bytecode) from EIP3009Token.sol with the pinned solc-js
// (npm `solc`, see tests/interop/package.json). Run: node tests/chain/build.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../interop/package.json"));
const solc = require("solc");

const source = readFileSync(join(here, "EIP3009Token.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "EIP3009Token.sol": { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { EIP3009Token: ["abi", "evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const c = out.contracts["EIP3009Token.sol"].EIP3009Token;
const artifact = {
  contractName: "EIP3009Token",
  compiler: `solc-js ${solc.version()}`,
  settings: input.settings,
  abi: c.abi,
  bytecode: "0x" + c.evm.bytecode.object,
};
writeFileSync(join(here, "EIP3009Token.json"), JSON.stringify(artifact, null, 1) + "\n");
console.log(`EIP3009Token.json: ${c.evm.bytecode.object.length / 2} bytes of init code`);

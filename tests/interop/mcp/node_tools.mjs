// The reference MCP TypeScript SDK client (@modelcontextprotocol/sdk, pinned) against
// `gate402 mcp --node-tools` (issue #16 "L"): lists the tools and calls the read-only node
// tools (all eight); the SDK validates every structuredContent against the tool's outputSchema.
// Env: GATE402_BIN, GATE402_MCP_ARGS (JSON array), MCP_URL (answers 402 with an L402
// invoice to decode). Prints one JSON line with what it saw; exits non-zero on SDK errors.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const challenge = (await fetch(process.env.MCP_URL)).headers.get("www-authenticate") ?? "";
const invoice = /invoice="([^"]+)"/.exec(challenge)?.[1] ?? "";

const transport = new StdioClientTransport({
  command: process.env.GATE402_BIN,
  args: JSON.parse(process.env.GATE402_MCP_ARGS),
  stderr: "inherit",
});
const client = new Client({ name: "gate402-node-tools-agent", version: "1.0.0" });
await client.connect(transport);
const listed = (await client.listTools()).tools;
const call = async (name, args) => {
  const r = await client.callTool({ name, arguments: args });
  return { isError: r.isError === true, value: r.structuredContent };
};
const info = await call("node_info", {});
const balance = await call("channel_balance", {});
const decoded = await call("decode_invoice", { invoice });
const garbage = await call("decode_invoice", { invoice: "lnbc1notaninvoice" });
const wallet = await call("wallet_balance", {});
const channels = await call("list_channels", {});
const invoices = await call("list_invoices", { max: 10 });
const payments = await call("list_payments", { include_incomplete: true });
const feeForInvoice = await call("estimate_route_fee", { invoice });
const feeToNode = await call("estimate_route_fee", {
  destination: decoded.value?.destination ?? "",
  amount_sat: 1000,
});
await client.close();
console.log(
  JSON.stringify({
    tools: listed.map((t) => t.name),
    withOutputSchema: listed.filter((t) => t.outputSchema).map((t) => t.name),
    invoice,
    info,
    balance,
    decoded,
    garbage,
    wallet,
    channels,
    invoices,
    payments,
    feeForInvoice,
    feeToNode,
  }),
);

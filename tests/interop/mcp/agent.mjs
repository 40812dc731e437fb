// An agent using the reference MCP TypeScript SDK client (@modelcontextprotocol/sdk, pinned):
// spawns `gate402 mcp` over stdio, lists the tools, quotes and buys URL, reads the budget.
// The SDK validates every structuredContent against the tool's outputSchema.
// Env: GATE402_BIN, GATE402_MCP_ARGS (JSON array), MCP_URL, MCP_OVER_URL (priced above
// max_cost_sats 20 and above what the daily budget leaves after MCP_URL).
// Prints one JSON line with what it saw; exits non-zero on any SDK error.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const transport = new StdioClientTransport({
  command: process.env.GATE402_BIN,
  args: JSON.parse(process.env.GATE402_MCP_ARGS),
  env: { GATE402_LOG: "info" },
  stderr: "inherit",
});
const client = new Client({ name: "gate402-interop-agent", version: "1.0.0" });
await client.connect(transport);

const tools = (await client.listTools()).tools.map((t) => t.name);
const call = async (name, args) => {
  const r = await client.callTool({ name, arguments: args });
  return { isError: r.isError === true, value: r.structuredContent };
};
const quote = await call("quote_url", { url: process.env.MCP_URL });
const fetched = await call("fetch_paid_url", { url: process.env.MCP_URL, max_cost_sats: 50 });
const refused = await call("fetch_paid_url", { url: process.env.MCP_OVER_URL, max_cost_sats: 20 });
const overBudget = await call("fetch_paid_url", { url: process.env.MCP_OVER_URL });
const budget = await call("budget_status", {});
let unknownTool = null;
try {
  await client.callTool({ name: "no_such_tool", arguments: {} });
} catch (e) {
  unknownTool = e.code ?? String(e);
}
await client.close();
console.log(
  JSON.stringify({
    server: client.getServerVersion(),
    tools,
    quote,
    fetched,
    refused,
    overBudget,
    budget,
    unknownTool,
  }),
);

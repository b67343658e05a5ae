// Drives Deskwoot's MCP server with an official TypeScript client, the way an agent would, and
// prints one JSON report on stdout for tests/mcp/test_ts_clients.py to assert on.
//
//   node drive.mjs < plan.json
//
// plan: {client: "sdk-v1" | "client-v2", era: "legacy" | "2026-07-28", url,
//        sessions: [{name, token, calls: [{id, tool, arguments}]}]}
// Each session is one connected client with its own bearer token: it lists the tools first
// (that is where both SDKs learn the output schemas they validate results against), then
// makes its calls in order. A call records what the agent sees: the result (isError, the text
// blocks, structuredContent and whether it is valid per the SDK's own Ajv validator) or the
// error the client threw. The packages come from DESKWOOT_MCP_CLIENTS (a node_modules
// folder; scripts/node-tools-setup.sh installs it).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const modules = process.env.DESKWOOT_MCP_CLIENTS;
if (!modules) throw new Error("DESKWOOT_MCP_CLIENTS (a node_modules folder) is not set");
const require = createRequire(join(modules, "resolve-from-here.js"));
const plan = JSON.parse(readFileSync(0, "utf8"));

// Each SDK behind the same small interface: connect(url, token) -> client, validator().
const SDKS = {
  "sdk-v1": () => {
    const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
    const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
    const { AjvJsonSchemaValidator } = require("@modelcontextprotocol/sdk/validation/ajv");
    if (plan.era !== "legacy") throw new Error("the v1 SDK speaks only the handshake era");
    return {
      version: versionOf("@modelcontextprotocol/sdk"),
      validator: new AjvJsonSchemaValidator(),
      async connect(url, token) {
        const client = new Client({ name: "deskwoot-tests-sdk-v1", version: "1.0.0" });
        await client.connect(new StreamableHTTPClientTransport(new URL(url), authorized(token)));
        return client;
      },
    };
  },
  "client-v2": () => {
    const { Client, StreamableHTTPClientTransport } = require("@modelcontextprotocol/client");
    const { AjvJsonSchemaValidator } = require("@modelcontextprotocol/client/validators/ajv");
    const mode = plan.era === "legacy" ? "legacy" : { pin: plan.era };
    return {
      version: versionOf("@modelcontextprotocol/client"),
      validator: new AjvJsonSchemaValidator(),
      async connect(url, token) {
        const client = new Client(
          { name: "deskwoot-tests-client-v2", version: "2.0.0" },
          { versionNegotiation: { mode } },
        );
        await client.connect(new StreamableHTTPClientTransport(new URL(url), authorized(token)));
        return client;
      },
    };
  },
};

// package.json is not in the v2 package's exports, so it is read as a file.
function versionOf(name) {
  return JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;
}

function authorized(token) {
  return { requestInit: { headers: { Authorization: `Bearer ${token}` } } };
}

function thrown(error) {
  return {
    name: error?.constructor?.name ?? typeof error,
    message: String(error?.message ?? error),
    code: error?.code ?? null,
    data: error?.data ?? null,
    errorDescription: error?.errorDescription ?? null,
  };
}

function seen(result, outputSchema, validator) {
  const text = (result.content ?? [])
    .filter((block) => block.type === "text")
    .map((block) => block.text)
    .join("");
  const report = {
    isError: result.isError === true,
    text,
    structuredContent: result.structuredContent ?? null,
    schemaValid: null,
    schemaErrors: null,
  };
  if (outputSchema && result.structuredContent !== undefined) {
    const verdict = validator.getValidator(outputSchema)(result.structuredContent);
    report.schemaValid = verdict.valid;
    report.schemaErrors = verdict.valid ? null : verdict.errorMessage ?? "invalid";
  }
  return report;
}

async function runSession(sdk, session, report) {
  const client = await sdk.connect(plan.url, session.token);
  try {
    const { tools } = await client.listTools();
    const schemas = Object.fromEntries(tools.map((tool) => [tool.name, tool.outputSchema]));
    report.sessions[session.name] = { tools: tools.map((tool) => tool.name) };
    for (const call of session.calls) {
      try {
        const result = await client.callTool({ name: call.tool, arguments: call.arguments });
        report.calls[call.id] = { ...seen(result, schemas[call.tool], sdk.validator), thrown: null };
      } catch (error) {
        report.calls[call.id] = { thrown: thrown(error) };
      }
    }
  } finally {
    await client.close();
  }
}

const sdk = SDKS[plan.client]();
const report = { client: plan.client, version: sdk.version, era: plan.era, sessions: {}, calls: {} };
for (const session of plan.sessions) {
  await runSession(sdk, session, report);
}
process.stdout.write(JSON.stringify(report) + "\n");

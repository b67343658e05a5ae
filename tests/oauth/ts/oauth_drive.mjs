// Connects the official TypeScript SDK (v1, @modelcontextprotocol/sdk) to Deskwoot by URL alone,
// through its OAuth support, for tests/oauth/test_ts_sdk.py:
//
//   node oauth_drive.mjs <mcp url> <redirect url>
//
// Prints one JSON line {"authorize": url} when the SDK wants the user to approve, reads the
// URL the browser landed on from stdin, finishes the authorization, calls whoami and
// list_conversations, waits for the (short-lived) access token to run out, calls again (the
// SDK refreshes on the 401) and prints {"report": {...}}.
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.DESKWOOT_MCP_CLIENTS, "resolve-from-here.js"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { UnauthorizedError } = require("@modelcontextprotocol/sdk/client/auth.js");

const [url, redirectUrl] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const stored = { client: undefined, tokens: undefined, verifier: undefined, refreshed: 0 };

const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return {
      client_name: "Test Agent (TypeScript SDK)",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  clientInformation() { return stored.client; },
  saveClientInformation(info) { stored.client = info; },
  tokens() { return stored.tokens; },
  saveTokens(tokens) {
    if (stored.tokens) stored.refreshed += 1;
    stored.tokens = tokens;
  },
  redirectToAuthorization(authorizationUrl) {
    console.log(JSON.stringify({ authorize: authorizationUrl.href }));
  },
  saveCodeVerifier(verifier) { stored.verifier = verifier; },
  codeVerifier() { return stored.verifier; },
};

async function connect() {
  const client = new Client({ name: "deskwoot-tests-oauth", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  try {
    await client.connect(transport);
    return client;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const landed = new URL((await lines.next()).value.trim());
  await transport.finishAuth(landed.searchParams.get("code"));
  const again = new Client({ name: "deskwoot-tests-oauth", version: "1.0.0" });
  await again.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  return again;
}

const client = await connect();
const who = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent;
const listed = (await client.callTool({ name: "list_conversations", arguments: {} })).structuredContent;
await new Promise((resolve) => setTimeout(resolve, 3500));
const again = (await client.callTool({ name: "list_conversations", arguments: {} })).structuredContent;
console.log(JSON.stringify({
  report: { who, listed, again, refreshed: stored.refreshed, access_token: stored.tokens.access_token },
}));
await client.close();
process.exit(0);

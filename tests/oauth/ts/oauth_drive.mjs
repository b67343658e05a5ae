// Connects an official TypeScript MCP client to Deskwoot by URL alone, through its OAuth
// support, for tests/oauth/test_ts_sdk.py:
//
//   node oauth_drive.mjs <client> <era> <mcp url> <redirect url> [--step-up]
//
// client: "sdk-v1" (@modelcontextprotocol/sdk, handshake era only) or "client-v2"
// (@modelcontextprotocol/client); era: "legacy" or "2026-07-28" (v2 only). Each time the
// client wants the user to approve, it prints one JSON line {"authorize": url} and reads the
// URL the browser landed on from stdin, then finishes the authorization.
//
// Without --step-up: whoami and list_conversations, a wait for the (short-lived) access token
// to run out, list_conversations again (the client refreshes on the 401).
// With --step-up (the grant approved with the read-only preset): whoami, list_conversations,
// then add_private_note on the first one listed, which the server refuses with 403
// insufficient_scope. A client that steps up asks for the wider scope (a second
// {"authorize": url}) and the note is retried; one that cannot, throws, and that is reported.
// Either way it ends with one line {"report": {...}}, which also lists every 401/403 the MCP
// endpoint answered with its WWW-Authenticate (seen through the transport's `fetch` option).
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.DESKWOOT_MCP_CLIENTS, "resolve-from-here.js"));
const [clientName, era, url, redirectUrl, ...flags] = process.argv.slice(2);
const stepUp = flags.includes("--step-up");
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const stored = { client: undefined, tokens: undefined, verifier: undefined, refreshed: 0 };
const authorizations = [];
const challenges = []; // each 401/403 from the MCP endpoint: {status, wwwAuthenticate}

// The platform's fetch, watched: what the server challenged with is part of the report.
async function watchedFetch(input, init) {
  const response = await fetch(input, init);
  if ((response.status === 401 || response.status === 403) && String(input) === url) {
    challenges.push({ status: response.status, wwwAuthenticate: response.headers.get("www-authenticate") });
  }
  return response;
}

// Each client package behind the same small interface: newClient(), newTransport(provider),
// UnauthorizedError, and how finishAuth takes the callback.
const SDKS = {
  "sdk-v1": () => {
    if (era !== "legacy") throw new Error("the v1 SDK speaks only the handshake era");
    const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
    const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
    const { UnauthorizedError } = require("@modelcontextprotocol/sdk/client/auth.js");
    return {
      UnauthorizedError,
      newClient: () => new Client({ name: "deskwoot-tests-oauth", version: "1.0.0" }),
      newTransport: (authProvider) => new StreamableHTTPClientTransport(new URL(url), { authProvider, fetch: watchedFetch }),
      // v1 takes the code alone.
      finishAuth: (transport, landed) => transport.finishAuth(landed.searchParams.get("code")),
    };
  },
  "client-v2": () => {
    const { Client, StreamableHTTPClientTransport, UnauthorizedError } = require("@modelcontextprotocol/client");
    const mode = era === "legacy" ? "legacy" : { pin: era };
    return {
      UnauthorizedError,
      newClient: () =>
        new Client({ name: "deskwoot-tests-oauth", version: "2.0.0" }, { versionNegotiation: { mode } }),
      newTransport: (authProvider) => new StreamableHTTPClientTransport(new URL(url), { authProvider, fetch: watchedFetch }),
      // v2 takes the callback's parameters, so it can check `iss` (RFC 9207) before the code.
      finishAuth: (transport, landed) => transport.finishAuth(landed.searchParams),
    };
  },
};
const sdk = SDKS[clientName]();

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
    // Saved with no redirect since the last save: a refresh; after one: an authorization.
    if (stored.tokens && authorizations.length === stored.authorizedAt) stored.refreshed += 1;
    stored.authorizedAt = authorizations.length;
    stored.tokens = tokens;
  },
  redirectToAuthorization(authorizationUrl) {
    authorizations.push(authorizationUrl.href);
    console.log(JSON.stringify({ authorize: authorizationUrl.href }));
  },
  saveCodeVerifier(verifier) { stored.verifier = verifier; },
  codeVerifier() { return stored.verifier; },
};

// Reads where the browser landed and finishes the authorization on `transport`.
async function finish(transport) {
  const landed = new URL((await lines.next()).value.trim());
  await sdk.finishAuth(transport, landed);
}

async function connect() {
  const first = sdk.newClient();
  const transport = sdk.newTransport(provider);
  try {
    await first.connect(transport);
    return { client: first, transport };
  } catch (error) {
    if (!(error instanceof sdk.UnauthorizedError)) throw error;
  }
  await finish(transport);
  const client = sdk.newClient();
  const again = sdk.newTransport(provider);
  await client.connect(again);
  return { client, transport: again };
}

function thrown(error) {
  return { name: error?.constructor?.name ?? typeof error, message: String(error?.message ?? error) };
}

const call = async (client, name, args = {}) => (await client.callTool({ name, arguments: args })).structuredContent;

const { client, transport } = await connect();
const report = { who: await call(client, "whoami") };
if (stepUp) {
  report.listed = await call(client, "list_conversations");
  const note = { conversation_id: report.listed.conversations[0].display_id, body: "Stepped up." };
  try {
    report.first_try = { result: await call(client, "add_private_note", note) };
  } catch (error) {
    // UnauthorizedError: the client met the 403 and sent the user to approve the wider
    // scope (v2); finish that and retry. Anything else is the client giving up (v1).
    report.first_try = { thrown: thrown(error) };
    if (error instanceof sdk.UnauthorizedError) {
      await finish(transport);
      report.noted = await call(client, "add_private_note", note);
    }
  }
  report.who_after = await call(client, "whoami");
} else {
  report.listed = await call(client, "list_conversations");
  await new Promise((resolve) => setTimeout(resolve, 3500));
  report.again = await call(client, "list_conversations");
}
report.authorizations = authorizations;
report.challenges = challenges;
report.refreshed = stored.refreshed;
report.access_token = stored.tokens.access_token;
report.granted_scope = stored.tokens.scope ?? null;
console.log(JSON.stringify({ report }));
await client.close();
process.exit(0);

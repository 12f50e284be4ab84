// An MCP client built on the official TypeScript SDK (@modelcontextprotocol/sdk), authorizing
// with the SDK's own OAuth code path against Gatehouse: `Client` + `StreamableHTTPClientTransport`
// with an `authProvider`. What happens is the SDK's doing; this script only supplies storage,
// the browser (sign-in.mjs: a person signs in and consents in headless Chromium) and the code
// the redirect brought back, and records every HTTP exchange the SDK makes.
//
// The flow: a call without a token → 401 → protected-resource metadata → authorization-server
// metadata → dynamic client registration (or a pre-registered client) → /authorize in the
// browser → /token → tool calls → the access token goes bad (replaced, as if it had expired) →
// 401 → the SDK refreshes with its refresh token → the tool call is retried and succeeds.
//
// Run by server/tests/e2e/mcp_sdk.rs:
//   stdin  {"server_url": "http://127.0.0.1:P/mcp", "username": "…", "password": "…",
//           "client_id": null | "pre-registered id", "artifacts": "/dir", "scenario": "name"}
//   stdout {"sdk_version", "requests": [{method, url, status}], "registration": {request, response},
//           "authorization_url", "callback", "pages", "tokens": [token responses], "tools",
//           "whoami": [before refresh, after], "add", "invalidated": [...]}

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SignInError, signIn } from './sign-in.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function fail(message) {
  process.stderr.write(`TypeScript SDK client: ${message}\n`);
  process.exit(1);
}

let sdk;
try {
  sdk = {
    ...(await import('@modelcontextprotocol/sdk/client/index.js')),
    ...(await import('@modelcontextprotocol/sdk/client/streamableHttp.js')),
    ...(await import('@modelcontextprotocol/sdk/client/auth.js')),
  };
} catch (e) {
  fail(
    `@modelcontextprotocol/sdk is not installed in ${join(here, 'node_modules')} (${e.message}). ` +
      `Install it: \`npm ci --prefix ${here}\` (./scripts/test does it).`,
  );
}
const sdkVersion = JSON.parse(
  readFileSync(join(here, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8'),
).version;

const input = JSON.parse(readFileSync(0, 'utf8'));

// A free loopback port for the redirect URI.
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const report = {
  sdk_version: sdkVersion,
  requests: [],
  registration: null,
  authorization_url: null,
  callback: null,
  pages: null,
  tokens: [],
  invalidated: [],
};

// The SDK's HTTP, recorded: every exchange, the registration's body and answer, token answers.
async function recordingFetch(url, init = {}) {
  const response = await fetch(url, init);
  const entry = { method: init.method ?? 'GET', url: String(url), status: response.status };
  report.requests.push(entry);
  const path = new URL(String(url)).pathname;
  if (path.endsWith('/register') && entry.method === 'POST') {
    report.registration = {
      request: JSON.parse(String(init.body)),
      response: await response.clone().json().catch(() => null),
      status: response.status,
    };
  } else if (path.endsWith('/token') && entry.method === 'POST') {
    entry.grant_type = new URLSearchParams(String(init.body)).get('grant_type');
    entry.resource = new URLSearchParams(String(init.body)).get('resource');
  } else if (path.endsWith('/authorize')) {
    entry.note = 'unexpected: the SDK fetched the authorization endpoint';
  }
  return response;
}

const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;

// The SDK's storage and the person's browser.
class Provider {
  constructor() {
    this.client = input.client_id ? { client_id: input.client_id } : undefined;
    this.stored = undefined;
    this.verifier = undefined;
    this.expectedState = undefined;
    this.code = undefined;
  }
  get redirectUrl() {
    return redirectUri;
  }
  get clientMetadata() {
    return {
      client_name: 'Gatehouse e2e (MCP TypeScript SDK)',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.expectedState = randomBytes(16).toString('base64url');
    return this.expectedState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(information) {
    this.client = information;
  }
  tokens() {
    return this.stored;
  }
  saveTokens(tokens) {
    this.stored = tokens;
    report.tokens.push(tokens);
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  invalidateCredentials(scope) {
    report.invalidated.push(scope);
  }
  async redirectToAuthorization(url) {
    report.authorization_url = url.href;
    const { callback, pages } = await signIn({
      url: url.href,
      redirect_uri: redirectUri,
      username: input.username,
      password: input.password,
      artifacts: input.artifacts,
      scenario: input.scenario,
    });
    report.callback = callback;
    report.pages = pages;
    const answer = new URL(callback).searchParams;
    if (answer.get('state') !== this.expectedState) {
      throw new Error(`state ${answer.get('state')} is not the one sent (${this.expectedState})`);
    }
    if (!answer.get('code')) {
      throw new Error(`no code in the redirect: ${callback}`);
    }
    this.code = answer.get('code');
  }
  // As if the access token had expired: the MCP server refuses it (401 invalid_token).
  spoilAccessToken() {
    this.stored = { ...this.stored, access_token: `${this.stored.access_token.slice(0, -8)}AAAAAAAA` };
  }
}

const provider = new Provider();
const url = new URL(input.server_url);
const transport = () =>
  new sdk.StreamableHTTPClientTransport(url, { authProvider: provider, fetch: recordingFetch });
const client = new sdk.Client({ name: 'gatehouse-e2e', version: '0.1.0' });

try {
  let first = transport();
  try {
    await client.connect(first);
    throw new Error('connected without signing in: the MCP server asked for no token');
  } catch (e) {
    if (!(e instanceof sdk.UnauthorizedError)) throw e;
  }
  if (!provider.code) throw new Error('the SDK never sent the browser to the authorization server');
  await first.finishAuth(provider.code);
  await client.connect(transport());
  report.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  const text = (result) => result.content.map((c) => c.text).join('');
  report.whoami = [JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })))];
  report.add = text(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } }));
  report.requests.push({ mark: 'access token spoiled' });
  provider.spoilAccessToken();
  report.whoami.push(JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} }))));
  await client.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
} catch (e) {
  const detail = e instanceof SignInError ? e.message : (e.stack ?? String(e));
  fail(`${detail}\nrequests so far: ${JSON.stringify(report.requests)}`);
}

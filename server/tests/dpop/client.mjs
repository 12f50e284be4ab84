// A third-party DPoP client against Gatehouse: panva's oauth4webapi makes its own ES256 key,
// signs every proof, keeps the server's nonces (RFC 9449 §8: it answers our `use_dpop_nonce`
// challenge itself), gets a DPoP-bound access token by client credentials, then calls a
// protected resource with the token and a fresh proof (`ath`, `htm`, `htu`). Run by
// server/tests/e2e/dpop.rs, which checks what this reports.
//
// Input (standard input, JSON):
//   { "issuer": "http://127.0.0.1:PORT", "client_id": "…", "client_secret": "…",
//     "resource": "http://127.0.0.1:PORT/mcp", "scope": "tools" }   // scope optional
// Output (standard output, JSON): the token response, the key's thumbprint, whether a nonce
// challenge came and was answered, and what the resource said with the proof and as bearer.
// Any step that throws fails the run (exit status 1, the error on standard error).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function fail(message) {
  process.stderr.write(`dpop client: ${message}\n`);
  process.exit(1);
}

let oauth;
try {
  oauth = await import('oauth4webapi');
} catch (e) {
  fail(
    `oauth4webapi is not installed in ${join(here, 'node_modules')} (${e.message}). ` +
      `Install it: \`npm ci --prefix ${here}\` (./scripts/test does it).`,
  );
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

// Loopback http only: the test server has no TLS.
const insecure = { [oauth.allowInsecureRequests]: true };

async function step(name, f) {
  try {
    return await f();
  } catch (e) {
    fail(`${name}: ${e.message} ${e.code ?? ''} ${JSON.stringify(e.cause ?? null)}`);
  }
}

const issuer = new URL(input.issuer);
const as = await step('discovery', async () =>
  oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure)),
);
const client = { client_id: input.client_id };
const auth = oauth.ClientSecretBasic(input.client_secret);
const keyPair = await oauth.generateKeyPair('ES256');
const DPoP = oauth.DPoP(client, keyPair);
const jkt = await DPoP.calculateThumbprint();

const params = new URLSearchParams({ resource: input.resource, scope: input.scope ?? 'tools' });
let nonceChallengeAnswered = false;
const tokens = await step('client credentials', async () => {
  const request = () =>
    oauth.clientCredentialsGrantRequest(as, client, auth, params, { DPoP, ...insecure });
  try {
    return await oauth.processClientCredentialsResponse(as, client, await request());
  } catch (e) {
    if (!oauth.isDPoPNonceError(e)) throw e;
    // The handle kept the nonce of the DPoP-Nonce header: the retry carries it.
    nonceChallengeAnswered = true;
    return await oauth.processClientCredentialsResponse(as, client, await request());
  }
});

const resource = new URL(input.resource);
const response = await step('protected resource', () =>
  oauth.protectedResourceRequest(tokens.access_token, 'GET', resource, new Headers(), null, {
    DPoP,
    ...insecure,
  }),
);
const resourceBody = await response.text();

// The same token as a bearer token (no proof): the resource must refuse it.
const bearer = await fetch(resource, {
  headers: { authorization: `Bearer ${tokens.access_token}` },
});

process.stdout.write(
  JSON.stringify({
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    jkt,
    nonce_challenge_answered: nonceChallengeAnswered,
    resource_status: response.status,
    resource_body: resourceBody,
    bearer_status: bearer.status,
    bearer_challenge: bearer.headers.get('www-authenticate'),
  }),
);

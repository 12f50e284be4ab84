// A strict OpenID Connect relying party from another ecosystem signing in through Gatehouse:
// panva's oauth4webapi does every protocol step (discovery, PKCE S256, PAR, RFC 9207 `iss`,
// the code grant with its ID token checks, UserInfo, refresh token rotation), and this script
// plays the person in between with plain `fetch`: the `gatehouse` cookie kept by hand, the
// hidden fields read from the HTML, no redirect ever followed. Run by
// server/tests/e2e/relying_party.rs, which checks what this reports.
//
// Input (standard input, JSON):
//   { "issuer": "http://127.0.0.1:PORT",
//     "client": { "client_id": "…", "client_secret": "…" },   // no secret: a public client
//     "redirect_uri": "http://127.0.0.1/callback",
//     "scope": "openid profile email",
//     "resource": "https://mcp.example",                        // optional
//     "par": true,                                              // PAR, or a plain query
//     "username": "alice", "password": "…" }
// Output (standard output, JSON): what each step gave (see `report` below). Any step that
// throws fails the run: its name and oauth4webapi's exact error (message, code, cause) on
// standard error with the HTTP exchanges so far, and exit status 1. Nothing is ever skipped:
// without node_modules the run fails and says how to install them.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function fail(message) {
  process.stderr.write(`relying party: ${message}\n`);
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

const input = JSON.parse(readFileSync(0, 'utf8'));

// Every HTTP exchange, the library's and the person's, for the failure message.
const exchanges = [];

// `fetch` that never follows a redirect and records what went and what came back.
async function recordingFetch(url, init = {}) {
  const request = {
    method: init.method ?? 'GET',
    url: String(url),
    headers: Object.fromEntries(new Headers(init.headers).entries()),
    body: init.body === undefined || init.body === null ? undefined : String(init.body),
  };
  const entry = { request };
  exchanges.push(entry);
  const response = await fetch(url, { ...init, redirect: 'manual' });
  entry.response = {
    status: response.status,
    headers: Object.fromEntries(response.headers.entries()),
    body: await response.clone().text(),
  };
  return response;
}

// Options every oauth4webapi request gets: plain http is allowed (the test issuer is on
// loopback), and the recording fetch.
const http = { [oauth.allowInsecureRequests]: true, [oauth.customFetch]: recordingFetch };

let step = 'start';
async function run(name, body) {
  step = name;
  return body();
}

function describeError(e) {
  const lines = [`${e?.name ?? 'Error'}: ${e?.message ?? e}`];
  if (e?.code !== undefined) lines.push(`code: ${e.code}`);
  if (e?.error !== undefined) lines.push(`error: ${e.error}`);
  if (e?.error_description !== undefined) lines.push(`error_description: ${e.error_description}`);
  if (e?.cause !== undefined) {
    let cause;
    try {
      cause = JSON.stringify(
        e.cause,
        (_, v) => {
          if (v instanceof Response) return `[Response ${v.status}]`;
          if (v instanceof Error) {
            return `${v.name}: ${v.message}${v.code === undefined ? '' : ` (${v.code})`}`;
          }
          return v;
        },
        2,
      );
    } catch {
      cause = String(e.cause);
    }
    lines.push(`cause: ${cause}`);
  }
  return lines.join('\n');
}

process.on('unhandledRejection', (e) => {
  throw e;
});

// ---- The person: a cookie jar of one site, hidden fields, forms posted by hand. ----

const cookies = new Map();

function keepCookies(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const gone = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
    if (gone || value === '') cookies.delete(name);
    else cookies.set(name, value);
  }
}

function cookieHeader() {
  return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
}

// HTML character references as a browser reads them in an attribute.
function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (all, entity) => {
    const lower = entity.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[lower] ?? all;
  });
}

// The one form of a page: its action (absolute) and hidden fields.
function form(html, pageUrl) {
  const forms = [...html.matchAll(/<form\b[^>]*\baction="([^"]*)"/g)];
  if (forms.length !== 1) throw new Error(`${forms.length} forms on the page, one expected`);
  const hidden = {};
  for (const input of html.matchAll(/<input\b[^>]*>/g)) {
    const tag = input[0];
    if (!/\btype="hidden"/.test(tag)) continue;
    const name = tag.match(/\bname="([^"]*)"/)?.[1];
    const value = tag.match(/\bvalue="([^"]*)"/)?.[1] ?? '';
    if (name !== undefined) hidden[unescapeHtml(name)] = unescapeHtml(value);
  }
  return { action: new URL(unescapeHtml(forms[0][1]), pageUrl).href, hidden };
}

function kindOf(html) {
  if (html.includes('action="/authorize/login"') || /id="sign-in"/.test(html)) return 'sign-in';
  if (/id="approve"/.test(html)) return 'consent';
  return 'other';
}

async function browse(url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (cookies.size > 0) headers.cookie = cookieHeader();
  const response = await recordingFetch(url, { ...init, headers });
  keepCookies(response);
  return response;
}

// From the authorization URL to the redirect back to the client: sign in, approve. The pages
// seen (their kinds) and the URL the browser was sent to.
async function signIn(authorizationUrl) {
  const pages = [];
  let response = await browse(authorizationUrl);
  let url = authorizationUrl;
  for (let hops = 0; hops < 10; hops += 1) {
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      const location = new URL(response.headers.get('location'), url).href;
      if (location.startsWith(input.redirect_uri)) return { pages, callback: location };
      url = location;
      response = await browse(location);
      continue;
    }
    const html = await response.text();
    const kind = kindOf(html);
    pages.push({ kind, status: response.status });
    if (response.status !== 200 || kind === 'other') {
      const text = html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
      throw new Error(`an unexpected page (${response.status}) at ${url}: ${text.slice(0, 500)}`);
    }
    const { action, hidden } = form(html, url);
    const fields = { ...hidden };
    if (kind === 'sign-in') {
      if (pages.filter((p) => p.kind === 'sign-in').length > 1) {
        throw new Error('the sign-in page again: the password was refused');
      }
      fields.username = input.username;
      fields.password = input.password;
    } else {
      fields.decision = 'approve';
    }
    url = action;
    response = await browse(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
  throw new Error('more than 10 pages and redirects without reaching the redirect URI');
}

// ---- The relying party. ----

const report = {};

function claimsOf(jwt) {
  const [header, payload] = jwt.split('.').slice(0, 2);
  const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  return { header: decode(header), payload: decode(payload) };
}

try {
  const issuer = new URL(input.issuer);
  const as = await run('discovery', async () =>
    oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http)),
  );
  report.discovery = {
    issuer: as.issuer,
    authorization_endpoint: as.authorization_endpoint,
    token_endpoint: as.token_endpoint,
    pushed_authorization_request_endpoint: as.pushed_authorization_request_endpoint,
    userinfo_endpoint: as.userinfo_endpoint,
    authorization_response_iss_parameter_supported:
      as.authorization_response_iss_parameter_supported,
    code_challenge_methods_supported: as.code_challenge_methods_supported,
  };

  const client = { client_id: input.client.client_id };
  const clientAuth =
    input.client.client_secret === undefined
      ? oauth.None()
      : oauth.ClientSecretBasic(input.client.client_secret);

  const codeVerifier = oauth.generateRandomCodeVerifier();
  const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const parameters = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: input.redirect_uri,
    response_type: 'code',
    scope: input.scope,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  if (input.resource !== undefined) parameters.set('resource', input.resource);

  const authorizationUrl = new URL(as.authorization_endpoint);
  if (input.par) {
    const pushed = await run('pushed authorization request', async () =>
      oauth.processPushedAuthorizationResponse(
        as,
        client,
        await oauth.pushedAuthorizationRequest(as, client, clientAuth, parameters, http),
      ),
    );
    report.par = { request_uri: pushed.request_uri, expires_in: pushed.expires_in };
    authorizationUrl.searchParams.set('client_id', client.client_id);
    authorizationUrl.searchParams.set('request_uri', pushed.request_uri);
  } else {
    for (const [name, value] of parameters) authorizationUrl.searchParams.set(name, value);
  }
  report.authorization_url = authorizationUrl.href;

  const person = await run('sign-in and consent (the person, with fetch)', () =>
    signIn(authorizationUrl.href),
  );
  report.pages = person.pages.map((p) => p.kind);
  report.callback = person.callback;

  const callbackParameters = await run('validateAuthResponse', async () =>
    oauth.validateAuthResponse(as, client, new URL(person.callback), state),
  );
  report.callback_parameters = Object.fromEntries(new URL(person.callback).searchParams);

  const tokens = await run('authorization code grant', async () =>
    oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        clientAuth,
        callbackParameters,
        input.redirect_uri,
        codeVerifier,
        http,
      ),
      { expectedNonce: nonce, requireIdToken: true, maxAge: oauth.skipAuthTimeCheck },
    ),
  );
  const idClaims = await run('getValidatedIdTokenClaims', async () => {
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    if (claims === undefined) throw new Error('no validated ID token claims');
    return claims;
  });
  report.tokens = {
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    scope: tokens.scope,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    id_token_header: claimsOf(tokens.id_token).header,
    access_token_claims: claimsOf(tokens.access_token).payload,
  };
  report.id_token_claims = idClaims;
  report.nonce_sent = nonce;
  report.client_id = client.client_id;

  const userinfo = await run('userinfo', async () =>
    oauth.processUserInfoResponse(
      as,
      client,
      idClaims.sub,
      await oauth.userInfoRequest(as, client, tokens.access_token, http),
    ),
  );
  report.userinfo = userinfo;

  const refreshed = await run('refresh token grant', async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, http),
    ),
  );
  report.refreshed = {
    token_type: refreshed.token_type,
    expires_in: refreshed.expires_in,
    scope: refreshed.scope,
    has_refresh_token: typeof refreshed.refresh_token === 'string',
    refresh_token_rotated:
      typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    access_token_changed: refreshed.access_token !== tokens.access_token,
    id_token_claims: oauth.getValidatedIdTokenClaims(refreshed) ?? null,
  };

  // The refreshed access token works at UserInfo too, for the same person.
  report.refreshed.userinfo = await run('userinfo with the refreshed access token', async () =>
    oauth.processUserInfoResponse(
      as,
      client,
      idClaims.sub,
      await oauth.userInfoRequest(as, client, refreshed.access_token, http),
    ),
  );

  // The spent refresh token again, as a client would retry after losing the answer: within
  // Gatehouse's grace window (30 s by default) it gets the same successor (RFC 9700 §4.14.2
  // leaves the window to the server; after it, the whole family is revoked).
  const retried = await run('refresh token retry within the grace window', async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, http),
    ),
  );
  report.retry = {
    same_refresh_token: retried.refresh_token === refreshed.refresh_token,
    id_token_claims: oauth.getValidatedIdTokenClaims(retried) ?? null,
  };
} catch (e) {
  const trace = exchanges
    .slice(-4)
    .map((x) => JSON.stringify(x, null, 2))
    .join('\n');
  fail(`${step} threw:\n${describeError(e)}\n\nthe last HTTP exchanges:\n${trace}`);
}

process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);

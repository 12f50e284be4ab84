// The authorization code flow with PKCE and refresh rotation, closed model: VUS browsers, each
// signing in once (GET /authorize, the sign-in form, the consent form; no redirect followed,
// the hidden fields read from the HTML), then looping as fast as it is answered:
//   GET /authorize (session, remembered consent) -> 303 with a code
//   POST /token authorization_code (PKCE S256, fresh verifier each time) -> access + refresh
//   POST /token refresh_token -> a rotated refresh token
// FLOW=client-credentials runs the baseline instead: POST /token client_credentials in the same
// closed loop with the same VUs. Every status is checked.
//
// Environment (loadtest/run k6-code-flow sets it): BASE_URL, FLOW, VUS, DURATION, P99_MS,
// CODE_CLIENT_ID (public client), REDIRECT_URI (registered, https: a public client on a loopback
// URI is asked to consent every time), SCOPE, USER_PREFIX + USER_PASSWORD (users
// <prefix>1..<prefix>VUS, one per VU), JWT_CLIENT_ID/JWT_CLIENT_SECRET for the baseline.
import http from 'k6/http';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { BASE, clients, issue, thresholds } from './lib.js';

const FLOW = __ENV.FLOW || 'code';

export const options = {
  scenarios: {
    [FLOW]: {
      executor: 'constant-vus',
      exec: FLOW === 'code' ? 'codeFlow' : 'clientCredentials',
      vus: Number(__ENV.VUS || 8),
      duration: __ENV.DURATION || '20s',
    },
  },
  // The 303s are the answers: never followed.
  maxRedirects: 0,
  // A VU is one browser: its session cookie outlives the iteration (k6 clears it by default).
  noCookiesReset: true,
  thresholds,
};

const CLIENT_ID = __ENV.CODE_CLIENT_ID;
const REDIRECT_URI = __ENV.REDIRECT_URI;
const SCOPE = __ENV.SCOPE || 'read';
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

// Per completed loop: one code redeemed and one rotation.
const codes = new Counter('codes');
const refreshes = new Counter('refreshes');
const grants = new Counter('grants');
// Time per loop (the three requests' durations, authorize + exchange + refresh), and per step,
// as the client saw them.
const flowTime = new Trend('flow_duration', true);
const authorizeTime = new Trend('step_authorize', true);
const exchangeTime = new Trend('step_exchange', true);
const refreshTime = new Trend('step_refresh', true);

// The token endpoint is called by the application, not the browser: no cookies go there.
const appJar = new http.CookieJar();

/// The hidden field `name` of a page, its character references decoded.
function hidden(body, name) {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(body || '');
  if (!m) return null;
  return m[1].replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|quot|lt|gt);/g, (_, e) => {
    if (e[0] !== '#') return { amp: '&', quot: '"', lt: '<', gt: '>' }[e];
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

function query(params) {
  return Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

/// A fresh authorization request: its URL, state and PKCE verifier.
function authorization() {
  const verifier = encoding.b64encode(crypto.randomBytes(32), 'rawurl');
  const state = encoding.b64encode(crypto.randomBytes(12), 'rawurl');
  const url = `${BASE}/authorize?` + query({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    code_challenge: crypto.sha256(verifier, 'base64rawurl'),
    code_challenge_method: 'S256',
    state,
    scope: SCOPE,
  });
  return { url, state, verifier };
}

/// The code of a 303 to the redirect URI carrying `state`, or null.
function codeOf(r, state) {
  const location = r.headers['Location'] || '';
  if (r.status !== 303 || !location.startsWith(`${REDIRECT_URI}?`)) return null;
  const params = {};
  for (const pair of location.slice(REDIRECT_URI.length + 1).split('&')) {
    const [k, v] = pair.split('=');
    params[k] = decodeURIComponent(v || '');
  }
  return params.state === state && params.iss === BASE ? params.code : null;
}

function token(fields, step) {
  return http.post(`${BASE}/token`, { ...fields, client_id: CLIENT_ID }, {
    headers: FORM, jar: appJar, tags: { endpoint: 'token', step },
  });
}

function tokens(r) {
  if (r.status !== 200 || r.headers['Cache-Control'] !== 'no-store') return null;
  const body = r.json();
  return typeof body.access_token === 'string' && typeof body.refresh_token === 'string' ? body : null;
}

/// Signs this VU's user in through the pages: whether a session with consent was reached.
function signIn() {
  const auth = authorization();
  const page = http.get(auth.url, { tags: { endpoint: 'authorize', step: 'sign-in' } });
  const login = {
    request: hidden(page.body, 'request'),
    csrf: hidden(page.body, 'csrf'),
    username: `${__ENV.USER_PREFIX}${__VU}`,
    password: __ENV.USER_PASSWORD,
  };
  if (!check(page, { 'sign-in page': (r) => r.status === 200 && login.request && login.csrf })) return false;
  const afterLogin = http.post(`${BASE}/authorize/login`, login, {
    headers: FORM, tags: { endpoint: 'authorize', step: 'sign-in' },
  });
  let answer = afterLogin;
  if (afterLogin.status === 200) {
    const consent = { request: hidden(afterLogin.body, 'request'), csrf: hidden(afterLogin.body, 'csrf'), decision: 'approve' };
    if (!check(afterLogin, { 'consent page': () => consent.request && consent.csrf })) return false;
    answer = http.post(`${BASE}/authorize/consent`, consent, {
      headers: FORM, tags: { endpoint: 'authorize', step: 'sign-in' },
    });
  }
  return check(answer, { 'signed in: 303 with a code': (r) => codeOf(r, auth.state) !== null });
}

let signedIn = false;

export function codeFlow() {
  if (!signedIn) {
    signedIn = signIn();
    if (!signedIn) return;
  }
  const auth = authorization();
  const a = http.get(auth.url, { tags: { endpoint: 'authorize', step: 'authorize' } });
  authorizeTime.add(a.timings.duration);
  const code = codeOf(a, auth.state);
  if (!check(a, { 'authorize: 303 with a code': () => code !== null })) return;
  const e = token({
    grant_type: 'authorization_code', code, code_verifier: auth.verifier, redirect_uri: REDIRECT_URI,
  }, 'exchange');
  exchangeTime.add(e.timings.duration);
  const issued = tokens(e);
  if (!check(e, { 'code exchanged: access + refresh token': () => issued !== null })) return;
  codes.add(1);
  const r = token({ grant_type: 'refresh_token', refresh_token: issued.refresh_token }, 'refresh');
  refreshTime.add(r.timings.duration);
  const rotated = tokens(r);
  if (!check(r, { 'refreshed: a new refresh token': () => rotated !== null && rotated.refresh_token !== issued.refresh_token })) return;
  refreshes.add(1);
  flowTime.add(a.timings.duration + e.timings.duration + r.timings.duration);
}

export function clientCredentials() {
  const r = issue(clients.jwt);
  if (check(r, { 'issued': (r) => r.status === 200 && typeof r.json('access_token') === 'string' })) {
    grants.add(1);
  }
}

// Shared by the k6 scenarios. The runner (loadtest/run) passes everything through the
// environment: BASE_URL, the Basic credentials of the clients, and TOKENS_FILE, a JSON map of
// token classes to token lists.
import http from 'k6/http';
import encoding from 'k6/encoding';

export const BASE = __ENV.BASE_URL;
export const tokens = __ENV.TOKENS_FILE ? JSON.parse(open(__ENV.TOKENS_FILE)) : {};

export function basic(id, secret) {
  return 'Basic ' + encoding.b64encode(`${id}:${secret}`);
}

export const clients = {
  jwt: basic(__ENV.JWT_CLIENT_ID, __ENV.JWT_CLIENT_SECRET),
  opaque: basic(__ENV.OPAQUE_CLIENT_ID, __ENV.OPAQUE_CLIENT_SECRET),
  rs: basic(__ENV.RS_CLIENT_ID, __ENV.RS_CLIENT_SECRET),
};

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

export function issue(auth) {
  return http.post(`${BASE}/token`, { grant_type: 'client_credentials' }, {
    headers: { ...FORM, Authorization: auth }, tags: { endpoint: 'token' },
  });
}

export function introspect(token) {
  return http.post(`${BASE}/introspect`, { token }, {
    headers: { ...FORM, Authorization: clients.rs }, tags: { endpoint: 'introspect' },
  });
}

export function revoke(auth, token) {
  return http.post(`${BASE}/revoke`, { token }, {
    headers: { ...FORM, Authorization: auth }, tags: { endpoint: 'revoke' },
  });
}

/// An open-model (arrival-rate) scenario: RATE iterations per second for DURATION.
export function arrival(exec, rate) {
  return {
    executor: 'constant-arrival-rate',
    exec,
    rate: Number(rate || __ENV.RATE || 200),
    timeUnit: '1s',
    duration: __ENV.DURATION || '20s',
    preAllocatedVUs: Number(__ENV.VUS || 20),
    maxVUs: Number(__ENV.MAX_VUS || 100),
  };
}

/// Thresholds every scenario shares: no failed requests, no wrong answer, a p99 bound.
export const thresholds = {
  http_req_failed: ['rate==0'],
  checks: ['rate==1'],
  http_req_duration: [`p(99)<${__ENV.P99_MS || 50}`],
};

export function isActive(r) {
  return r.status === 200 && r.json('active') === true;
}

export function isInactive(r) {
  return r.status === 200 && r.body === '{"active":false}';
}

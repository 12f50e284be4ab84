// Client-credentials issuance, JWT or opaque (FORMAT=jwt|opaque), open model.
import { check } from 'k6';
import { arrival, clients, issue, thresholds } from './lib.js';

export const options = {
  scenarios: { issuance: arrival('issuance') },
  thresholds,
};

const auth = __ENV.FORMAT === 'opaque' ? clients.opaque : clients.jwt;

export function issuance() {
  const r = issue(auth);
  check(r, {
    'issued': (r) => r.status === 200 && typeof r.json('access_token') === 'string',
    'no-store': (r) => r.headers['Cache-Control'] === 'no-store',
  });
}

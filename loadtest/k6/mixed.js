// A mixed workload: issuance (JWT and opaque), introspection of the token mix, and revocation
// cycles, each an open-model scenario at its share of RATE.
import { check } from 'k6';
import { arrival, clients, issue, thresholds } from './lib.js';
import { introspection } from './introspection.js';
import { revokeCycle } from './revocation.js';

const rate = Number(__ENV.RATE || 200);

export const options = {
  scenarios: {
    issueJwt: arrival('issueJwt', rate * 0.15),
    issueOpaque: arrival('issueOpaque', rate * 0.05),
    introspect: arrival('introspection', rate * 0.7),
    revoke: arrival('revokeCycle', rate * 0.1),
  },
  thresholds,
};

export function issueJwt() {
  check(issue(clients.jwt), { 'jwt issued': (r) => r.status === 200 });
}

export function issueOpaque() {
  check(issue(clients.opaque), { 'opaque issued': (r) => r.status === 200 });
}

export { introspection, revokeCycle };

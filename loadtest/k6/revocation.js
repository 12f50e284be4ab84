// Revocation while introspecting: each iteration issues a token, sees it active, revokes it and
// sees it inactive at once; meanwhile another scenario keeps introspecting live tokens.
import { check } from 'k6';
import { arrival, clients, introspect, isActive, isInactive, issue, revoke, thresholds, tokens } from './lib.js';

export const options = {
  scenarios: {
    revoke: arrival('revokeCycle', Number(__ENV.RATE || 100) / 4),
    introspect: arrival('introspectLive'),
  },
  thresholds,
};

export function revokeCycle() {
  const token = issue(clients.jwt).json('access_token');
  check(introspect(token), { 'fresh token active': isActive });
  check(revoke(clients.jwt, token), { 'revoked': (r) => r.status === 200 });
  check(introspect(token), { 'revoked token inactive at once': isInactive });
}

export function introspectLive() {
  const list = tokens.jwt;
  check(introspect(list[Math.floor(Math.random() * list.length)]), { 'live token active': isActive });
}

// Introspection of a token mix: valid JWT, valid opaque, expired, revoked, bad signature,
// garbage, in proportions from MIX (e.g. "jwt=50,opaque=20,expired=10,revoked=10,forged=5,garbage=5").
// Every answer is checked: a revoked, expired or forged token answered active is a failure, not
// a slow request.
import { check } from 'k6';
import { arrival, introspect, isActive, isInactive, thresholds, tokens } from './lib.js';

export const options = {
  scenarios: { introspection: arrival('introspection') },
  thresholds,
};

const mix = (__ENV.MIX || 'jwt=50,opaque=20,expired=10,revoked=10,forged=5,garbage=5')
  .split(',')
  .map((part) => part.split('='))
  .map(([kind, weight]) => [kind, Number(weight)]);
const total = mix.reduce((sum, [, w]) => sum + w, 0);
const ACTIVE = { jwt: true, opaque: true };

function pick() {
  let n = Math.random() * total;
  for (const [kind, weight] of mix) {
    if ((n -= weight) < 0) return kind;
  }
  return mix[mix.length - 1][0];
}

export function introspection() {
  const kind = pick();
  const list = tokens[kind];
  const token = list[Math.floor(Math.random() * list.length)];
  const r = introspect(token);
  check(r, { [`${kind} answered correctly`]: (r) => (ACTIVE[kind] ? isActive(r) : isInactive(r)) });
}

import { describe, expect, it } from 'vitest';
import { CONNECT_FAILURE, isIdempotent, nextCandidate, RESET, retryPolicy, RetryPolicy, STATUS, TIMEOUT } from '../../../../agent/resilience/retry.ts';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import type { Subset } from '../../../../agent/routing/types.ts';
import { type DocumentInput, ServiceSpec } from '../../../../shared/schema/documents.ts';
import { buildSnapshot, instance, lane } from '../../../support/snapshot-builder.ts';

type SpecInput = Extract<DocumentInput, { kind: 'Service' }>['spec'];
const policy = (spec: SpecInput = {}) => new RetryPolicy(ServiceSpec.parse(spec));

describe('RetryPolicy', () => {
  it('takes the schema defaults: 2 attempts; connect failures, resets, timeouts and 5xx answers; per-try = service timeout unless derived', () => {
    const p = policy();
    expect(p.attempts).toBe(2);
    expect(p.timeoutMs).toBe(15_000);
    expect(p.perTryTimeoutMs).toBe(15_000);
    expect(p.perTryConfigured).toBe(false);
    expect(p.budgetPercent).toBe(20);
    expect(p.retries(CONNECT_FAILURE, 0, 'POST')).toBe(true);
    expect(p.retries(RESET, 0, 'GET')).toBe(true);
    expect(p.retries(RESET, 0, 'POST')).toBe(false);
    expect(p.retries(TIMEOUT, 0, 'GET')).toBe(true);
    expect(p.retries(TIMEOUT, 0, 'POST')).toBe(false);
    expect(p.retries(STATUS, 503, 'GET')).toBe(true);
    expect(p.retries(STATUS, 500, 'GET')).toBe(true);
    expect(p.retries(STATUS, 500, 'POST')).toBe(false);
    expect(p.retries(STATUS, 404, 'GET')).toBe(false);
    expect(p.retries(STATUS, 200, 'GET')).toBe(false);
    expect(policy({ retry: { perTryTimeoutMs: 100 } }).perTryConfigured).toBe(true);
  });

  it('never retries a non-idempotent request that may have reached the upstream', () => {
    const p = policy({ retry: { on: ['5xx'] } });
    for (const m of ['POST', 'PATCH', 'CONNECT', undefined]) {
      expect(p.retries(CONNECT_FAILURE, 0, m)).toBe(true);
      expect(p.retries(RESET, 0, m)).toBe(false);
      expect(p.retries(TIMEOUT, 0, m)).toBe(false);
      expect(p.retries(STATUS, 500, m)).toBe(false);
    }
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']) {
      expect(isIdempotent(m)).toBe(true);
      expect(p.retries(RESET, 0, m)).toBe(true);
      expect(p.retries(STATUS, 500, m)).toBe(true);
    }
    expect(isIdempotent('get')).toBe(false); // methods are case-sensitive
  });

  it('understands 5xx, gateway-error and specific codes (Envoy semantics)', () => {
    const five = policy({ retry: { on: ['5xx'] } });
    expect([500, 502, 503, 599].every((s) => five.retriesStatus(s))).toBe(true);
    expect(five.retriesStatus(429)).toBe(false);
    expect(five.retries(TIMEOUT, 0, 'GET')).toBe(true);
    const gw = policy({ retry: { on: ['gateway-error'] } });
    expect([502, 503, 504].map((s) => gw.retriesStatus(s))).toEqual([true, true, true]);
    expect(gw.retriesStatus(500)).toBe(false);
    expect(gw.retries(CONNECT_FAILURE, 0, 'POST')).toBe(true);
    const codes = policy({ retry: { on: ['429', 'timeout'] } });
    expect(codes.retriesStatus(429)).toBe(true);
    expect(codes.retriesStatus(503)).toBe(false);
    expect(codes.retries(CONNECT_FAILURE, 0, 'GET')).toBe(false);
    expect(codes.retries(TIMEOUT, 0, 'GET')).toBe(true);
    expect(codes.retriesStatus(42)).toBe(false);
  });

  it('gives each try the per-try timeout, or what is left of the overall deadline', () => {
    const p = policy({ timeoutMs: 1000, retry: { perTryTimeoutMs: 400 } });
    expect(p.tryTimeout(0, 0)).toBe(400);
    expect(p.tryTimeout(0, 500)).toBe(400);
    expect(p.tryTimeout(0, 700)).toBe(300);
    expect(p.tryTimeout(0, 999.5)).toBe(1);
    expect(p.tryTimeout(0, 1000)).toBe(0);
    expect(policy({ timeoutMs: 1000, retry: { perTryTimeoutMs: 5000 } }).perTryTimeoutMs).toBe(1000);
  });

  it('is compiled once per spec object', () => {
    const spec = ServiceSpec.parse({});
    expect(retryPolicy(spec)).toBe(retryPolicy(spec));
    expect(retryPolicy(ServiceSpec.parse({}))).not.toBe(retryPolicy(spec));
  });
});

describe('nextCandidate', () => {
  const t = compileSnapshot(
    buildSnapshot([
      lane('canary'),
      lane('dev', { fallback: 'canary' }),
      instance('s1', 'orders', '10.0.0.1'),
      instance('s2', 'orders', '10.0.0.2'),
      instance('c1', 'orders', '10.0.1.1', { color: 'canary' }),
      instance('d1', 'orders', '10.0.2.1', { color: 'dev' }),
    ]),
    new EndpointStates(),
  );
  const sub = (l: string) => t.service('orders')!.subsets.get(l)!;
  const chain = [sub('dev'), sub('canary'), sub('stable')];

  it('after a canary failure goes down the fallback chain; after a stable failure stays (other instance)', () => {
    expect(nextCandidate(chain, 0, undefined, 0)).toBe(1);
    expect(nextCandidate(chain, 1, undefined, 0)).toBe(2);
    expect(nextCandidate(chain, 2, undefined, 0)).toBe(2);
    expect(nextCandidate(chain, 2, undefined, 0, true)).toBe(-1);
    expect(nextCandidate([sub('stable')], 0, undefined, 0, true)).toBe(-1);
  });

  it('skips fallbacks whose circuit is open or whose instances are all ejected', () => {
    const openCanary = (s: Subset) => s.lane === 'canary';
    expect(nextCandidate(chain, 0, openCanary, 0)).toBe(2);
    sub('stable').endpoints.forEach((e) => (e.state.ejectedUntil = 100));
    expect(nextCandidate(chain, 0, openCanary, 50)).toBe(0); // nowhere else: same subset
    expect(nextCandidate(chain, 0, openCanary, 100)).toBe(2);
  });

  it('a strict lane (no fallback) retries in its own subset', () => {
    const strict = [sub('canary')];
    expect(nextCandidate(strict, 0, undefined, 0)).toBe(0);
    expect(nextCandidate(strict, 0, undefined, 0, true)).toBe(-1);
  });
});

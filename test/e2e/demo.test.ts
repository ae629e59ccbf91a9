/** `dyeline demo --fast` as a newcomer runs it: exits 0 and its output shows every phase. */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { freePortRange } from '../support/ports.ts';
import { DYELINE_BIN, DYELINE_NODE_FLAGS } from '../support/process.ts';

it('the demo shows lane routing, a fallback with zero client errors, the breaker, recovery, a trace tree and progressive delivery', async () => {
  const base = await freePortRange(100);
  const child = spawn(process.execPath, [...DYELINE_NODE_FLAGS, DYELINE_BIN, 'demo', '--fast', '--base-port', String(base)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  expect(code, `stdout:\n${out}\nstderr:\n${err}`).toBe(0);
  expect(out).toMatch(/1\. 10 uncoloured requests → stable everywhere/);
  // Dyed by header: canary at orders and pricing, stable (no-instance) at inventory.
  expect(out).toMatch(/orders\s+0\s+10\s+—/);
  expect(out).toMatch(/inventory\s+10\s+0\s+no-instance/);
  expect(out).toMatch(/pricing\s+0\s+10\s+—/);
  expect(out).toMatch(/client errors: 0; breaker frontend→orders\/canary: open/);
  expect(out).toMatch(/dyed traffic back on orders canary after \d+ ms/);
  expect(out).toMatch(/trace [0-9a-f]{32} \(\d+ spans/);
  expect(out).toMatch(/└─ pricing SERVER GET .*color=canary/);
  // Progressive delivery (npm test provides the Prometheus it needs): promoted step by step with
  // sticky users, then a failing canary aborted with no client error.
  expect(out).toMatch(/7\. progressive delivery: Rollout orders-v2/);
  expect(out).toMatch(/^ {2}5% +\d+ +\d+ +yes$/m);
  expect(out).toMatch(/^ {2}25% +\d+ +\d+ +yes$/m);
  expect(out).toMatch(/^ {2}100% +\d+ +\d+ +yes$/m);
  expect(out).toMatch(/promoted after [\d.]+ s; dyeline rollout history:\n {2}lane canary: Promoted, share 100%/);
  expect(out).toMatch(/at 25% the orders canary answers 500 → aborted \d+ ms later/);
  expect(out).toMatch(/client errors while the canary failed: 0 of \d+ requests/);
  expect(out).toMatch(/demo passed in/);
  // The progress line went to stderr.
  expect(err).toMatch(/\[6\/6\] tracing one dyed request/);
}, 120_000);

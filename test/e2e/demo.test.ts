/** `dyeline demo --fast` as a newcomer runs it: exits 0 and its output shows every phase. */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { freePortRange } from '../support/ports.ts';
import { DYELINE_BIN, DYELINE_NODE_FLAGS } from '../support/process.ts';

it('the demo shows lane routing, a fallback with zero client errors, the breaker, recovery and a trace tree', async () => {
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
  expect(out).toMatch(/demo passed in/);
  // The progress line went to stderr.
  expect(err).toMatch(/\[6\/6\] tracing one dyed request/);
}, 120_000);

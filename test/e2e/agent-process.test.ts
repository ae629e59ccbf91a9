/**
 * `dyeline agent` as a real process: flags and exit codes, listening lines, readiness,
 * SIGTERM drain (in-flight requests finish, exit 0).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess } from '../support/apps.ts';
import { startUpstream } from '../support/agent-harness.ts';
import { DYELINE_BIN, type DyelineProcess, getJson } from '../support/process.ts';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
const running: DyelineProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-agent-process-'));
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  await rm(dir, { recursive: true, force: true });
});

function dyeline(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [DYELINE_BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
}

describe('dyeline agent (process)', () => {
  it('documents its flags, and --app-port as what enables the inbound listener', () => {
    const r = dyeline(['agent', '--help']);
    expect(r.status).toBe(0);
    for (const f of ['--service', '--color', '--app-port', '--inbound', '--outbound', '--status', '--admin', '--snapshot', '--drain-timeout-ms']) expect(r.stdout).toContain(f);
    expect(r.stdout).toMatch(/without it the agent opens no\s+inbound listener/);
  });

  it('exits 2 with one line naming the bad flag', () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['agent'], {}, /--service: required/],
      [['agent', '--service', 'web', '--app-port', 'http'], {}, /--app-port: expected a port/],
      [['agent', '--service', 'web', '--outbound', 'localhost'], {}, /--outbound: expected HOST:PORT/],
      [['agent', '--service', 'web'], { DYELINE_COLOR: 'NOT A COLOUR' }, /--color: expected a colour/],
    ];
    for (const [args, env, message] of cases) {
      const r = dyeline(args, env);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('logs a listening line per listener, turns ready with the snapshot, drains on SIGTERM and exits 0', async () => {
    const held: (() => void)[] = [];
    const up = await startUpstream((req, res) => {
      if (req.url === '/slow') held.push(() => res.end('finished'));
      else res.end('ok');
    });
    const snapshot = join(dir, 'snapshot.json');
    const agent = await startAgentProcess({ service: 'web', appPort: up.port, snapshot, extraArgs: ['--drain-timeout-ms', '5000'] });
    running.push(agent);
    for (const l of ['inbound', 'outbound', 'status', 'admin']) {
      const line = agent.logs.find((x) => x.msg === 'listening' && x.listener === l)!;
      expect(line.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(line.address).not.toMatch(/:0$/);
    }
    const status = agent.listeners.get('status')!;
    expect((await getJson(status, '/readyz')).status).toBe(503);
    await writeFile(snapshot, snapshotText([service('slow'), instance('slow-1', 'slow', '127.0.0.1', { port: up.port })], 1));
    await waitFor(async () => (await getJson(status, '/readyz')).status === 200, { timeoutMs: 10_000, what: 'ready' });

    const out = agent.listeners.get('outbound')!;
    const i = out.lastIndexOf(':');
    const inFlight = new Promise<string>((resolve, reject) => {
      const req = request({ host: out.slice(0, i), port: Number(out.slice(i + 1)), path: '/slow', headers: { host: 'slow' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    await waitFor(() => held.length === 1, { timeoutMs: 5000, what: 'request in flight' });
    agent.proc.kill('SIGTERM');
    await agent.waitForLog((l) => l.msg === 'draining', 5000);
    expect((await getJson(status, '/readyz')).status).toBe(503);
    held[0]!();
    expect(await inFlight).toBe('finished');
    expect(await agent.exited).toBe(0);
    expect(agent.logs.some((l) => l.msg === 'stopped')).toBe(true);
    await up.close();
  });
});

/**
 * The production entry is the same CLI (runs in the `dist` project only, see vitest.config.ts):
 * built outside the checkout, it runs with type stripping switched off, answers every subcommand's
 * help, bad flags and one-shot commands byte for byte as the TypeScript entry does, with no
 * node_modules within reach (scripts/build.ts fails on any import it would leave to run time
 * other than Node built-ins and two absent optional packages). The long-running subcommands (daemon, agent, demo) are
 * covered by the e2e files the `dist` project runs against the same file.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../cli/version.ts';
import { IMAGE_NODE_FLAGS } from '../../scripts/build.ts';
import { DYELINE_BIN, startDyeline } from '../support/process.ts';
import { instance, lane, service, snapshotText } from '../support/snapshot-builder.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_ENTRY = join(ROOT, 'bin/dyeline.js');
const SUBCOMMANDS = ['daemon', 'agent', 'validate', 'explain', 'inject', 'demo', 'webhook'];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(entry: string, args: string[], nodeArgs: string[] = []): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, entry, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
}

/** Runs both entries with the same arguments (at once) and expects the same exit code and output. */
async function same(args: string[]): Promise<Ran> {
  const [built, source] = await Promise.all([run(DYELINE_BIN, args), run(SOURCE_ENTRY, args)]);
  expect(built, `dyeline ${args.join(' ')}`).toEqual(source);
  return built;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-dist-entry-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dist/dyeline.mjs', () => {
  it('is the built file, outside the checkout, and runs with type stripping switched off and the image\'s node flags', async () => {
    expect(DYELINE_BIN.endsWith('dyeline.mjs')).toBe(true);
    expect(DYELINE_BIN.startsWith(ROOT)).toBe(false);
    const r = await run(DYELINE_BIN, ['--version'], ['--no-experimental-strip-types', ...IMAGE_NODE_FLAGS]);
    expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    const v = await run(DYELINE_BIN, ['validate', 'test/fixtures/rules-valid'], ['--no-experimental-strip-types', ...IMAGE_NODE_FLAGS]);
    expect(v.code, v.stderr).toBe(0);
  });

  it('has the same commands, flags and help as the TypeScript entry', async () => {
    expect((await same(['--help'])).stdout).toMatch(/Commands:/);
    for (const cmd of SUBCOMMANDS) expect((await same([cmd, '--help'])).code).toBe(0);
  });

  it('answers bad flags and values the same way (exit 2, one line)', async () => {
    expect((await same(['agent', '--no-such-flag'])).code).toBe(2);
    expect((await same(['agent', '--service', 'x', '--app-port', 'eighty'])).code).toBe(2);
    expect((await same(['daemon', '--source', 'ftp://x'])).code).toBe(2);
    expect((await same(['no-such-command'])).code).toBe(2);
  });

  it('an agent with tracing on loads undici\'s Pool alone: neither its fetch, nor Node\'s own copy of undici, nor node:http2, zlib or fs/promises, not even once it has exported spans (docs/footprint.md)', async () => {
    const snap = join(dir, 'agent-snapshot.json');
    await writeFile(snap, snapshotText([service('echo'), instance('echo-1', 'echo', '127.0.0.1', { port: 9 })]));
    // This preload prints the undici, HTTP/2, TLS, zlib and fs/promises modules Node has loaded of its own, 2.5 s after start.
    const preload = `data:text/javascript,${encodeURIComponent(
      "setTimeout(() => process.stdout.write(JSON.stringify({ msg: 'node-modules', undici: process.moduleLoadList.filter((m) => m.includes('undici')), http2: process.moduleLoadList.filter((m) => m.includes('http2')), tls: process.moduleLoadList.filter((m) => m.includes('tls')), lazy: process.moduleLoadList.filter((m) => /NativeModule (zlib|fs\\/promises|internal\\/readline)/.test(m)) }) + '\\n'), 2500).unref();",
    )}`;
    const agent = await startDyeline(['agent', '--service', 'client', '--snapshot', snap, '--outbound', '127.0.0.1:0', '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
      // A batch 100 ms after the span: the exporter's first send (to a port nobody listens on) runs
      // before the preload looks.
      env: { DYELINE_ACCESS_LOG: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_SCHEDULE_DELAY: '100' },
      listeners: ['outbound'],
      nodeArgs: ['--import', preload],
    });
    try {
      const status = await new Promise<number>((resolve, reject) =>
        get(`http://${agent.listeners.get('outbound')}/`, { headers: { host: 'echo' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject),
      );
      expect(status).toBe(502);
      // The OTLP exporter's first send imports node:http (scripts/build.ts builtinsAsRequire).
      await agent.waitForLog((l) => l.msg === 'telemetry: span export failed (traffic is not affected)');
      const line = await agent.waitForLog((l) => l.msg === 'node-modules');
      expect(line.undici).toEqual([]);
      // undici's HTTP/2 code is required on the first h2 connection only (scripts/build.ts lazyUndiciH2).
      expect(line.http2).toEqual([]);
      expect(line.tls).toEqual([]);
      // zlib and fs/promises (with Node's readline) only on first use (scripts/build.ts LAZY_BUILTINS).
      expect(line.lazy).toEqual([]);
      expect(agent.logs.some((l) => l.msg === 'tracing on')).toBe(true);
    } finally {
      await agent.stop();
    }
    const meta = JSON.parse(await readFile(join(dirname(DYELINE_BIN), 'meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const undici = Object.keys(meta.inputs).filter((f) => f.startsWith('node_modules/undici/'));
    expect(undici).toContain('node_modules/undici/lib/dispatcher/pool.js');
    expect(undici).not.toContain('node_modules/undici/index.js');
  });

  it('with the image\'s node flags, an agent starts without waking V8\'s optimising compiler, from a long directory (docs/footprint.md#start-up-and-the-install-directory)', async () => {
    // DIST_TEST_DIR is ~30 characters: without --preserve-symlinks the loader's path work for the
    // chunks' imports makes TurboFan compile Node's path normalisation at start-up (5–6 MiB).
    expect(dirname(DYELINE_BIN).length).toBeGreaterThan(20);
    const snap = join(dir, 'startup-snapshot.json');
    await writeFile(snap, snapshotText([service('echo'), instance('echo-1', 'echo', '127.0.0.1', { port: 9 })]));
    const child = spawn(
      process.execPath,
      [...IMAGE_NODE_FLAGS, '--trace-opt', DYELINE_BIN, 'agent', '--service', 'client', '--snapshot', snap, '--outbound', '127.0.0.1:0', '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
      { env: { ...process.env, NODE_OPTIONS: '', DYELINE_ACCESS_LOG: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      const started = Date.now();
      while ((out.match(/"msg":"listening"/g) ?? []).length < 3 && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 50));
      expect((out.match(/"msg":"listening"/g) ?? []).length).toBe(3);
      await new Promise((r) => setTimeout(r, 500));
      // --trace-opt prints every optimised compilation; Maglev (the mid tier) may run, TurboFan must not.
      expect(out).toMatch(/compiling method .*target MAGLEV/);
      expect(out.split('\n').filter((l) => /compiling method .*target TURBOFAN/.test(l))).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('validate, inject and explain give the same output', async () => {
    expect((await same(['validate', 'test/fixtures/rules-valid'])).code).toBe(0);
    expect((await same(['validate', 'test/fixtures/rules-invalid'])).code).toBe(1);
    expect((await same(['validate', '--print-schema'])).stdout).toMatch(/"\$schema"/);
    // A dye matcher's regex: the build carries re2js as a file of its own, read on first use
    // (scripts/build.ts SEPARATE_FILES).
    const regexRules = join(dir, 'regex-rules');
    const regexLane = (regex: string) => ({ apiVersion: 'dyeline.io/v1', kind: 'Lane', metadata: { name: 'canary' }, spec: { color: 'canary', dye: { match: [{ headers: { 'x-user': { regex } } }] } } });
    await mkdir(regexRules);
    await writeFile(join(regexRules, 'lane.json'), JSON.stringify(regexLane('u-[0-9]+')));
    expect((await same(['validate', regexRules])).code).toBe(0);
    await writeFile(join(regexRules, 'lane.json'), JSON.stringify(regexLane('(?=a)a')));
    const refused = await same(['validate', regexRules]);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toMatch(/not an RE2 regular expression/);
    expect((await same(['inject', '-f', 'deploy/k8s/example/shop.yaml'])).stdout).toMatch(/dyeline\.io/);
    const snap = join(dir, 'snapshot.json');
    await writeFile(
      snap,
      snapshotText([
        lane('canary', { dye: { entry: ['frontend'], match: [{ headers: { 'x-internal-user': { exact: 'true' } } }] } }),
        instance('orders-1', 'orders', '10.0.0.1'),
        instance('orders-2', 'orders', '10.0.0.2', { color: 'canary' }),
        service('orders'),
      ]),
    );
    const explained = await same(['explain', '--snapshot', snap, '--service', 'orders', '--from', 'frontend', '-H', 'x-internal-user: true', '--json']);
    expect(JSON.parse(explained.stdout)).toMatchObject({ color: 'canary' });
  });
});

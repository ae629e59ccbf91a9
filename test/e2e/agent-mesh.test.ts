/**
 * Issue 3's acceptance, with real processes: `dyeline daemon` (file source) → snapshot → one
 * `dyeline agent` per app instance (+ a client agent with no app), apps that forward colour
 * and trace headers by hand. Chain: gateway → orders → inventory → payments, where inventory
 * (the middle) has no canary; gateway dyes `x-user-group: beta` canary; orders splits
 * uncoloured traffic {stable: 90, canary: 10} sticky by x-user-id.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pod, startAgentProcess, startPod } from '../support/apps.ts';
import { type DyelineProcess, getJson, startDaemon } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

interface Hop {
  service: string;
  color: string;
  instance: string;
  received: Record<string, string | undefined>;
  next?: { status: number; servedColor: string | null; fallback: string | null; body: Hop | string };
}

const CHAIN = '/chain?via=orders,inventory,payments';

const lanes = (dyeValue: string) => `apiVersion: dyeline.io/v1
kind: Lane
metadata: { name: canary }
spec:
  color: canary
  priority: 10
  dye:
    entry: [gateway]
    match:
      - headers: { x-user-group: { exact: ${dyeValue} } }
`;
const services = `apiVersion: dyeline.io/v1
kind: Service
metadata: { name: orders }
spec:
  split: { stable: 90, canary: 10 }
  splitKey: header:x-user-id
  timeoutMs: 5000
`;
const instanceDoc = (pod: Pod, i: number) => {
  const [host, port] = [pod.inbound.slice(0, pod.inbound.lastIndexOf(':')), pod.inbound.slice(pod.inbound.lastIndexOf(':') + 1)];
  const labels = pod.app.color === 'stable' ? '' : `, labels: { color: ${pod.app.color} }`;
  return `apiVersion: dyeline.io/v1\nkind: Instance\nmetadata: { name: ${pod.app.instance}-${i} }\nspec: { service: ${pod.app.service}, address: ${host}, port: ${port}${labels} }\n`;
};

let dir: string;
let rules: string;
let snapshot: string;
let daemon: DyelineProcess;
let client: DyelineProcess;
let clientOutbound: string;
let pool: Pool;
const pods: Pod[] = [];

/** The hops of a chain answer, in order. */
function hops(answer: Hop): Hop[] {
  const out: Hop[] = [];
  let h: Hop | undefined = answer;
  for (let i = 0; h !== undefined && i < 10; i++) {
    out.push(h);
    const n: Hop['next'] = h.next;
    h = n !== undefined && typeof n.body === 'object' ? n.body : undefined;
  }
  return out;
}

/** GET through the client agent's outbound listener (origin-form, Host: service). */
async function get(service: string, path: string, headers: Record<string, string> = {}) {
  const res = await pool.request({ path, method: 'GET', headers: { host: service, ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Hop };
}

async function metric(address: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

async function snapshotVersionOf(admin: string): Promise<number> {
  return (await getJson<{ snapshotVersion: number }>(admin, '/config')).body.snapshotVersion;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-agent-mesh-'));
  rules = join(dir, 'rules');
  snapshot = join(dir, 'run', 'snapshot.json');
  await mkdir(rules);
  await writeFile(join(rules, 'lanes.yaml'), lanes('beta'));
  await writeFile(join(rules, 'services.yaml'), services);
  daemon = await startDaemon({ sources: [`file://${rules}`], snapshot });

  const topology: [string, string][] = [
    ['gateway', 'stable'],
    ['orders', 'stable'],
    ['orders', 'canary'],
    ['inventory', 'stable'],
    ['payments', 'stable'],
    ['payments', 'canary'],
  ];
  // Two at a time: the machine has two cores.
  for (let i = 0; i < topology.length; i += 2) {
    const started = await Promise.all(topology.slice(i, i + 2).map(([s, c]) => startPod(s, c, snapshot)));
    pods.push(...started);
  }
  client = await startAgentProcess({ service: 'client', snapshot });
  clientOutbound = client.listeners.get('outbound')!;
  pool = new Pool(`http://${clientOutbound}`, { connections: 16, pipelining: 1 });

  await writeFile(join(rules, 'instances.yaml'), pods.map((p, i) => instanceDoc(p, i)).join('---\n'));
  // Every agent routes with the snapshot that has every instance, and every app port is up.
  for (const p of pods) {
    await waitFor(async () => (await fetch(`http://${p.status}/readyz`)).status === 200, { timeoutMs: 20_000, what: `${p.app.instance} ready` });
  }
  const clientAdmin = client.listeners.get('admin')!;
  await waitFor(async () => {
    const c = await getJson<{ services: { name: string; instances: unknown[] }[] }>(clientAdmin, '/clusters');
    return c.body.services.reduce((n, s) => n + s.instances.length, 0) === pods.length;
  }, { timeoutMs: 20_000, what: 'client agent sees every instance' });
  for (const p of pods) {
    await waitFor(async () => (await snapshotVersionOf(p.admin)) === (await snapshotVersionOf(clientAdmin)), { timeoutMs: 20_000, what: `${p.app.instance} on the latest snapshot` });
  }
}, 120_000);

afterAll(async () => {
  await pool?.close();
  await Promise.allSettled([...pods.map((p) => p.stop()), client?.stop(), daemon?.stop()]);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('dyeline agent mesh (real processes, daemon file source)', () => {
  it('a request dyed canary at the entry reaches canary wherever it exists and stable elsewhere, with one trace id', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await get('gateway', CHAIN, { 'x-user-group': 'beta' });
      expect(r.status).toBe(200);
      const h = hops(r.json());
      expect(h.map((x) => `${x.service}:${x.color}`)).toEqual(['gateway:stable', 'orders:canary', 'inventory:stable', 'payments:canary']);
      for (const x of h) {
        expect(x.received['x-traffic-color']).toBe('canary');
        expect(x.received.baggage).toBe('traffic_color=canary');
      }
      // Served colours and fallback as the apps' outbound calls saw them.
      expect(h[0]!.next).toMatchObject({ servedColor: 'canary', fallback: null });
      expect(h[1]!.next).toMatchObject({ servedColor: 'stable', fallback: 'no-instance' });
      expect(h[2]!.next).toMatchObject({ servedColor: 'canary', fallback: null });
      const traceIds = new Set(h.map((x) => x.received.traceparent!.split('-')[1]));
      expect(traceIds.size).toBe(1);
      const parents = new Set(h.map((x) => x.received.traceparent!.split('-')[2]));
      expect(parents.size).toBe(h.length);
    }
  });

  it('continues the caller\'s W3C trace and B3 context across every hop', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await get('gateway', CHAIN, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    for (const x of hops(r.json())) expect(x.received.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const b3 = await get('gateway', CHAIN, { b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1' });
    for (const x of hops(b3.json())) expect(x.received.traceparent).toMatch(/^00-80f198ee56343ba864fe8b2a57d3eff7-[0-9a-f]{16}-01$/);
  });

  it('uncoloured requests never reach canary except through the split', async () => {
    let ordersCanary = 0;
    for (let i = 0; i < 150; i++) {
      const h = hops((await get('gateway', CHAIN)).json());
      expect(h).toHaveLength(4);
      for (const x of h) {
        expect(x.received['x-traffic-color']).toBeUndefined();
        expect(x.received.baggage).toBeUndefined();
        if (x.service !== 'orders') expect(x.color).toBe('stable');
      }
      if (h[1]!.color === 'canary') ordersCanary++;
    }
    // orders has a 10% split; 150 draws land on canary a few times, never most of the time.
    expect(ordersCanary).toBeLessThan(40);
  });

  it('split {stable: 90, canary: 10} gives 10% ± 2% over 4,000 requests; the same splitKey always lands on the same subset', async () => {
    const N = 4000;
    let canary = 0;
    let next = 0;
    const worker = async () => {
      while (next < N) {
        next++;
        const r = await get('orders', '/who');
        expect(r.status).toBe(200);
        const served = r.headers['x-dyeline-served-color'];
        expect(served === 'canary' || served === 'stable').toBe(true);
        expect((JSON.parse(r.text) as Hop).color).toBe(served);
        if (served === 'canary') canary++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(canary / N).toBeGreaterThanOrEqual(0.08);
    expect(canary / N).toBeLessThanOrEqual(0.12);

    const users = 300;
    let canaryUsers = 0;
    for (let u = 0; u < users; u++) {
      const seen = new Set<string>();
      for (let k = 0; k < 3; k++) seen.add(String((await get('orders', '/who', { 'x-user-id': `user-${u}` })).headers['x-dyeline-served-color']));
      expect(seen.size).toBe(1);
      if (seen.has('canary')) canaryUsers++;
    }
    expect(canaryUsers).toBeGreaterThan(users * 0.03);
    expect(canaryUsers).toBeLessThan(users * 0.2);
  }, 120_000);

  it('HTTP_PROXY clients work unchanged: Node 24 fetch (NODE_USE_ENV_PROXY=1, CONNECT tunnel) and curl -x', async () => {
    const script = `
      const out = [];
      for (const url of ['http://gateway${CHAIN}', 'http://gateway.default.svc.cluster.local${CHAIN}', 'http://gateway.svc${CHAIN}']) {
        const r = await fetch(url, { headers: { 'x-user-group': 'beta' } });
        out.push({ status: r.status, body: await r.json() });
      }
      process.stdout.write(JSON.stringify(out));`;
    const env = { ...process.env, NODE_USE_ENV_PROXY: '1', HTTP_PROXY: `http://${clientOutbound}`, http_proxy: `http://${clientOutbound}`, NO_PROXY: '', no_proxy: '' };
    const node = await run(process.execPath, ['--input-type=module', '-e', script], env);
    expect(node.stderr).toBe('');
    const answers = JSON.parse(node.stdout) as { status: number; body: Hop }[];
    expect(answers).toHaveLength(3);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(hops(a.body).map((x) => `${x.service}:${x.color}`)).toEqual(['gateway:stable', 'orders:canary', 'inventory:stable', 'payments:canary']);
    }
    const curl = await run('curl', ['-sS', '-x', `http://${clientOutbound}`, '-H', 'x-user-group: beta', `http://gateway${CHAIN}`], { ...process.env, NO_PROXY: '', no_proxy: '' });
    expect(curl.code).toBe(0);
    expect(hops(JSON.parse(curl.stdout) as Hop).map((x) => x.color)).toEqual(['stable', 'canary', 'stable', 'canary']);
    const tunnel = await run('curl', ['-sS', '-p', '-x', `http://${clientOutbound}`, '-H', 'x-traffic-color: canary', 'http://payments/who'], { ...process.env, NO_PROXY: '', no_proxy: '' });
    expect((JSON.parse(tunnel.stdout) as Hop).color).toBe('canary');
  });

  it('a corrupted snapshot changes nothing; a rule change in the source changes routing without a restart', async () => {
    const gateway = pods.find((p) => p.app.service === 'gateway')!;
    const before = await snapshotVersionOf(gateway.admin);
    const good = await readFile(snapshot);
    // Corrupt the file in place (what a bad disk or a hand edit does): agents must reject it.
    await writeFile(snapshot, good.subarray(0, Math.floor(good.length / 2)));
    for (const p of [gateway, ...pods.slice(1)]) {
      await waitFor(async () => (await metric(p.status, 'dyeline_snapshot_rejected_total')) >= 1, { timeoutMs: 10_000, what: `${p.app.instance} rejects the corrupted snapshot` });
    }
    await waitFor(async () => (await metric(client.listeners.get('status')!, 'dyeline_snapshot_rejected_total')) >= 1, { timeoutMs: 10_000, what: 'client agent rejects it' });
    expect(await snapshotVersionOf(gateway.admin)).toBe(before);
    const still = hops((await get('gateway', CHAIN, { 'x-user-group': 'beta' })).json());
    expect(still.map((x) => x.color)).toEqual(['stable', 'canary', 'stable', 'canary']);
    expect((await fetch(`http://${gateway.status}/readyz`)).status).toBe(200);

    // Rule change: the dye rule now matches "gamma" instead of "beta". The daemon rewrites the snapshot.
    await writeFile(join(rules, 'lanes.yaml'), lanes('gamma'));
    for (const p of pods) await waitFor(async () => (await snapshotVersionOf(p.admin)) > before, { timeoutMs: 15_000, what: `${p.app.instance} loads the new rules` });
    const beta = hops((await get('gateway', CHAIN, { 'x-user-group': 'beta' })).json());
    expect(beta[0]!.received['x-traffic-color']).toBeUndefined();
    expect(beta[3]!.color).toBe('stable');
    const gamma = hops((await get('gateway', CHAIN, { 'x-user-group': 'gamma' })).json());
    expect(gamma.map((x) => x.color)).toEqual(['stable', 'canary', 'stable', 'canary']);
    for (const p of pods) expect((await getJson(p.status, '/readyz')).status).toBe(200);
    expect(gateway.agent.proc.exitCode).toBeNull();
  }, 60_000);
});

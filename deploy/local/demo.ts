/**
 * `dyeline demo`: the whole product on one machine. A daemon on a file source, a mesh of
 * real processes (frontend → orders → inventory → pricing; orders and pricing have a canary,
 * inventory has none), each app with its own agent. It drives traffic and prints, per phase,
 * which lane served each hop: uncoloured; dyed by header; dyed by user-id hash; a failing
 * canary (fallback with zero client errors, the breaker opening, then recovering); one
 * request's trace as a tree from the spans the agents export over OTLP; and progressive delivery
 * (rollout-phase.ts: a lane promoted step by step, then one aborted), with a real Prometheus.
 * Exits 0 when every phase shows what it should, 1 with the reason otherwise.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Collector, traceTree } from './collector.ts';
import { type Mesh, startMesh } from './mesh.ts';
import { Progress, table } from './report.ts';
import { rolloutPhase } from './rollout-phase.ts';

export interface DemoOptions {
  /** Shorter phases (the e2e test uses it). */
  fast?: boolean;
  /** Leave the mesh running for curl until Ctrl-C. */
  keep?: boolean;
  /** First port of the range the demo uses (default 18000; it takes about 80 ports). */
  basePort?: number;
  out?: NodeJS.WritableStream;
}

/** What one request through the chain saw at each hop. */
interface Path {
  status: number;
  /** service → lane that served it. */
  lanes: Record<string, string>;
  /** service → fallback reason of the call into it. */
  fallbacks: Record<string, string>;
}

const HOPS = ['frontend', 'orders', 'inventory', 'pricing'];

type Answer = { service?: string; color?: string; next?: { status: number; fallback: string | null; body: Answer | null } };

function pathOf(status: number, body: Answer | null): Path {
  const p: Path = { status, lanes: {}, fallbacks: {} };
  let node: Answer | null | undefined = body;
  while (node?.service) {
    p.lanes[node.service] = node.color ?? '?';
    const next: Answer['next'] = node.next;
    if (next?.body?.service && next.fallback) p.fallbacks[next.body.service] = next.fallback;
    node = next?.body;
  }
  return p;
}

class DemoFailure extends Error {}

function check(cond: boolean, why: string): void {
  if (!cond) throw new DemoFailure(why);
}

export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const say = (s = '') => out.write(`${s}\n`);
  const fast = opts.fast === true;
  const base = opts.basePort ?? 18000;
  const progress = new Progress(process.stderr);
  const collector = new Collector();
  let mesh: Mesh | undefined;
  const started = Date.now();
  try {
    await collector.start(base + 2);
    mesh = await startMesh(base, (what) => progress.step('start', what));
    const entry = mesh.pods.find((p) => p.service === 'frontend')!;
    const send = async (headers: Record<string, string>): Promise<Path> => {
      const r = await fetch(`http://127.0.0.1:${entry.inbound}/`, { headers, signal: AbortSignal.timeout(10_000) });
      const text = await r.text();
      let body: Answer | null = null;
      try {
        body = JSON.parse(text) as Answer;
      } catch {
        /* an agent error */
      }
      return pathOf(r.status, body);
    };
    const lanesTable = (title: string, paths: Path[]) => {
      const rows = HOPS.map((hop) => {
        const count = (lane: string) => paths.filter((p) => p.lanes[hop] === lane).length;
        const fb = [...new Set(paths.map((p) => p.fallbacks[hop]).filter(Boolean))].join(', ');
        return [hop, String(count('stable')), String(count('canary')), fb || '—'];
      });
      say(`\n${title}`);
      say(table(['hop', 'stable', 'canary', 'fallback'], rows));
    };
    say(`dyeline demo — mesh of ${mesh.pods.length} instances (frontend → orders → inventory → pricing), logs in ${mesh.dir}`);

    // 1. Uncoloured traffic stays on stable.
    const n = fast ? 10 : 30;
    progress.step('1/6', 'uncoloured requests');
    const plain: Path[] = [];
    for (let i = 0; i < n; i++) plain.push(await send({}));
    lanesTable(`1. ${n} uncoloured requests → stable everywhere`, plain);
    check(plain.every((p) => p.status === 200 && HOPS.every((h) => p.lanes[h] === 'stable')), 'uncoloured requests did not all stay on stable');

    // 2. Dyed by header: canary wherever it exists, stable at inventory, back into the lane at pricing.
    progress.step('2/6', 'requests dyed by header');
    const dyed: Path[] = [];
    for (let i = 0; i < n; i++) dyed.push(await send({ 'x-internal-user': 'true' }));
    lanesTable(`2. ${n} requests with "x-internal-user: true" (dyed canary at frontend) → canary where it exists`, dyed);
    check(
      dyed.every((p) => p.status === 200 && p.lanes.orders === 'canary' && p.lanes.inventory === 'stable' && p.lanes.pricing === 'canary'),
      'header-dyed requests did not follow the canary lane',
    );
    check(dyed.every((p) => p.fallbacks.inventory === 'no-instance'), 'inventory did not report the no-instance fallback');

    // 3. Dyed by user id: a sticky 30% of users.
    const users = fast ? 100 : 300;
    progress.step('3/6', 'requests dyed by user-id hash');
    const byUser = new Map<string, string>();
    let unstable = 0;
    for (let i = 0; i < users; i++) {
      const a = await send({ 'x-user-id': `user-${i}` });
      byUser.set(`user-${i}`, a.lanes.orders ?? '?');
      if (i % 10 === 0 && (await send({ 'x-user-id': `user-${i}` })).lanes.orders !== a.lanes.orders) unstable++;
    }
    const canaryUsers = [...byUser.values()].filter((l) => l === 'canary').length;
    say(`\n3. ${users} users by "x-user-id" (rule: hashPercent 30) → ${canaryUsers} on canary (${((100 * canaryUsers) / users).toFixed(0)}%), the same user always in the same lane`);
    check(canaryUsers > users * 0.15 && canaryUsers < users * 0.45, `user-id dyeing put ${canaryUsers}/${users} users on canary, expected about 30%`);
    check(unstable === 0, 'a user changed lanes between two requests');

    // 4. The orders canary starts failing: dyed traffic falls back to stable, no client errors, breaker opens.
    const canary = mesh.pods.find((p) => p.service === 'orders' && p.color === 'canary')!;
    progress.step('4/6', 'orders canary failing');
    await fetch(`http://127.0.0.1:${canary.appPort}/admin/fault?mode=500`, { method: 'POST' });
    const failStart = Date.now();
    const during: Path[] = [];
    let openedAfter: number | undefined;
    const m = fast ? 40 : 100;
    for (let i = 0; i < m; i++) {
      const p = await send({ 'x-internal-user': 'true' });
      during.push(p);
      if (openedAfter === undefined && p.fallbacks.orders === 'circuit-open') openedAfter = Date.now() - failStart;
      await new Promise((r) => setTimeout(r, 10));
    }
    const clusters = (await fetch(`http://127.0.0.1:${entry.admin}/clusters`).then((r) => r.json())) as unknown;
    const circuit = findCircuit(clusters, 'orders', 'canary');
    const errors = during.filter((p) => p.status !== 200).length;
    const reasons = countBy(during.map((p) => p.fallbacks.orders ?? 'none (canary served)'));
    lanesTable(`4. orders canary answers 500 — ${m} dyed requests`, during);
    say(table(['fallback at orders', 'requests'], Object.entries(reasons).map(([k, v]) => [k, String(v)])));
    say(`client errors: ${errors}; breaker frontend→orders/canary: ${circuit ?? 'unknown'}${openedAfter !== undefined ? `, first circuit-open fallback ${openedAfter} ms after the fault` : ''}`);
    check(errors === 0, `${errors} client errors while the canary failed`);
    check(during.every((p) => p.lanes.orders === 'stable'), 'a dyed request was served by the failing canary');
    check(openedAfter !== undefined && circuit === 'open', 'the breaker did not open');

    // 5. The canary recovers: lane traffic returns after the reset timeout.
    progress.step('5/6', 'orders canary recovering');
    await fetch(`http://127.0.0.1:${canary.appPort}/admin/fault?mode=off`, { method: 'POST' });
    const healStart = Date.now();
    let back: number | undefined;
    while (Date.now() - healStart < 15_000) {
      const p = await send({ 'x-internal-user': 'true' });
      if (p.lanes.orders === 'canary') {
        back = Date.now() - healStart;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    say(`\n5. canary healthy again → dyed traffic back on orders canary after ${back ?? "—"} ms (the breaker half-opens resetTimeoutMs = 2000 ms after it opened)`);
    check(back !== undefined, 'dyed traffic did not return to the recovered canary');

    // 6. One request's trace, from the spans the agents exported over OTLP.
    progress.step('6/6', 'tracing one dyed request');
    const traceId = randomBytes(16).toString('hex');
    await send({ 'x-internal-user': 'true', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
    const deadline = Date.now() + 10_000;
    while (collector.trace(traceId).length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const spans = collector.trace(traceId);
    say(`\n6. trace ${traceId} (${spans.length} spans, one SERVER and one CLIENT span per hop):`);
    say(traceTree(spans));
    check(spans.length >= 7, `expected at least 7 spans of the trace, got ${spans.length}`);
    say('\nTo see traces in Jaeger instead: run Jaeger with OTLP on :4318 and start agents with');
    say('  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318  (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf is the default)');

    // 7. Progressive delivery: a Rollout widens the lane while Prometheus says it is healthy.
    await rolloutPhase({
      mesh,
      base,
      fast,
      say,
      check,
      progress: (what) => progress.step('7', what),
      send: async (headers) => {
        const p = await send(headers);
        return { status: p.status, orders: p.lanes.orders ?? '', fallback: p.fallbacks.orders };
      },
    });
    progress.done();
    say(`\ndemo passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    if (opts.keep) {
      say('\nThe mesh keeps running. Try:');
      say(`  curl -s http://127.0.0.1:${entry.inbound}/ | jq .                       # uncoloured`);
      say(`  curl -s -H 'x-internal-user: true' http://127.0.0.1:${entry.inbound}/ | jq .   # dyed at the entry`);
      say(`  curl -s -x http://127.0.0.1:${entry.outbound} -H 'x-traffic-color: canary' -i http://orders/   # as the frontend app would`);
      say(`  curl -s http://127.0.0.1:${entry.admin}/clusters | jq .              # instances and circuit states`);
      say(`  curl -s http://127.0.0.1:${entry.status}/metrics | grep dyeline_      # Prometheus metrics`);
      say(`  dyeline explain --snapshot ${mesh.dir}/snapshot.json --service orders -H 'x-traffic-color: canary'`);
      say(`  edit ${mesh.dir}/rules/*.yaml — routing follows without restarts`);
      say('Ctrl-C stops it.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return 0;
  } catch (err) {
    progress.done();
    const why = err instanceof DemoFailure ? err.message : (err as Error).stack ?? String(err);
    say(`\ndemo FAILED: ${why}${mesh ? ` (logs in ${mesh.dir})` : ''}`);
    return 1;
  } finally {
    collector.stop();
    if (mesh) {
      await mesh.stop();
      if (!opts.keep) await rm(mesh.dir, { recursive: true, force: true }).catch(() => {});
    }
  }
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** The circuit state of `lane` of `service` in an agent's /clusters answer. */
function findCircuit(clusters: unknown, service: string, lane: string): string | undefined {
  const c = clusters as { services?: { name: string; subsets?: { lane: string; circuit?: string }[] }[] };
  return c.services?.find((s) => s.name === service)?.subsets?.find((s) => s.lane === lane)?.circuit;
}

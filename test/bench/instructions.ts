/**
 * Benchmark: instructions per request, counted rather than timed. valgrind's callgrind counts
 * every instruction a process executes, the same whatever else the machine is doing, so two
 * builds (or the agent and the Node limit) compare to the instruction where req/s on a shared
 * machine moves by ±10% between runs (docs/footprint.md#counted-instructions-per-request).
 *
 * Targets: the agent (the built entry as the image runs it, with what `dyeline inject` sets,
 * tracing on: every request a span, OTLP/HTTP protobuf to a receiver; access log off) and the
 * bare undici pass-through proxy (test/bench/undici-proxy.ts, bundled, the same V8 flags). Each
 * runs twice under callgrind from a fresh start: serving `warm` requests, then `warm + measured`;
 * per request = the difference of the two totals / `measured`, so start-up and warm-up cancel
 * out. The requests: GET over `connections` keep-alive connections, upstream nginx answering 200.
 * Split by where the instructions ran (callgrind_annotate, function by function): code without a
 * symbol (the JavaScript V8 compiled), V8's inline-cache stubs, its other builtins, garbage
 * collection, its compilers, the rest of V8, Node and libuv, llhttp, libc.
 *
 *   node test/bench/instructions.ts [warm=20000] [measured=30000] [connections=8]
 *
 * Slow by nature (callgrind runs a process ~50× slower): ~15 min at the defaults; not part of
 * `npm run bench`. Needs valgrind (found or installed by scripts/ensure-debian.sh).
 */
import { execFile, spawn } from 'node:child_process';
import { Agent, get } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_OPTIONS, IMAGE_ENV } from '../../deploy/node-options.ts';
import { IMAGE_NODE_FLAGS } from '../../scripts/build.ts';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { machine } from './machine.ts';
import { Peers, bundleNodePeer, dyelineEntry, freePort, peerBinary, waitHttp } from './peers.ts';
import { num, report, table } from './report.ts';

const [warm = 20_000, measured = 30_000, connections = 8] = process.argv.slice(2).map(Number);

/** Where an instruction ran, from callgrind_annotate's function name (JIT code has no symbol). */
const PLACES: readonly [string, RegExp][] = [
  ['compilers', /compiler::|turboshaft|maglev::|Maglev|Pipeline|Zone::/],
  ['garbage collection', /Scaveng|Marking|Sweeper|MarkCompact|Evacuat|IterateObjectCache|Heap::|GCTracer|RecordMigrated|BodyDescriptor|SizeFromMap|FreeList|heap::base|RememberedSet|SlotSet|WriteBarrier|RecordWrite|RootScavenge|RootMarking|Concurrent/],
  // V8's code space: the JavaScript it compiled, and the builtins it copies next to that code.
  ['code without a symbol (JIT-compiled JavaScript)', /^\?\?\?:0x[0-9a-f]+$/],
  ['inline-cache stubs', /IC_|Builtins_\w*IC$|IC::|LookupIterator/],
  ['other V8 builtins', /Builtins_/],
  ['llhttp', /llhttp/],
  ['Node and libuv', /node::|uv_|uv__/],
  ['rest of V8', /v8::/],
  ['libc', /malloc|free|mem|\.S:|libc|pthread/],
];
const OTHER = 'other';

/** Instructions by place in one callgrind output file, and the total. */
async function annotate(file: string): Promise<{ total: number; by: Map<string, number> }> {
  const text = await new Promise<string>((resolve, reject) =>
    execFile('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { maxBuffer: 256 << 20 }, (err, out) => (err ? reject(err) : resolve(out))),
  );
  const by = new Map<string, number>();
  let total = NaN;
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([\s\d.%]+\)\s+)?(.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[1]!.replaceAll(',', ''));
    const name = m[2]!.replace(/\s*\[.*\]$/, '').trim();
    if (name.includes('PROGRAM TOTALS')) {
      total = n;
      continue;
    }
    if (!name.includes(':')) continue;
    const place = PLACES.find(([, re]) => re.test(name))?.[0] ?? OTHER;
    by.set(place, (by.get(place) ?? 0) + n);
  }
  return { total, by };
}

/** `n` GETs to `port` over `connections` keep-alive connections, `headers` on each. */
async function load(port: number, n: number, headers: Record<string, string>): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let sent = 0;
  let done = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const one = () => {
        if (sent >= n) return;
        sent++;
        get({ host: '127.0.0.1', port, path: '/', agent, headers }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
            if (++done === n) resolve();
            else one();
          });
        }).on('error', reject);
      };
      for (let i = 0; i < connections; i++) one();
    });
  } finally {
    agent.destroy();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-instructions-'));
const peers = new Peers(dir);
try {
  const valgrind = peerBinary('valgrind');
  console.log(`machine: ${machine()}`);
  console.log(`${num(warm)} then ${num(warm + measured)} requests over ${connections} keep-alive connections, each target under callgrind\n`);
  const [upPort, sinkPort] = await Promise.all([freePort(), freePort()]);
  await peers.nginx(`  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }`, 'upstream');
  await peers.nginx(`  server { listen 127.0.0.1:${sinkPort}; location / { return 200 ""; } }`, 'otlp-receiver');
  const snapshot = join(dir, 'snapshot.json');
  await writeFile(snapshot, snapshotText([service('echo', { timeoutMs: 5000 }), instance('echo-1', 'echo', '127.0.0.1', { port: upPort })]));
  const entry = dyelineEntry();
  const bare = await bundleNodePeer('undici-proxy.ts', dir);

  const targets: { name: string; args: (port: number) => string[]; env: NodeJS.ProcessEnv; headers: Record<string, string> }[] = [
    {
      name: 'dyeline',
      args: (port: number) => [...IMAGE_NODE_FLAGS, entry, 'agent', '--service', 'bench', '--snapshot', snapshot, '--outbound', `127.0.0.1:${port}`, '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
      env: { DYELINE_LOG_LEVEL: 'warn', DYELINE_ACCESS_LOG: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}` },
      headers: { host: 'echo' },
    },
    {
      name: 'undici (bare), image V8 flags',
      args: (port: number) => [...IMAGE_NODE_FLAGS, bare, String(port), String(upPort)],
      env: {},
      headers: {},
    },
  ];

  const rows: { name: string; perRequest: number; by: Map<string, number> }[] = [];
  for (const t of targets) {
    const counts = [];
    for (const n of [warm, warm + measured]) {
      const port = await freePort();
      const out = join(dir, `callgrind.${rows.length}.${n}`);
      const child = peers.track(
        spawn(valgrind, ['--tool=callgrind', `--callgrind-out-file=${out}`, '--smc-check=all-non-file', '--dump-instr=no', process.execPath, ...t.args(port)], {
          stdio: ['ignore', 'ignore', 'ignore'],
          env: { ...process.env, ...IMAGE_ENV, NODE_OPTIONS: AGENT_NODE_OPTIONS, ...t.env },
        }),
      );
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await waitHttp(`http://127.0.0.1:${port}/`, t.headers, 120_000);
      await load(port, n - 1, t.headers);
      child.kill('SIGINT');
      await exited;
      counts.push(await annotate(out));
      await rm(out, { force: true });
    }
    const [a, b] = counts as [Awaited<ReturnType<typeof annotate>>, Awaited<ReturnType<typeof annotate>>];
    const by = new Map<string, number>();
    for (const place of new Set([...a.by.keys(), ...b.by.keys()])) by.set(place, ((b.by.get(place) ?? 0) - (a.by.get(place) ?? 0)) / measured);
    const perRequest = (b.total - a.total) / measured;
    rows.push({ name: t.name, perRequest, by });
    console.log(`${t.name.padEnd(30)} ${num(perRequest / 1000, 1)} thousand instructions per request`);
  }

  const [d, u] = rows as [(typeof rows)[0], (typeof rows)[0]];
  const places = [...PLACES.map(([p]) => p), OTHER];
  console.log(`\ndyeline / undici (bare): ${(d.perRequest / u.perRequest).toFixed(2)}× the instructions per request`);
  const section = `## Instructions per request

\`test/bench/instructions.ts ${warm} ${measured} ${connections}\`: each target under valgrind's callgrind, serving ${num(warm)}
and then ${num(warm + measured)} requests from a fresh start over ${connections} keep-alive connections; per request, the
difference of the two totals divided by ${num(measured)}. dyeline from the built entry as the image and \`dyeline inject\`
run it (tracing on: a span per request to an OTLP receiver; access log off); the bare undici proxy with the same V8 flags. Thousands of instructions per request:

${table(
  ['where', ...rows.map((r) => r.name), 'dyeline − bare'],
  [
    ...places.map((p) => [p, ...rows.map((r) => num((r.by.get(p) ?? 0) / 1000, 1)), num(((d.by.get(p) ?? 0) - (u.by.get(p) ?? 0)) / 1000, 1)]),
    ['total', ...rows.map((r) => num(r.perRequest / 1000, 1)), num((d.perRequest - u.perRequest) / 1000, 1)],
  ],
)}

dyeline executes ${(d.perRequest / u.perRequest).toFixed(2)}× the instructions of the bare proxy per request.`;
  console.log(`\n${section}`);
  report(section);
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}

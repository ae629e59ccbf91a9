/**
 * Property-based fuzzing of rule documents (fast-check), shared by the seeded run in `npm test`
 * (test/unit/shared/rules-fuzz.test.ts) and the long run (`node test/fuzz/rules.ts`).
 *
 * Three kinds of input: near-valid mutations of real documents (the test fixtures, the demo's
 * rules, the README example: a field deleted, replaced by any JSON value, a key added, a number
 * pushed out of range), structurally random documents (known and unknown keys, any JSON), and
 * documents built from the schema's own shapes (mostly valid: random dye matchers and regexes,
 * splits, policies), plain and mutated.
 * Each is also fed as text (JSON, YAML, and the text with bytes cut or changed).
 *
 * What must hold for every input (`checkDocument` returns the violations):
 * - the daemon's validation never throws; an invalid document gets at least one issue, each
 *   with a message, and, for a document that is a mapping, a field path;
 * - a valid one survives the snapshot round trip (validated again, it is equal to itself);
 * - the daemon's source store takes it as text without throwing, every rejection naming the key;
 * - the agent loads a snapshot holding it (checksum, schema, compile) and dyes and routes random
 *   requests with it without throwing; a snapshot holding an invalid one is refused with a
 *   DyelineError, never a crash.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadSnapshotBytes } from '../../agent/snapshot/load.ts';
import { EndpointStates } from '../../agent/routing/endpoint-states.ts';
import { route } from '../../agent/routing/router.ts';
import { SourceStore } from '../../daemon/store.ts';
import { DyelineError } from '../../shared/errors.ts';
import { crossCheck } from '../../shared/schema/cross-check.ts';
import { Document } from '../../shared/schema/documents.ts';
import { KINDS } from '../../shared/schema/kinds.ts';
import { parseDocumentsText } from '../../shared/schema/text.ts';
import { validateDocument } from '../../shared/schema/validate.ts';
import { encodeSnapshot } from '../../shared/snapshot-file.ts';
import { instance, lane, service, snapshotBody } from './snapshot-builder.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Real documents to mutate: the fixtures, the demo's rules, the README example. */
export function seedDocuments(): Json[] {
  const texts = [
    readFileSync(here('../fixtures/rules-valid/mesh.yaml'), 'utf8'),
    readFileSync(here('../fixtures/rules-invalid/bad.yaml'), 'utf8'),
    readFileSync(here('../../deploy/local/rules/mesh.yaml'), 'utf8'),
  ];
  const readme = readFileSync(here('../../README.md'), 'utf8');
  for (const m of readme.matchAll(/```yaml\n([\s\S]*?)```/g)) texts.push(m[1]!);
  const docs: Json[] = [];
  for (const t of texts) for (const d of parseDocumentsText(t)) if (d.value !== undefined) docs.push(d.value as Json);
  return docs;
}

/** Field names of the schema (and a few hostile ones), so random documents hit real fields. */
const FIELD_NAMES = [
  'apiVersion', 'kind', 'metadata', 'name', 'labels', 'annotations', 'spec', 'color', 'fallback', 'priority', 'dye', 'entry', 'match',
  'headers', 'cookies', 'query', 'percent', 'exact', 'prefix', 'regex', 'present', 'hashPercent', 'subsets', 'split', 'splitKey',
  'timeoutMs', 'retry', 'attempts', 'perTryTimeoutMs', 'on', 'budgetPercent', 'circuitBreaker', 'errorThresholdPercentage',
  'volumeThreshold', 'windowMs', 'resetTimeoutMs', 'slowCallMs', 'slowCallPercentage', 'outlierDetection', 'consecutiveFailures',
  'baseEjectionMs', 'maxEjectionMs', 'maxEjectionPercent', 'service', 'address', 'port', 'weight', 'healthy', 'stable', 'canary',
  'x-user-id', '__proto__', 'constructor', 'toString', '',
];

const edgyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('stable', 'canary', 'none', 'dyeline.io/v1', 'Lane', 'Service', 'Instance', 'header:x-user-id', 'cookie:beta', '503', '5xx', 'reset'),
  fc.constantFrom('(a+)+$', '[', '(?<n>a)\\k<n>', '.*', '\\', '\u0000', 'a'.repeat(300), '😀', 'ﬀ', '-1', '1e309', 'NaN'),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const edgyNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, 100, 101, 65535, 65536, 3_600_000, 3_600_001, Number.MAX_SAFE_INTEGER, 1e308, 0.5),
);
const leaf: fc.Arbitrary<Json> = fc.oneof(fc.constant(null), fc.boolean(), edgyNumber as fc.Arbitrary<Json>, edgyString);
const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FIELD_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });

/** Any JSON value, with keys drawn mostly from the schema's field names. */
const anyJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 }) as fc.Arbitrary<Json>,
  ),
})).value;

/** A structurally random document: the envelope's shape, random inside. */
export const randomDocument: fc.Arbitrary<Json> = fc.oneof(
  anyJson,
  fc.record(
    {
      apiVersion: fc.oneof(fc.constant('dyeline.io/v1'), edgyString),
      kind: fc.oneof(fc.constantFrom(...KINDS), edgyString),
      metadata: fc.oneof(fc.record({ name: fc.oneof(fc.constantFrom('orders', 'canary', 'a'), edgyString) }), anyJson),
      spec: anyJson,
    },
    { requiredKeys: ['apiVersion', 'kind'] },
  ) as fc.Arbitrary<Json>,
);

const color = fc.oneof(fc.constantFrom('stable', 'canary', 'blue'), fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/));
const headerName = fc.oneof(fc.constantFrom('x-user-id', 'X-Internal-User', 'cookie', 'baggage'), fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,12}$/));
const pattern = fc.oneof(
  fc.constantFrom('[0-9]+', 'a|b', '(a+)+', '.*', '^x$', '\\d{3}-\\d{4}', '(?:beta|gamma)-[a-z]*', '[', '(?<n>a)\\k<n>', 'a{2,}'),
  fc.string({ minLength: 1, maxLength: 12 }),
);
const matcher = fc.oneof(
  fc.record({ exact: edgyString }),
  fc.record({ prefix: fc.string({ minLength: 1, maxLength: 8 }) }),
  fc.record({ regex: pattern }),
  fc.record({ present: fc.boolean() }),
  fc.record({ hashPercent: fc.double({ min: 0, max: 100, noNaN: true }) }),
);
const matchRule = fc.record(
  {
    headers: fc.dictionary(headerName, matcher, { minKeys: 1, maxKeys: 3 }),
    cookies: fc.dictionary(headerName, matcher, { minKeys: 1, maxKeys: 2 }),
    query: fc.dictionary(headerName, matcher, { minKeys: 1, maxKeys: 2 }),
    percent: fc.double({ min: 0, max: 100, noNaN: true }),
  },
  { requiredKeys: [] },
);
const ms = fc.integer({ min: 1, max: 3_600_000 });

/** A rule document of `kind` with the generated name and spec (apiVersion dyeline.io/v1). */
function documentOf(kind: string, name: fc.Arbitrary<string>, spec: fc.Arbitrary<unknown>): fc.Arbitrary<Json> {
  return fc.record({ apiVersion: fc.constant('dyeline.io/v1'), kind: fc.constant(kind), metadata: fc.record({ name }), spec }) as fc.Arbitrary<Json>;
}

/** A document built from the schema's own shapes: mostly valid, so compile, dye and route are exercised deeply. */
export const schemaShapedDocument: fc.Arbitrary<Json> = fc.oneof(
  documentOf('Lane', color, fc.record(
      {
        color,
        fallback: fc.oneof(color, fc.constant('none')),
        priority: fc.integer({ min: -1000, max: 1000 }),
        dye: fc.record({ entry: fc.array(fc.constantFrom('orders', 'frontend', 'web'), { minLength: 1, maxLength: 2 }), match: fc.array(matchRule, { minLength: 1, maxLength: 3 }) }, { requiredKeys: ['match'] }),
      },
      { requiredKeys: ['color'] },
    ),
  ),
  documentOf('Service', fc.constantFrom('orders', 'frontend', 'inventory'), fc.record(
      {
        subsets: fc.dictionary(color, fc.dictionary(fc.constantFrom('version', 'color', 'zone'), fc.string({ maxLength: 4 }), { maxKeys: 2 }), { maxKeys: 2 }),
        split: fc.integer({ min: 0, max: 100 }).map((n) => ({ stable: n, canary: 100 - n })),
        timeoutMs: ms,
        retry: fc.record({ attempts: fc.integer({ min: 0, max: 10 }), perTryTimeoutMs: ms, on: fc.array(fc.constantFrom('connect-failure', 'reset', 'timeout', '5xx', 'gateway-error', '503', '429'), { minLength: 1, maxLength: 3 }), budgetPercent: fc.integer({ min: 0, max: 100 }) }, { requiredKeys: [] }),
        circuitBreaker: fc.record({ errorThresholdPercentage: fc.integer({ min: 1, max: 100 }), volumeThreshold: fc.integer({ min: 1, max: 100 }), windowMs: fc.integer({ min: 100, max: 60_000 }), slowCallMs: ms }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
  ),
  documentOf('Instance', fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/), fc.record(
      {
        service: fc.constantFrom('orders', 'frontend', 'inventory'),
        address: fc.constantFrom('127.0.0.1', '10.0.0.5', '::1', 'orders.default.svc'),
        port: fc.integer({ min: 1, max: 65535 }),
        weight: fc.integer({ min: 0, max: 10_000 }),
        labels: fc.dictionary(fc.constantFrom('color', 'version'), color, { maxKeys: 2 }),
        healthy: fc.boolean(),
      },
      { requiredKeys: ['service', 'address', 'port'] },
    ),
  ),
) as fc.Arbitrary<Json>;

const isoTime = fc.oneof(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom('2026-11-27T10:00:00Z', '2026-11-27T10:00:00.5Z'), fc.constantFrom('2026-11-27T10:00:00+01:00', '2026-11-27 10:00', '2026-13-01T00:00:00Z'));
const share = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true }));
const analysis = fc.record(
  { at: isoTime, errorRatePercent: fc.oneof(share, fc.constant(null)), latencyRatio: fc.oneof(fc.double({ min: 0, max: 10, noNaN: true }), fc.constant(null)), requests: fc.nat(), passed: fc.boolean() },
  { requiredKeys: ['at', 'errorRatePercent', 'latencyRatio', 'requests', 'passed'] },
);
const phase = fc.oneof({ weight: 9, arbitrary: fc.constantFrom('Progressing', 'Paused', 'Promoted', 'Aborted') }, { weight: 1, arbitrary: fc.constant('Done') });

/** Rollout and LaneState documents built from their schema's shapes (docs/reference.md#progressive-delivery): mostly valid (mutate them for the rest). */
export const progressiveDocument: fc.Arbitrary<Json> = fc.oneof(
  documentOf('Rollout', color, fc.record(
      {
        lane: color,
        stickyKey: fc.constantFrom('header:x-user-id', 'cookie:uid', 'header:X-Beta', 'x-user-id'),
        entry: fc.array(fc.constantFrom('orders', 'frontend'), { maxLength: 2 }),
        steps: fc.oneof(
          fc.uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 5 }).map((ps) => [...ps.sort((a, b) => a - b), 100].map((percent) => ({ percent }))),
          fc.array(fc.record({ percent: share, pauseMs: fc.integer({ min: 0, max: 100_000 }) }, { requiredKeys: ['percent'] }), { maxLength: 4 }).map((steps) => [...steps, { percent: 100, pauseMs: 0 }]),
        ),
        analysis: fc.record(
          {
            intervalMs: fc.integer({ min: 500, max: 3_600_000 }),
            windowMs: fc.integer({ min: 500, max: 86_400_000 }),
            failureLimit: fc.integer({ min: 1, max: 100 }),
            minRequests: fc.integer({ min: 1, max: 1000 }),
            maxErrorRatePercent: share,
            maxLatencyRatio: fc.double({ min: 1, max: 1000, noNaN: true }),
            latencyQuantile: fc.double({ min: 0.5, max: 0.999, noNaN: true }),
            latencyFloorMs: fc.double({ min: 0, max: 60_000, noNaN: true }),
          },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ['lane', 'steps'] },
    ),
  ),
  documentOf('LaneState', color, fc.record(
      {
        share,
        degraded: fc.boolean(),
        phase,
        step: fc.nat(10),
        reason: fc.string({ maxLength: 20 }),
        updatedBy: fc.constantFrom('rollout/canary', 'alice'),
        updatedAt: isoTime,
        analysis,
        history: fc.array(
          fc.record(
            { at: isoTime, by: fc.constantFrom('rollout/canary', 'bob'), controller: fc.string({ maxLength: 8 }), phase, share, degraded: fc.boolean(), step: fc.nat(5), reason: fc.string({ maxLength: 10 }), analysis },
            { requiredKeys: ['at', 'by', 'share', 'degraded', 'reason'] },
          ),
          { maxLength: 3 },
        ),
      },
      { requiredKeys: [] },
    ),
  ),
) as fc.Arbitrary<Json>;

/** Every path (list of keys/indices) of a JSON value, the root included. */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k]!, [...at, k], out);
  return out;
}

interface Mutation {
  at: number;
  op: 'delete' | 'replace' | 'add' | 'bump';
  key: string;
  value: Json;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('delete', 'replace', 'add', 'bump'),
  key: key as fc.Arbitrary<string>,
  value: anyJson,
});

function define(o: { [k: string]: Json }, k: string, value: Json): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A copy of `v` as JSON and YAML parsers make values: plain arrays and objects with own keys
 * only (fast-check builds a `__proto__` key by assignment, which sets a prototype instead).
 */
function plain(v: Json): Json {
  if (Array.isArray(v)) return v.map(plain);
  if (v === null || typeof v !== 'object') return v;
  const out: { [k: string]: Json } = {};
  for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: plain(v[k]!), enumerable: true, writable: true, configurable: true });
  return out;
}

/** Applies `m` to a copy of `doc`; an added key is an own property, even `__proto__`. */
function mutate(doc: Json, ms: readonly Mutation[]): Json {
  let out = plain(doc);
  for (const m of ms) {
    const all = paths(out);
    const path = all[m.at % all.length]!;
    if (path.length === 0) {
      if (m.op === 'replace') out = plain(m.value);
      else if (m.op === 'add' && out !== null && typeof out === 'object' && !Array.isArray(out)) define(out, m.key, plain(m.value));
      continue;
    }
    let parent: Json = out;
    for (const p of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[p]!;
    const last = path.at(-1)!;
    const container = parent as Record<string | number, Json>;
    const cur = container[last];
    switch (m.op) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(last as number, 1);
        else delete container[last];
        break;
      case 'replace':
        container[last] = plain(m.value);
        break;
      case 'add':
        if (cur !== null && typeof cur === 'object' && !Array.isArray(cur)) define(cur, m.key, plain(m.value));
        else if (Array.isArray(cur)) cur.push(plain(m.value));
        else container[last] = plain(m.value);
        break;
      case 'bump':
        container[last] = typeof cur === 'number' ? cur * 1000 + 1 : typeof cur === 'string' ? `${cur}${m.key}` : plain(m.value);
        break;
    }
  }
  return out;
}

/** A near-valid document: a real one with one to four mutations. */
export function nearValidDocument(seeds: readonly Json[]): fc.Arbitrary<Json> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([d, ms]) => mutate(d, ms));
}

/** How a generated document reaches the daemon: as a value, or as text (maybe damaged). */
export interface FuzzCase {
  doc: Json;
  /** Text the daemon's store parses (JSON or YAML of `doc`, possibly cut or altered). */
  text: string;
  /** Values random requests carry in each header, cookie and query parameter the rules name. */
  values: string[];
}

export function fuzzCases(seeds: readonly Json[]): fc.Arbitrary<FuzzCase> {
  return fc
    .record({
      doc: fc.oneof(
        { weight: 3, arbitrary: nearValidDocument(seeds) },
        { weight: 2, arbitrary: randomDocument },
        { weight: 2, arbitrary: schemaShapedDocument },
        { weight: 1, arbitrary: fc.tuple(schemaShapedDocument, fc.array(mutation, { minLength: 1, maxLength: 2 })).map(([d, m]) => mutate(d, m)) },
      ),
      format: fc.constantFrom('json', 'yaml'),
      damage: fc.option(fc.record({ at: fc.nat(), cut: fc.boolean(), insert: fc.string({ maxLength: 6 }) }), { freq: 4 }),
      values: fc.array(edgyString, { minLength: 1, maxLength: 4 }),
    })
    .map(({ doc: generated, format, damage, values }) => {
      const doc = plain(generated);
      let text = format === 'json' ? JSON.stringify(doc) : stringify(doc);
      if (damage !== null && text.length > 0) {
        const at = damage.at % text.length;
        text = damage.cut ? text.slice(0, at) : text.slice(0, at) + damage.insert + text.slice(at);
      }
      return { doc, text, values };
    });
}

/** Companion documents so a fuzzed one is routed in a realistic snapshot. */
const COMPANIONS = [
  lane('canary', { dye: { match: [{ headers: { 'x-canary': { exact: '1' } } }] } }),
  service('orders'),
  instance('orders-1', 'orders', '127.0.0.1', { port: 9001 }),
  instance('orders-2', 'orders', '127.0.0.1', { port: 9002, color: 'canary' }),
];

/** Header, cookie and query names a document's dye rules look at. */
function matcherNames(doc: Document): { headers: string[]; cookies: string[]; query: string[] } {
  const out = { headers: [] as string[], cookies: [] as string[], query: [] as string[] };
  if (doc.kind !== 'Lane') return out;
  for (const m of doc.spec.dye?.match ?? []) {
    out.headers.push(...Object.keys(m.headers ?? {}));
    out.cookies.push(...Object.keys(m.cookies ?? {}));
    out.query.push(...Object.keys(m.query ?? {}));
  }
  return out;
}

function run(what: string, problems: string[], fn: () => void): void {
  try {
    fn();
  } catch (err) {
    problems.push(`${what} threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

/** Checks every property for one case; returns the violations (empty: all hold). */
export function checkDocument(c: FuzzCase): string[] {
  const problems: string[] = [];
  const raw: unknown = c.doc;
  let valid: Document | undefined;
  run('validateDocument', problems, () => {
    const v = validateDocument(raw);
    if (v.ok) {
      valid = v.value;
      return;
    }
    if (v.issues.length === 0) problems.push('invalid without an issue');
    const mapping = raw !== null && typeof raw === 'object' && !Array.isArray(raw);
    for (const i of v.issues) {
      if (typeof i.message !== 'string' || i.message.length === 0) problems.push(`issue without a message: ${JSON.stringify(i)}`);
      if (mapping && (typeof i.path !== 'string' || i.path.length === 0)) problems.push(`issue without a field path: ${JSON.stringify(i)}`);
    }
  });

  // The daemon's store, fed the text (an etcd value, a file): never throws, rejections name the key.
  run('SourceStore.put', problems, () => {
    const store = new SourceStore('fuzz://');
    const rejected = store.put({ key: '/fuzz/doc', text: c.text });
    for (const r of rejected) if (!r.key.startsWith('/fuzz/doc') || r.reason.length === 0) problems.push(`rejection without key or reason: ${JSON.stringify(r)}`);
    const accepted = [...store.accepted()].map((a) => a.doc);
    crossCheck([...accepted, ...COMPANIONS.map((d) => validateDocument(d)).flatMap((v) => (v.ok ? [v.value] : []))]);
  });

  if (valid !== undefined) {
    const doc = valid;
    run('round trip', problems, () => {
      const again = Document.parse(JSON.parse(JSON.stringify(doc)));
      if (JSON.stringify(again) !== JSON.stringify(doc)) problems.push('a valid document changes when validated again');
    });
    run('agent load', problems, () => {
      const body = snapshotBody(COMPANIONS, 1);
      const entry = { provenance: { source: 'fuzz://', key: '/fuzz/doc' }, document: doc };
      if (doc.kind === 'Lane') (body.lanes as unknown[]).push(entry);
      else if (doc.kind === 'Service') (body.services as unknown[]).push(entry);
      else (body.instances as unknown[]).push(entry);
      let loaded;
      try {
        loaded = loadSnapshotBytes(Buffer.from(encodeSnapshot(body)), new EndpointStates());
      } catch (err) {
        if (err instanceof DyelineError) return; // refused as a whole (e.g. a lane colour twice): the agent keeps its table
        throw err;
      }
      if (loaded.kind !== 'loaded') return;
      const table = loaded.table;
      const names = matcherNames(doc);
      const pick = (i: number) => c.values[i % c.values.length]!;
      const headers: Record<string, string> = {};
      const cookies: Record<string, string> = {};
      const query: Record<string, string> = {};
      names.headers.forEach((n, i) => (headers[n.toLowerCase()] = pick(i)));
      names.cookies.forEach((n, i) => (cookies[n] = pick(i + 1)));
      names.query.forEach((n, i) => (query[n] = pick(i + 2)));
      const view = { header: (n: string) => headers[n], cookie: (n: string) => cookies[n], query: (n: string) => query[n] };
      let r = 0;
      const random = () => (r = (r + 0.37) % 1);
      for (const svc of ['orders', 'frontend', doc.kind === 'Instance' ? doc.spec.service : doc.metadata.name]) {
        const dyed = table.dye(svc, view, random);
        for (const color of [undefined, dyed?.color, 'canary', 'stable', 'nope']) route(table, svc, color, view, random, undefined, Date.now());
      }
    });
  } else {
    run('agent refuses an invalid document in a snapshot', problems, () => {
      const body = snapshotBody(COMPANIONS, 1);
      const entry = { provenance: { source: 'fuzz://', key: '/fuzz/doc' }, document: raw };
      const kind = raw !== null && typeof raw === 'object' ? (raw as { kind?: unknown }).kind : undefined;
      if (kind === 'Service') (body.services as unknown[]).push(entry);
      else if (kind === 'Instance') (body.instances as unknown[]).push(entry);
      else (body.lanes as unknown[]).push(entry);
      try {
        loadSnapshotBytes(Buffer.from(encodeSnapshot(body)), new EndpointStates());
        problems.push('a snapshot holding an invalid document was loaded');
      } catch (err) {
        if (!(err instanceof DyelineError)) throw err;
      }
    });
  }
  return problems;
}

/** Counts of what a run generated. */
export interface FuzzStats {
  cases: number;
  valid: number;
  invalid: number;
  failures: { problems: string[]; case: FuzzCase }[];
}

/**
 * Runs `numRuns` cases (seeded), stopping early after `timeLimitMs`; collects every violation
 * instead of stopping at the first, so a run reports them all.
 */
export function fuzzRules(opts: { numRuns: number; seed: number; timeLimitMs: number }): FuzzStats & { ms: number } {
  const stats: FuzzStats = { cases: 0, valid: 0, invalid: 0, failures: [] };
  const t0 = performance.now();
  const deadline = t0 + opts.timeLimitMs;
  const seeds = seedDocuments();
  fc.assert(
    fc.property(fuzzCases(seeds), (c) => {
      if (performance.now() > deadline) return;
      stats.cases++;
      if (validateDocument(c.doc).ok) stats.valid++;
      else stats.invalid++;
      const problems = checkDocument(c);
      if (problems.length > 0 && stats.failures.length < 20) stats.failures.push({ problems, case: c });
    }),
    { numRuns: opts.numRuns, seed: opts.seed, endOnFailure: true },
  );
  return { ...stats, ms: performance.now() - t0 };
}

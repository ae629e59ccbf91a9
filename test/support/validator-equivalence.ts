/**
 * The compiled validators (shared/schema/validators/generated.ts) against zod, input by input:
 * the same verdict, the same value when accepted (defaults filled in), and when rejected the same
 * issues — codes, field paths and messages, in order, nested ones (a bad key's, a union's
 * options') included — and the same dyeline issues (formatIssues). Used by the seeded test in
 * `npm test` (test/unit/shared/validators.test.ts), the mistakes test, and the long run
 * `node test/fuzz/validators.ts`.
 */
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { formatIssues } from '../../shared/schema/issues.ts';
import * as compiled from '../../shared/schema/validators/generated.ts';
import type { Checked, RawIssue } from '../../shared/schema/validators/runtime.ts';
import { ROOTS } from '../../shared/schema/validators/roots.ts';

type Check = (input: unknown) => Checked<unknown>;

/** Every root: its name, zod schema and compiled validator. */
export const PAIRS = ROOTS.map((r) => {
  const check = (compiled as unknown as Record<string, Check>)[`check${r.name}`];
  if (check === undefined) throw new Error(`generated.ts has no check${r.name}: run npm run schema:validators`);
  return { name: r.name, schema: r.schema as z.ZodType, check };
});

export function pair(name: string): (typeof PAIRS)[number] {
  const p = PAIRS.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no validator ${name}`);
  return p;
}

/** An issue as compared: what dyeline can see of it. */
function shape(issue: RawIssue): unknown {
  return {
    code: issue.code,
    path: issue.path,
    message: issue.message,
    ...(issue.keys ? { keys: issue.keys } : {}),
    ...(issue.code === 'invalid_key' ? { issues: (issue.issues ?? []).map(shape) } : {}),
    ...(issue.code === 'invalid_union' ? { errors: (issue.errors ?? []).map((list) => list.map(shape)) } : {}),
  };
}

/** How the compiled validator `name` differs from zod on `input`; undefined when it does not. */
export function difference(name: string, input: unknown): string | undefined {
  const { schema, check } = pair(name);
  return compare(name, schema, check, input);
}

/** How `check` differs from zod's `schema` on `input`; undefined when it does not. */
export function compare(name: string, schema: z.ZodType, check: Check, input: unknown): string | undefined {
  const z = schema.safeParse(input);
  const c = check(input);
  if (z.success !== c.ok) return `${name}: zod ${z.success ? 'accepts' : `rejects (${JSON.stringify(formatIssues(z.error!.issues as unknown as RawIssue[]))})`}, compiled ${c.ok ? 'accepts' : `rejects (${JSON.stringify(formatIssues(c.issues))})`}`;
  if (z.success && c.ok) return isDeepStrictEqual(z.data, c.value) ? undefined : `${name}: values differ: zod ${JSON.stringify(z.data)}, compiled ${JSON.stringify(c.value)}`;
  if (!z.success && !c.ok) {
    const zi = (z.error.issues as unknown as RawIssue[]).map(shape);
    const ci = c.issues.map(shape);
    if (!isDeepStrictEqual(zi, ci)) return `${name}: issues differ: zod ${JSON.stringify(zi)}, compiled ${JSON.stringify(ci)}`;
    if (!isDeepStrictEqual(formatIssues(z.error.issues as unknown as RawIssue[]), formatIssues(c.issues))) return `${name}: dyeline issues differ`;
  }
  return undefined;
}

/** The snapshot's array of each kind. */
const ARRAYS: Record<string, string> = { Lane: 'lanes', Service: 'services', Instance: 'instances', Rollout: 'rollouts', LaneState: 'laneStates' };

/** The snapshot envelope arrays a document can be placed in, by the kind it claims (first: its own). */
function placements(doc: unknown): string[] {
  const kind = doc !== null && typeof doc === 'object' ? (doc as { kind?: unknown }).kind : undefined;
  const arrays = Object.values(ARRAYS);
  const own = typeof kind === 'string' && Object.hasOwn(ARRAYS, kind) ? ARRAYS[kind] : undefined;
  return own === undefined ? arrays : [own, ...arrays.filter((a) => a !== own)];
}

/** A snapshot holding `doc` as its only entry of `array` (the rest valid). */
export function snapshotAround(doc: unknown, array: string, provenance: unknown = { source: 'file:///x', key: '/x.yaml' }): Record<string, unknown> {
  const body: Record<string, unknown> = {
    apiVersion: 'dyeline.io/v1',
    kind: 'Snapshot',
    version: 1,
    generatedAt: '1970-01-01T00:00:00.000Z',
    sources: [{ uri: 'file:///x', kind: 'file', synced: true, revision: null, syncedAt: null }],
    lanes: [],
    services: [],
    instances: [],
    rollouts: [],
    laneStates: [],
    checksum: `sha256:${'0'.repeat(64)}`,
  };
  body[array] = [{ provenance, document: doc }];
  return body;
}

/**
 * Every difference of a rule document (or anything offered as one): as a Document, inside a
 * snapshot (in the array of its kind and in another one), and its parts as the agent's flags
 * and the registration message use them.
 */
export function documentDifferences(doc: unknown): string[] {
  const out: (string | undefined)[] = [difference('Document', doc)];
  const [own, other] = placements(doc);
  out.push(difference('Snapshot', snapshotAround(doc, own!)), difference('Snapshot', snapshotAround(doc, other!)));
  const spec = doc !== null && typeof doc === 'object' ? (doc as { spec?: unknown }).spec : undefined;
  const name = doc !== null && typeof doc === 'object' ? (doc as { metadata?: { name?: unknown } }).metadata?.name : undefined;
  out.push(difference('ServiceSpec', spec), difference('DocumentName', name), difference('ServiceName', name));
  if (spec !== null && typeof spec === 'object') {
    const s = spec as { labels?: unknown };
    out.push(difference('Labels', s.labels), difference('AgentMessage', { op: 'register', id: name, instance: spec }));
  }
  return out.filter((d): d is string => d !== undefined);
}

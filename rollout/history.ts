/**
 * `dyeline rollout history` (docs/reference.md#progressive-delivery): reads the LaneStates of a
 * source once (its own kind, as the controller does) and prints each lane's trail: every change,
 * who made it, why, and the analysis behind it, oldest first, then the state now.
 */
import type { Writable } from 'node:stream';
import { createLogger } from '../shared/log.ts';
import type { LaneState } from '../shared/schema/documents.ts';
import type { AnalysisSummary, LaneStateChange } from '../shared/schema/rollout.ts';
import type { SourceConfig } from '../daemon/sources/source.ts';
import { sourceKind } from '../daemon/sources/registry.ts';
import { SourceView } from './controller/source-view.ts';

/** How long the source may take to be read. */
const READ_TIMEOUT_MS = 15_000;

/** Reads the LaneStates of a source once; undefined when it could not be read in time. */
export async function readLaneStates(config: SourceConfig): Promise<{ states: Map<string, LaneState> } | { error: string }> {
  const log = createLogger({ component: 'rollout-history' }).child({}, { level: 'error' });
  const kind = sourceKind(config.kind)!;
  const source = await kind.create(config, { log });
  const view = new SourceView(config.uri, log);
  await source.start(view);
  const deadline = Date.now() + READ_TIMEOUT_MS;
  while (!view.synced && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await source.stop();
  return view.synced ? { states: view.laneStates() } : { error: `${config.uri} could not be read within ${READ_TIMEOUT_MS / 1000} s${view.error ? `: ${view.error}` : ''}` };
}

function analysis(a: AnalysisSummary | undefined): string {
  if (a === undefined) return '';
  const ratio = a.latencyRatio === null ? '-' : `${a.latencyRatio}×`;
  return ` [analysis ${a.passed ? 'passed' : 'failed'}: error rate ${a.errorRatePercent ?? '-'}%, latency ${ratio}, ${a.requests} requests]`;
}

function line(c: LaneStateChange): string {
  const state = `${c.phase ?? '-'} ${c.share}%${c.degraded ? ' degraded' : ''}`;
  const by = c.controller === undefined ? c.by : `${c.by} (${c.controller})`;
  return `  ${c.at}  ${state.padEnd(22)} ${by}: ${c.reason}${analysis(c.analysis)}`;
}

/** Prints the trails; resolves with the exit code (0 printed, 1 source unreadable or lane unknown). */
export async function printHistory(config: SourceConfig, opts: { lane?: string; json: boolean; out: Writable }): Promise<number> {
  const read = await readLaneStates(config);
  if ('error' in read) {
    process.stderr.write(`dyeline: ${read.error}\n`);
    return 1;
  }
  const states = [...read.states.values()].filter((s) => opts.lane === undefined || s.metadata.name === opts.lane);
  if (opts.lane !== undefined && states.length === 0) {
    process.stderr.write(`dyeline: no LaneState named "${opts.lane}" in ${config.uri}\n`);
    return 1;
  }
  if (opts.json) {
    opts.out.write(`${JSON.stringify(Object.fromEntries(states.map((s) => [s.metadata.name, s.spec])), null, 2)}\n`);
    return 0;
  }
  for (const s of states) {
    const now = s.spec;
    opts.out.write(`lane ${s.metadata.name}: ${now.phase ?? 'no phase'}, share ${now.share}%${now.degraded ? ', degraded' : ''} (by ${now.updatedBy ?? 'unknown'} at ${now.updatedAt ?? 'unknown'})\n`);
    const history = [...now.history];
    const last = history[history.length - 1];
    // The current document's own change, when no history entry records it (a manual edit).
    if (now.updatedAt !== undefined && (last === undefined || last.at !== now.updatedAt || last.by !== now.updatedBy)) {
      history.push({ at: now.updatedAt, by: now.updatedBy ?? 'unknown', phase: now.phase, share: now.share, degraded: now.degraded, reason: now.reason ?? 'edited without a reason' });
    }
    for (const c of history) opts.out.write(`${line(c)}\n`);
    if (history.length === 0) opts.out.write('  (no recorded change)\n');
  }
  if (states.length === 0) opts.out.write(`no LaneState in ${config.uri}\n`);
  return 0;
}

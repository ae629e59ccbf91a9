/**
 * The rollout controller (docs/reference.md#progressive-delivery): every rollout of the source,
 * each on its own analysis interval. A pass over the due rollouts holds the source's lease
 * first; only the holder analyses and writes. Per rollout: read its LaneState from the source's
 * current view, ask the state machine (state/machine.ts), analyse when it says so, write what
 * it decides. A write that fails leaves the machine's memory as it was, so the next pass decides
 * again; nothing here throws out of the loop.
 */
import type { Logger } from '../../shared/log.ts';
import { errorMessage } from '../../shared/errors.ts';
import type { LaneStateSpec } from '../../shared/schema/rollout.ts';
import type { AnalysisResult } from '../analysis/judge.ts';
import type { Lease } from '../../daemon/sources/lease.ts';
import { decide, EMPTY_MEMORY, type Memory, observe, type RolloutRef, type RolloutStatus } from '../state/machine.ts';
import type { ControllerMetrics } from './metrics.ts';

/** The documents a controller reads, as the source holds them now. */
export interface RolloutWorld {
  readonly rollouts: readonly RolloutRef[];
  /** The colour of the Lane document named `lane`, undefined when there is none. */
  laneColor(lane: string): string | undefined;
  /** The LaneState document named `lane`. */
  laneState(lane: string): LaneStateSpec | undefined;
}

/** The source as the controller uses it. */
export interface ControllerSource {
  /** The current documents; undefined until the source has synced once. */
  world(): RolloutWorld | undefined;
  /** Writes the LaneState document named `lane` (replacing it). */
  writeLaneState(lane: string, spec: LaneStateSpec): Promise<void>;
  readonly lease: Lease;
}

/** Analyses lane `color` for `rollout`. Never throws (errors are the outcome 'error'). */
export type Analyse = (rollout: RolloutRef, color: string, now: Date) => Promise<AnalysisResult>;

/** What a controller needs. */
export interface ControllerOptions {
  readonly source: ControllerSource;
  readonly analyse: Analyse;
  /** This controller instance, e.g. `host/pid/random`. */
  readonly identity: string;
  readonly log: Logger;
  readonly metrics?: ControllerMetrics;
  /** Milliseconds since the epoch. Default Date.now. */
  readonly clock?: () => number;
  /** How often the lease is renewed (or tried) when no rollout is due. Default 5000 ms (a third of the default TTL). */
  readonly leaseRenewMs?: number;
}

interface Tracked {
  memory: Memory;
  status: RolloutStatus | undefined;
  /** When the rollout is next due. */
  dueAt: number;
}

/** Several rollouts, one lease, one loop. */
export class RolloutController {
  readonly #o: ControllerOptions;
  readonly #clock: () => number;
  readonly #tracked = new Map<string, Tracked>();
  #leader = false;
  #leaseDueAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #pass: Promise<void> | undefined;

  constructor(o: ControllerOptions) {
    this.#o = o;
    this.#clock = o.clock ?? Date.now;
  }

  /** Whether this controller held the lease at its last pass. */
  get leader(): boolean {
    return this.#leader;
  }

  /** The holder of the lease as last seen. */
  get leaseHolder(): string | undefined {
    return this.#o.source.lease.holder;
  }

  /** Status of every rollout known at the last pass, by name. */
  statuses(): RolloutStatus[] {
    return [...this.#tracked.values()].flatMap((t) => (t.status === undefined ? [] : [t.status])).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * One pass: renew or take the lease, then handle every rollout that is due (all of them with
   * `all`). Resolves when done; never rejects.
   */
  async pass(all = false): Promise<void> {
    const { source, log } = this.#o;
    try {
      const world = source.world();
      if (world === undefined) return;
      const now = this.#clock();
      const due = all || now >= this.#leaseDueAt || world.rollouts.some((r) => now >= (this.#tracked.get(r.name)?.dueAt ?? now));
      if (!due) return;
      this.#leaseDueAt = now + (this.#o.leaseRenewMs ?? 5000);
      const wasLeader = this.#leader;
      this.#leader = await source.lease.hold();
      this.#o.metrics?.leader(this.#leader);
      if (this.#leader !== wasLeader) log.info({ holder: source.lease.holder, leader: this.#leader }, this.#leader ? 'holding the rollout lease' : 'not holding the rollout lease');
      const names = new Set(world.rollouts.map((r) => r.name));
      for (const name of this.#tracked.keys()) {
        if (!names.has(name)) {
          this.#tracked.delete(name);
          this.#o.metrics?.forget(name);
        }
      }
      for (const rollout of world.rollouts) {
        let t = this.#tracked.get(rollout.name);
        if (t === undefined) {
          t = { memory: EMPTY_MEMORY, status: undefined, dueAt: now };
          this.#tracked.set(rollout.name, t);
        }
        if (!all && now < t.dueAt) continue;
        t.dueAt = now + rollout.spec.analysis.intervalMs;
        await this.#handle(rollout, world, t);
      }
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'rollout pass failed');
    }
  }

  async #handle(rollout: RolloutRef, world: RolloutWorld, t: Tracked): Promise<void> {
    const { source, log, metrics } = this.#o;
    const lane = rollout.spec.lane;
    const doc = world.laneState(lane);
    const color = world.laneColor(lane);
    const now = this.#clock();
    if (color === undefined) {
      t.status = { ...this.#passive(rollout, doc, t), phase: 'Paused', reason: `no Lane document named "${lane}"` };
      metrics?.status(t.status);
      return;
    }
    if (!this.#leader) {
      t.status = { ...this.#passive(rollout, doc, t), reason: `standby: the lease is held by ${source.lease.holder ?? 'nobody yet'}` };
      t.memory = EMPTY_MEMORY;
      metrics?.status(t.status);
      return;
    }
    let analysis: AnalysisResult | undefined;
    if (observe(rollout, doc, t.memory) === 'progressing') {
      analysis = await this.#o.analyse(rollout, color, new Date(now));
      metrics?.analysed(rollout, analysis);
    }
    const d = decide({ rollout, doc, memory: t.memory, now: this.#clock(), controller: this.#o.identity, analysis });
    if (d.write !== undefined) {
      // Re-check the lease right before writing: a pass can take as long as the analysis.
      if (!(await source.lease.hold())) {
        this.#leader = false;
        t.status = { ...d.status, reason: `not written, the lease was lost: ${d.status.reason}` };
        return;
      }
      try {
        await source.writeLaneState(lane, d.write);
      } catch (err) {
        log.warn({ rollout: rollout.name, lane, err: errorMessage(err) }, 'could not write LaneState; will decide again');
        t.status = { ...d.status, reason: `not written (${errorMessage(err)}): ${d.status.reason}` };
        metrics?.writeFailed(rollout);
        return;
      }
      log.info({ rollout: rollout.name, lane, phase: d.write.phase, share: d.write.share, degraded: d.write.degraded, step: d.write.step, reason: d.write.reason, analysis: d.write.analysis }, 'LaneState written');
      metrics?.written(rollout);
    } else if (t.status?.phase !== d.status.phase || t.status?.reason !== d.status.reason) {
      log.info({ rollout: rollout.name, lane, phase: d.status.phase, share: d.status.share, reason: d.status.reason }, 'rollout status');
    }
    t.memory = d.memory;
    t.status = d.status;
    metrics?.status(d.status);
  }

  /** The status of a rollout this controller does not drive now (standby, or no lane). */
  #passive(rollout: RolloutRef, doc: LaneStateSpec | undefined, t: Tracked): RolloutStatus {
    const lastAnalysis = t.status?.lastAnalysis ?? null;
    if (doc === undefined) {
      return { name: rollout.name, lane: rollout.spec.lane, phase: 'Paused', step: 0, share: 0, degraded: false, reason: 'no LaneState yet', failures: 0, lastAnalysis };
    }
    const d = decide({ rollout, doc, memory: EMPTY_MEMORY, now: this.#clock(), controller: this.#o.identity });
    return { ...d.status, lastAnalysis };
  }

  /** Milliseconds until the next rollout or lease renewal is due (a new rollout is seen within `idleMs`). */
  #untilDue(idleMs: number): number {
    let due = Math.min(this.#leaseDueAt, this.#clock() + idleMs);
    for (const t of this.#tracked.values()) due = Math.min(due, t.dueAt);
    return Math.max(10, due - this.#clock());
  }

  /**
   * Runs passes until stop(), each when the next rollout (or the lease) is due, so a rollout is
   * analysed every `intervalMs` to the timer's precision; at least every `idleMs` (default
   * 1000 ms) for rollouts that appear in the meantime.
   */
  start(idleMs = 1000): void {
    if (this.#running) return;
    this.#running = true;
    const loop = async () => {
      if (!this.#running) return;
      this.#pass = this.pass();
      await this.#pass;
      if (this.#running) this.#timer = setTimeout(() => void loop(), this.#untilDue(idleMs));
    };
    void loop();
  }

  /** Stops the loop, waits for a pass in progress, gives up the lease. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#pass;
    await this.#o.source.lease.release();
    this.#leader = false;
  }
}

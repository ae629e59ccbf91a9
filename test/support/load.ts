/**
 * Steady load for e2e tests: requests sent at a fixed rate (open loop, with a cap on requests
 * in flight) through an undici Pool until `stop()` or a count/time bound, every answer recorded
 * with its time, status, served colour, fallback reason and answering instance.
 */
import { Pool } from 'undici';

/** One answer (or failure) seen by the load client. */
export interface Shot {
  /** Epoch ms the request was sent and answered. */
  sentAt: number;
  doneAt: number;
  status: number;
  servedColor: string;
  fallback: string;
  error: string;
  instance: string;
  /** Error code an agent put in x-dyeline-error. */
  agentError: string;
  id: string;
}

/** What to send. */
export interface LoadOptions {
  /** host:port of the agent's outbound listener. */
  address: string;
  /** Host header (the upstream service). */
  host: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Requests per second (default 200). */
  rps?: number;
  /** Most requests in flight (default 64); beyond it a tick is skipped and counted. */
  maxInflight?: number;
  /** Hard bounds: stop after this many requests or this long (defaults 5000, 30 s). */
  maxRequests?: number;
  maxMs?: number;
}

/** A running load. */
export interface Load {
  readonly shots: Shot[];
  /** Ticks skipped because maxInflight requests were in flight. */
  skipped(): number;
  inflight(): number;
  /** Stops sending and resolves once every request in flight has its answer (idempotent). */
  stop(): Promise<Shot[]>;
}

let seq = 0;

/** Starts sending. */
export function startLoad(opts: LoadOptions): Load {
  const pool = new Pool(`http://${opts.address}`, { connections: opts.maxInflight ?? 64, pipelining: 1 });
  const shots: Shot[] = [];
  const rps = opts.rps ?? 200;
  const maxInflight = opts.maxInflight ?? 64;
  const maxRequests = opts.maxRequests ?? 5000;
  const deadline = Date.now() + (opts.maxMs ?? 30_000);
  let inflight = 0;
  let sent = 0;
  let skipped = 0;
  let stopped = false;
  let idle: (() => void) | undefined;
  let stopping: Promise<Shot[]> | undefined;
  const started = performance.now();

  const one = async (): Promise<void> => {
    const id = `req-${process.pid}-${++seq}`;
    const sentAt = Date.now();
    inflight++;
    const shot: Shot = { sentAt, doneAt: 0, status: 0, servedColor: '', fallback: '', error: '', instance: '', agentError: '', id };
    try {
      const res = await pool.request({
        path: opts.path ?? '/',
        method: (opts.method ?? 'GET') as 'GET',
        headers: { host: opts.host, 'x-request-id': id, ...opts.headers },
        body: opts.body,
        headersTimeout: 20_000,
        bodyTimeout: 20_000,
      });
      await res.body.text();
      shot.status = res.statusCode;
      shot.servedColor = String(res.headers['x-dyeline-served-color'] ?? '');
      shot.fallback = String(res.headers['x-dyeline-fallback'] ?? '');
      shot.instance = String(res.headers['x-instance'] ?? '');
      shot.agentError = String(res.headers['x-dyeline-error'] ?? '');
    } catch (err) {
      shot.error = (err as { code?: string }).code ?? String(err);
    }
    shot.doneAt = Date.now();
    shots.push(shot);
    inflight--;
    if (inflight === 0 && idle !== undefined) idle();
  };

  // One timer; each tick sends what the rate owes since the start (no drift).
  const timer = setInterval(() => {
    if (stopped) return;
    if (sent >= maxRequests || Date.now() > deadline) {
      stopped = true;
      return;
    }
    const owed = Math.floor(((performance.now() - started) * rps) / 1000) - sent - skipped;
    for (let i = 0; i < owed && sent < maxRequests; i++) {
      if (inflight >= maxInflight) {
        skipped++;
        continue;
      }
      sent++;
      void one();
    }
  }, 5);

  return {
    shots,
    skipped: () => skipped,
    inflight: () => inflight,
    stop() {
      stopped = true;
      clearInterval(timer);
      stopping ??= (async () => {
        if (inflight > 0) await new Promise<void>((resolve) => (idle = resolve));
        await pool.close();
        return shots;
      })();
      return stopping;
    },
  };
}

/** Shots that are not a 200 answer. */
export function failures(shots: readonly Shot[]): Shot[] {
  return shots.filter((s) => s.status !== 200 || s.error !== '');
}

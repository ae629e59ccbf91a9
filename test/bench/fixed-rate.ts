/**
 * An open-loop HTTP/1.1 load generator at a fixed request rate (what wrk2 and vegeta do; neither
 * is packaged for Debian). Requests are due on a fixed schedule, independent of the answers: a
 * due request goes out on an idle keep-alive connection, or on a new one (up to `maxConnections`),
 * or waits for one — and its latency is counted from when it was due, so a slow server cannot
 * hide its slowness by holding the generator back (no coordinated omission). The one delay not
 * counted is the generator's own: the schedule is served by a 1 ms timer, so a request is timed
 * from when it was due or when the generator woke up, whichever is later; that lag is reported
 * (`lagP99Ms`) so a reader can see it stayed small.
 *
 *   node test/bench/fixed-rate.ts URL RATE SECONDS [WARMUP_SECONDS=1] [HEADER...]
 *   → one JSON line: { rate, sent, completed, errors, achievedRate, p50Ms, p90Ms, p99Ms, p999Ms, maxMs, lagP99Ms, connections }
 */
import { connect, type Socket } from 'node:net';
import { pct } from './machine.ts';

/** The result of one run (latencies of the measured requests, after the warm-up). */
export interface FixedRateResult {
  rate: number;
  sent: number;
  completed: number;
  errors: number;
  achievedRate: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  lagP99Ms: number;
  connections: number;
}

interface Pending {
  /** hrtime (ns) the request was due, or the generator woke up to send it if later. */
  readyAt: bigint;
  measured: boolean;
}

/** One keep-alive connection carrying one request at a time, with a minimal response reader. */
class Conn {
  readonly socket: Socket;
  current: Pending | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #onDone: (c: Conn, p: Pending, ok: boolean) => void;

  constructor(host: string, port: number, onDone: (c: Conn, p: Pending, ok: boolean) => void) {
    this.#onDone = onDone;
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (d: Buffer) => this.#read(d));
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      const p = this.current;
      this.current = undefined;
      if (p) this.#onDone(this, p, false);
    });
  }

  send(p: Pending, request: Buffer): void {
    this.current = p;
    this.socket.write(request);
  }

  /** Ends the current response once its head and body (Content-Length or chunked) are in. */
  #read(d: Buffer): void {
    this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
    const headEnd = this.#buf.indexOf('\r\n\r\n');
    if (headEnd < 0 || this.current === undefined) return;
    const head = this.#buf.toString('latin1', 0, headEnd);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let end: number;
    if (length) end = headEnd + 4 + Number(length[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const term = this.#buf.indexOf('\r\n0\r\n\r\n', headEnd);
      end = term < 0 ? Infinity : term + 7;
    } else end = headEnd + 4;
    if (this.#buf.length < end) return;
    const ok = /^HTTP\/1\.[01] 2\d\d/.test(head);
    this.#buf = this.#buf.subarray(end);
    const p = this.current;
    this.current = undefined;
    this.#onDone(this, p, ok);
  }
}

/**
 * Runs `rate` requests/s for `warmupS + seconds` against `url`; measures the last `seconds`.
 * `onMeasureStart` is called when the first measured request is due (to read the target's CPU).
 */
export function fixedRate(
  url: string,
  rate: number,
  seconds: number,
  warmupS = 1,
  headers: readonly string[] = [],
  maxConnections = 256,
  onMeasureStart?: () => unknown,
): Promise<FixedRateResult> {
  const u = new URL(url);
  const host = u.hostname;
  const port = Number(u.port || 80);
  const hasHost = headers.some((h) => /^host:/i.test(h));
  const request = Buffer.from(`GET ${u.pathname}${u.search} HTTP/1.1\r\n${hasHost ? '' : `Host: ${u.host}\r\n`}${headers.map((h) => `${h}\r\n`).join('')}\r\n`, 'latin1');

  const periodNs = BigInt(Math.round(1e9 / rate));
  const total = Math.round(rate * (warmupS + seconds));
  const warm = Math.round(rate * warmupS);
  const latencies: number[] = [];
  const lags: number[] = [];
  const idle: Conn[] = [];
  const waiting: Pending[] = [];
  let opened = 0;
  let sent = 0;
  let completed = 0;
  let errors = 0;
  let outstanding = 0;

  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint() + 10_000_000n;
    let next = 0;
    let measuredStart = 0n;
    let measuredEnd = 0n;

    const onDone = (c: Conn, p: Pending, ok: boolean) => {
      outstanding--;
      if (p.measured) {
        if (ok) {
          completed++;
          latencies.push(Number(process.hrtime.bigint() - p.readyAt) / 1e6);
        } else errors++;
      }
      if (c.socket.destroyed) opened--;
      else {
        const w = waiting.shift();
        if (w) c.send(w, request);
        else idle.push(c);
      }
      if (next >= total && outstanding === 0) finish();
    };

    const dispatch = (p: Pending) => {
      outstanding++;
      sent++;
      let c = idle.pop();
      while (c?.socket.destroyed) {
        opened--;
        c = idle.pop();
      }
      if (c) return c.send(p, request);
      if (opened < maxConnections) {
        opened++;
        const n = new Conn(host, port, onDone);
        return n.send(p, request);
      }
      waiting.push(p);
    };

    const tick = () => {
      const now = process.hrtime.bigint();
      while (next < total) {
        const due = t0 + BigInt(next) * periodNs;
        if (due > now) break;
        const measured = next >= warm;
        if (next === warm) {
          measuredStart = due;
          onMeasureStart?.();
        }
        if (measured) lags.push(Number(now - due) / 1e6);
        dispatch({ readyAt: now > due ? now : due, measured });
        next++;
      }
      if (next >= total) {
        measuredEnd = now;
        clearInterval(timer);
        // Answers still out after 5 s count as errors.
        drain = setTimeout(finish, 5_000);
        if (outstanding === 0) finish();
      }
    };
    const timer = setInterval(tick, 1);
    let drain: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = () => {
      if (finished || next < total) return;
      finished = true;
      if (drain) clearTimeout(drain);
      const measuredCount = total - warm;
      errors = measuredCount - completed;
      const s = latencies.sort((a, b) => a - b);
      const l = lags.sort((a, b) => a - b);
      const connections = opened;
      for (const c of idle) c.socket.destroy();
      resolve({
        rate,
        sent,
        completed,
        errors,
        achievedRate: measuredCount / (Number(measuredEnd - measuredStart) / 1e9),
        p50Ms: pct(s, 50),
        p90Ms: pct(s, 90),
        p99Ms: pct(s, 99),
        p999Ms: pct(s, 99.9),
        maxMs: s.at(-1) ?? NaN,
        lagP99Ms: pct(l, 99),
        connections,
      });
    };
  });
}

if (import.meta.main) {
  const [url, rate, seconds, warmup = '1', ...headers] = process.argv.slice(2);
  if (!url || !rate || !seconds) {
    process.stderr.write('usage: node test/bench/fixed-rate.ts URL RATE SECONDS [WARMUP_SECONDS] [HEADER...]\n');
    process.exit(2);
  }
  const r = await fixedRate(url, Number(rate), Number(seconds), Number(warmup), headers);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

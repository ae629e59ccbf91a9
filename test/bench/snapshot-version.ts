/**
 * For benches that time a change until the daemon's snapshot on disk shows it: the version in the
 * file's header, a wait for a newer one (fs.watch on the directory, a 10 ms poll as backup), and
 * the one-line latency summary they print.
 */
import { watch } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pct } from './machine.ts';

/** The snapshot's version from its first bytes (the header is fixed: checksum, apiVersion, kind, version). */
export async function versionOnDisk(path: string): Promise<number> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return 0;
  }
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const m = /"version":(\d+)/.exec(buf.toString('utf8', 0, bytesRead));
    return m ? Number(m[1]) : 0;
  } finally {
    await fh.close();
  }
}

/** Resolves when the snapshot version exceeds `after`: on an fs.watch event or a 10 ms poll. */
export function nextVersion(path: string, after: number, timeoutMs = 10_000): Promise<{ version: number; by: 'watch' | 'poll' }> {
  return new Promise((resolve, reject) => {
    let done = false;
    let checking = false;
    const check = async (by: 'watch' | 'poll') => {
      if (done || checking) return;
      checking = true;
      const v = await versionOnDisk(path);
      checking = false;
      if (v > after && !done) {
        done = true;
        watcher.close();
        clearInterval(poll);
        clearTimeout(timer);
        resolve({ version: v, by });
      }
    };
    const watcher = watch(dirname(path), () => void check('watch'));
    const poll = setInterval(() => void check('poll'), 10);
    const timer = setTimeout(() => {
      done = true;
      watcher.close();
      clearInterval(poll);
      reject(new Error(`no snapshot newer than version ${after} within ${timeoutMs} ms`));
    }, timeoutMs);
    void check('poll');
  });
}

/** `label  p50 …  p90 …  p99 …  max …  mean …  ms`. */
export function summary(label: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2).padStart(7);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `${label.padEnd(30)} p50 ${f(pct(s, 50))}  p90 ${f(pct(s, 90))}  p99 ${f(pct(s, 99))}  max ${f(s.at(-1)!)}  mean ${f(mean)}  ms`;
}

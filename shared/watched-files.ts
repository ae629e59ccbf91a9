/**
 * A few small files (a certificate and its key, a CA bundle) re-read when they change, so a
 * rotated certificate is picked up without a restart. Changes are noticed with fs.watch on the
 * files' directories — a Kubernetes Secret volume swaps a `..data` symlink there — and by a
 * poll as a safety net; the files are read together and handed over only when their contents
 * differ from what was last accepted.
 */
import { type FSWatcher, watch } from 'node:fs';
import { dirname } from 'node:path';
import { readFile } from './fs-read.ts';

/** Options of {@link watchFiles}. */
export interface WatchFilesOptions {
  /**
   * Called with the new contents (same order as the paths). Return false (or throw) to refuse
   * them — e.g. a certificate that does not match its key yet, half-way through a rotation —:
   * they are offered again once a file changes, and at every poll.
   */
  onChange: (contents: Buffer[]) => boolean;
  /** Called when the files cannot be read or the new contents were refused. */
  onError: (err: Error) => void;
  /** Safety-net poll (default 10 s). */
  pollMs?: number;
  /** Delay that groups the writes of one rotation (default 50 ms). */
  debounceMs?: number;
}

/** Files being watched; `close` stops watching. */
export interface WatchedFiles {
  /** The contents last accepted. */
  current(): Buffer[];
  /** Re-reads now (tests, and the poll). */
  check(): Promise<void>;
  close(): void;
}

/** Reads `paths` now (throws when one cannot be read) and keeps watching them. */
export async function watchFiles(paths: readonly string[], opts: WatchFilesOptions): Promise<WatchedFiles> {
  let accepted: Buffer[] = await Promise.all(paths.map((p) => readFile(p)));
  let refused: Buffer[] | undefined;
  let checking: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const same = (a: Buffer[], b: Buffer[] | undefined) => b !== undefined && a.every((buf, i) => buf.equals(b[i]!));

  async function readNow(): Promise<void> {
    let contents: Buffer[];
    try {
      contents = await Promise.all(paths.map((p) => readFile(p)));
    } catch (err) {
      opts.onError(err as Error);
      return;
    }
    if (same(contents, accepted)) return;
    let ok = false;
    let failure: Error | undefined;
    try {
      ok = opts.onChange(contents);
    } catch (err) {
      failure = err as Error;
    }
    if (ok) {
      accepted = contents;
      refused = undefined;
    } else if (!same(contents, refused)) {
      refused = contents;
      opts.onError(failure ?? new Error('new contents refused'));
    }
  }
  const check = (): Promise<void> => (checking ??= readNow().finally(() => (checking = undefined)));
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void check(), opts.debounceMs ?? 50);
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      watchers.push(watch(dir, { persistent: false }, schedule).on('error', () => {}));
    } catch {
      // The poll still notices changes.
    }
  }
  const poll = setInterval(() => void check(), opts.pollMs ?? 10_000);
  poll.unref();
  return {
    current: () => accepted,
    check,
    close() {
      clearInterval(poll);
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}

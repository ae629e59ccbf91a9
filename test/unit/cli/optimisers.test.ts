/**
 * The agent's start-up without V8's optimising compilers (cli/optimisers.ts): held, a hot
 * function stays unoptimised; released, it is optimised again; and the hold is declined for
 * other subcommands and whenever node was told something about its compilers. V8 reports a
 * function's state through `%GetOptimizationStatus` (natives syntax), so the flags are switched in
 * a child process, never in the test worker.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { optimisers } from '../../../cli/optimisers.ts';

const OPTIMISERS = fileURLToPath(new URL('../../../cli/optimisers.ts', import.meta.url));

/** V8's optimisation status bits (src/runtime/runtime.h, OptimizationStatus). */
const OPTIMIZED = 1 << 4;

/** Runs `hot` until V8 would have optimised it, held and then released; its status bits after each. */
function statuses(subcommand: string): { held: boolean; whileHeld: number; afterRelease: number } {
  const script = `
    import { optimisers } from ${JSON.stringify(OPTIMISERS)};
    const status = new Function('f', 'return %GetOptimizationStatus(f)');
    function hot(x) { let s = 0; for (let i = 0; i < 20; i++) s += (x * i) % 7; return s; }
    const run = () => { let t = 0; for (let i = 0; i < 200000; i++) t += hot(i); return t; };
    const release = optimisers.hold(${JSON.stringify(subcommand)}, [], '');
    run();
    const whileHeld = status(hot);
    release?.();
    release?.(); // a second call changes nothing
    run();
    console.log(JSON.stringify({ held: release !== undefined, whileHeld, afterRelease: status(hot) }));
  `;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return JSON.parse(out) as { held: boolean; whileHeld: number; afterRelease: number };
}

describe('optimising compilers at start-up', () => {
  it('held for the agent: a hot function stays unoptimised until they are released', () => {
    const s = statuses('agent');
    expect(s.held).toBe(true);
    expect(s.whileHeld & OPTIMIZED).toBe(0);
    expect(s.afterRelease & OPTIMIZED).toBe(OPTIMIZED);
  });

  it('not held for another subcommand: the same function is optimised at once', () => {
    const s = statuses('validate');
    expect(s.held).toBe(false);
    expect(s.whileHeld & OPTIMIZED).toBe(OPTIMIZED);
  });

  it('declined when node was given a flag that chooses its compilers, not one that only traces them', () => {
    for (const flags of [['--jitless'], ['--no-maglev'], ['--no_turbofan'], ['--max-opt=1'], ['--lite-mode'], ['--no-sparkplug'], ['--always-turbofan']]) {
      expect(optimisers.hold('agent', flags, ''), flags.join(' ')).toBeUndefined();
    }
    expect(optimisers.hold('agent', [], '--max-semi-space-size=1 --jitless')).toBeUndefined();
    expect(optimisers.hold('daemon', [], '')).toBeUndefined();
    expect(optimisers.hold(undefined, [], '')).toBeUndefined();
  });

  it('held with the image\'s flags and tracing flags', () => {
    const script = `
      import { optimisers } from ${JSON.stringify(OPTIMISERS)};
      const release = optimisers.hold('agent', ['--single-threaded', '--no-incremental-marking', '--no-allocation-site-pretenuring', '--preserve-symlinks', '--preserve-symlinks-main', '--trace-opt'], '--max-semi-space-size=1');
      release?.();
      console.log(JSON.stringify(release !== undefined));
    `;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim()).toBe('true');
  });
});

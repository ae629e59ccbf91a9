/**
 * An agent starts without V8's optimising compilers (docs/footprint.md#start-up-without-the-optimising-compilers).
 * Loading the bundle's files makes Node's module loader (its URL and path functions) and esbuild's
 * helpers hot enough for Maglev, and the first optimising compilation makes the process touch
 * ~2 MiB more of the node binary's code for as long as it lives — in every pod. Nothing that runs
 * once at start-up needs optimised code: the entry switches Sparkplug, Maglev and TurboFan off
 * before the program's files are loaded, and the agent switches them on again once its code is
 * loaded, before it reads the snapshot or serves a request.
 *
 * Only the entry imports this file, so the build keeps it in the entry itself: the flags are
 * switched before Node resolves any of the bundle's other files (each resolution is path work
 * that counts towards making Node's path functions hot).
 */
import { setFlagsFromString } from 'node:v8';

/** A node flag that chooses V8's tiers (not one that only traces them): then the process runs as it was told. */
const TIER_FLAG = /jitless|lite-mode|max-opt|--(no-|always-)?opt\b|(?<!trace-[a-z-]*)(maglev|turbofan|sparkplug)/;

const TIERS = ['sparkplug', 'maglev', 'turbofan'];

/** The start-up hold. An object's method, not a function declaration: the bundle keeps function names with a helper that lives in a chunk of its own, and importing that chunk is path work before the hold (scripts/build.ts). */
export const optimisers = {
  /**
   * Switches V8's baseline and optimising compilers off for the start-up of `dyeline agent`, unless
   * node was given a flag about its compilers (on its command line or in `NODE_OPTIONS`). Returns
   * the function that switches them on again (V8's defaults), or undefined when nothing was switched.
   */
  hold(subcommand: string | undefined, execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): (() => void) | undefined {
    if (subcommand !== 'agent') return undefined;
    // V8 reads `_` and `-` in a flag's name alike.
    if (TIER_FLAG.test([...execArgv, nodeOptions].join(' ').replaceAll('_', '-'))) return undefined;
    for (const t of TIERS) setFlagsFromString(`--no-${t}`);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      for (const t of TIERS) setFlagsFromString(`--${t}`);
    };
  },
};

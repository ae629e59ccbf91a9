/**
 * Reading files in the agent: `node:fs`'s callback functions as promises. The agent does not use
 * `node:fs/promises`, which loads Node's readline with it (~1 MiB resident); the bundle requires it
 * only on first use (scripts/build.ts LAZY_BUILTINS; docs/footprint.md#the-build). The daemon and
 * the CLI, which write files, use `node:fs/promises`.
 */
import { readFile as readFileCallback, stat as statCallback } from 'node:fs';
import { promisify } from 'node:util';

export const readFile = promisify(readFileCallback);
export const stat = promisify(statCallback);

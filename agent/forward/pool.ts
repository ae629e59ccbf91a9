/**
 * undici's Pool, loaded alone. The package index loads all of undici — fetch, WebSocket, caches,
 * mock agents — and fetch's WebIDL code reads `globalThis.File`, which makes Node load its own
 * copy of undici too: ~2 MiB resident the agent never uses (docs/footprint.md). The Pool module is
 * the class the index exports; without the index, the dispatcher prototype lacks the
 * request/stream/pipeline helpers, and the agent only ever calls `dispatch`.
 */
import PoolClass from 'undici/lib/dispatcher/pool.js';
import type { Pool as UndiciPool } from 'undici';

export const Pool: typeof UndiciPool = PoolClass;
export type Pool = UndiciPool;
/** The options of a Pool. */
export type PoolOptions = UndiciPool.Options;

/** undici ships types for its index only; its Pool module exports the same class (agent/forward/pool.ts). */
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  const PoolClass: typeof Pool;
  export default PoolClass;
}

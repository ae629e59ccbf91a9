/**
 * How dyeline's processes run beside the image's command-line flags (IMAGE_NODE_FLAGS in
 * scripts/build.ts): the image's environment and the V8 options (NODE_OPTIONS) of the agent and
 * the daemon. Benches and the dist e2e tests run dyeline with the same (docs/footprint.md#v8-flags).
 */

/**
 * The image's environment (Dockerfile ENV). `MALLOC_TRIM_THRESHOLD_=131072` is glibc's default
 * trim threshold, set so it stays put: left alone, glibc raises it (up to 32 MiB) the first time
 * a large block it mapped is freed, and then keeps freed memory at the top of the heap — what V8's
 * compilers and the request path freed. 3–4 MiB less at 1,000 requests/s, ~1 MiB less idle, for
 * ~30–60 `brk` calls a second under load (docs/footprint.md#malloc).
 */
export const IMAGE_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production', MALLOC_TRIM_THRESHOLD_: '131072' };

/**
 * The injected agent (`dyeline inject` sets it): a 1 MiB young generation, for less memory
 * under load than V8's default of up to 16 MiB per semi-space (docs/footprint.md#v8-flags).
 */
export const AGENT_NODE_OPTIONS = '--max-semi-space-size=1';

/**
 * The node's daemon (the DaemonSet sets it; docs/footprint.md#the-daemon). The daemon serves no
 * request path: it works in bursts when a source changes. `--jitless` runs its JavaScript in the
 * interpreter only, so no compiled code and none of V8's compilers are resident (3 MiB less
 * idle), and a full build of a 10,000-service snapshot takes ~1.4–1.6× as long. It also turns
 * WebAssembly off, which nothing the daemon loads uses. `--max-semi-space-size=1` as the agent's.
 */
export const DAEMON_NODE_OPTIONS = '--max-semi-space-size=1 --jitless';

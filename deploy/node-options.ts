/**
 * The V8 options (NODE_OPTIONS) dyeline's processes run with beside the image's command-line
 * flags (IMAGE_NODE_FLAGS in scripts/build.ts); benches and the dist e2e tests use the same
 * (docs/footprint.md#v8-flags).
 */

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

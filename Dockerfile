# dyeline: one image for the daemon (DaemonSet) and the agent (injected sidecar).
# Build: docker build -t dyeline:0.1.0 .
#
# The build stage bundles the TypeScript sources and every dependency into ES modules,
# dist/dyeline.mjs and the chunks it loads (npm run build, scripts/build.ts); the runtime stage is
# the official Node 24 image with those alone: no node_modules, no sources, no type stripping at run time.
# test/unit/dockerfile.test.ts checks these steps (no Docker engine runs in the tests).

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the image already has Node 24, so the `node` devDependency (a Node binary for
# machines with an older one) is not downloaded; esbuild runs from its platform package.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY cli ./cli
COPY shared ./shared
COPY daemon ./daemon
COPY agent ./agent
COPY rollout ./rollout
COPY check ./check
COPY deploy ./deploy
COPY propagate ./propagate
COPY scripts ./scripts
RUN npm run build

FROM node:24-bookworm-slim
# MALLOC_TRIM_THRESHOLD_: glibc's default, fixed so that glibc keeps returning the freed top of its
# heap (3-4 MiB less at 1,000 requests/s; docs/footprint.md#malloc). deploy/node-options.ts
# IMAGE_ENV, which the benches use too.
ENV NODE_ENV=production MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
# The bundle: its entry, and the chunks the entry loads as each subcommand needs them, with the
# licence notices of the code bundled into them (chunks/*.LEGAL.txt).
COPY --from=build /src/dist/dyeline.mjs ./
COPY --from=build /src/dist/chunks ./chunks
# The zero-code propagation preload, which `dyeline inject` copies from here into Node app pods
# (dyeline.io/propagate: node).
COPY --from=build /src/dist/propagate.mjs ./propagate/
# The snapshot directory, for runs without a volume there (docker run); in Kubernetes a hostPath.
RUN mkdir -p /var/run/dyeline && chown 1000:1000 /var/run/dyeline
# Numeric uid:gid (the image's `node` user) so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# Nothing is written outside mounted volumes, so the root filesystem can be read-only:
#   daemon  /var/run/dyeline  the snapshot directory and the registration socket (hostPath shared
#                             with the node's agents, read-write)
#   agent   /var/run/dyeline  the same directory, read-only (it only connects to the socket)
#   webhook nothing: it reads its certificate from a Secret volume
#   demo    /tmp              its run directory (an emptyDir; the demo is not meant for a cluster)
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz on the status port.
# agent: inbound 15006, outbound 15001, status 15090; daemon: status 15290; webhook: 15443
# (admin ports stay on loopback)
EXPOSE 15006 15001 15090 15290 15443
# --single-threaded: V8's compiler and GC on the main thread, ~40 MiB less resident under load;
# --no-incremental-marking --no-allocation-site-pretenuring: the old generation no longer fills
# with request garbage under saturation held for long, ~30-50 MiB less after 30 s
# (docs/footprint.md#v8-flags); --preserve-symlinks: the loader's resolution of the chunks' imports
# does not wake V8's optimising compiler at start-up, 5-6 MiB less idle
# (docs/footprint.md#start-up-and-the-install-directory). scripts/build.ts IMAGE_NODE_FLAGS,
# which the benches use too.
ENTRYPOINT ["node", "--single-threaded", "--no-incremental-marking", "--no-allocation-site-pretenuring", "--preserve-symlinks", "/app/dyeline.mjs"]
CMD ["--help"]

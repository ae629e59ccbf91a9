# dyeline: one image for the daemon (DaemonSet) and the agent (injected sidecar).
# Sources are TypeScript run directly by Node 24's type stripping — no build step.
# Build: docker build -t dyeline:0.1.0 .
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (the node@24 devDependency is for machines with an older Node).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY shared ./shared
COPY daemon ./daemon
COPY agent ./agent
COPY deploy/local ./deploy/local
COPY deploy/inject ./deploy/inject
# dyeline/propagate: `dyeline inject` copies /app/propagate/propagate.mjs into Node app pods (dyeline.io/propagate: node).
COPY propagate ./propagate
# The daemon writes /var/run/dyeline/snapshot.json (a hostPath shared with the node's agents).
RUN mkdir -p /var/run/dyeline && chown node:node /var/run/dyeline
USER node
# agent: inbound 15006, outbound 15001, status 15090; daemon: status 15290 (admin ports stay on loopback)
EXPOSE 15006 15001 15090 15290
ENTRYPOINT ["node", "/app/bin/dyeline.js"]
CMD ["--help"]

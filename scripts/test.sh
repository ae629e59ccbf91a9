#!/usr/bin/env bash
# `npm test`: provisions what the tests need on a fresh machine (etcd, Prometheus), then runs vitest over
# unit and e2e tests. Runs under the Node 24 that `npm ci` put in node_modules/.bin.
set -euo pipefail
cd "$(dirname "$0")/.."
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 24 ]; then
  echo "Node $(node --version) is on PATH; dyeline needs Node 24. Run 'npm ci' first (it installs Node 24 into node_modules/.bin) and use 'npm test'." >&2
  exit 1
fi
DYELINE_ETCD_BIN=$(bash scripts/ensure-etcd.sh)
export DYELINE_ETCD_BIN
DYELINE_PROMETHEUS_BIN=$(bash scripts/ensure-prometheus.sh)
export DYELINE_PROMETHEUS_BIN
exec vitest run "$@"

#!/usr/bin/env bash
# Makes sure a Prometheus server binary is available for the tests that analyse real metrics
# (Debian's prometheus, 2.42): $DYELINE_PROMETHEUS_BIN, else prometheus on PATH, else installed
# with apt-get when running as root; otherwise fails with a clear message. Prints its path.
set -euo pipefail
exec bash "$(dirname "$0")/ensure-debian.sh" prometheus prometheus prometheus

#!/usr/bin/env bash
# Makes sure an etcd server binary is available for the tests (Debian's etcd-server, 3.4).
# Installs it when missing and running as root; otherwise fails with a clear message.
# Prints the path of the binary on stdout.
set -euo pipefail
find_etcd() {
  if [ -n "${DYELINE_ETCD_BIN:-}" ] && [ -x "$DYELINE_ETCD_BIN" ]; then echo "$DYELINE_ETCD_BIN"; return 0; fi
  for c in etcd /usr/bin/etcd /usr/local/bin/etcd; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}
if bin=$(find_etcd); then echo "$bin"; exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "etcd is required by the tests and is not installed. Install it (Debian/Ubuntu: sudo apt-get install etcd-server) or set DYELINE_ETCD_BIN." >&2
  exit 1
fi
echo "installing etcd-server (Debian) for the tests..." >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends etcd-server; } >&2 || {
  echo "could not install etcd-server with apt-get; install etcd 3.4+ or set DYELINE_ETCD_BIN." >&2
  exit 1
}
# Debian's package starts a system etcd on 2379; the tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
pkill -x etcd >/dev/null 2>&1 || true
bin=$(find_etcd) || { echo "etcd-server installed but no etcd binary found" >&2; exit 1; }
echo "$bin"

#!/usr/bin/env bash
# Makes sure a binary the tests or benchmarks need is available:
#
#   scripts/ensure-debian.sh <binary> <debian-package> [service]
#
# Looks for $DYELINE_<BINARY>_BIN (e.g. DYELINE_ETCD_BIN, DYELINE_HAPROXY_BIN), then <binary> on
# PATH and in /usr/sbin, /usr/bin, /usr/local/bin. When missing and running as root on Debian/Ubuntu
# it installs <debian-package> with apt-get and stops the system service the package may have
# started (<service>, default <binary>): the tests and benchmarks start their own on free ports.
# Otherwise it fails with a clear message. Prints the path of the binary on stdout; everything
# else goes to stderr.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 <binary> <debian-package> [service]" >&2
  exit 2
fi
binary=$1
package=$2
service=${3:-$1}
var="DYELINE_$(printf '%s' "$binary" | tr '[:lower:]-' '[:upper:]_')_BIN"

find_binary() {
  local override=${!var:-}
  if [ -n "$override" ] && [ -x "$override" ]; then echo "$override"; return 0; fi
  if command -v "$binary" >/dev/null 2>&1; then command -v "$binary"; return 0; fi
  for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
    if [ -x "$d/$binary" ]; then echo "$d/$binary"; return 0; fi
  done
  return 1
}

if bin=$(find_binary); then echo "$bin"; exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "$binary is required and is not installed. Install it (Debian/Ubuntu: sudo apt-get install $package) or set $var to its path." >&2
  exit 1
fi
echo "installing $package (Debian) for $binary..." >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "$package"; } >&2 || {
  echo "could not install $package with apt-get; install $binary yourself or set $var to its path." >&2
  exit 1
}
# The package may have started a system service on its default port; nothing here needs it.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now "$service" >/dev/null 2>&1 || true
elif [ -x "/etc/init.d/$service" ]; then
  "/etc/init.d/$service" stop >/dev/null 2>&1 || true
fi
bin=$(find_binary) || { echo "$package installed but no $binary binary found" >&2; exit 1; }
echo "$bin"

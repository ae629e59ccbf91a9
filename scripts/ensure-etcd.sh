#!/usr/bin/env bash
# Makes sure an etcd server binary is available for the tests (Debian's etcd-server, 3.4):
# $DYELINE_ETCD_BIN, else etcd on PATH, else installed with apt-get when running as root;
# otherwise fails with a clear message. Prints the path of the binary on stdout.
set -euo pipefail
exec bash "$(dirname "$0")/ensure-debian.sh" etcd etcd-server etcd

#!/usr/bin/env sh
# `systemd-analyze verify scripts/pulse.service` (tests/ops_systemd.rs) needs systemd's
# tools; Debian's `systemd` package provides them. Installing it does not start anything.
set -eu
command -v systemd-analyze >/dev/null 2>&1 && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends systemd

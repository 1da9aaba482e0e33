#!/usr/bin/env bash
# Headless Chromium for tests/dashboard_browser.rs (Debian's package). Idempotent: does
# nothing when it is already installed; refreshes the package lists only when needed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! $SUDO apt-get install -y --no-install-recommends chromium; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium
fi

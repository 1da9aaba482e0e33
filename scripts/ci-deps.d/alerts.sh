#!/usr/bin/env bash
# Test dependency of the alert channels: a real local SMTP server (aiosmtpd) for
# tests/alert_email.rs. Pinned; skipped when already installed.
set -euo pipefail
if python3 -c 'import aiosmtpd, sys; sys.exit(0 if aiosmtpd.__version__ == "1.4.6" else 1)' 2>/dev/null; then
  exit 0
fi
python3 -m pip install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6'

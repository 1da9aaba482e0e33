#!/usr/bin/env sh
# Python reference for the lexicon parity test and `pulse bench lexicon`: vaderSentiment 3.3.2.
# It imports `requests` (never uses it); pin that only when absent so other areas' pins stand.
set -eu
PY="${PYTHON:-python3}"
if "$PY" -c 'import importlib.metadata as m, sys; sys.exit(m.version("vaderSentiment") != "3.3.2")' 2>/dev/null \
   && "$PY" -c 'import vaderSentiment.vaderSentiment' 2>/dev/null; then
  exit 0
fi
if "$PY" -c 'import requests' 2>/dev/null; then
  "$PY" -m pip install --quiet --disable-pip-version-check 'vaderSentiment==3.3.2'
else
  "$PY" -m pip install --quiet --disable-pip-version-check 'vaderSentiment==3.3.2' 'requests==2.32.3'
fi

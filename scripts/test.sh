#!/usr/bin/env bash
# The whole test suite, with its set-up: installs what the tests need (pinned Python
# reference implementations, local test servers), then runs every test and a short smoke
# run of the benchmarks. Safe to re-run: each install step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/data ]; then
  echo "scripts/test.sh: ../shared/data (the labelled data sets) is missing beside the repo" >&2
  exit 1
fi

for step in scripts/ci-deps.d/*.sh; do
  [ -e "$step" ] || continue
  echo "== set-up: $step"
  bash "$step"
done

echo "== cargo test (unit, integration, and one smoke pass of every benchmark)"
log=$(mktemp)
set +e
cargo test --all-targets --no-fail-fast -- --test-threads=2 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (benchmarks' smoke runs print after the last test result).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"

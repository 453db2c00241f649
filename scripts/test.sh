#!/usr/bin/env bash
# Quickstart (b): install what is missing, build everything and run every
# test (lit files and GoogleTest cases, one ctest test each). Ends with a
# plain "N passed, M failed" line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${XLSTM_BUILD_DIR:-$root/build}"

"$root/scripts/setup.sh"
"$root/scripts/build.sh"

log="$build/ctest.log"
set +e
(cd "$build" && ctest --output-on-failure -j "$(nproc)") 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# The slowest tests, to keep the suite's time in view (issue: under 5 min).
echo "slowest tests:"
# (awk, not head: an early close would fail the pipeline under pipefail.)
{ grep -E "Test +#[0-9]+: .* sec$" "$log" || true; } |
  sed -E 's/.*Test +#[0-9]+: ([^ ]+) .* ([0-9.]+) sec$/\2 s  \1/' |
  sort -rn | awk 'NR <= 10 { print "  " $0 }'

summary=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
if [ -z "$summary" ]; then
  echo "0 passed, 1 failed (ctest did not run)"
  exit 1
fi
failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")
total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$summary")
echo "$((total - failed)) passed, $failed failed"
exit "$status"

#!/usr/bin/env bash
# Flakiness check: the README's test command (`cargo test --locked`) run N times in a row on this machine; any
# failing round is kept (its output under target/bench/flake/round-K.log) and the script exits 1. A test that
# can fail by scheduling is a defect: the result must be N passes out of N.
#
#   benches/flake/run.sh            # 20 rounds
#   FLAKE_ROUNDS=5 benches/flake/run.sh
#
# Writes its result between <!-- flake:start --> and <!-- flake:end --> in benches/RESULTS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

ROUNDS=${FLAKE_ROUNDS:-20}
OUT=$ROOT/target/bench/flake
need cargo
mkdir -p "$OUT"
cd "$ROOT"
cargo test --locked --no-run >&2
LOAD_START=$(loadavg)
STARTED=$(date -u '+%F %H:%M UTC')
failed=()
durations=()
# section K: the result after K rounds (written after every round, so an interrupted loop still leaves its record)
section() {
  local k=$1
  cat >"$OUT/section.md" <<MD
## Flakiness: the test command run $ROUNDS times

\`benches/flake/run.sh\`: \`cargo test --locked\` $ROUNDS times in a row (nothing rebuilt between rounds), started
$STARTED on $(machine); load average $LOAD_START at the start, $(loadavg) after round $k.
**$(( k - ${#failed[@]} )) of $k rounds passed**$( ((k < ROUNDS)) && echo " ($k of the $ROUNDS planned run so far)" )$( ((${#failed[@]})) && echo "; failed rounds: ${failed[*]} (logs under target/bench/flake/)" ).
Round wall times (s): ${durations[*]}.
MD
  write_section flake "$OUT/section.md"
}
for k in $(seq 1 "$ROUNDS"); do
  start=$(date +%s)
  if cargo test --locked >"$OUT/round-$k.log" 2>&1; then
    echo "== round $k/$ROUNDS passed ($(( $(date +%s) - start )) s)" >&2
    rm -f "$OUT/round-$k.log"
  else
    echo "== round $k/$ROUNDS FAILED: target/bench/flake/round-$k.log" >&2
    failed+=("$k")
  fi
  durations+=("$(( $(date +%s) - start ))")
  section "$k"
done
cat "$OUT/section.md"
((${#failed[@]} == 0))

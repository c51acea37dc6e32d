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
failed=()
for k in $(seq 1 "$ROUNDS"); do
  start=$(date +%s)
  if cargo test --locked >"$OUT/round-$k.log" 2>&1; then
    echo "== round $k/$ROUNDS passed ($(( $(date +%s) - start )) s)" >&2
    rm -f "$OUT/round-$k.log"
  else
    echo "== round $k/$ROUNDS FAILED: target/bench/flake/round-$k.log" >&2
    failed+=("$k")
  fi
done
LOAD_END=$(loadavg)
cat >"$OUT/section.md" <<MD
## Flakiness: the test command run $ROUNDS times

\`benches/flake/run.sh\`: \`cargo test --locked\` $ROUNDS times in a row, recorded $(date -u '+%F %H:%M UTC') on $(machine);
load average $LOAD_START at the start, $LOAD_END at the end. **$(( ROUNDS - ${#failed[@]} )) of $ROUNDS rounds passed**$( ((${#failed[@]})) && echo "; failed rounds: ${failed[*]} (logs under target/bench/flake/)" ).
MD
cat "$OUT/section.md"
write_section flake "$OUT/section.md"
((${#failed[@]} == 0))

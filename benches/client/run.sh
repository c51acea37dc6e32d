#!/usr/bin/env bash
# The client scenarios against the bundled reference client, from the command line:
# `target/release/scr-assure run -q --tags @client` repeated (hyperfine: wall time mean, min, max). Every run
# must pass. Prints a markdown section and writes it into benches/RESULTS.md between <!-- client-bench:start -->
# and <!-- client-bench:end -->.
#
#   benches/client/run.sh
#
# Installs hyperfine (apt) when missing; builds the release binary. Environment: CLIENT_RUNS (timed runs,
# default 10), CLIENT_WARMUP (default 1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

RUNS=${CLIENT_RUNS:-10}
WARMUP=${CLIENT_WARMUP:-1}
OUT=$ROOT/target/bench/client
REPORTS=$OUT/reports

need cargo jq
need_apt hyperfine hyperfine
build_release
mkdir -p "$OUT"
cd "$ROOT"

LOAD_START=$(loadavg)
hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" --prepare "rm -rf '$REPORTS'" \
  --export-json "$OUT/hyperfine.json" "'$SCR' run -q --tags @client --reports '$REPORTS'" >&2
LOAD_END=$(loadavg)
rm -rf "$REPORTS"
"$SCR" run -q --tags @client --reports "$REPORTS" >"$OUT/stdout.txt"
SUMMARY=$(grep -E '^[0-9]+ scenarios: ' "$OUT/stdout.txt" | head -n 1)
SCENARIOS=${SUMMARY%% scenarios:*}
[[ $SUMMARY == *", 0 failed"* ]] || { echo "client: a run failed: $SUMMARY" >&2; exit 1; }
read -r MEAN SD MIN MAX MEDIAN CPU_USER CPU_SYS < <(jq -r '.results[0] | [.mean, .stddev, .min, .max, .median, .user, .system]
  | @tsv' "$OUT/hyperfine.json")
s() { awk -v x="$1" 'BEGIN { printf "%.2f s", x }'; }
cat >"$OUT/section.md" <<MD
## The client scenarios against the reference client (wall time)

\`benches/client/run.sh\`: \`target/release/scr-assure run -q --tags @client --reports DIR\` — the client lane's
mock started, the reference client's app registered, every client scenario driving the bundled reference
client (\`scr-assure reference-client\`, one process per action) and graded from the traffic journal, the
reports written. Wall time by hyperfine ($WARMUP warm-up, $RUNS timed runs; reports removed before each, not
timed). Recorded $(date -u '+%F %H:%M UTC') on $(machine); load average $LOAD_START at the start, $LOAD_END at
the end. The aim (issue 10) is under 5 s on 2 cores.

| client scenarios | wall time mean ± sd | min | median | max | CPU time, mean (user + sys) |
|---|---|---|---|---|---|
| $SCENARIOS | **$(s "$MEAN")** ± $(s "$SD") | $(s "$MIN") | $(s "$MEDIAN") | $(s "$MAX") | $(s "$(awk -v u="$CPU_USER" -v y="$CPU_SYS" 'BEGIN { print u + y }')") |

A floor the suite cannot go under: the slowest scenarios wait as the service asks — \`Retry-After: 1\` (1 s) and
two back-offs after 503s (0.25 s + 0.5 s) — and they run concurrently with the rest.

Raw: \`target/bench/client/hyperfine.json\`.
MD
cat "$OUT/section.md"
write_section client-bench "$OUT/section.md"

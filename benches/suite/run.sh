#!/usr/bin/env bash
# The whole suite on the embedded mock, from the command line: `target/release/scr-assure run -q` repeated
# (hyperfine: wall time mean, min, max) and run again under /usr/bin/time -v (peak RSS). Every run must pass.
# Prints a markdown section and writes it into benches/RESULTS.md between <!-- suite-bench:start --> and
# <!-- suite-bench:end -->.
#
#   benches/suite/run.sh
#
# Installs hyperfine and time (apt) when missing; builds the release binary. Environment: SUITE_RUNS (timed
# runs, default 10), SUITE_RSS_RUNS (runs under /usr/bin/time, default 3), SUITE_WARMUP (default 1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

RUNS=${SUITE_RUNS:-10}
RSS_RUNS=${SUITE_RSS_RUNS:-3}
WARMUP=${SUITE_WARMUP:-1}
OUT=$ROOT/target/bench/suite
REPORTS=$OUT/reports

need cargo jq
need_apt hyperfine hyperfine
need_apt /usr/bin/time time
build_release
mkdir -p "$OUT"
cd "$ROOT"

# 1. Wall time: hyperfine, a fresh reports directory before each run (not timed).
LOAD_START=$(loadavg)
echo "== hyperfine: $WARMUP warm-up, $RUNS timed runs of scr-assure run -q" >&2
hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" --prepare "rm -rf '$REPORTS'" \
  --export-json "$OUT/hyperfine.json" "'$SCR' run -q --reports '$REPORTS'" >&2
LOAD_MID=$(loadavg)

# 2. Peak RSS: the same command under /usr/bin/time -v; the summary line gives the scenario count.
: >"$OUT/rss.txt"
for i in $(seq 1 "$RSS_RUNS"); do
  rm -rf "$REPORTS"
  /usr/bin/time -v -o "$OUT/time-$i.txt" "$SCR" run -q --reports "$REPORTS" >"$OUT/stdout-$i.txt"
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/time-$i.txt" >>"$OUT/rss.txt"
done
LOAD_END=$(loadavg)
SUMMARY=$(grep -E '^[0-9]+ scenarios: ' "$OUT/stdout-1.txt" | head -n 1)
SCENARIOS=${SUMMARY%% scenarios:*}
[[ $SUMMARY == *", 0 failed"* ]] || { echo "suite: a run failed: $SUMMARY" >&2; exit 1; }

# 3. The section.
read -r MEAN SD MIN MAX MEDIAN CPU_USER CPU_SYS < <(jq -r '.results[0] | [.mean, .stddev, .min, .max, .median, .user, .system]
  | @tsv' "$OUT/hyperfine.json")
RSS_MAX=$(sort -n "$OUT/rss.txt" | tail -n 1)
RSS_MIN=$(sort -n "$OUT/rss.txt" | head -n 1)
s() { awk -v x="$1" 'BEGIN { printf "%.2f s", x }'; }
mib() { awk -v x="$1" 'BEGIN { printf "%.0f MiB", x / 1024 }'; }
cat >"$OUT/section.md" <<MD
## The whole suite from the command line (wall time, peak memory)

\`benches/suite/run.sh\`: \`target/release/scr-assure run -q --reports DIR\` on the embedded mock (three mocks
started and stopped, the FHIR schema compiled, every payload validated, snapshots compared, JUnit, Cucumber JSON
and the evidence bundle written); each run a new process, every run passing. Wall time by hyperfine
$(hyperfine --version | cut -d' ' -f2) ($WARMUP warm-up run, then $RUNS timed runs; the reports directory removed before each, not
timed); peak RSS by \`/usr/bin/time -v\` over $RSS_RUNS more runs. Recorded $(date -u '+%F %H:%M UTC') on $(machine);
load average $LOAD_START at the start, $LOAD_MID after the timed runs, $LOAD_END at the end.

| scenarios | wall time mean ± sd | min | median | max | CPU time, mean (user + sys) | peak RSS (max of $RSS_RUNS; min) |
|---|---|---|---|---|---|---|
| $SCENARIOS | **$(s "$MEAN")** ± $(s "$SD") | $(s "$MIN") | $(s "$MEDIAN") | $(s "$MAX") | $(s "$(awk -v u="$CPU_USER" -v y="$CPU_SYS" 'BEGIN { print u + y }')") ($(s "$CPU_USER") + $(s "$CPU_SYS")) | **$(mib "$RSS_MAX")** ($(mib "$RSS_MIN")) |

CPU time is the process's own (hyperfine's user and system means); on a machine shared with other work it moves
less than the wall time does.

Raw: \`target/bench/suite/hyperfine.json\`, \`time-*.txt\`.
MD
cat "$OUT/section.md"
write_section suite-bench "$OUT/section.md"

#!/usr/bin/env bash
# The SCR read journey (access token, upload for a fresh patient, GET /DocumentReference, GET /Bundle with the
# SCR id from its answer) run by Newman from the Postman collection scr-read-journey.postman_collection.json
# against `scr-assure mock`, side by side with scr-assure running features/retrieve/read_journey.feature on its
# embedded mock: time per journey for each and the ratio, cold (one journey per process) and warm (the
# marginal time of one more journey in a process that runs many). Prints a markdown section and writes it into
# benches/RESULTS.md between <!-- newman-bench:start --> and <!-- newman-bench:end -->.
#
#   benches/newman/run.sh
#
# Installs hyperfine (apt) and Newman (npm ci, into benches/newman/node_modules) when missing; builds scr-assure
# and the examples in release. Environment: NEWMAN_ITERATIONS (journeys in a warm run, default 50),
# NEWMAN_RUNS (timed runs of each command, default 5).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common.sh"

N=${NEWMAN_ITERATIONS:-50}
RUNS=${NEWMAN_RUNS:-5}
OUT=$ROOT/target/bench/newman
COLLECTION=$HERE/scr-read-journey.postman_collection.json
ENVIRONMENT=$HERE/scr-read-journey.postman_environment.json
FEATURE=$ROOT/features/retrieve/read_journey.feature
NEWMAN=$HERE/node_modules/.bin/newman
BASE_PATH=/summary-care-record/FHIR/R4
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
(( N >= 2 )) || { echo "newman: NEWMAN_ITERATIONS must be 2 or more" >&2; exit 2; }

need cargo node npm jq
need_apt hyperfine hyperfine
build_release
if [[ ! -x $NEWMAN ]] || [[ $HERE/package-lock.json -nt $HERE/node_modules/.package-lock.json ]]; then
  echo "== npm ci (benches/newman)" >&2
  (cd "$HERE" && npm ci --silent --no-audit --no-fund >&2)
fi
rm -rf "$OUT"
mkdir -p "$OUT"

# 1. The collection uploads exactly what scr-assure uploads: refresh its body from the harness's builder.
"$ROOT/target/release/examples/upload_template" >"$OUT/upload.json"
jq --rawfile body "$OUT/upload.json" \
  '(.item[] | select(.request.method == "POST" and (.request.url | tostring | test("/Bundle")))
   | .request.body.raw) = ($body | rtrimstr("\n"))' "$COLLECTION" >"$OUT/collection.json"
if ! cmp -s "$OUT/collection.json" "$COLLECTION"; then
  cp "$OUT/collection.json" "$COLLECTION"
  echo "== the collection's upload body was refreshed from examples/upload_template.rs (commit it)" >&2
fi

# 2. The scr-assure side, N journeys in one run: the same scenario as a Scenario Outline of 1 and of N rows,
#    with a catalogue holding only its requirement.
awk '/^\[\[requirement\]\]/ { blk = $0 "\n"; inb = 1; next }
     inb && /^$/ { if (blk ~ /id = "SCRA-RET-006"/) printf "%s", blk; inb = 0; next }
     inb { blk = blk $0 "\n" }' "$ROOT/features/requirements.toml" >"$OUT/requirements.toml"
grep -q SCRA-RET-006 "$OUT/requirements.toml" || { echo "newman: SCRA-RET-006 not in the catalogue" >&2; exit 1; }
outline() { # rows, dir
  mkdir -p "$2"
  { sed 's/^  Scenario: /  Scenario Outline: /' "$FEATURE"; printf '\n    Examples:\n      | journey |\n'
    seq 1 "$1" | sed 's/.*/      | & |/'; } >"$2/read_journey.feature"
}
outline 1 "$OUT/features-1"
outline "$N" "$OUT/features-$N"

# 3. The Newman side's mock: `scr-assure mock` (stateful, gateway on), the kind the harness starts inside.
trap 'stop_server "${MOCK_PID:-}"' EXIT
start_server "$OUT/mock.url" "$SCR" mock
MOCK_PID=$SERVER_PID ORIGIN=${SERVER_URL%"$BASE_PATH"}
# One fresh client assertion per journey (the service refuses a replayed jti), minted before each timed run.
cat >"$OUT/mint.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
{ echo '['; for i in \$(seq 1 "\$1"); do
    (( i == 1 )) || echo ','
    printf '{"clientAssertion":"%s"}' "\$('$SCR' token assertion --token-url '$ORIGIN/oauth2/token')"
  done; echo ']'; } >"\$2"
SH
chmod +x "$OUT/mint.sh"

# 4. The runs: hyperfine, one warm-up run and RUNS timed runs per command; every run must pass (exit 0).
declare -A LOAD
bench() { # name, prepare, command
  LOAD[$1]=$(cut -d' ' -f1 /proc/loadavg)
  echo "== $1 (load ${LOAD[$1]})" >&2
  hyperfine --style basic --warmup 1 --runs "$RUNS" --prepare "$2" --export-json "$OUT/$1.json" "$3" >&2
}
SCR_RUN="cd '$ROOT' && '$SCR' run -q --reports '$OUT/reports'"
GEN="--requirements '$OUT/requirements.toml' --features"
NEWMAN_RUN="'$NEWMAN' run '$COLLECTION' -e '$ENVIRONMENT' --env-var 'origin=$ORIGIN' -r junit --reporter-junit-export '$OUT/newman-junit.xml' -d"
LOAD_START=$(loadavg)
bench scr-tags "rm -rf '$OUT/reports'" "$SCR_RUN --tags @read-journey"
bench newman-1 "'$OUT/mint.sh' 1 '$OUT/data.json'" "$NEWMAN_RUN '$OUT/data.json'"
bench scr-1 "rm -rf '$OUT/reports'" "$SCR_RUN $GEN '$OUT/features-1' --concurrency 1"
bench scr-n "rm -rf '$OUT/reports'" "$SCR_RUN $GEN '$OUT/features-$N' --concurrency 1"
bench scr-n-concurrent "rm -rf '$OUT/reports'" "$SCR_RUN $GEN '$OUT/features-$N'"
bench newman-n "'$OUT/mint.sh' $N '$OUT/data.json'" "$NEWMAN_RUN '$OUT/data.json'"
LOAD_END=$(loadavg)
# Check runs: each side really ran N journeys, all passing (hyperfine already required exit 0 of every run).
(cd "$ROOT" && "$SCR" run -q --reports "$OUT/reports" --requirements "$OUT/requirements.toml" \
  --features "$OUT/features-$N" --concurrency 1) >"$OUT/scr-n.check.txt"
grep -Eq "^$N scenarios: $N passed, 0 failed" "$OUT/scr-n.check.txt" \
  || { echo "newman: the scr-assure check run did not pass $N journeys" >&2; cat "$OUT/scr-n.check.txt" >&2; exit 1; }
"$OUT/mint.sh" "$N" "$OUT/data.json"
"$NEWMAN" run "$COLLECTION" -e "$ENVIRONMENT" --env-var "origin=$ORIGIN" -r json --reporter-json-export "$OUT/newman-n.run.json" \
  -d "$OUT/data.json" >/dev/null
jq -e --argjson n "$N" '.run.stats.iterations.total == $n and .run.stats.iterations.failed == 0
  and .run.stats.requests.total == 4 * $n and .run.stats.assertions.failed == 0' "$OUT/newman-n.run.json" >/dev/null \
  || { echo "newman: the check run did not pass $N journeys" >&2; exit 1; }

# 5. The section.
mean() { jq -r '.results[0].mean' "$OUT/$1.json"; }
sd() { jq -r '.results[0].stddev' "$OUT/$1.json"; }
ms() { awk -v x="$1" 'BEGIN { printf "%.0f ms", x * 1000 }'; }
msd() { awk -v x="$1" 'BEGIN { printf "%.1f ms", x * 1000 }'; }
per() { awk -v a="$(mean "$1")" -v b="$(mean "$2")" -v n="$N" 'BEGIN { print (a - b) / (n - 1) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }'; }
SCR_PER=$(per scr-n scr-1)
SCR_PER_C=$(per scr-n-concurrent scr-1)
NEWMAN_PER=$(per newman-n newman-1)
cell() { echo "$(ms "$(mean "$1")") ± $(ms "$(sd "$1")") (load ${LOAD[$1]})"; }
cat >"$OUT/section.md" <<MD
## The read journey: Newman (Postman collection) next to scr-assure

\`benches/newman/run.sh\`: the same journey on both sides — an application-restricted access token (client
credentials with a signed client assertion), an upload of a GP Summary for a fresh patient (the arrange step:
scenarios never rely on seeded data), \`GET /DocumentReference\` (the SCR id checked against the upload), \`GET
/Bundle\` with that id — four HTTP exchanges per journey, the same bodies (the collection's upload body is
\`examples/upload_template.rs\`, scr-assure's own builder). **Newman** $("$NEWMAN" --version) (node $(node --version)) runs
\`benches/newman/scr-read-journey.postman_collection.json\` against \`scr-assure mock\` (stateful, gateway on),
started once by the script; **scr-assure** runs \`features/retrieve/read_journey.feature\` on its embedded mock.
Wall time per command by hyperfine ($RUNS timed runs after 1 warm-up; the load average before each command in
brackets). Recorded $(date -u '+%F %H:%M UTC') on $(machine); load average $LOAD_START at the start, $LOAD_END at the end.

| | scr-assure | Newman | Newman / scr-assure |
|---|---|---|---|
| one journey, one process (cold): scr-assure \`run -q --tags @read-journey\`; \`newman run -d\` 1 assertion | $(cell scr-tags) | $(cell newman-1) | $(ratio "$(mean newman-1)" "$(mean scr-tags)") |
| one journey, one process, the bench's own 1-row outline and catalogue (scr-assure) | $(cell scr-1) | | |
| $N journeys, one process, one at a time (\`--concurrency 1\`; Newman's iterations are sequential) | $(cell scr-n) | $(cell newman-n) | $(ratio "$(mean newman-n)" "$(mean scr-n)") |
| **per journey, warm**: (T($N) − T(1)) / $((N - 1)) | **$(msd "$SCR_PER")** | **$(msd "$NEWMAN_PER")** | **$(ratio "$NEWMAN_PER" "$SCR_PER")** |
| $N journeys, scr-assure's default concurrency (64 scenarios in flight) | $(cell scr-n-concurrent) | | |
| per journey, warm, concurrent: (T($N, concurrent) − T(1)) / $((N - 1)) | $(msd "$SCR_PER_C") | | $(ratio "$NEWMAN_PER" "$SCR_PER_C") |

What each side includes:

- **scr-assure**, per process: its start, the catalogue check of the feature files, three embedded mocks
  started and stopped (main lane behind its gateway, open access, sandbox profile), the FHIR schema compiled,
  the run's default CIS2 token (a sign-in by the authorization-code flow; the journey does not use it), and
  the reports: JUnit, Cucumber JSON and the evidence bundle with every exchange's transcript. Per journey: the
  client assertion signed in-process (RS512), the four exchanges, every request and response checked against
  the FHIR R4 schema and the SCR rules of its operation, the SCR id and document checked in full (every NHS
  quirk, Composition first, Patient last, every \`fullUrl\`), the exchanges recorded.
- **Newman**, per process: node's start, the collection and data file loaded, the JUnit report. The mock is
  already running (its start is not timed). Per journey: the four exchanges and the collection's tests
  (statuses; the token's type; the SCR id equal to the one uploaded; the document's Composition carrying that
  id and \`total\` = number of entries). The client assertion is minted **before** the timed run (Postman cannot
  sign RS512), so its signing is not in Newman's time; no payload is validated against the FHIR schema.
- Both talk HTTP/1.1 over loopback to the same mock code; the warm figure subtracts each side's own start-up
  and reports, leaving the cost of one more journey.

Raw: \`target/bench/newman/*.json\` (hyperfine), \`newman-n.run.json\` (Newman's own statistics of a check run).
MD
cat "$OUT/section.md"
write_section newman-bench "$OUT/section.md"

#!/usr/bin/env bash
# The mock under load next to a bare axum hello-world, in the same run, by the same generator (wrk, fixed
# threads, connections and duration): req/s and latency p50/p99 of each, and the ratio mock / hello. Also the
# mock with its gateway on (an access token checked on every request). Prints a markdown section and writes it
# into benches/RESULTS.md between <!-- load-bench:start --> and <!-- load-bench:end -->.
#
#   benches/load/run.sh
#
# Installs wrk (apt) when missing; builds scr-assure and the examples hello_axum and upload_template in release.
# Environment: LOAD_THREADS (wrk threads, default 2), LOAD_CONNECTIONS (default 32), LOAD_DURATION (seconds
# per run, default 10), LOAD_ROUNDS (rounds, default 3; each round runs every row once, the servers taking
# turns; a row's figure is its median round by req/s).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../common.sh"

THREADS=${LOAD_THREADS:-2}
CONNECTIONS=${LOAD_CONNECTIONS:-32}
DURATION=${LOAD_DURATION:-10}
ROUNDS=${LOAD_ROUNDS:-3}
OUT=$ROOT/target/bench/load
BASE_PATH=/summary-care-record/FHIR/R4

need cargo curl jq
need_apt wrk wrk
build_release
mkdir -p "$OUT"
rm -f "$OUT"/*.json
"$ROOT/target/release/examples/upload_template" >"$OUT/upload.json"

# 1. The servers, each on a free loopback port: hello, the open-access mock, the same for the mix (its uploads are
#    stored and the store's size must not weigh on the GET rows), the mock behind its gateway.
PIDS=()
trap 'for p in "${PIDS[@]}"; do stop_server "$p"; done' EXIT
start_server "$OUT/hello.url" "$ROOT/target/release/examples/hello_axum"
HELLO_PID=$SERVER_PID HELLO=$SERVER_URL
PIDS+=("$SERVER_PID")
start_server "$OUT/mock.url" "$SCR" mock --open-access
MOCK_PID=$SERVER_PID MOCK=${SERVER_URL%"$BASE_PATH"}
PIDS+=("$SERVER_PID")
start_server "$OUT/mix.url" "$SCR" mock --open-access
MIX_PID=$SERVER_PID MIX=${SERVER_URL%"$BASE_PATH"}
PIDS+=("$SERVER_PID")
start_server "$OUT/gateway.url" "$SCR" mock
GATEWAY_PID=$SERVER_PID GATEWAY=${SERVER_URL%"$BASE_PATH"}
PIDS+=("$SERVER_PID")

# An application-restricted access token from the gateway mock's identity service (client credentials with a
# client assertion minted by `scr-assure token assertion`), fresh before each gateway run (it lives 599 s); kept
# in a variable, never printed.
new_token() {
  local assertion
  assertion=$("$SCR" token assertion --token-url "$GATEWAY/oauth2/token")
  TOKEN=$(curl -sf "$GATEWAY/oauth2/token" \
    --data-urlencode grant_type=client_credentials \
    --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode "client_assertion=$assertion" | jq -r .access_token)
  [[ -n $TOKEN && $TOKEN != null ]] || { echo "load: no access token from the gateway mock" >&2; exit 1; }
}
new_token

# 2. The requests are valid: each answers as expected once (wrk itself only counts non-2xx answers).
check() { # expected status, url, curl args...
  local want=$1 url=$2 got
  shift 2
  got=$(curl -s -o "$OUT/check.body" -w '%{http_code}' "$@" "$url")
  [[ $got == "$want" ]] || { echo "load: $url answered $got, not $want" >&2; cat "$OUT/check.body" >&2; exit 1; }
}
ID_PATH="$BASE_PATH/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number|9995000180"
check 200 "$MOCK$ID_PATH"
grep -q FA60BE64-1F34-11EB-A2A8-000C29A364EB "$OUT/check.body" || { echo "load: the mock is not seeded" >&2; exit 1; }
check 200 "$MOCK$BASE_PATH/Bundle?composition.identifier=FA60BE64-1F34-11EB-A2A8-000C29A364EB&composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9995000180"
DOC_KB=$(( $(wc -c <"$OUT/check.body") / 1000 ))
sed 's/{{nhsNumber}}/9995001047/; s/{{compositionId}}/0C9E5F4A-6B3D-4E2A-9F1B-7D8C6E5A4B3C/; s/{{bundleId}}/5A4B3C2D-1E0F-4A9B-8C7D-6E5F4A3B2C1D/' \
  "$OUT/upload.json" >"$OUT/check.upload"
check 201 "$MIX$BASE_PATH/Bundle" -X POST -H 'Content-Type: application/fhir+json' \
  -H 'NHSD-Session-URID: 555254242102' -H 'Authorization: Bearer bench' --data-binary "@$OUT/check.upload"
check 401 "$GATEWAY$ID_PATH"
check 200 "$GATEWAY$ID_PATH" -H "Authorization: Bearer $TOKEN"

# 3. The runs. A row: name, server URL, workload, connections, threads, token ("gateway": a fresh access token).
ROWS=(
  "hello-get|$HELLO|get|$CONNECTIONS|$THREADS|"
  "mock-get|$MOCK|get|$CONNECTIONS|$THREADS|"
  "gateway-get|$GATEWAY|get|$CONNECTIONS|$THREADS|gateway"
  "hello-get-1|$HELLO|get|1|1|"
  "mock-get-1|$MOCK|get|1|1|"
  "hello-mix|$HELLO|mix|$CONNECTIONS|$THREADS|"
  "mock-mix|$MIX|mix|$CONNECTIONS|$THREADS|"
  "mix-mock-get|$MIX|get|$CONNECTIONS|$THREADS|"
)
wrk_run() { # row, seconds, json out
  local name url workload conns threads bearer
  IFS='|' read -r name url workload conns threads bearer <<<"$1"
  if [[ $bearer == gateway ]]; then
    new_token
    bearer=$TOKEN
  fi
  SCR_BASE_PATH=$BASE_PATH SCR_WORKLOAD=$workload SCR_BEARER=${bearer:-bench} SCR_UPLOAD=$OUT/upload.json \
    WRK_JSON=$3 wrk -t "$threads" -c "$conns" -d "${2}s" -s "$HERE/scr.lua" "$url" >"$3.txt"
}
echo "== warm-up: 2 s per row" >&2
for row in "${ROWS[@]}"; do wrk_run "$row" 2 "$OUT/warmup-${row%%|*}.json"; done
LOAD_START=$(loadavg)
for round in $(seq 1 "$ROUNDS"); do
  for row in "${ROWS[@]}"; do
    name=${row%%|*}
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "== round $round/$ROUNDS: $name (load $load)" >&2
    wrk_run "$row" "$DURATION" "$OUT/$name.$round.raw"
    jq -c --arg load "$load" --arg round "$round" '. + {load: ($load | tonumber), round: ($round | tonumber)}' \
      "$OUT/$name.$round.raw" >"$OUT/$name.$round.json"
    rm -f "$OUT/$name.$round.raw"
  done
done
LOAD_END=$(loadavg)
for who in hello:$HELLO_PID mock:$MOCK_PID mix:$MIX_PID gateway:$GATEWAY_PID; do
  awk '/^VmHWM/ { print $2 }' "/proc/${who#*:}/status" >"$OUT/${who%%:*}.hwm"
done

# 4. Every answer a success, then the median round of each row.
jq -s 'map(select(.errors.status + .errors.connect + .errors.read + .errors.write + .errors.timeout > 0)) | length' \
  "$OUT"/*.[0-9]*.json | grep -qx 0 || { echo "load: some requests failed (see $OUT/*.json)" >&2; exit 1; }
for row in "${ROWS[@]}"; do
  name=${row%%|*}
  jq -s 'map(. + {rps: (.requests / (.duration_us / 1e6))}) | sort_by(.rps) | .[(length / 2 | floor)]' \
    "$OUT/$name".[0-9]*.json >"$OUT/$name.json"
done
v() { jq -r "$2" "$OUT/$1.json"; }
rps() { v "$1" '.rps' | awk '{ printf "%\047.0f", $1 }'; }
lat() { v "$1" ".latency_us.$2" | awk '{ if ($1 >= 1000) printf "%.2f ms", $1 / 1000; else printf "%.0f µs", $1 }'; }
# ratio NAME BASELINE JQ-PATH: the median over the rounds of NAME / BASELINE, each round's pair run back to back
# (so a change of load between rounds moves both sides).
ratio() {
  local round
  for round in $(seq 1 "$ROUNDS"); do
    jq -rn --slurpfile a "$OUT/$1.$round.json" --slurpfile b "$OUT/$2.$round.json" \
      "(\$a[0] | $3) / (\$b[0] | $3)"
  done | sort -g | awk '{ x[NR] = $1 } END { printf "%.2f", NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}
RPS='.requests / (.duration_us / 1e6)'
spread() { # name: the lowest and highest req/s over the rounds
  jq -rs "map($RPS) | \"\\(min | floor)–\\(max | floor)\"" "$OUT/$1".[0-9]*.json
}
row() { # label, name, baseline name ("" for none)
  local r="| $1 | $(rps "$2") | $(spread "$2") | $(lat "$2" p50) | $(lat "$2" p99) | $(v "$2" .load) |"
  if [[ -n $3 ]]; then
    r+=" $(ratio "$2" "$3" "$RPS") | $(ratio "$2" "$3" .latency_us.p50) | $(ratio "$2" "$3" .latency_us.p99) |"
  else
    r+=" | | |"
  fi
  echo "$r"
}
mib() { awk -v x="$(cat "$OUT/$1.hwm")" 'BEGIN { printf "%.0f MiB", x / 1024 }'; }
WRK_VERSION=$( (wrk -v 2>&1 || true) | head -n 1 | cut -d" " -f1-2)
cat >"$OUT/section.md" <<MD
## The mock under load, next to a bare axum hello-world (wrk)

\`benches/load/run.sh\`: four servers on 127.0.0.1 started from release builds — \`examples/hello_axum.rs\` (axum
$(crate_version axum), tokio $(crate_version tokio), the same as the mock's: every path answers \`200 Hello, World!\`), \`scr-assure
mock --open-access\` (twice: one for the GET rows, one for the mix) and \`scr-assure mock\` (gateway on: the access token checked on every request) — loaded by
$WRK_VERSION with \`benches/load/scr.lua\`, $THREADS threads and $CONNECTIONS keep-alive connections (the 1-connection rows:
1 thread, 1 connection) for ${DURATION} s per run, after a 2 s warm-up per row. $ROUNDS rounds, each running every row once
in the order of the table; a row's figures are its median round by req/s, with the 1-minute load average taken
just before that run; a ratio is the median over the rounds of that round's ratio (the two runs of a pair are
back to back, so a change of load between rounds moves both). Workloads: **GET id** = \`GET /DocumentReference\` for the seeded patient 9995000180 with
the headers a clinical system sends (\`Accept\`, \`Authorization\`, \`NHSD-Session-URID\`, \`X-Request-ID\`,
\`X-Correlation-ID\`); **mix** = of every 10 requests 5 GET id, 4 \`GET /Bundle\` (the seeded 48-entry GP Summary,
$DOC_KB kB) and 1 \`POST /Bundle\` (scr-assure's own upload body, $(( $(wc -c <"$OUT/upload.json") / 1000 )) kB compact, \`examples/upload_template.rs\`, with a
fresh SCR id; the mock validates and stores it). The hello-world answers the same requests (reading each
body). Every request of every run answered 2xx (checked). Recorded $(date -u '+%F %H:%M UTC') on $(machine); load
average $LOAD_START at the start, $LOAD_END at the end. Server, load generator and the other sessions on this
machine share its cores.

| server, workload | req/s | req/s, all rounds | latency p50 | latency p99 | load | req/s vs baseline | p50 vs baseline | p99 vs baseline |
|---|---|---|---|---|---|---|---|---|
$(row "hello-world, GET id" hello-get "")
$(row "**mock, GET id** (baseline: hello-world)" mock-get hello-get)
$(row "mock behind its gateway, GET id (baseline: mock)" gateway-get mock-get)
$(row "hello-world, GET id, 1 connection" hello-get-1 "")
$(row "mock, GET id, 1 connection (baseline: hello-world)" mock-get-1 hello-get-1)
$(row "hello-world, mix" hello-mix "")
$(row "**mock, mix** (baseline: hello-world)" mock-mix hello-mix)
$(row "the mix's mock after its mix run, GET id (baseline: mock, GET id)" mix-mock-get mock-get)

The figure is the ratio of req/s, mock / hello-world. The mix runs on its own open-access mock, which stores
every upload (about $(jq -s 'map(.requests) | add / 10 | floor' "$OUT"/mock-mix.[0-9]*.json "$OUT/warmup-mock-mix.json") by the end); the last row loads that mock with GET id after each
mix run, against the mock that holds only the seed. Peak RSS after the runs (VmHWM): hello-world $(mib hello),
open-access mock $(mib mock), the mix's mock $(mib mix), gateway mock $(mib gateway): about
$(awk -v m="$(cat "$OUT/mix.hwm")" -v g="$(cat "$OUT/mock.hwm")" -v n="$(jq -s 'map(.requests) | add / 10' "$OUT"/mock-mix.[0-9]*.json "$OUT/warmup-mock-mix.json")" 'BEGIN { printf "%.0f kB", (m - g) * 1.024 / n }') per stored upload of $(( $(wc -c <"$OUT/upload.json") / 1000 )) kB of JSON (the difference between the two open-access mocks,
over the uploads).

Caveats: the servers, wrk and any other work on the machine share its cores, so the absolute figures depend on
the load (the "all rounds" column shows how much they moved); the ratios come from back-to-back pairs. wrk
measures a closed loop ($CONNECTIONS connections, each waiting for its answer), so the latencies are those of a
saturated server, not of a lone request (the 1-connection rows come closest to that).
Raw: \`target/bench/load/<row>.<round>.json\` (wrk's results, latencies in µs) and \`<row>.<round>.raw.txt\` (wrk's output).
MD
cat "$OUT/section.md"
write_section load-bench "$OUT/section.md"

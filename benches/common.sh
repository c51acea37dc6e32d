# Shared by the benches/*/run.sh scripts (sourced, not run): tools, the machine line, the release binary, the
# section of benches/RESULTS.md a script owns. Every script is automatic and idempotent: it installs what it
# needs, builds what it needs in release, measures, prints its markdown section and writes it into RESULTS.md
# between its own markers.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$ROOT/benches/RESULTS.md
SCR=$ROOT/target/release/scr-assure

# need_apt TOOL PACKAGE: install a Debian package when its command is missing (sudo when not root).
need_apt() {
  local tool=$1 package=$2
  if [[ $tool == /* ]] && [[ -x $tool ]]; then return 0; fi
  if [[ $tool != /* ]] && command -v "$tool" >/dev/null; then return 0; fi
  echo "== installing $package (apt)" >&2
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  if ! "${sudo[@]}" apt-get install -y -q "$package" >&2; then
    "${sudo[@]}" apt-get update -q >&2
    "${sudo[@]}" apt-get install -y -q "$package" >&2
  fi
}

# need TOOL...: fail unless each is on PATH (tools the scripts do not install: cargo, curl, jq, node).
need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "${0##*/}: $tool is needed" >&2; exit 2; }
  done
}

# build_release: the release binary and the examples. Always the same targets: building the binary alone
# would unify dependency features differently (no dev-dependencies) and rebuild it each time.
build_release() {
  echo "== cargo build --release --bin scr-assure --examples" >&2
  (cd "$ROOT" && cargo build --release --locked --bin scr-assure --examples >&2)
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g'; }

# machine: one line of facts for the results (cores, CPU, memory, kernel, rustc).
machine() {
  local cpu mem
  cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^model name[[:space:]]*:[[:space:]]*//')
  mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
  echo "$(nproc) cores ($cpu), $mem, Linux $(uname -r), $(rustc --version | cut -d' ' -f1-2)"
}

# crate_version NAME: the version of a dependency in Cargo.lock (the first one listed).
crate_version() {
  awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# write_section NAME FILE: put FILE between <!-- NAME:start --> and <!-- NAME:end --> in RESULTS.md (appended
# at the end the first time).
write_section() {
  local name=$1 file=$2 start="<!-- $1:start -->" end="<!-- $1:end -->" tmp
  tmp=$(mktemp "$RESULTS.XXXXXX")
  if grep -qF "$start" "$RESULTS" && grep -qF "$end" "$RESULTS"; then
    awk -v start="$start" -v end="$end" -v file="$file" '
      $0 == start { print; while ((getline line < file) > 0) print line; skip = 1; next }
      $0 == end { skip = 0 }
      !skip { print }' "$RESULTS" >"$tmp"
  else
    { cat "$RESULTS"; printf '\n%s\n' "$start"; cat "$file"; printf '%s\n' "$end"; } >"$tmp"
  fi
  mv "$tmp" "$RESULTS"
  echo "== written to benches/RESULTS.md ($name)" >&2
}

# start_server OUTFILE COMMAND...: start a server that prints its base URL on stdout as its first line; sets
# SERVER_PID and SERVER_URL. The caller stops it with stop_server.
start_server() {
  local out=$1
  shift
  "$@" >"$out" 2>"$out.err" &
  SERVER_PID=$!
  local i
  for i in $(seq 1 100); do
    SERVER_URL=$(head -n 1 "$out" 2>/dev/null || true)
    [[ -n $SERVER_URL ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$out.err" >&2; echo "server exited: $*" >&2; exit 1; }
    sleep 0.1
  done
  echo "server did not print its URL: $*" >&2
  exit 1
}

stop_server() {
  local pid=${1:-$SERVER_PID}
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}

# A failing command stops the script (set -e); say which, so no run ends silently.
trap 'echo "${0##*/}: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

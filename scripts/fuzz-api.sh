#!/usr/bin/env bash
# Fuzzes the REST API against its own OpenAPI document with schemathesis:
# starts the built server (target/debug/tally unless TALLY_BIN says) on a
# free loopback port with a fresh database, runs every operation with the
# master key, then the ingest operations with the ingest key. Checks: no
# 5xx, every status and content type is documented, every response
# (the 4xx error bodies included) matches its schema. Fails if the server
# logged a panic.
# Env: TALLY_FUZZ_EXAMPLES (default 50 per operation), TALLY_FUZZ_SEED
# (default fixed, so a CI run is repeatable; set another to explore).
set -euo pipefail
source "$(dirname "$0")/env.sh"

bin=${TALLY_BIN:-target/debug/tally}
st="$PWD/.tools/schemathesis-venv/bin/schemathesis"
examples=${TALLY_FUZZ_EXAMPLES:-50}
seed=${TALLY_FUZZ_SEED:-20261202}
master=fuzz-master-key-0123456789abcdef
ingest=fuzz-ingest-key-0123456789abcdef

[[ -x "$bin" ]] || { echo "[fuzz] $bin is not built" >&2; exit 1; }
[[ -x "$st" ]] || { echo "[fuzz] schemathesis missing: run scripts/bootstrap.sh" >&2; exit 1; }

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MASTER_API_KEY=$master INGEST_API_KEY=$ingest RUST_LOG=warn \
  "$bin" --bind "127.0.0.1:$port" --sqlite-metrics-db-path "$work/metrics.db" --assets-dir dist >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

base="http://127.0.0.1:$port"
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# From the scratch directory: schemathesis keeps its cache in the working directory.
run() {
  (cd "$work" && "$st" run "$base/api/openapi.json" --wait-for-schema 30 --checks "$checks" \
    --phases examples,coverage,fuzzing --max-examples "$examples" --seed "$seed" \
    --workers 2 --no-color "$@") | tee -a "$work/report.txt"
}

echo "[fuzz] every operation, master key"
run -H "x-api-key: $master"
echo "[fuzz] ingest operations, ingest key"
run -H "x-api-key: $ingest" --include-path-regex '^/(api/v1/events/|v1/metrics)'

if grep -q "panicked" "$work/server.log"; then
  echo "[fuzz] the server panicked:" >&2
  grep -A5 "panicked" "$work/server.log" >&2
  exit 1
fi
cases=$(grep -oE '[0-9]+ generated' "$work/report.txt" | awk '{n += $1} END {print n}')
echo "[fuzz] $cases cases, no failures"

#!/usr/bin/env bash
# Bootstraps (runtime tools only), builds the dashboard and the server in
# release mode, and runs Tally. Extra arguments go to the server (`--help`).
# Demo mode is on unless TALLY_DEMO=false: simulated traffic fills the
# dashboard (90 days of history on an empty database, then live events).
set -euo pipefail
source "$(dirname "$0")/env.sh"

scripts/bootstrap.sh --runtime-only
echo "[run] building the dashboard (trunk build --release)"
trunk build --release
echo "[run] building and starting the server"
export TALLY_DEMO="${TALLY_DEMO:-true}"
exec cargo run --release --locked -p tally-server --bin tally -- "$@"

#!/usr/bin/env bash
# Bootstraps (runtime tools only), builds the dashboard and the server in
# release mode, and runs Tally. Extra arguments go to the server (`-- --help`).
set -euo pipefail
source "$(dirname "$0")/env.sh"

scripts/bootstrap.sh --runtime-only
echo "[run] building the dashboard (trunk build --release)"
trunk build --release
echo "[run] building and starting the server"
exec cargo run --release --locked -p tally-server --bin tally -- "$@"

#!/usr/bin/env bash
# Runs the Python producer client's tests (clients/python/tests) in
# .tools/py-client-venv (made by scripts/bootstrap.sh) against the real
# Tally binary: TALLY_BIN, default target/debug/tally. Each test starts its
# own Tally on a free loopback port with a fresh database.
# Arguments go to pytest, e.g. `scripts/test-python-client.sh -k restart`.
set -euo pipefail
source "$(dirname "$0")/env.sh"

venv="$PWD/.tools/py-client-venv"
export TALLY_BIN=${TALLY_BIN:-$PWD/target/debug/tally}
[[ -x "$venv/bin/pytest" ]] || { echo "[py-client] $venv is missing: run scripts/bootstrap.sh" >&2; exit 1; }
[[ -x "$TALLY_BIN" ]] || { echo "[py-client] $TALLY_BIN is not built: cargo build --bins" >&2; exit 1; }

cd clients/python
exec "$venv/bin/pytest" -q -p no:cacheprovider "$@"

#!/usr/bin/env bash
# Bootstraps, lints (server and wasm32 feature sets), builds the dashboard
# once, fuzzes the REST API against its OpenAPI document (schemathesis), and
# runs every test, the headless-Chromium ones included.
set -euo pipefail
source "$(dirname "$0")/env.sh"

step() { printf '\n[test] %s\n' "$*"; }

scripts/bootstrap.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy: server feature set (app/ssr, server, tests)"
cargo clippy --locked --all-targets -- -D warnings

step "clippy: browser feature set (app/csr, frontend) for wasm32"
cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

step "trunk build --release (the dashboard the tests load)"
trunk build --release

step "cargo build --bins (the binary the crash tests start)"
cargo build --locked --bins

log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "python client tests against the real binary"
scripts/test-python-client.sh 2>&1 | tee -a "$log"

step "schemathesis: every REST operation against /api/openapi.json, live server"
scripts/fuzz-api.sh

step "benchmark harness, quick mode (keeps it working; asserts nothing about speed)"
cargo run --locked -q -p bench -- all --quick --binary target/debug/tally --out target/bench/quick.json

step "cargo test"
cargo test --locked 2>&1 | tee -a "$log"
# One closing line with the totals of every test binary and of pytest.
awk '/^test result:/ { p += $4; f += $6 }
  /^[0-9]+ (passed|failed).* in [0-9.]+s/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p += $(i - 1); if ($i ~ /^failed/) f += $(i - 1) } }
  END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"

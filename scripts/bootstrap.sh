#!/usr/bin/env bash
# Installs every tool Tally needs to build, run and test on a fresh Debian
# machine, from the package registries only (crates.io, npm, PyPI, Debian).
# Idempotent: each step checks what is present and skips it.
# Usage: scripts/bootstrap.sh [--runtime-only]
#   --runtime-only  skip the test-only system packages (redis, prometheus, chromium)
set -euo pipefail

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132.0.0
AXE_CORE_VERSION=4.11.0

repo=$(cd "$(dirname "$0")/.." && pwd)
runtime_only=false
[[ "${1:-}" == "--runtime-only" ]] && runtime_only=true

say() { printf '[bootstrap] %s\n' "$*"; }

export PATH="$HOME/.cargo/bin:$repo/.tools/node_modules/.bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

if ! command -v cargo >/dev/null; then
  say "cargo not found: install Rust with rustup first" >&2
  exit 1
fi

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "wasm32-unknown-unknown target: present"
else
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION\$"; then
  say "trunk $TRUNK_VERSION: present"
else
  say "installing trunk $TRUNK_VERSION from crates.io (several minutes)"
  cargo install trunk --version "=$TRUNK_VERSION" --locked
fi

if wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  say "wasm-bindgen $WASM_BINDGEN_VERSION: present"
else
  # --locked fails for this version: a pinned dependency is gone from crates.io.
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io"
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi

# Debian's binaryen (108) emits WASM that Chromium rejects; use npm's.
if [[ -x "$repo/.tools/node_modules/.bin/wasm-opt" ]] \
  && "$repo/.tools/node_modules/.bin/wasm-opt" --version | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  say "wasm-opt (binaryen $BINARYEN_VERSION): present"
else
  if ! command -v npm >/dev/null; then
    say "installing nodejs + npm (apt)"
    apt-get update -qq && apt-get install -y -qq nodejs npm
  fi
  say "installing binaryen $BINARYEN_VERSION from npm into .tools/"
  npm install --silent --no-audit --no-fund --prefix "$repo/.tools" "binaryen@$BINARYEN_VERSION"
fi

# axe-core: the accessibility rules the headless-Chromium tests run.
if ! $runtime_only; then
  if [[ "$(node -p "require('$repo/.tools/node_modules/axe-core/package.json').version" 2>/dev/null)" == "$AXE_CORE_VERSION" ]]; then
    say "axe-core $AXE_CORE_VERSION: present"
  else
    say "installing axe-core $AXE_CORE_VERSION from npm into .tools/"
    npm install --silent --no-audit --no-fund --prefix "$repo/.tools" "axe-core@$AXE_CORE_VERSION"
  fi
fi

if ! $runtime_only; then
  missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  if ((${#missing[@]})); then
    say "installing ${missing[*]} (apt)"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # The Debian prometheus package starts a system service; tests start their own.
    if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
      systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
    fi
  else
    say "redis-server, promtool, chromium, chromedriver: present"
  fi
fi

# The OpenTelemetry Python SDK, for the OTLP interop test (PyPI only).
OTEL_PY_VERSION=1.45.2
venv="$repo/.tools/otel-venv"
if ! $runtime_only; then
  if [[ -x "$venv/bin/python" ]] \
    && "$venv/bin/python" -c "import opentelemetry.sdk.version as v, sys; sys.exit(v.__version__ != '$OTEL_PY_VERSION')" 2>/dev/null; then
    say "OpenTelemetry Python SDK $OTEL_PY_VERSION: present"
  else
    say "installing the OpenTelemetry Python SDK $OTEL_PY_VERSION into .tools/otel-venv (PyPI)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "opentelemetry-sdk==$OTEL_PY_VERSION" "opentelemetry-exporter-otlp-proto-http==$OTEL_PY_VERSION"
  fi
fi

# schemathesis, the fuzzer the test command runs against the OpenAPI document (PyPI only).
SCHEMATHESIS_VERSION=4.32.5
st_venv="$repo/.tools/schemathesis-venv"
if ! $runtime_only; then
  if [[ -x "$st_venv/bin/schemathesis" ]] \
    && "$st_venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION"; then
    say "schemathesis $SCHEMATHESIS_VERSION: present"
  else
    say "installing schemathesis $SCHEMATHESIS_VERSION into .tools/schemathesis-venv (PyPI)"
    python3 -m venv "$st_venv"
    "$st_venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
fi

# The Python producer client (clients/python), installed editable from the
# repository, with what its tests use (PyPI only).
PY_CLIENT_PINS=(httpx==0.28.1 pytest==9.2.0 fastapi==0.163.2 starlette==1.10.0 uvicorn==0.54.0)
pc_venv="$repo/.tools/py-client-venv"
if ! $runtime_only; then
  if [[ -x "$pc_venv/bin/python" ]] && "$pc_venv/bin/python" -c '
import sys, pathlib, importlib.metadata as md
import tally_client
pins = dict(pin.split("==") for pin in sys.argv[2:])
here = pathlib.Path(tally_client.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[1]).resolve())
sys.exit(not here or any(md.version(name) != version for name, version in pins.items()))
' "$repo/clients/python" "${PY_CLIENT_PINS[@]}" 2>/dev/null; then
    say "Python client venv (${PY_CLIENT_PINS[*]}): present"
  else
    say "installing the Python client and ${PY_CLIENT_PINS[*]} into .tools/py-client-venv (PyPI)"
    python3 -m venv "$pc_venv"
    "$pc_venv/bin/pip" install --quiet --disable-pip-version-check "${PY_CLIENT_PINS[@]}" -e "$repo/clients/python"
  fi
fi

say "done"

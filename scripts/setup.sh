#!/usr/bin/env bash
# Installs whatever this project needs and is missing; quick when everything is there.
# Safe to run again. Used by the README's two commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130 # must equal the `wasm-bindgen = "=…"` pin in Cargo.toml
say() { printf '[setup] %s\n' "$*"; }

# A clean build with every test needs ~12 GB under target/ and a few more under /tmp; say so early rather than fail
# every step with "No space left on device".
free_gb=$(df -Pk . | awk 'NR == 2 {print int($4 / 1048576)}')
if [ "${free_gb:-0}" -lt 15 ]; then
  say "warning: only ${free_gb} GB free on $(df -P . | awk 'NR == 2 {print $6}'); a clean build and test run needs about 15 GB"
fi
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The browser payload's build (scripts/build.sh) uses this nightly, with rust-src, to rebuild the standard library for
# size; ~20 s to install (the image's floating `nightly`, if any, is not relied on).
WASM_TOOLCHAIN=nightly-2026-05-20 # keep equal to scripts/build.sh's
if ! rustup component list --toolchain "$WASM_TOOLCHAIN" --installed 2>/dev/null | grep -q '^rust-src'; then
  say "installing $WASM_TOOLCHAIN with rust-src for the wasm build (about 20 s)"
  rustup -q toolchain install "$WASM_TOOLCHAIN" --profile minimal --component rust-src
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2.5 minutes)"
  # Not --locked: the registry index lacks one pinned transitive version of the CLI's lockfile.
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  say "installing chromium and chromium-driver from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Redis for the multi-node tests (server/tests/multi_node*.rs): scripts/test.sh starts its own redis-server on a free
# port of 127.0.0.1 with no persistence, and stops it when done; the package's own service is not used.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  say "installing redis-server from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi

# PostgreSQL for the store tests on Postgres (`--database postgres://…`): scripts/test.sh initialises a private
# cluster (target/pg, or a directory in /tmp as root) on a free port of 127.0.0.1 and stops it when done; the
# package's own service is not used.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing postgresql from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
# openssl makes the throwaway certificates of the TLS tests (Postgres and Redis over TLS, tests/tls_stores.rs).
if ! command -v openssl >/dev/null; then
  say "installing openssl from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi

# npm packages: reinstall only when the lockfile changed since the last install. `npm ci` installs exactly the
# lockfile and never rewrites it; the lockfile holds every platform's optional packages (esbuild, rollup, rolldown,
# lightningcss, …), so it is in sync on any machine (js/tests/lockfile.test.mjs keeps it complete).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Python: the official cloudflare SDK and the webhook receiver's crypto, pinned, in .venv.
if [ ! -x .venv/bin/python ] || [ tests/python/requirements.txt -nt .venv/.installed ]; then
  say "creating .venv with tests/python/requirements.txt"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
  touch .venv/.installed
fi

say "ready"

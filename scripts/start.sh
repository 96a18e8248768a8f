#!/usr/bin/env bash
# The README's main command: installs what is missing, builds the package and the server, and starts the demo on
# the embedded default (one server process, one SQLite file under ./data, nothing else to start).
# Usage: bash scripts/start.sh    (env LISTEN=127.0.0.1:8787, DATA=./data)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/setup.sh
echo "[start] building the package (wasm + JS) and the server"
npm run -s build
bash scripts/demo-build.sh # the demo page's React and Angular panels, into www/build/
cargo build -q --release -p endsession-server
exec "${CARGO_TARGET_DIR:-target}/release/endsession-server" --dev \
  --listen "${LISTEN:-127.0.0.1:8787}" --data "${DATA:-./data}" "$@"

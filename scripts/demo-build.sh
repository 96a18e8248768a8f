#!/usr/bin/env bash
# Builds the demo page's framework panels (www/ serves them; the Web Component panel needs no build):
#   React:   Vite            www/apps/react/   → www/build/react/react-panel.js (+ assets/endsession_bg.wasm)
#   Angular: @angular/build  www/apps/angular/ → www/build/angular/main.js      (+ wasm/endsession_bg.wasm, copied)
# Both import `endsession` from this workspace's dist/ (run `npm run build` first). A panel is rebuilt only when one
# of its inputs (its sources, www/apps/bus.ts, dist/) is newer than its output.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -f dist/index.js ] || { echo "[demo-build] dist/ is missing: run npm run build first" >&2; exit 1; }

# stale OUTPUT INPUT...: true when OUTPUT is missing or an input file is newer.
stale() {
  local out=$1
  shift
  [ ! -f "$out" ] || [ -n "$(find "$@" -newer "$out" -type f -print -quit)" ]
}

if stale www/build/react/react-panel.js www/apps/react www/apps/bus.ts dist; then
  echo "[demo-build] React panel (Vite)"
  node_modules/.bin/vite build --config www/apps/react/vite.config.ts
fi

if stale www/build/angular/main.js www/apps/angular www/apps/bus.ts dist; then
  echo "[demo-build] Angular panel (@angular/build, zoneless)"
  log=$(mktemp)
  (cd www/apps/angular && NG_CLI_ANALYTICS=false ../../../node_modules/.bin/ng build >"$log" 2>&1) || {
    cat "$log"
    exit 1
  }
  rm -f "$log"
  # The bundle fetches the wasm next to itself (new URL('./wasm/endsession_bg.wasm', import.meta.url)).
  mkdir -p www/build/angular/wasm
  cp dist/wasm/endsession_bg.wasm www/build/angular/wasm/
  rm -f www/build/angular/3rdpartylicenses.txt www/build/angular/prerendered-routes.json
  touch www/build/angular/main.js
fi

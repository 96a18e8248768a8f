#!/usr/bin/env bash
# Builds the npm package into dist/ (what package.json `exports` names): `npm run build`.
#   1. the wasm crate with the size profile:   cargo +nightly-2026-05-20 build -p endsession --profile wasm
#                                              --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort, with
#                                              RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" (see below)
#   2. the JS glue:                            wasm-bindgen --target web → dist/wasm/
#   3. the wasm, smaller:                      wasm-opt -Oz --converge, in place; then short import and export
#                                              names in the wasm and the glue (scripts/short-wasm-names.mjs)
#   4. the TypeScript layer:                   tsc → dist/*.js + dist/*.d.ts
# JSDoc blocks are stripped from the shipped .js (the .d.ts keep them); the core payload's modules (the glue and the
# root entry's modules, what bench/size counts against the budget) are minified by esbuild, one file at a time, as a
# bundler would: exports keep their names. Steps whose inputs did not change are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

TARGET="${CARGO_TARGET_DIR:-target}"
WASM="$TARGET/wasm32-unknown-unknown/wasm/endsession.wasm"
OUT=dist/wasm
# The features rustc enables by default for wasm32-unknown-unknown; wasm-opt must know them to read the module.
FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals
  --enable-reference-types --enable-multivalue)

# Minifies ES modules in place, file by file (no bundling: imports stay as they are). Not load.js: esbuild drops the
# `webpackIgnore` / `@vite-ignore` comments of its dynamic import, which bundlers need. Not the framework bindings
# (Angular's linker reads its declarations as the compiler wrote them).
minify() {
  for file in "$@"; do
    node_modules/.bin/esbuild "$file" --minify --format=esm --log-level=warning --outfile="$file" --allow-overwrite
  done
}

# Removes /** … */ blocks and whole-line // comments (and the blank lines they leave) from emitted JavaScript;
# inline /* … */ comments stay, such as the bundler hints in index.js.
strip_jsdoc() {
  node -e '
    const fs = require("fs");
    for (const file of process.argv.slice(1)) {
      const text = fs.readFileSync(file, "utf8");
      const out = text
        .replace(/^[ \t]*\/\*\*[\s\S]*?\*\/[ \t]*\n/gm, "")
        .replace(/^[ \t]*\/\/.*\n/gm, "")
        .replace(/\n{2,}/g, "\n");
      if (out !== text) fs.writeFileSync(file, out);
    }' "$@"
}

# The browser payload is built with a pinned nightly (scripts/setup.sh installs it with rust-src) that rebuilds the
# standard library with the crate, at the wasm profile's opt-level "z", with `panic=immediate-abort`: a panic traps
# at once, as `panic = "abort"` already makes it do, but without first formatting its message for the panic hook. On
# wasm32-unknown-unknown that message goes nowhere (no stderr, and no hook prints it). Together (no core::fmt, no
# std panic machinery, no panic locations, dlmalloc and alloc at opt-level "z") 3.7 KB of the wasm's gzip -9: with
# the default allocator, stable's prebuilt std puts the payload over its 32 KB budget (35,803 B; bench/size,
# BENCHMARKS.md). The tests, clippy and the server use stable; only these release bytes come from the nightly.
WASM_TOOLCHAIN=nightly-2026-05-20 # keep equal to scripts/setup.sh's
if ! rustup component list --toolchain "$WASM_TOOLCHAIN" --installed 2>/dev/null | grep -q '^rust-src'; then
  echo "[build] the wasm build needs $WASM_TOOLCHAIN with rust-src: run bash scripts/setup.sh" >&2
  exit 1
fi
RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" cargo "+$WASM_TOOLCHAIN" build -q -p endsession \
  --profile wasm --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort

if [ ! -f "$OUT/endsession_bg.wasm" ] || [ ! -f "$OUT/endsession.js" ] || [ "$WASM" -nt "$OUT/endsession_bg.wasm" ]; then
  rm -rf "$OUT"
  # The loader always passes the module, so the glue needs no default path; encodeInto exists in every target.
  wasm-bindgen --target web --omit-default-module-path --encode-into always --out-dir "$OUT" "$WASM"
  node_modules/.bin/wasm-opt -Oz --converge --strip-producers --strip-target-features "${FEATURES[@]}" \
    "$OUT/endsession_bg.wasm" -o "$OUT/endsession_bg.wasm"
  strip_jsdoc "$OUT/endsession.js"
  minify "$OUT/endsession.js"
  node scripts/short-wasm-names.mjs "$OUT/endsession_bg.wasm" "$OUT/endsession.js"
  # wasm-bindgen declares `[Symbol.dispose]` on every class, which type-checks only with TypeScript's
  # `esnext.disposable` lib. The public .d.ts import the vocabulary (RoomState, EndState, ...) from this file, so an
  # app on `lib: ES2022` without skipLibCheck would fail on it; WasmMeeting is internal (never handed out), so the
  # member leaves its declaration (the method stays in the glue).
  sed -i '/^    \[Symbol\.dispose\]()/d' "$OUT/endsession.d.ts"
fi

if [ ! -f dist/index.js ] || [ -n "$(find js tsconfig.json "$OUT/endsession.d.ts" -newer dist/index.js -not -path 'js/tests*' | head -n 1)" ]; then
  node_modules/.bin/tsc -p tsconfig.json
  strip_jsdoc $(find dist -name "*.js" -not -path "dist/wasm/*")
  minify $(find dist -maxdepth 1 -name '*.js' ! -name load.js ! -name webhooks.js)
  touch dist/index.js
fi

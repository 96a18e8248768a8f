#!/usr/bin/env bash
# Runs every test of the project: lints, Rust (native), wasm in headless Chromium, Node, Python (official
# cloudflare SDK), Playwright end-to-end. Ends with one plain `N passed, N failed` line summing every runner.
# Usage: bash scripts/test.sh            (the README's test command; .ci/run calls it)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/setup.sh || exit 1

TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
LOGS="$TARGET/test-logs"
mkdir -p "$LOGS"
passed=0
failed=0
problems=()
servers=()
stop_postgres=() # the command that stops the private Postgres cluster, once started (start_postgres)
postgres_dir=""  # and its directory, removed after
cleanup() {
  for pid in "${servers[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null; done
  if [ ${#stop_postgres[@]} -gt 0 ]; then "${stop_postgres[@]}" >/dev/null 2>&1; fi
  if [ -n "$postgres_dir" ]; then rm -rf "$postgres_dir"; fi
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
fail_step() { failed=$((failed + 1)); problems+=("$1"); printf '!! %s\n' "$1"; }
tally() { # tally NAME PASSED FAILED EXIT_CODE
  local name=$1 p=$2 f=$3 rc=$4
  printf -- '-- %s: %s passed, %s failed\n' "$name" "$p" "$f"
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$f" -gt 0 ]; then problems+=("$name: $f failed"); fi
  # A runner that failed without naming a failed test (a build error, a crash) still fails the run.
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail_step "$name exited with $rc (see $LOGS)"; fi
  if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ]; then fail_step "$name ran no test"; fi
}
# Sums cargo's `test result: ok. N passed; M failed` lines of a log.
cargo_counts() { awk '/^test result:/ {for (i = 1; i <= NF; i++) {if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i}} END {print p+0, f+0}' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_server PORT LOG: a --dev server on a fresh data dir; waits for its `listening on` line.
start_server() {
  local port=$1 log=$2 data
  data=$(mktemp -d)
  "$TARGET/release/endsession-server" --dev --listen "127.0.0.1:$port" --data "$data" >"$log" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 100); do
    grep -q 'listening on' "$log" && return 0
    sleep 0.1
  done
  echo "server did not start; its log:" && cat "$log"
  return 1
}

say "lint"
cargo fmt --all -- --check >"$LOGS/fmt.log" 2>&1 || fail_step "cargo fmt --check (run cargo fmt --all)"
cargo clippy -q --workspace --all-targets -- -D warnings >"$LOGS/clippy.log" 2>&1 || fail_step "cargo clippy (see $LOGS/clippy.log)"
cargo clippy -q -p endsession --target wasm32-unknown-unknown --all-targets -- -D warnings >"$LOGS/clippy-wasm.log" 2>&1 ||
  fail_step "cargo clippy for wasm32 (see $LOGS/clippy-wasm.log)"
npx prettier --check --log-level warn "js/**/*.{ts,tsx,mjs}" "www/**/*.{js,html,css}" "tests/e2e/**/*.ts" >"$LOGS/prettier.log" 2>&1 ||
  fail_step "prettier --check (run npm run format)"

say "build"
if ! npm run -s build >"$LOGS/build.log" 2>&1; then
  cat "$LOGS/build.log"
  fail_step "npm run build"
fi
if ! bash scripts/demo-build.sh >"$LOGS/demo-build.log" 2>&1; then
  cat "$LOGS/demo-build.log"
  fail_step "scripts/demo-build.sh (the demo page's React and Angular panels)"
fi
if ! cargo build -q --release -p endsession-server >"$LOGS/server-build.log" 2>&1; then
  cat "$LOGS/server-build.log"
  fail_step "cargo build --release -p endsession-server"
fi

# start_redis: a private redis-server for the multi-node tests, on a free port, nothing written to disk; sets
# ENDSESSION_TEST_REDIS. ENDSESSION_REQUIRE_REDIS makes those tests fail, not skip, if it did not start.
start_redis() {
  local port dir
  port=$(free_port)
  dir="$TARGET/redis"
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" >"$LOGS/redis.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 100); do
    if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
      export ENDSESSION_TEST_REDIS="redis://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "redis-server did not start; its log:" && cat "$LOGS/redis.log"
  return 1
}
export ENDSESSION_REQUIRE_REDIS=1
start_redis || fail_step "redis-server for the multi-node tests did not start"

# make_test_certificates DIR: a throwaway certificate authority (DIR/ca.crt) and a certificate it signed for
# 127.0.0.1 (DIR/server.crt, key DIR/server.key, readable by its owner only, as Postgres requires), valid 2 days.
make_test_certificates() {
  local tls=$1
  mkdir -p "$tls" || return 1
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=endsession-test-ca \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" || return 1
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$tls/server.key" -out "$tls/server.csr" || return 1
  printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/san.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
    -extfile "$tls/san.ext" -out "$tls/server.crt" || return 1
  chmod 600 "$tls/server.key"
}

# start_postgres: a private PostgreSQL cluster for the store tests on Postgres, in a new directory (target/pg, or one
# in /tmp as root), on a free port of 127.0.0.1 with trust authentication and its socket in the cluster's directory;
# stopped and removed at exit.
# Sets ENDSESSION_TEST_DATABASE_URL to its `postgres` database: each test creates a database of its own there.
# ENDSESSION_REQUIRE_POSTGRES makes those tests fail, not skip, if it did not start. Postgres refuses to run as
# root, so as root (CI) the cluster belongs to the `postgres` user the Debian package creates.
start_postgres() {
  local port dir bin as=()
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$bin/initdb" ] || { echo "no PostgreSQL server under /usr/lib/postgresql (scripts/setup.sh installs it)"; return 1; }
  port=$(free_port)
  if [ "$(id -u)" -eq 0 ]; then
    # The `postgres` user may not reach into the checkout (e.g. under /root): a directory of its own in /tmp.
    dir=$(mktemp -d /tmp/endsession-pg.XXXXXX)
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  else
    dir="$TARGET/pg"
    rm -rf "$dir" && mkdir -p "$dir"
  fi
  if ! "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$LOGS/pg-initdb.log" 2>&1; then
    echo "initdb failed; its log:" && cat "$LOGS/pg-initdb.log"
    return 1
  fi
  # TLS beside plain connections (tests/tls_stores.rs connects with sslmode=verify-full): a throwaway CA of its own
  # and a certificate for 127.0.0.1, made with openssl; ENDSESSION_TEST_TLS_DIR names them for the tests.
  if ! make_test_certificates "$dir/tls" >"$LOGS/pg-tls.log" 2>&1; then
    echo "could not make the test certificates; the log:" && cat "$LOGS/pg-tls.log"
    return 1
  fi
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir/tls"
  # fsync off: a test cluster thrown away at exit need not survive a power cut, and the disk is shared.
  if ! "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300 -c ssl=on \
        -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key" start >/dev/null; then
    echo "postgres did not start; its log:" && cat "$dir/postgres.log"
    return 1
  fi
  stop_postgres=("${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop)
  postgres_dir="$dir"
  export ENDSESSION_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export ENDSESSION_TEST_TLS_DIR="$dir/tls"
}
export ENDSESSION_REQUIRE_POSTGRES=1
start_postgres || fail_step "postgres for the store tests on Postgres did not start"

say "rust (native): cargo test --workspace"
cargo test --workspace >"$LOGS/cargo.log" 2>&1
rc=$?
tail -n 5 "$LOGS/cargo.log"
# On a failure: each failed test's name, and the first lines of what it printed (its panic message).
[ $rc -ne 0 ] && awk '/^---- .* stdout ----$/ {n = 25} n > 0 {print; n--; next} /^test .* FAILED$|^error/' "$LOGS/cargo.log" \
  | head -120
read -r p f < <(cargo_counts "$LOGS/cargo.log")
tally "cargo test" "$p" "$f" "$rc"

say "wasm in headless Chromium: wasm-bindgen-test"
port=$(free_port)
if start_server "$port" "$LOGS/wasm-server.log"; then
  ENDSESSION_TEST_SERVER="http://127.0.0.1:$port" CHROMEDRIVER=/usr/bin/chromedriver \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p endsession --target wasm32-unknown-unknown --tests >"$LOGS/wasm.log" 2>&1
  rc=$?
  tail -n 5 "$LOGS/wasm.log"
  read -r p f < <(cargo_counts "$LOGS/wasm.log")
  tally "wasm-bindgen-test" "$p" "$f" "$rc"
else
  fail_step "server for the wasm tests did not start"
fi

if compgen -G "js/tests/*.test.mjs" >/dev/null; then
  say "node: node --test"
  # Every test and hook has a deadline (5 min), so a file that cannot finish fails instead of holding the run.
  node --test --test-timeout=300000 $(ls js/tests/*.test.mjs | grep -v -e cloudflare-sdk -e countdown -e nodes-) \
    >"$LOGS/node.log" 2>&1
  rc=$?
  tail -n 9 "$LOGS/node.log"
  p=$(awk '/^# pass/ {print $3}' "$LOGS/node.log")
  f=$(awk '/^# fail/ {print $3}' "$LOGS/node.log")
  tally "node --test" "${p:-0}" "${f:-0}" "$rc"
fi

if [ -f js/tests/cloudflare-sdk.test.mjs ]; then
  say "node: the official cloudflare npm SDK, our client's countdown, and several nodes, against real servers (node --test)"
  # It starts its own release server and joins participants over WebSockets, which Node 20 has only behind this
  # flag (Node 22 has them by default and still accepts it). A step of its own: the other Node tests expect no
  # WebSocket global. The countdown*.test.mjs and nodes-*.test.mjs files join real participants with our client the
  # same way (nodes-*: three server processes on the private redis-server started above). The timeout also bounds
  # each file as a whole: nodes-break-redis-loss takes about 6 minutes.
  node --experimental-websocket --test --test-timeout=900000 js/tests/cloudflare-sdk.test.mjs js/tests/countdown*.test.mjs \
    js/tests/nodes-*.test.mjs >"$LOGS/node-sdk.log" 2>&1
  rc=$?
  tail -n 9 "$LOGS/node-sdk.log"
  p=$(awk '/^# pass/ {print $3}' "$LOGS/node-sdk.log")
  f=$(awk '/^# fail/ {print $3}' "$LOGS/node-sdk.log")
  tally "node --test (cloudflare SDK, countdown, nodes)" "${p:-0}" "${f:-0}" "$rc"
fi

if compgen -G "tests/python/test_*.py" >/dev/null; then
  say "python: pytest (official cloudflare SDK)"
  .venv/bin/python -m pytest -q -p no:cacheprovider tests/python >"$LOGS/pytest.log" 2>&1
  rc=$?
  tail -n 15 "$LOGS/pytest.log"
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$LOGS/pytest.log" | tail -n 1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
  f=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$line" | awk '{s += $1} END {print s+0}')
  tally "pytest" "${p:-0}" "${f:-0}" "$rc"

  say "python: pytest again, every server's store on Postgres (--database)"
  if [ -n "${ENDSESSION_TEST_DATABASE_URL:-}" ]; then
    ENDSESSION_PYTEST_DATABASE_URL="$ENDSESSION_TEST_DATABASE_URL" \
      .venv/bin/python -m pytest -q -p no:cacheprovider tests/python >"$LOGS/pytest-postgres.log" 2>&1
    rc=$?
    tail -n 15 "$LOGS/pytest-postgres.log"
    line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$LOGS/pytest-postgres.log" | tail -n 1)
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
    f=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$line" | awk '{s += $1} END {print s+0}')
    tally "pytest (Postgres)" "${p:-0}" "${f:-0}" "$rc"
  else
    fail_step "pytest on Postgres: no Postgres was started"
  fi
fi

say "end-to-end: playwright"
# A free port for the run's server (playwright.config.ts), so two runs on one machine do not collide.
ENDSESSION_E2E_PORT="${ENDSESSION_E2E_PORT:-$(free_port)}" PLAYWRIGHT_JSON_OUTPUT_NAME="$LOGS/playwright.json" npx playwright test --reporter=line,json >"$LOGS/playwright.log" 2>&1
rc=$?
tail -n 30 "$LOGS/playwright.log"
read -r p f < <(node -e '
  const fs = require("fs");
  try { const s = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).stats;
        console.log((s.expected || 0) + (s.flaky || 0), s.unexpected || 0); } catch { console.log(0, 0); }' "$LOGS/playwright.json")
tally "playwright" "$p" "$f" "$rc"

echo
# The names (and first error lines) of the failed tests, so the tail of the run says which ones they were.
for log in node node-sdk pytest pytest-postgres; do
  [ -f "$LOGS/$log.log" ] || continue
  if grep -qE '^\s*not ok|^(FAILED|ERROR) ' "$LOGS/$log.log"; then
    echo "Failed in $log.log:"
    grep -E -A 8 '^\s*not ok|^(FAILED|ERROR) ' "$LOGS/$log.log" | grep -vE '^\s*(duration_ms|type|---|\.\.\.)' | head -n 60
  fi
done
if [ -f "$LOGS/playwright.log" ] && grep -qE '^\s+[0-9]+\) ' "$LOGS/playwright.log"; then
  echo "Failed in playwright.log:"
  grep -E -A 12 '^\s+[0-9]+\) ' "$LOGS/playwright.log" | head -n 60
fi
if [ ${#problems[@]} -gt 0 ]; then
  echo "Problems:"
  printf '  %s\n' "${problems[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

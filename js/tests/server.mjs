// A real release endsession-server for the Node tests that talk to one (cloudflare-sdk, standard-webhooks): started
// on a free loopback port with a temporary data dir, an API token and `--webhook-targets any` (their webhook
// receivers are on this machine, which the default policy refuses). Not a test file itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const binary =
  process.env.ENDSESSION_SERVER_BIN ??
  join(resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), 'release/endsession-server');

/** How long a test waits for anything (ms). */
export const DEADLINE_MS = 10_000;

/** Resolves with `check()`'s first truthy value, polled every 20 ms; rejects after `ms` naming `what`. */
export async function until(what, check, ms = DEADLINE_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

/**
 * One call of `account`'s RealtimeKit REST API on the server at `baseURI`, with the API token `secret`; resolves
 * `{ status, json }` (`json` null if the body is not JSON). `body` is sent as JSON, `rawBody` (if given) as is.
 */
export async function kitRaw(baseURI, account, secret, method, path, body, rawBody) {
  const response = await fetch(`${baseURI}/client/v4/accounts/${account}/realtime/kit${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: rawBody !== undefined ? rawBody : body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(DEADLINE_MS),
  });
  return { status: response.status, json: await response.json().catch(() => null) };
}

/** As {@link kitRaw}, resolving the answer's `data`; fails the test unless the answer says `success`. */
export async function kitApi(baseURI, account, secret, method, path, body) {
  const { status, json } = await kitRaw(baseURI, account, secret, method, path, body);
  assert.equal(json?.success, true, `${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json.data;
}

/** A free loopback port, as the OS hands it out. */
export async function freePort() {
  const probe = createServer();
  await new Promise((ok) => probe.listen(0, '127.0.0.1', ok));
  const { port } = probe.address();
  await new Promise((ok) => probe.close(ok));
  return port;
}

/**
 * Starts the server with the API token `account:secret:Realtime Admin`; resolves once it listens with
 * `{ baseURI, stop }` (`stop()` kills it and removes its data dir; see there).
 */
export async function startServer(account, secret) {
  assert.ok(existsSync(binary), `${binary} is missing: cargo build --release -p endsession-server`);
  const data = mkdtempSync(join(tmpdir(), 'endsession-node-test-'));
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--data', data];
  args.push('--api-token', `${account}:${secret}:Realtime Admin`, '--webhook-targets', 'any');
  const server = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (b) => (log += b));
  server.stderr.on('data', (b) => (log += b));
  await until(
    '`listening on` from the server',
    () => log.includes('listening on') || server.exitCode !== null,
  );
  assert.equal(server.exitCode, null, `the server exited: ${log}`);
  return {
    baseURI: `http://127.0.0.1:${port}`,
    /**
     * Kills the server and, once it has exited, removes its data dir; never throws, so an `after` hook that calls
     * it goes on to close what else it holds (a hook that threw left a receiver open and the test file running).
     * Resolves when the dir is gone. Removing before the exit raced the server's last WAL writes (ENOTEMPTY).
     */
    stop() {
      const exited =
        server.exitCode !== null || server.signalCode !== null
          ? Promise.resolve()
          : new Promise((ok) => server.once('exit', ok));
      server.kill();
      return exited.then(() => {
        try {
          rmSync(data, { recursive: true, force: true, maxRetries: 5 });
        } catch (error) {
          console.error(`could not remove ${data}: ${error}`);
        }
      });
    },
  };
}

// The harness of the nodes-break-*.test.mjs files (not a test file itself). Trying to break several nodes (issue 14, README "Several nodes") as a user would: three release nodes on one
// shared --data directory and a redis-server this file starts itself (so that it can restart it), each node
// reaching Redis through a TCP relay the test can cut (a network cut between one node and Redis), each participant
// (our npm client) through a balancer port of its own that prefers its home node and falls over to the others, and
// can be severed (the participant's network gone). Webhooks verified with the `standardwebhooks` package.
// Skipped with a message when redis-server is missing.
import { DEADLINE_MS, freePort, until } from './server.mjs';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createServer as createTcpServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { cancelEnd, initMeeting, kickAll, on } from 'endsession';

const root = fileURLToPath(new URL('../../', import.meta.url));
const binary =
  process.env.ENDSESSION_SERVER_BIN ??
  join(resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), 'release/endsession-server');
export const skip =
  spawnSync('redis-server', ['--version']).status === 0 ? false : 'redis-server is not installed';
export const account = 'break-account';
export const secret = randomBytes(16).toString('hex');
/** The store's one write lock on Postgres (server/src/store/mod.rs `WRITE_LOCK`). */
export const WRITE_LOCK = 28550350359589742n;
export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

export const clusters = [];
export const postgres = process.env.ENDSESSION_TEST_DATABASE_URL;
export const skipPostgres =
  skip ||
  (postgres || process.env.ENDSESSION_REQUIRE_POSTGRES
    ? false
    : 'ENDSESSION_TEST_DATABASE_URL is not set (scripts/test.sh starts a private PostgreSQL)');

/** `test` on each store: nodes on one SQLite data directory, and on one PostgreSQL database. */
export function onEachStore(name, options, body) {
  for (const [store, skipIt] of [
    ['sqlite', skip],
    ['postgres', skipPostgres],
  ])
    test(`${store}: ${name}`, { ...options, skip: skipIt }, () => body(store));
}
after(() => Promise.all(clusters.map((c) => c.stop())));

/** A TCP forwarder to `target()`'s port; `cut()` drops its connections and refuses new ones until `restore()`. */
export async function relay(target) {
  const pairs = new Set();
  let refusing = false;
  let stalled = false;
  const server = createTcpServer((client) => {
    if (refusing) return client.destroy();
    client.pause();
    if (stalled) return pairs.add({ client, upstream: client }); // held, never forwarded
    const upstream = connect(target(), '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: server.address().port,
    cut() {
      refusing = true;
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    restore() {
      refusing = false;
    },
    /** Forwards nothing more, closing nothing: Redis stops answering this node (a network partition). */
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close() {
      this.cut();
      server.close();
    },
  };
}

/**
 * A redis-server and `count` nodes on one data directory, each through its own relay to Redis. `args`: extra node
 * arguments. Returns helpers for the tests.
 */
export async function cluster({ count = 3, args = [], store = 'sqlite' } = {}) {
  const data = mkdtempSync(join(tmpdir(), 'endsession-break-'));
  const processes = [];
  const closers = [];
  let storeArgs = ['--data', data];
  let dropDatabase = () => {};
  let databaseUrl;
  if (store === 'postgres') {
    assert.ok(postgres, 'ENDSESSION_REQUIRE_POSTGRES is set but ENDSESSION_TEST_DATABASE_URL is not');
    const name = `endsession_break_${randomBytes(6).toString('hex')}`;
    const psql = (sql) =>
      execFileSync('psql', [postgres, '-qc', sql], { stdio: 'pipe', timeout: DEADLINE_MS });
    psql(`CREATE DATABASE ${name}`);
    const url = new URL(postgres);
    url.pathname = `/${name}`;
    storeArgs = ['--data', data, '--database', url.href];
    databaseUrl = url.href;
    dropDatabase = () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const deliveries = []; // { id, rtkUuid, type, sessionId, verified, body }
  const redisPort = await freePort();
  const c = { nodes: [], deliveries, redisPort, databaseUrl };
  clusters.push(c);

  async function spawnLogged(cmd, argv, ready) {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = { child, log: '' };
    child.stdout.on('data', (b) => (proc.log += b));
    child.stderr.on('data', (b) => (proc.log += b));
    processes.push(child);
    await until(`${cmd} ready`, () => ready(proc.log) || child.exitCode !== null, 20_000);
    assert.equal(child.exitCode, null, proc.log);
    return proc;
  }
  c.startRedis = () =>
    spawnLogged(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no'],
      (log) => log.includes('Ready to accept connections'),
    );
  c.redis = await c.startRedis();
  /** `redis-cli shutdown nosave`, as a user restarting Redis would; resolves once it has exited. */
  c.stopRedis = async () => {
    const exited = new Promise((ok) => c.redis.child.once('exit', ok));
    spawnSync('redis-cli', ['-p', String(redisPort), 'shutdown', 'nosave'], { timeout: DEADLINE_MS });
    await Promise.race([exited, sleep(DEADLINE_MS)]);
    assert.notEqual(c.redis.child.exitCode ?? c.redis.child.signalCode, null, 'redis-server exited');
  };

  c.startNode = async (extra = []) => {
    const port = await freePort();
    const r = await relay(() => redisPort);
    closers.push(() => r.close());
    const argv = ['--listen', `127.0.0.1:${port}`, ...storeArgs, '--redis', `redis://127.0.0.1:${r.port}`];
    argv.push('--api-token', `${account}:${secret}:Realtime Admin`, '--webhook-targets', 'any');
    argv.push(...args, ...extra);
    const proc = await spawnLogged(binary, argv, (log) => log.includes('listening on'));
    const node = { port, relay: r, proc, kill: () => proc.child.kill('SIGKILL') };
    c.nodes.push(node);
    return node;
  };
  await c.startNode();
  for (let i = 1; i < count; i++) await c.startNode();

  // Each meeting gets an app and a webhook of its own: their Standard Webhooks secrets, by webhook id.
  const secrets = new Map();
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (b) => chunks.push(b));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      let verified = false;
      let why;
      try {
        new Webhook(secrets.get(req.headers['rtk-webhook-id'])).verify(body, req.headers);
        verified = true;
      } catch (e) {
        why = String(e?.message ?? e);
      }
      const json = JSON.parse(body);
      deliveries.push({
        id: req.headers['webhook-id'],
        rtkUuid: req.headers['rtk-uuid'],
        type: json.event,
        sessionId: json.meeting?.sessionId,
        reason: json.reason,
        verified,
        ...(why
          ? {
              why,
              webhookIdHeader: req.headers['webhook-id'],
              signatureHeader: req.headers['webhook-signature'],
            }
          : {}),
      });
      res.writeHead(200).end();
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
  closers.push(() => receiver.close());

  c.api = async (method, path, body, node = c.nodes[0]) => {
    const response = await fetch(
      `http://127.0.0.1:${node.port}/client/v4/accounts/${account}/realtime/kit${path}`,
      {
        method,
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(DEADLINE_MS),
      },
    );
    const json = await response.json().catch(() => null);
    assert.equal(json?.success, true, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json.data;
  };

  /** An app with a webhook on every event, and a meeting of it. */
  c.newMeeting = async (extra = {}) => {
    const appId = (await c.api('POST', '/apps', { name: `break-${Date.now()}-${Math.random()}` })).app.id;
    const hook = await c.api('POST', `/${appId}/webhooks`, {
      name: 'all',
      url: `http://127.0.0.1:${receiver.address().port}/hooks`,
      events: ['meeting.started', 'meeting.participantJoined', 'meeting.participantLeft', 'meeting.ended'],
    });
    secrets.set(hook.id, hook.secret);
    const meetingId = (await c.api('POST', `/${appId}/meetings`, { title: 'break', ...extra })).id;
    return { appId, meetingId, base: `/${appId}/meetings/${meetingId}` };
  };

  /**
   * Joins `name` through a balancer of its own trying `order` (node indices) in turn. `p.sever()` drops its
   * connection and refuses new ones (the participant's network is gone); `p.route(order)` lets it through again.
   */
  c.join = async (room, name, preset, order) => {
    let route = order.map((i) => c.nodes[i]);
    let refusing = false;
    const pairs = new Set();
    const events = [];
    const server = createTcpServer((client) => {
      events.push(['tcp', refusing ? 'refused' : route.map((n) => n.port).join(','), Date.now()]);
      if (refusing) return client.destroy();
      client.pause();
      const attempt = (i) => {
        if (i >= route.length) return client.destroy();
        const upstream = connect(route[i].port, '127.0.0.1');
        upstream.once('error', () => attempt(i + 1));
        upstream.once('connect', () => {
          const pair = { client, upstream };
          pairs.add(pair);
          upstream.removeAllListeners('error');
          const close = () => {
            pairs.delete(pair);
            client.destroy();
            upstream.destroy();
          };
          for (const s of [client, upstream]) {
            s.on('error', close);
            s.on('close', close);
          }
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        });
      };
      attempt(0);
    });
    await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
    closers.push(() => {
      for (const { client, upstream } of pairs) (client.destroy(), upstream.destroy());
      server.close();
    });
    const added = await c.api('POST', `${room.base}/participants`, {
      custom_participant_id: name,
      preset_name: preset,
      name,
    });
    const meeting = await initMeeting({
      authToken: added.token,
      baseURI: `http://127.0.0.1:${server.address().port}`,
    });
    for (const e of [
      'roomJoined',
      'roomLeft',
      'participantJoined',
      'participantLeft',
      'sessionEnding',
      'sessionEndCancelled',
    ])
      on(meeting, e, (payload) => events.push([e, payload, Date.now()]));
    const p = {
      name,
      meeting,
      events,
      of: (e) => events.filter(([n]) => n === e).map(([, x]) => x),
      leftNames: () => p.of('participantLeft').map((x) => x.customParticipantId),
      sever() {
        refusing = true;
        for (const { client, upstream } of pairs) (client.destroy(), upstream.destroy());
        pairs.clear();
      },
      route(next) {
        route = next.map((i) => c.nodes[i]);
        refusing = false;
      },
    };
    closers.push(() => meeting.leave().catch(() => {}));
    await Promise.race([
      meeting.join(),
      sleep(DEADLINE_MS).then(() => assert.fail(`${name} could not join within ${DEADLINE_MS} ms`)),
    ]);
    return p;
  };

  c.ended = (sessionId) => deliveries.filter((d) => d.type === 'meeting.ended' && d.sessionId === sessionId);
  /** The session as the REST API shows it (`status`: LIVE or ENDED). */
  c.session = (room, sessionId, node) =>
    c.api('GET', `/${room.appId}/sessions/${sessionId}`, undefined, node);

  let stopped = false;
  c.stop = async () => {
    if (stopped) return;
    stopped = true;
    if (process.env.BREAK_DEBUG) for (const n of c.nodes) console.error(`--- node :${n.port}\n${n.proc.log}`);
    for (const close of closers.splice(0)) {
      try {
        await Promise.race([close(), sleep(2000)]);
      } catch {}
    }
    for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await sleep(200);
    try {
      dropDatabase();
    } catch {}
    rmSync(data, { recursive: true, force: true, maxRetries: 5 });
  };
  return c;
}

/** Every delivery came once and verifies; the session has one meeting.ended, whose id is `eventId`. */
export async function oneEnd(c, sessionId, eventId) {
  const ended = await until('meeting.ended delivered', () => c.ended(sessionId)[0], 3 * DEADLINE_MS);
  await sleep(1500); // room for a duplicate to show up
  assert.equal(c.ended(sessionId).length, 1, `one meeting.ended: ${JSON.stringify(c.ended(sessionId))}`);
  if (eventId !== undefined)
    assert.equal(ended.rtkUuid, eventId, "roomLeft.eventId is the delivery's rtk-uuid");
  const ids = c.deliveries.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'no delivery came twice');
  assert.ok(
    c.deliveries.every((d) => d.verified),
    `every delivery verifies; these do not: ${JSON.stringify(c.deliveries.filter((d) => !d.verified))}`,
  );
  return ended;
}

/** A's events and B's, in ms from `t0`, for a failure message. */
export function timeline(t0, ...people) {
  return JSON.stringify(
    people.flatMap((p) =>
      p.events.map(([name, payload, at]) => [
        p.name,
        name,
        at - t0,
        payload?.customParticipantId ?? payload?.reconnected ?? payload?.state ?? '',
      ]),
    ),
  );
}

export { DEADLINE_MS, until };

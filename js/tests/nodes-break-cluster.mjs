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
import { createServer } from 'node:http';
import { createServer as createTcpServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { initMeeting, on } from 'endsession';

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
    // Before anything else: an 'error' with no listener (a reset while held or connecting) ends the test process.
    client.on('error', () => client.destroy());
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

  const receiver = await webhookReceiver(deliveries);
  closers.push(() => receiver.close());

  c.api = (method, path, body, node = c.nodes[0]) => api(node.port, method, path, body);

  /** An app with a webhook on every event, and a meeting of it. */
  c.newMeeting = (extra = {}) => newMeeting((m, p, b) => c.api(m, p, b), receiver, extra);

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
      // A reset while the upstream is still connecting must not end the test process (no listener yet).
      client.on('error', () => client.destroy());
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

/**
 * An HTTP receiver of webhooks that verifies each delivery with `standardwebhooks`, using the secret of the webhook
 * named by its `rtk-webhook-id` header (each meeting has a webhook of its own), and pushes
 * `{ id, rtkUuid, type, sessionId, reason, endedAt, verified, at }` to `deliveries`.
 */
export async function webhookReceiver(deliveries) {
  const secrets = new Map();
  const server = createServer((req, res) => {
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
        endedAt: json.meeting?.endedAt,
        verified,
        at: Date.now(),
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
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    secrets,
    close: () => server.close(),
  };
}

/**
 * A REST call to the node on `port`, answering `{status, json}` (no assertion). `ms`: its deadline, long enough by
 * default for a call that waits on a stalled Redis or a held store lock.
 */
export async function raw(port, method, path, body, ms = 60_000) {
  const response = await fetch(`http://127.0.0.1:${port}/client/v4/accounts/${account}/realtime/kit${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(ms),
  });
  return { status: response.status, json: await response.json().catch(() => null) };
}

/** A REST call that must succeed; answers its `data`. */
async function api(port, method, path, body) {
  const { status, json } = await raw(port, method, path, body, DEADLINE_MS);
  assert.equal(json?.success, true, `${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json.data;
}

/** An app with a webhook on every event to `receiver`, and a meeting of it (`extra`: its fields). */
async function newMeeting(call, receiver, extra) {
  const appId = (await call('POST', '/apps', { name: `break-${Date.now()}-${Math.random()}` })).app.id;
  const hook = await call('POST', `/${appId}/webhooks`, {
    name: 'all',
    url: receiver.url,
    events: ['meeting.started', 'meeting.participantJoined', 'meeting.participantLeft', 'meeting.ended'],
  });
  receiver.secrets.set(hook.id, hook.secret);
  const meetingId = (await call('POST', `/${appId}/meetings`, { title: 'break', ...extra })).id;
  return { appId, meetingId, base: `/${appId}/meetings/${meetingId}` };
}

/** `redis-cli` against the cluster's Redis; answers its output. */
export function redisCli(c, ...args) {
  const r = spawnSync('redis-cli', ['-p', String(c.redisPort), ...args], { timeout: DEADLINE_MS });
  assert.equal(r.status, 0, String(r.stderr));
  return String(r.stdout).trim();
}

/** A node's number, from its `live sessions in redis … node=N` log line (null if not logged yet). */
export const nodeNo = (n) => {
  const m = /live sessions in redis.*?node=(\d+)|node=(\d+).*?live sessions in redis/.exec(
    n.proc.log.replace(/\x1b\[[0-9;]*m/g, ''),
  );
  return m ? Number(m[1] ?? m[2]) : null;
};

/** The names a participant sees joined. */
export const names = (p) =>
  p.meeting.participants.joined.toArray().map((x) => x.customParticipantId ?? x.name);

/** What each participant sees, for a failure message. */
export function state(sessionId, people) {
  return JSON.stringify(
    people.map((p) => ({
      name: p.name,
      roomState: p.meeting.self.roomState,
      session: p.meeting.meta.sessionId === sessionId ? 'same' : p.meeting.meta.sessionId,
      sees: names(p).sort(),
      left: p.of('roomLeft').map((l) => l.state),
      joined: p.of('roomJoined').map((j) => j.reconnected),
      sawLeave: p.leftNames?.() ?? [],
    })),
  );
}

/** Waits until everyone is joined, in `sessionId`, seeing all the others. */
export async function allTogether(sessionId, people, ms = 30_000) {
  const ok = () =>
    people.every(
      (p) =>
        p.meeting.self.roomState === 'joined' &&
        p.meeting.meta.sessionId === sessionId &&
        p.meeting.participants.joined.size === people.length - 1,
    );
  await until('everyone together in one session', ok, ms).catch(() =>
    assert.fail(`not together: ${state(sessionId, people)}`),
  );
}

/** All told the same end, once; one verified meeting.ended whose id is that eventId. Returns the roomLeft. */
export async function endedOnce(c, sessionId, people, ms = 30_000) {
  const ends = [];
  for (const p of people)
    ends.push(
      await until(
        `${p.name} told the end`,
        () => p.of('roomLeft').find((l) => l.state === 'ended'),
        ms,
      ).catch(() => assert.fail(`${p.name} not told the end: ${state(sessionId, people)}`)),
    );
  await sleep(1000);
  assert.equal(new Set(ends.map((l) => l.eventId)).size, 1, `one end record: ${JSON.stringify(ends)}`);
  for (const l of ends) assert.equal(l.sessionId, sessionId);
  for (const p of people)
    assert.equal(p.of('roomLeft').filter((l) => l.state === 'ended').length, 1, `${p.name} told one end`);
  await oneEnd(c, sessionId, ends[0].eventId);
  return ends[0];
}

/**
 * One node without Redis (the embedded SQLite store) that can be SIGKILLed and started again on the same --data,
 * with a verifying webhook receiver of its own. Same helpers as a cluster (`api`, `newMeeting`, `join`, `ended`,
 * `session`), `kill()` and `start()`; stopped after the file's tests.
 */
export async function singleNode() {
  const data = mkdtempSync(join(tmpdir(), 'endsession-single-'));
  const deliveries = [];
  const receiver = await webhookReceiver(deliveries);
  const port = await freePort();
  const s = { port, deliveries, proc: null, log: '', clients: [] };
  s.start = async () => {
    const argv = ['--listen', `127.0.0.1:${port}`, '--data', data];
    argv.push('--api-token', `${account}:${secret}:Realtime Admin`, '--webhook-targets', 'any');
    const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    s.proc = child;
    let log = '';
    child.stdout.on('data', (b) => ((log += b), (s.log += b)));
    child.stderr.on('data', (b) => ((log += b), (s.log += b)));
    await until('node listening', () => log.includes('listening on') || child.exitCode !== null, 20_000);
    assert.equal(child.exitCode, null, log);
  };
  s.kill = async () => {
    const exited = new Promise((ok) => s.proc.once('exit', ok));
    s.proc.kill('SIGKILL');
    await exited;
  };
  s.api = (method, path, body) => api(port, method, path, body);
  s.newMeeting = (extra = {}) => newMeeting(s.api, receiver, extra);
  s.join = async (room, name, preset) => {
    const added = await s.api('POST', `${room.base}/participants`, {
      custom_participant_id: name,
      preset_name: preset,
      name,
    });
    const meeting = await initMeeting({ authToken: added.token, baseURI: `http://127.0.0.1:${port}` });
    const events = [];
    for (const e of ['roomJoined', 'roomLeft', 'participantJoined', 'participantLeft'])
      on(meeting, e, (payload) => events.push([e, payload, Date.now()]));
    await meeting.join();
    s.clients.push(meeting);
    return { name, meeting, events, of: (e) => events.filter(([n]) => n === e).map(([, x]) => x) };
  };
  s.ended = (sessionId) => deliveries.filter((d) => d.type === 'meeting.ended' && d.sessionId === sessionId);
  s.session = (room, id) => s.api('GET', `/${room.appId}/sessions/${id}`);
  s.stop = async () => {
    for (const m of s.clients) await Promise.race([m.leave().catch(() => {}), sleep(500)]);
    if (s.proc && s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    receiver.close();
    await sleep(200);
    rmSync(data, { recursive: true, force: true, maxRetries: 5 });
  };
  clusters.push(s); // stopped with the clusters, after the file's tests
  await s.start();
  return s;
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

// Trying to break several nodes (issue 14, README "Several nodes") as a user would: three release nodes on one
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
const skip = spawnSync('redis-server', ['--version']).status === 0 ? false : 'redis-server is not installed';
const account = 'break-account';
const secret = randomBytes(16).toString('hex');
/** The store's one write lock on Postgres (server/src/store/mod.rs `WRITE_LOCK`). */
const WRITE_LOCK = 28550350359589742n;
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

const clusters = [];
const postgres = process.env.ENDSESSION_TEST_DATABASE_URL;
const skipPostgres =
  skip ||
  (postgres || process.env.ENDSESSION_REQUIRE_POSTGRES
    ? false
    : 'ENDSESSION_TEST_DATABASE_URL is not set (scripts/test.sh starts a private PostgreSQL)');

/** `test` on each store: nodes on one SQLite data directory, and on one PostgreSQL database. */
function onEachStore(name, options, body) {
  for (const [store, skipIt] of [
    ['sqlite', skip],
    ['postgres', skipPostgres],
  ])
    test(`${store}: ${name}`, { ...options, skip: skipIt }, () => body(store));
}
after(() => Promise.all(clusters.map((c) => c.stop())));

/** A TCP forwarder to `target()`'s port; `cut()` drops its connections and refuses new ones until `restore()`. */
async function relay(target) {
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
async function cluster({ count = 3, args = [], store = 'sqlite' } = {}) {
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

  let hook;
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (b) => chunks.push(b));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      let verified = false;
      try {
        new Webhook(hook.secret).verify(body, req.headers);
        verified = true;
      } catch {}
      const json = JSON.parse(body);
      deliveries.push({
        id: req.headers['webhook-id'],
        rtkUuid: req.headers['rtk-uuid'],
        type: json.event,
        sessionId: json.meeting?.sessionId,
        reason: json.reason,
        verified,
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
    hook = await c.api('POST', `/${appId}/webhooks`, {
      name: 'all',
      url: `http://127.0.0.1:${receiver.address().port}/hooks`,
      events: ['meeting.started', 'meeting.participantJoined', 'meeting.participantLeft', 'meeting.ended'],
    });
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
async function oneEnd(c, sessionId, eventId) {
  const ended = await until('meeting.ended delivered', () => c.ended(sessionId)[0], 3 * DEADLINE_MS);
  await sleep(1500); // room for a duplicate to show up
  assert.equal(c.ended(sessionId).length, 1, `one meeting.ended: ${JSON.stringify(c.ended(sessionId))}`);
  if (eventId !== undefined)
    assert.equal(ended.rtkUuid, eventId, "roomLeft.eventId is the delivery's rtk-uuid");
  const ids = c.deliveries.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'no delivery came twice');
  assert.ok(
    c.deliveries.every((d) => d.verified),
    'every delivery verifies',
  );
  return ended;
}

// --- 1. Timers that outlive their node -------------------------------------------------------------------------

/** A's events and B's, in ms from `t0`, for a failure message. */
function timeline(t0, ...people) {
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

// Bob's first reconnect attempt, 250 ms after the drop, is refused; Node 20's WebSocket reports nothing for a
// connection closed before its upgrade answer, so the client's connect deadline (10 s, CONNECT_TIMEOUT_MS) ends that
// attempt and the next, ~10.8 s after the drop, gets through: the graces are chosen around that.
for (const [when, grace] of [
  ['well within its grace', 25_000],
  ['shortly before its grace runs out', 13_000],
])
  onEachStore(
    `a participant who resumes on another node ${when} after its node died keeps its seat when the dead node's grace timer fires`,
    {},
    async (store) => {
      const c = await cluster({ args: ['--reconnect-grace-ms', String(grace)], store });
      const room = await c.newMeeting();
      const ann = await c.join(room, 'ann', 'group_call_host', [1]);
      const bob = await c.join(room, 'bob', 'group_call_participant', [0]);
      const sessionId = ann.meeting.meta.sessionId;
      await until('ann sees bob', () => ann.meeting.participants.joined.size === 1);
      // Bob's network goes: node 0 starts his grace and dies 0.5 s later; its timer is on record in Redis, and a
      // sweep of node 1 or 2 runs it ~2 s overdue. From 1 s on, his balancer lets him through to node 2.
      const t0 = Date.now();
      bob.sever();
      await sleep(500);
      c.nodes[0].kill();
      await sleep(500);
      bob.route([2]);
      const back = await until(
        'bob resumes on node 2',
        () => bob.of('roomJoined').find((j) => j.reconnected === true),
        grace,
      );
      assert.equal(back.reconnected, true);
      const resumedAt = Date.now() - t0;
      assert.ok(
        resumedAt < grace,
        `bob resumed ${resumedAt} ms after the drop, within his ${grace} ms grace: ${timeline(t0, ann, bob)}`,
      );
      assert.equal(bob.meeting.meta.sessionId, sessionId);
      // Past the grace's due time plus the sweep's slack, and more: he is still in, nobody saw him leave.
      await sleep(grace + 4000 - (Date.now() - t0));
      assert.deepEqual(ann.leftNames(), [], `ann saw bob leave: ${timeline(t0, ann, bob)}`);
      assert.equal(ann.meeting.participants.joined.size, 1, 'ann still sees bob');
      assert.equal(bob.meeting.self.roomState, 'joined');
      assert.equal((await c.session(room, sessionId, c.nodes[1])).status, 'LIVE');
      const result = await kickAll(ann.meeting);
      assert.equal(result.alreadyEnded, false);
      const left = await until('bob told the end', () => bob.of('roomLeft').find((l) => l.state === 'ended'));
      await until('ann told the end', () => ann.of('roomLeft')[0]);
      await oneEnd(c, sessionId, left.eventId);
      await c.stop();
    },
  );

test(
  'nodes dying one after another: a dropped participant is still removed, then the emptied session ends once',
  { skip },
  async () => {
    const c = await cluster({ count: 4, args: ['--reconnect-grace-ms', '3000'] });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [3]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('ann sees two', () => ann.meeting.participants.joined.size === 2);
    // Bob's network goes and his node dies; then the node whose sweep may have taken over dies too.
    bob.sever();
    await sleep(300);
    c.nodes[0].kill();
    await sleep(1500);
    c.nodes[1].kill(); // cat's node: cat has nowhere to resume (her balancer knows only node 1)
    const gone = await until(
      'ann sees bob and cat leave',
      () => (ann.leftNames().length >= 2 ? ann.leftNames() : null),
      30_000,
    );
    assert.deepEqual([...gone].sort(), ['bob', 'cat']);
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'LIVE', 'ann is still in');
    // Ann's network goes too and her node dies: the session empties on a dead node and must end all the same.
    ann.sever();
    await sleep(300);
    c.nodes[3].kill();
    const ended = await oneEnd(c, sessionId);
    assert.equal(ended.reason, 'ALL_PARTICIPANTS_LEFT');
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'ENDED');
    await c.stop();
  },
);

onEachStore(
  'a cancelled countdown whose node dies does not end the session, nor does its stale timer end a later one early',
  { skip },
  async (store) => {
    const c = await cluster({ store });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const ben = await c.join(room, 'ben', 'group_call_host', [1, 2]);
    const cleo = await c.join(room, 'cleo', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    await kickAll(ann.meeting, { graceSeconds: 2, message: 'from A' });
    await until('cleo told the countdown', () => cleo.of('sessionEnding')[0]);
    assert.deepEqual(await cancelEnd(ben.meeting), { cancelled: true });
    await until('cleo told cancelled', () => cleo.of('sessionEndCancelled')[0]);
    // A second countdown, 12 s, started on node 1; then node 0 (which timed the first) dies.
    const second = await kickAll(ben.meeting, { graceSeconds: 12, message: 'from B' });
    await until('cleo told the second countdown', () => cleo.of('sessionEnding')[1]);
    c.nodes[0].kill();
    // Past the first countdown's due time plus the sweep's slack, and more: nobody was ended by it.
    await sleep(6000);
    assert.equal(
      cleo.of('roomLeft').length,
      0,
      'the cancelled countdown (or a stale timer) ended the session',
    );
    assert.equal(ben.of('roomLeft').length, 0);
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'LIVE');
    // The second ends it, not before its endsAt, with its own message.
    const left = await until('cleo ended by the second countdown', () => cleo.of('roomLeft')[0], 30_000);
    assert.ok(Date.now() - new Date(second.endsAt).getTime() > -200, 'not before the second countdown ends');
    assert.equal(left.message, 'from B');
    assert.equal(left.endedBy?.customParticipantId, 'ben');
    await until('ben ended', () => ben.of('roomLeft')[0]);
    await oneEnd(c, sessionId, left.eventId);
    await c.stop();
  },
);

test(
  'a countdown running when its node and the node of its host both die still ends once',
  { skip },
  async () => {
    const c = await cluster();
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
    const cy = await c.join(room, 'cy', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 3, message: 'two die' });
    await until('cy told the countdown', () => cy.of('sessionEnding')[0]);
    c.nodes[0].kill();
    c.nodes[1].kill();
    const left = await until('cy ended', () => cy.of('roomLeft')[0], 30_000);
    assert.equal(left.reason, 'HOST_ENDED_MEETING');
    assert.equal(left.message, 'two die');
    assert.ok(Date.now() - new Date(endsAt).getTime() > -200);
    await oneEnd(c, sessionId, left.eventId);
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'ENDED');
    void bob;
    await c.stop();
  },
);

test(
  "postgres: an end waits for the store's write lock; its node's Redis stops answering after it recorded the end, then the node dies: everyone is still told",
  {
    skip: skipPostgres,
    todo: 'fault: the end is recorded (ENDED, meeting.ended delivered) but nobody is told: the room in Redis stays live',
  },
  async (t) => {
    const c = await cluster({ store: 'postgres' });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [1]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('ann sees bob', () => ann.meeting.participants.joined.size === 1);
    // Hold the store's one write lock (README: "a transaction-scoped advisory lock") from psql, so that the end
    // node 0 is asked for waits inside its lease; cut Redis from node 0 (it stops answering); let the end through.
    const holder = spawn('psql', [c.databaseUrl, '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    holder.stdout.on('data', (b) => (out += b));
    holder.stdin.write(`SELECT pg_advisory_lock(${WRITE_LOCK});\n\\echo locked\n`);
    await until('psql holds the write lock', () => out.includes('locked'));
    const lockedAt = new Date().toISOString();
    const kicked = fetch(
      `http://127.0.0.1:${c.nodes[0].port}/client/v4/accounts/${account}/realtime/kit${room.base}/active-session/kick-all`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(60_000),
      },
    ).then(
      (r) => r.status,
      (e) => `${e}`,
    );
    await sleep(1500);
    // The store's write lock is held: the end cannot be recorded yet, so nobody may have been told.
    if (process.env.BREAK_DEBUG)
      console.error(
        execFileSync(
          'psql',
          [
            c.databaseUrl,
            '-Atc',
            "SELECT pid, granted, classid, objid, mode FROM pg_locks WHERE locktype = 'advisory'; SELECT id, ended_at FROM sessions",
          ],
          { timeout: DEADLINE_MS },
        ).toString(),
        out,
        `locked at ${lockedAt}`,
      );
    assert.deepEqual(
      [ann, bob].flatMap((p) => p.of('roomLeft')),
      [],
      'told the end before it could be recorded',
    );
    c.nodes[0].relay.stall();
    const stalledAt = Date.now();
    holder.stdin.write(`SELECT pg_advisory_unlock(${WRITE_LOCK});\n\\q\n`);
    await sleep(1500);
    c.nodes[0].kill();
    // The end is recorded (the store says ENDED, meeting.ended is delivered): everyone must be told, at the
    // latest once node 0's lease (30 s) ran out.
    const status = (await c.session(room, sessionId, c.nodes[1])).status;
    t.diagnostic(`after node 0 died the store says the session is ${status}`);
    t.diagnostic(
      `told ${JSON.stringify([ann, bob].map((p) => p.events.filter(([n]) => n === 'roomLeft').map(([, , at]) => at - stalledAt)))} ms after the stall`,
    );
    if (status === 'ENDED') {
      for (const p of [ann, bob])
        await until(
          `${p.name} told the end the store recorded`,
          () => p.of('roomLeft').find((l) => l.state === 'ended'),
          50_000,
        ).catch(() =>
          assert.fail(
            `the session is ENDED (meeting.ended: ${c.ended(sessionId).length}) but ${p.name} was not told in 50 s: still ${p.meeting.self.roomState}`,
          ),
        );
      await oneEnd(c, sessionId, ann.of('roomLeft')[0].eventId);
    } else {
      // Not recorded: the session goes on; the host can end it through another node once the lease is gone.
      assert.equal(status, 'LIVE');
      await until('the host ends it through node 1', () => kickAll(ann.meeting).then(() => true), 50_000);
      await until('bob told the end', () => bob.of('roomLeft')[0]);
      await oneEnd(c, sessionId, bob.of('roomLeft')[0].eventId);
    }
    await c.stop();
  },
);

// --- 2. A node cut from Redis, and Redis restarted -----------------------------------------------------------

onEachStore(
  'a node cut from Redis for 5 s: its participants resume elsewhere in the same session; after the cut it serves again',
  { skip },
  async (store) => {
    const c = await cluster({ store });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [1, 2]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [0, 1, 2]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [0, 2, 1]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('everyone sees three', () =>
      [ann, bob, cat].every((p) => p.meeting.participants.joined.size === 2),
    );
    c.nodes[0].relay.cut();
    // Node 0 lets go of its sockets (1013) within about 2 s; the balancer still prefers node 0, which accepts the
    // TCP connection: a real balancer's health check would not fail it over either. Bob and cat are sent on.
    await sleep(1500);
    bob.route([1, 2]);
    cat.route([2, 1]);
    for (const p of [bob, cat]) {
      const back = await until(
        `${p.name} resumes elsewhere`,
        () => p.of('roomJoined').find((j) => j.reconnected === true),
        30_000,
      );
      assert.equal(back.reconnected, true);
      assert.equal(p.meeting.meta.sessionId, sessionId, `${p.name} is back in the same session`);
    }
    await sleep(3500);
    c.nodes[0].relay.restore();
    await sleep(4000); // node 0 stamps itself alive again and resubscribes
    assert.deepEqual(ann.leftNames(), [], 'ann saw somebody leave');
    for (const p of [ann, bob, cat])
      assert.equal(p.meeting.participants.joined.size, 2, `${p.name} sees all`);
    // Node 0 serves again: dan joins through it and sees the others; the end reaches him there.
    const dan = await c.join(room, 'dan', 'group_call_participant', [0]);
    assert.equal(dan.meeting.meta.sessionId, sessionId);
    await until('dan sees three', () => dan.meeting.participants.joined.size === 3);
    await until('ann sees dan', () => ann.meeting.participants.joined.size === 3);
    await kickAll(ann.meeting);
    const ends = [];
    for (const p of [ann, bob, cat, dan])
      ends.push(
        await until(`${p.name} told the end`, () => p.of('roomLeft').find((l) => l.state === 'ended')),
      );
    assert.equal(new Set(ends.map((l) => l.eventId)).size, 1, 'one end record');
    await oneEnd(c, sessionId, ends[0].eventId);
    const joins = c.deliveries.filter(
      (d) => d.type === 'meeting.participantJoined' && d.sessionId === sessionId,
    );
    assert.equal(joins.length, 4, 'a resume is not a second join');
    await c.stop();
  },
);

test(
  'a participant joining through a node while it is cut from Redis is answered within a deadline, and nobody is left in an ended session',
  { skip },
  async () => {
    const c = await cluster();
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    c.nodes[0].relay.cut();
    await sleep(500);
    const added = await c.api('POST', `${room.base}/participants`, {
      custom_participant_id: 'eve',
      preset_name: 'group_call_participant',
      name: 'eve',
    });
    const eve = await initMeeting({ authToken: added.token, baseURI: `http://127.0.0.1:${c.nodes[0].port}` });
    const eveLeft = [];
    on(eve, 'roomLeft', (l) => eveLeft.push(l));
    const outcome = await Promise.race([
      eve.join().then(
        () => 'joined',
        (e) => `refused: ${e?.code ?? e}`,
      ),
      sleep(30_000).then(() => 'no answer'),
    ]);
    assert.notEqual(outcome, 'no answer', 'a join through a cut node hung for 30 s');
    c.nodes[0].relay.restore();
    await sleep(3000);
    await kickAll(ann.meeting);
    const left = await until('ann told the end', () => ann.of('roomLeft')[0]);
    if (outcome === 'joined') await until('eve told the end', () => eveLeft[0], 20_000);
    await oneEnd(c, sessionId, left.eventId);
    await eve.leave().catch(() => {});
    await c.stop();
  },
);

test(
  'Redis restarted (shutdown nosave) under a live session: everyone is back in one session seeing the others, and it ends once',
  {
    skip,
    todo: 'fault: after a Redis restart the participants resume into one session id but their rosters disagree',
  },
  async () => {
    const c = await cluster({ args: ['--reconnect-grace-ms', '5000'] });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0, 1, 2]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1, 2, 0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2, 0, 1]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('everyone sees three', () =>
      [ann, bob, cat].every((p) => p.meeting.participants.joined.size === 2),
    );
    await c.stopRedis();
    await sleep(1000);
    c.redis = await c.startRedis();
    // Within a deadline each participant is either back in a session with the others or told it ended.
    await sleep(10_000);
    const state = () =>
      JSON.stringify(
        [ann, bob, cat].map((p) => ({
          name: p.name,
          roomState: p.meeting.self.roomState,
          session: p.meeting.meta.sessionId === sessionId ? 'same' : p.meeting.meta.sessionId,
          sees: p.meeting.participants.joined.toArray().map((x) => x.customParticipantId ?? x.name),
          left: p.of('roomLeft').map((l) => l.state),
          joined: p.of('roomJoined').map((j) => j.reconnected),
        })),
      );
    const faults = [];
    const inNow = [ann, bob, cat].filter((p) => p.meeting.self.roomState === 'joined');
    for (const p of inNow)
      if (p.meeting.participants.joined.size !== inNow.length - 1)
        faults.push(`${p.name} sees ${p.meeting.participants.joined.size} of ${inNow.length - 1} others`);
    if (new Set(inNow.map((p) => p.meeting.meta.sessionId)).size > 1)
      faults.push('they are in different sessions');
    // Everyone leaves: the session ends, once; it does not stay LIVE.
    for (const p of [ann, bob, cat]) await p.meeting.leave().catch(() => {});
    const ended = await until(
      'the session ENDED',
      async () => (await c.session(room, sessionId, c.nodes[1])).status === 'ENDED',
      20_000,
    ).catch(() => false);
    if (!ended) faults.push('the session stayed LIVE after everyone left');
    else {
      await sleep(1500);
      if (c.ended(sessionId).length !== 1) faults.push(`${c.ended(sessionId).length} meeting.ended webhooks`);
    }
    assert.deepEqual(faults, [], state());
    await c.stop();
  },
);

onEachStore(
  "a participant admitted while its node's Redis subscription is being taken again gets its frames (or is asked to reconnect)",
  {
    skip,
    todo: 'fault: frames published before the node re-subscribes are lost to connections admitted meanwhile',
  },
  async (store) => {
    const c = await cluster({ store });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    // Redis drops every subscription (as on a Redis failover or a `CLIENT KILL TYPE pubsub`); node 0 takes its own
    // again after a pause. Bob joins through node 0 meanwhile; cat joins through node 2 a moment later.
    const killed = spawnSync('redis-cli', ['-p', String(c.redisPort), 'CLIENT', 'KILL', 'TYPE', 'pubsub'], {
      timeout: DEADLINE_MS,
    });
    assert.equal(killed.status, 0, String(killed.stderr));
    const bob = await c.join(room, 'bob', 'group_call_participant', [0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2]);
    assert.equal(bob.meeting.meta.sessionId, sessionId);
    await until('bob sees ann and cat', () => bob.meeting.participants.joined.size === 2, 15_000).catch(() =>
      assert.fail(
        `bob (admitted on node 0 during its re-subscription) sees ${bob.meeting.participants.joined.size} of 2 and was not asked to reconnect (roomJoined ${JSON.stringify(bob.of('roomJoined'))})`,
      ),
    );
    await kickAll(ann.meeting);
    const ends = [];
    for (const p of [ann, bob, cat])
      ends.push(
        await until(`${p.name} told the end`, () => p.of('roomLeft').find((l) => l.state === 'ended')),
      );
    await oneEnd(c, sessionId, ends[0].eventId);
    await c.stop();
  },
);

// --- 3. Hub calls detached from their caller ------------------------------------------------------------------

/** POSTs the REST kick-all to `node` and hangs up `delayMs` after the request is written. */
function kickAllAndHangUp(c, room, node, body, delayMs = 0) {
  return new Promise((ok) => {
    const req = request({
      host: '127.0.0.1',
      port: node.port,
      method: 'POST',
      path: `/client/v4/accounts/${account}/realtime/kit${room.base}/active-session/kick-all`,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    });
    req.on('error', () => {});
    req.end(JSON.stringify(body), () =>
      setTimeout(() => {
        req.destroy();
        ok();
      }, delayMs),
    );
  });
}

/**
 * Ten REST kick-alls through node 2, each hung up 0..50 ms after it was written, each on a session of its own
 * with participants on nodes 0 and 1. Returns, per attempt, whether the end happened and what was inconsistent.
 */
async function hangUps(c, body) {
  const room = await c.newMeeting();
  const attempts = [];
  for (const delay of [0, 0, 0, 1, 2, 3, 5, 10, 20, 50]) {
    const ann = await c.join(room, `ann${attempts.length}`, 'group_call_host', [0]);
    const bob = await c.join(room, `bob${attempts.length}`, 'group_call_participant', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('ann sees bob', () => ann.meeting.participants.joined.size === 1);
    await kickAllAndHangUp(c, room, c.nodes[2], body, delay);
    const both = () => [ann, bob].every((p) => p.of('roomLeft').some((l) => l.state === 'ended'));
    const told = await until('both told the end', both, 8000 + 1000 * (body.graceSeconds ?? 0)).catch(
      () => false,
    );
    const faults = [];
    const status = (await c.session(room, sessionId, c.nodes[0])).status;
    if (told) {
      const ids = [ann, bob].map((p) => p.of('roomLeft').find((l) => l.state === 'ended').eventId);
      if (ids[0] !== ids[1]) faults.push('two end records');
      if (status !== 'ENDED') faults.push(`told the end but the session is ${status}`);
      const hook = await until('meeting.ended', () => c.ended(sessionId)[0], DEADLINE_MS).catch(() => null);
      if (!hook) faults.push('no meeting.ended');
      else if (hook.rtkUuid !== ids[0]) faults.push("roomLeft.eventId is not the delivery's rtk-uuid");
    } else {
      const someone = [ann, bob].filter((p) => p.of('roomLeft').length > 0).map((p) => p.name);
      if (someone.length) faults.push(`only ${someone} told the end`);
      if (status !== 'LIVE') faults.push(`nobody told but the session is ${status}`);
      // Not ended: end it the ordinary way, and go on.
      await kickAll(ann.meeting);
      await until('both told the end', both);
    }
    attempts.push({ delay, ended: Boolean(told), faults });
  }
  await sleep(1500);
  const ids = c.deliveries.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'no delivery came twice');
  return attempts;
}

onEachStore(
  'a REST kick-all whose client hangs up at once ends the session for everyone, or not at all: never half',
  { skip },
  async (store) => {
    const c = await cluster({ store });
    const attempts = await hangUps(c, {});
    assert.deepEqual(
      attempts.flatMap((a) => a.faults.map((f) => `${a.delay} ms: ${f}`)),
      [],
      JSON.stringify(attempts),
    );
    await c.stop();
  },
);

test(
  'a REST kick-all whose client hangs up at once still ends the session (README: hub calls run to their end)',
  {
    skip,
    todo: 'fault: a kick-all hung up before its handler reaches the hub is dropped (hyper drops the handler on EOF)',
  },
  async () => {
    const c = await cluster();
    const attempts = await hangUps(c, {});
    const countdowns = await hangUps(c, { graceSeconds: 1 });
    const missed = [...attempts, ...countdowns].filter((a) => !a.ended).map((a) => a.delay);
    assert.deepEqual(
      missed,
      [],
      `kick-alls hung up after these delays (ms) ended nothing: ${JSON.stringify(missed)}`,
    );
    await c.stop();
  },
);

test(
  'a REST kick-all past --request-timeout-ms still ends the session for everyone, recorded once',
  { skip },
  async () => {
    const c = await cluster();
    // A fourth node whose every request times out almost at once.
    const hasty = await c.startNode(['--request-timeout-ms', '1']);
    const room = await c.newMeeting();
    const people = [];
    for (const [i, name] of ['ann', 'bob', 'cat'].entries())
      people.push(await c.join(room, name, i === 0 ? 'group_call_host' : 'group_call_participant', [i]));
    const sessionId = people[0].meeting.meta.sessionId;
    await until('everyone sees three', () => people.every((p) => p.meeting.participants.joined.size === 2));
    const response = await fetch(
      `http://127.0.0.1:${hasty.port}/client/v4/accounts/${account}/realtime/kit${room.base}/active-session/kick-all`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(DEADLINE_MS),
      },
    ).catch((e) => ({ status: `error ${e}` }));
    const ends = [];
    for (const p of people)
      ends.push(
        await until(`${p.name} told the end (answer was ${response.status})`, () =>
          p.of('roomLeft').find((l) => l.state === 'ended'),
        ),
      );
    assert.equal(new Set(ends.map((l) => l.eventId)).size, 1, 'one end record');
    await oneEnd(c, sessionId, ends[0].eventId);
    await c.stop();
  },
);

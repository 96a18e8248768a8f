// Several nodes, one of them killed: three release endsession-server processes on one real redis-server
// ($ENDSESSION_TEST_REDIS, started by scripts/test.sh) and one store — a shared SQLite data directory, and a fresh
// PostgreSQL database on $ENDSESSION_TEST_DATABASE_URL (also started by scripts/test.sh) — participants with our npm client spread over
// them through a TCP balancer with failover (each participant's own balancer port prefers its home node and falls
// over to the others, as a load balancer whose health check failed would), webhooks verified by the official
// `standardwebhooks` npm package. One node gets SIGKILL mid-session: its participants resume the same session on
// another node (`roomJoined {reconnected: true}`), the others see nobody leave, and every webhook is delivered
// once. README "Several nodes".
import { DEADLINE_MS, freePort, kitApi, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { initMeeting, kickAll, on } from 'endsession';

const redis = process.env.ENDSESSION_TEST_REDIS;
const skip = redis
  ? false
  : process.env.ENDSESSION_REQUIRE_REDIS === '1'
    ? false // run, and fail below: the suite promised a Redis
    : 'ENDSESSION_TEST_REDIS is not set (scripts/test.sh starts a private redis-server)';
const postgres = process.env.ENDSESSION_TEST_DATABASE_URL;
const skipPostgres =
  skip ||
  (postgres || process.env.ENDSESSION_REQUIRE_POSTGRES
    ? false // run, and fail below when it was promised but is missing
    : 'ENDSESSION_TEST_DATABASE_URL is not set (scripts/test.sh starts a private PostgreSQL)');

const root = fileURLToPath(new URL('../../', import.meta.url));
const binary =
  process.env.ENDSESSION_SERVER_BIN ??
  join(resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), 'release/endsession-server');
const account = 'nodes-account';
const secret = randomBytes(16).toString('hex');

let storeArgs = []; // the nodes' store: ['--data', DIR] or ['--database', URL]
let cleanUp = () => {};
const nodes = []; // { port, process, log }
const balancers = [];
let receiver;
const deliveries = []; // { id, type, sessionId, verified }

async function startNode() {
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, ...storeArgs, '--redis', redis];
  args.push('--api-token', `${account}:${secret}:Realtime Admin`, '--webhook-targets', 'any');
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const node = { port, process: child, log: '' };
  child.stdout.on('data', (b) => (node.log += b));
  child.stderr.on('data', (b) => (node.log += b));
  await until(`node :${port} listening`, () => node.log.includes('listening on') || child.exitCode !== null);
  assert.equal(child.exitCode, null, `node :${port} exited: ${node.log}`);
  nodes.push(node);
  return node;
}

/** A balancer port for one participant: each connection goes to the first of `order`'s nodes that accepts it. */
async function balancer(order) {
  const server = createTcpServer((client) => {
    // A reset while the upstream is still connecting must not end the test process (no listener yet).
    client.on('error', () => client.destroy());
    client.pause();
    const attempt = (i) => {
      if (i >= order.length) return client.destroy();
      const upstream = connect(order[i].port, '127.0.0.1');
      upstream.once('error', () => attempt(i + 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  balancers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

const api = (method, path, body, node = nodes[0]) =>
  kitApi(`http://127.0.0.1:${node.port}`, account, secret, method, path, body);

/** Three nodes on one store: `sqlite` (one data directory) or `postgres` (a database made for this test). */
async function startCluster(store) {
  assert.ok(redis, 'ENDSESSION_REQUIRE_REDIS=1 but ENDSESSION_TEST_REDIS is not set');
  assert.ok(existsSync(binary), `${binary} is missing: cargo build --release -p endsession-server`);
  if (store === 'sqlite') {
    const data = mkdtempSync(join(tmpdir(), 'endsession-nodes-'));
    storeArgs = ['--data', data];
    cleanUp = () => rmSync(data, { recursive: true, force: true });
  } else {
    assert.ok(postgres, 'ENDSESSION_REQUIRE_POSTGRES is set but ENDSESSION_TEST_DATABASE_URL is not');
    const name = `endsession_nodes_${randomBytes(6).toString('hex')}`;
    const psql = (sql) =>
      execFileSync('psql', [postgres, '-qc', sql], { stdio: 'pipe', timeout: DEADLINE_MS });
    psql(`CREATE DATABASE ${name}`);
    const url = new URL(postgres);
    url.pathname = `/${name}`;
    storeArgs = ['--database', url.href];
    cleanUp = () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  // One node first creates the store; the other two open it.
  await startNode();
  await Promise.all([startNode(), startNode()]);
}

function stopCluster() {
  for (const node of nodes) node.process.kill('SIGKILL');
  for (const server of balancers) server.close();
  receiver?.close();
  nodes.length = balancers.length = deliveries.length = 0;
  receiver = undefined;
  cleanUp();
}

after(stopCluster);

for (const [store, skipIt] of [
  ['sqlite', skip],
  ['postgres', skipPostgres],
]) {
  test(
    `${store}: SIGKILL of a node mid-session: its participants resume elsewhere, nobody sees them leave, webhooks once`,
    { skip: skipIt },
    async () => {
      await startCluster(store);
      try {
        await sigkillScenario();
      } finally {
        stopCluster();
      }
    },
  );
}

async function sigkillScenario() {
  const appId = (await api('POST', '/apps', { name: `nodes-${Date.now()}` })).app.id;
  let hook;
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      let verified = false;
      try {
        new Webhook(hook.secret).verify(body, req.headers);
        verified = true;
      } catch {}
      const parsed = JSON.parse(body);
      deliveries.push({
        id: req.headers['webhook-id'],
        type: parsed.event,
        sessionId: parsed.meeting?.sessionId,
        verified,
      });
      res.writeHead(200).end();
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
  hook = await api('POST', `/${appId}/webhooks`, {
    name: 'all',
    url: `http://127.0.0.1:${receiver.address().port}/hooks`,
    events: ['meeting.started', 'meeting.participantJoined', 'meeting.participantLeft', 'meeting.ended'],
  });
  const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'three nodes' })).id;

  // Six participants, two homed on each node; the host on node 1, which survives.
  const people = [];
  for (const [i, [name, preset]] of [
    ['ann', 'group_call_host'],
    ['bob', 'group_call_participant'],
    ['cat', 'group_call_participant'],
    ['dan', 'group_call_participant'],
    ['eve', 'group_call_participant'],
    ['fay', 'group_call_participant'],
  ].entries()) {
    const home = (i + 1) % 3;
    const order = [nodes[home], ...nodes.filter((_, n) => n !== home)];
    const added = await api('POST', `/${appId}/meetings/${meetingId}/participants`, {
      custom_participant_id: name,
      preset_name: preset,
      name,
    });
    const meeting = await initMeeting({ authToken: added.token, baseURI: await balancer(order) });
    const events = [];
    for (const event of ['roomJoined', 'roomLeft']) on(meeting, event, (p) => events.push([event, p]));
    on(meeting, 'participantLeft', (p) => events.push(['participantLeft', p]));
    await meeting.join();
    people.push({
      name,
      home,
      meeting,
      events,
      of: (e) => events.filter(([n]) => n === e).map(([, p]) => p),
    });
  }
  const sessionId = people[0].meeting.meta.sessionId;
  for (const p of people)
    assert.equal(p.meeting.meta.sessionId, sessionId, `${p.name} is in the one session`);
  await until('everyone sees six', () => people.every((p) => p.meeting.participants.joined.size === 5));

  // A seventh joins through node 2 and leaves: everyone sees that leave (the listener works), and only that one.
  const gusAdded = await api('POST', `/${appId}/meetings/${meetingId}/participants`, {
    custom_participant_id: 'gus',
    preset_name: 'group_call_participant',
    name: 'gus',
  });
  const gus = await initMeeting({ authToken: gusAdded.token, baseURI: await balancer([nodes[2]]) });
  await gus.join();
  await until('everyone sees gus', () => people.every((p) => p.meeting.participants.joined.size === 6));
  await gus.leave();
  await until('everyone sees gus leave', () => people.every((p) => p.of('participantLeft').length === 1));
  for (const p of people) assert.equal(p.of('participantLeft')[0].customParticipantId, 'gus');

  // Kill node 0 (home of cat and fay) without warning.
  const victims = people.filter((p) => p.home === 0);
  const others = people.filter((p) => p.home !== 0);
  assert.equal(victims.length, 2);
  nodes[0].process.kill('SIGKILL');

  for (const p of victims) {
    const resumed = await until(
      `${p.name} resumes on another node`,
      () => p.of('roomJoined').find((j) => j.reconnected === true),
      30_000,
    );
    assert.equal(resumed.reconnected, true);
    assert.equal(p.meeting.meta.sessionId, sessionId, `${p.name} is back in the same session`);
    assert.equal(p.meeting.self.roomState, 'joined');
  }
  // Past the dead node's alive window and more: nobody saw anybody leave.
  await new Promise((ok) => setTimeout(ok, 4000));
  for (const p of others)
    assert.equal(p.of('participantLeft').length, 1, `${p.name} saw a leave besides gus's`);
  for (const p of people) assert.equal(p.meeting.participants.joined.size, 5, `${p.name} sees everyone`);

  // The host on node 1 ends it; everyone, resumed or not, is told, with one record.
  const result = await kickAll(people[0].meeting);
  assert.equal(result.alreadyEnded, false);
  const ends = [];
  for (const p of people) {
    const left = await until(`${p.name} told the end`, () =>
      p.of('roomLeft').find((l) => l.state === 'ended'),
    );
    ends.push(left);
  }
  assert.equal(new Set(ends.map((l) => l.eventId)).size, 1, 'one end record');
  assert.equal(ends[0].sessionId, sessionId);

  // Webhooks: each delivered once, all verified, exactly one meeting.ended, one start, seven joins and leaves (gus's too).
  const ended = await until('meeting.ended delivered', () =>
    deliveries.find((d) => d.type === 'meeting.ended' && d.sessionId === sessionId),
  );
  assert.equal(ended.id, ends[0].eventId, "roomLeft.eventId is the delivery's webhook-id");
  await until('seven participantLeft deliveries', () =>
    deliveries.filter((d) => d.type === 'meeting.participantLeft').length >= 7 ? true : false,
  );
  await new Promise((ok) => setTimeout(ok, 1500)); // room for a duplicate to show up
  const ids = deliveries.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, `a delivery came twice: ${JSON.stringify(deliveries)}`);
  assert.ok(
    deliveries.every((d) => d.verified),
    'every delivery verifies',
  );
  const count = (type) => deliveries.filter((d) => d.type === type && d.sessionId === sessionId).length;
  assert.equal(count('meeting.started'), 1);
  assert.equal(count('meeting.participantJoined'), 7, 'a resume is not a second join');
  assert.equal(count('meeting.participantLeft'), 7);
  assert.equal(count('meeting.ended'), 1);
}

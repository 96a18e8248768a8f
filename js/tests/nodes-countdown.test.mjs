// Issue 13's countdowns and NO_HOST across several nodes (README "Several nodes": "An end decided on any node
// (a host's `kickAll`, the REST kick-all, a countdown, the last leave) reaches every participant on every node, with
// one end record"; "a countdown whose timer died with its node ends once 2 s overdue"; "within about 3 s of its last
// stamp the dead node's connections count as dropped"). Three release nodes on one --data directory and a private
// redis-server (Debian's, as the README does); skipped with a message when redis-server is missing.
import { DEADLINE_MS, freePort, kitApi, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cancelEnd, initMeeting, kickAll, on } from 'endsession';

const root = fileURLToPath(new URL('../../', import.meta.url));
const binary = join(resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), 'release/endsession-server');
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
const account = 'nodes-account';
const token = randomBytes(16).toString('hex');
const data = mkdtempSync(join(tmpdir(), 'edge-nodes-'));
const processes = [];
let redis, nodes, receiver;
const deliveries = [];
const meetings = [];
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function spawnLogged(cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (b) => (log += b));
  child.stderr.on('data', (b) => (log += b));
  processes.push(child);
  return until(`${cmd} ready`, () => ready(log) || child.exitCode !== null, 20_000).then(() => {
    assert.equal(child.exitCode, null, log);
    return child;
  });
}

before(async () => {
  if (!hasRedis) return;
  const redisPort = await freePort();
  redis = await spawnLogged(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no'],
    (log) => log.includes('Ready to accept connections'),
  );
  nodes = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const args = [
      '--listen',
      `127.0.0.1:${port}`,
      '--data',
      data,
      '--redis',
      `redis://127.0.0.1:${redisPort}`,
    ];
    args.push('--api-token', `${account}:${token}:Realtime Admin`, '--webhook-targets', 'any');
    const child = await spawnLogged(binary, args, (log) => log.includes('listening on'));
    nodes.push({ child, baseURI: `http://127.0.0.1:${port}` });
  }
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, json: JSON.parse(Buffer.concat(chunks)) });
      res.writeHead(200).end();
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
});
after(async () => {
  await Promise.all(meetings.map((m) => m.leave().catch(() => {})));
  for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  receiver?.close();
  rmSync(data, { recursive: true, force: true });
});

const api = (node, method, path, body) => kitApi(node.baseURI, account, token, method, path, body);
async function newMeeting(extra = {}) {
  const appId = (await api(nodes[0], 'POST', '/apps', { name: `n-${Date.now()}-${Math.random()}` })).app.id;
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/${appId}`;
  await api(nodes[0], 'POST', `/${appId}/webhooks`, { name: 'ends', url, events: ['meeting.ended'] });
  const meetingId = (await api(nodes[0], 'POST', `/${appId}/meetings`, { title: 'T', ...extra })).id;
  return { appId, meetingId, base: `/${appId}/meetings/${meetingId}` };
}
async function joinVia(node, room, id, preset) {
  const added = await api(node, 'POST', `${room.base}/participants`, {
    custom_participant_id: id,
    preset_name: preset,
    name: id,
  });
  const meeting = await initMeeting({ authToken: added.token, baseURI: node.baseURI });
  const events = [];
  for (const name of ['sessionEnding', 'sessionEndCancelled', 'roomLeft'])
    on(meeting, name, (payload) => events.push([name, payload]));
  await meeting.join();
  meetings.push(meeting);
  return { meeting, id, of: (n) => events.filter(([x]) => x === n).map(([, p]) => p) };
}
const endedHooks = (sessionId) =>
  deliveries.filter((d) => d.json.event === 'meeting.ended' && d.json.meeting?.sessionId === sessionId);

test(
  'NO_HOST across nodes: host leaves on A, non-host on B counts down, a host on C cancels, then it ends once',
  {
    skip: !hasRedis && 'redis-server is not installed',
  },
  async () => {
    const [a, b, c] = nodes;
    const room = await newMeeting({ end_when_no_host_after_secs: 2 });
    const ann = await joinVia(a, room, 'ann', 'group_call_host');
    const bob = await joinVia(b, room, 'bob', 'group_call_participant');
    await sleep(500);
    assert.equal(bob.of('sessionEnding').length, 0, 'a host is connected (on node A)');
    await ann.meeting.leave();
    const first = await until('NO_HOST at bob on B', () => bob.of('sessionEnding')[0], 8000);
    assert.equal(first.reason, 'NO_HOST');
    const cy = await joinVia(c, room, 'cy', 'group_call_host');
    await until('cancelled at bob by a host on C', () => bob.of('sessionEndCancelled')[0], 8000);
    await sleep(2500); // past the first countdown's endsAt: it must not fire
    assert.equal(bob.of('roomLeft').length, 0, 'the cancelled NO_HOST countdown did not end the session');
    await cy.meeting.leave();
    const left = await until('bob ended NO_HOST', () => bob.of('roomLeft')[0], 3 * DEADLINE_MS);
    assert.equal(left.reason, 'NO_HOST');
    await until('meeting.ended', () => endedHooks(left.sessionId)[0]);
    await sleep(1000);
    assert.equal(endedHooks(left.sessionId).length, 1);
    assert.equal(endedHooks(left.sessionId)[0].headers['rtk-uuid'], left.eventId);
  },
);

test(
  'a countdown started on A is cancelled by a host on B; the next, REST-started on C, ends everyone',
  {
    skip: !hasRedis && 'redis-server is not installed',
  },
  async () => {
    const [a, b, c] = nodes;
    const room = await newMeeting();
    const ann = await joinVia(a, room, 'ann', 'group_call_host');
    const ben = await joinVia(b, room, 'ben', 'group_call_host');
    const cleo = await joinVia(c, room, 'cleo', 'group_call_participant');
    await kickAll(ann.meeting, { graceSeconds: 60, message: 'from A' });
    await until('cleo on C told', () => cleo.of('sessionEnding')[0]);
    assert.deepEqual(await cancelEnd(ben.meeting), { cancelled: true });
    const cancelled = await until('cleo told cancelled', () => cleo.of('sessionEndCancelled')[0]);
    assert.equal(cancelled.cancelledBy?.customParticipantId, 'ben');
    const started = await api(c, 'POST', `${room.base}/active-session/kick-all`, {
      graceSeconds: 1,
      lock: true,
    });
    assert.ok(started.ends_at);
    for (const who of [ann, ben, cleo]) {
      const left = await until(`${who.id} ended`, () => who.of('roomLeft')[0], 3 * DEADLINE_MS);
      assert.deepEqual(left.endedBy, { api: true });
    }
    assert.equal((await api(b, 'GET', room.base)).status, 'INACTIVE');
  },
);

test(
  'NO_HOST when the host node dies: its host counts as gone and the others count down',
  {
    skip: !hasRedis && 'redis-server is not installed',
  },
  async () => {
    const [, b, c] = nodes;
    // A node of its own for the host, killed below (the shared three stay up for other tests).
    const port = await freePort();
    const redisArg = nodes[0].child.spawnargs[nodes[0].child.spawnargs.indexOf('--redis') + 1];
    const args = ['--listen', `127.0.0.1:${port}`, '--data', data, '--redis', redisArg];
    args.push('--api-token', `${account}:${token}:Realtime Admin`, '--webhook-targets', 'any');
    const doomed = { child: await spawnLogged(binary, args, (log) => log.includes('listening on')) };
    doomed.baseURI = `http://127.0.0.1:${port}`;
    const room = await newMeeting({ end_when_no_host_after_secs: 2 });
    await joinVia(doomed, room, 'ann', 'group_call_host');
    const bob = await joinVia(b, room, 'bob', 'group_call_participant');
    const eve = await joinVia(c, room, 'eve', 'group_call_participant');
    await sleep(500);
    assert.equal(bob.of('sessionEnding').length, 0);
    doomed.child.kill('SIGKILL');
    const nh = await until('NO_HOST after the host node died', () => bob.of('sessionEnding')[0], 15_000);
    assert.equal(nh.reason, 'NO_HOST');
    const left = await until('eve ended', () => eve.of('roomLeft')[0], 4 * DEADLINE_MS);
    assert.equal(left.reason, 'NO_HOST');
  },
);

test(
  'a countdown whose node dies before endsAt still ends the session (at most ~2 s overdue)',
  {
    skip: !hasRedis && 'redis-server is not installed',
  },
  async () => {
    const [, b] = nodes;
    const port = await freePort();
    const redisArg = nodes[0].child.spawnargs[nodes[0].child.spawnargs.indexOf('--redis') + 1];
    const args = ['--listen', `127.0.0.1:${port}`, '--data', data, '--redis', redisArg];
    args.push('--api-token', `${account}:${token}:Realtime Admin`, '--webhook-targets', 'any');
    const doomed = { child: await spawnLogged(binary, args, (log) => log.includes('listening on')) };
    doomed.baseURI = `http://127.0.0.1:${port}`;
    const room = await newMeeting();
    const ann = await joinVia(doomed, room, 'ann', 'group_call_host');
    const bob = await joinVia(b, room, 'bob', 'group_call_participant');
    const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 3, message: 'node dies' });
    doomed.child.kill('SIGKILL');
    const left = await until('bob ended', () => bob.of('roomLeft')[0], 4 * DEADLINE_MS);
    assert.equal(left.reason, 'HOST_ENDED_MEETING');
    assert.equal(left.message, 'node dies');
    assert.equal(left.endedBy?.customParticipantId, 'ann');
    const late = Date.now() - new Date(endsAt).getTime();
    assert.ok(late > -100, `not before endsAt (${late} ms)`);
    const hook = await until('meeting.ended', () => endedHooks(left.sessionId)[0], 3 * DEADLINE_MS);
    assert.equal(hook.headers['rtk-uuid'], left.eventId);
  },
);

// A countdown across a server restart, as a user would meet it: the server is stopped during a countdown and
// started again on the same --data directory and port, while our client reconnects by itself.
// README "Ending with a message, a lock, a countdown": "The timer is the server's: it is stored on the session, so it
// runs on when its host leaves and after a restart (a countdown already due when the server comes back ends at once)."
import { DEADLINE_MS, freePort, kitApi, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientError, cancelEnd, initMeeting, kickAll, on, sessionEnding } from 'endsession';

const root = fileURLToPath(new URL('../../', import.meta.url));
const binary = join(resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), 'release/endsession-server');
const account = 'restart-account';
const token = randomBytes(16).toString('hex');
const data = mkdtempSync(join(tmpdir(), 'edge-restart-'));
let port, baseURI, server, receiver;
const deliveries = [];
const meetings = [];
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function start() {
  const args = ['--listen', `127.0.0.1:${port}`, '--data', data, '--webhook-targets', 'any'];
  args.push('--api-token', `${account}:${token}:Realtime Admin`);
  server = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (b) => (log += b));
  server.stderr.on('data', (b) => (log += b));
  await until('`listening on`', () => log.includes('listening on') || server.exitCode !== null);
  assert.equal(server.exitCode, null, log);
}
async function stop(signal = 'SIGTERM') {
  const exited = new Promise((ok) => server.once('exit', ok));
  server.kill(signal);
  await Promise.race([exited, sleep(DEADLINE_MS)]);
  if (server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL');
    await exited;
  }
}

const api = (method, path, body) => kitApi(baseURI, account, token, method, path, body);

before(async () => {
  port = await freePort();
  baseURI = `http://127.0.0.1:${port}`;
  await start();
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      deliveries.push({ headers: req.headers, json: JSON.parse(body) });
      res.writeHead(200).end();
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
});
after(async () => {
  await Promise.all(meetings.map((m) => m.leave().catch(() => {})));
  if (server) await stop();
  receiver?.close();
  rmSync(data, { recursive: true, force: true });
});

async function newMeeting(extra = {}) {
  const appId = (await api('POST', '/apps', { name: `r-${Date.now()}-${Math.random()}` })).app.id;
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/${appId}`;
  await api('POST', `/${appId}/webhooks`, { name: 'ends', url, events: ['meeting.ended'] });
  const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'T', ...extra })).id;
  return { appId, meetingId, base: `/${appId}/meetings/${meetingId}` };
}
async function joinAs(room, id, preset) {
  const added = await api('POST', `${room.base}/participants`, {
    custom_participant_id: id,
    preset_name: preset,
    name: id,
  });
  const meeting = await initMeeting({ authToken: added.token, baseURI });
  const events = [];
  for (const name of ['sessionEnding', 'sessionEndCancelled', 'roomLeft', 'roomJoined'])
    on(meeting, name, (payload) => events.push([name, payload]));
  await meeting.join();
  meetings.push(meeting);
  return { meeting, id, token: added.token, of: (n) => events.filter(([x]) => x === n).map(([, p]) => p) };
}
const ended = (who) => who.of('roomLeft').find((l) => l.state === 'ended');

test('countdown + lock, server down across endsAt: ends at once on restart, locked, one record', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const { endsAt } = await kickAll(ann.meeting, {
    graceSeconds: 2,
    lock: true,
    message: 'locked after restart',
  });
  await until('bob told', () => bob.of('sessionEnding')[0]);
  await stop();
  await sleep(Math.max(0, new Date(endsAt).getTime() - Date.now()) + 500); // down across endsAt
  await start();
  const left = await until('bob ended after the restart', () => ended(bob), 3 * DEADLINE_MS);
  assert.equal(left.reason, 'HOST_ENDED_MEETING');
  assert.equal(left.message, 'locked after restart');
  assert.equal(left.endedBy?.customParticipantId, 'ann');
  const annLeft = await until('ann ended', () => ended(ann), 3 * DEADLINE_MS);
  assert.equal(annLeft.eventId, left.eventId, 'one record');
  // README: "`lock: true`: the meeting becomes `INACTIVE` in the same store transaction as the end"
  const m = await api('GET', room.base);
  assert.equal(m.status, 'INACTIVE');
  const hook = await until('meeting.ended', () =>
    deliveries.find((d) => d.json.event === 'meeting.ended' && d.json.meeting.sessionId === left.sessionId),
  );
  assert.equal(hook.headers['rtk-uuid'], left.eventId);
  assert.equal(hook.json.message, 'locked after restart');
  // README: "a join racing it either was in the ended session or is refused `4030`"
  await assert.rejects(
    joinAs(room, 'late', 'group_call_participant'),
    (e) => e instanceof ClientError && e.code === '4030',
  );
});

test('a cancelled countdown stays cancelled across a restart', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 2, lock: true });
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
  await until('bob told cancelled', () => bob.of('sessionEndCancelled')[0]);
  await stop();
  await sleep(Math.max(0, new Date(endsAt).getTime() - Date.now()) + 500);
  await start();
  await until(
    'bob resumed',
    () => bob.of('roomJoined').length >= 2 && bob.meeting.self.roomState === 'joined',
    3 * DEADLINE_MS,
  );
  await sleep(1500);
  assert.equal(ended(bob), undefined, 'the cancelled countdown did not fire after the restart');
  assert.equal(sessionEnding(bob.meeting), null);
  assert.equal((await api('GET', room.base)).status, 'ACTIVE', 'its lock was cancelled with it');
});

test('restart before endsAt: a joiner after the restart sees the same endsAt, and it ends then', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 8, message: 'eight' });
  await stop();
  await sleep(500);
  await start();
  const eve = await joinAs(room, 'eve', 'group_call_participant');
  // README: "as does anyone who joins during it, right after `joined`"
  const told = await until(
    'eve told the countdown',
    () => eve.of('sessionEnding')[0] ?? sessionEnding(eve.meeting),
  );
  assert.equal(told.endsAt, endsAt, 'the stored endsAt, not a fresh one');
  assert.equal(told.message, 'eight');
  const left = await until('eve ended', () => ended(eve), 4 * DEADLINE_MS);
  assert.ok(Date.now() >= new Date(endsAt).getTime() - 100, 'not before endsAt');
  assert.equal(left.endedBy?.customParticipantId, 'ann');
});

// README: "While no participant with `kick_participant` has a connection open in the live session, a countdown of
// that length runs ... and ends the session with `NO_HOST`" and "A restart does not end sessions". After a restart the
// non-host resumes a session that still has no host: the NO_HOST rule must still end it.
test('NO_HOST across a restart: a session without a host still ends NO_HOST after the server comes back', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 3 });
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const first = await until('NO_HOST countdown', () => bob.of('sessionEnding')[0]);
  assert.equal(first.reason, 'NO_HOST');
  await stop();
  await sleep(500);
  await start();
  const left = await until('bob ended NO_HOST', () => ended(bob), 4 * DEADLINE_MS);
  assert.equal(left.reason, 'NO_HOST');
  assert.equal(left.endedBy, undefined);
  const hook = await until('meeting.ended', () =>
    deliveries.find((d) => d.json.event === 'meeting.ended' && d.json.meeting.sessionId === left.sessionId),
  );
  assert.equal(hook.json.reason, 'NO_HOST');
  assert.equal(hook.headers['rtk-uuid'], left.eventId);
});

// The same with a host who does not come back after the restart: the non-host resumes, the host is absent.
test('NO_HOST across a restart when only the host does not come back', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 3 });
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await stop();
  await ann.meeting.leave(); // while the server is down: ann never resumes
  await sleep(500);
  await start();
  await until(
    'bob resumed',
    () => bob.of('roomJoined').length >= 2 && bob.meeting.self.roomState === 'joined',
    3 * DEADLINE_MS,
  );
  const nh = await until(
    'NO_HOST countdown after the restart',
    () => bob.of('sessionEnding')[0],
    3 * DEADLINE_MS,
  );
  assert.equal(nh.reason, 'NO_HOST');
  const left = await until('bob ended', () => ended(bob), 4 * DEADLINE_MS);
  assert.equal(left.reason, 'NO_HOST');
});

// The same as a crash: "The timer is the server's: it is stored on the session" — stored when the countdown starts,
// so a SIGKILL (no graceful shutdown) loses nothing.
test('SIGKILL during a countdown: after the restart it ends at endsAt with its record and lock', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 4, lock: true, message: 'crash-proof' });
  await until('bob told', () => bob.of('sessionEnding')[0]);
  await stop('SIGKILL');
  await sleep(300);
  await start();
  const left = await until('bob ended', () => ended(bob), 4 * DEADLINE_MS);
  assert.ok(Date.now() >= new Date(endsAt).getTime() - 100, 'not before endsAt');
  assert.equal(left.message, 'crash-proof');
  assert.equal(left.endedBy?.customParticipantId, 'ann');
  assert.equal((await api('GET', room.base)).status, 'INACTIVE');
  const hook = await until('meeting.ended', () =>
    deliveries.find((d) => d.json.event === 'meeting.ended' && d.json.meeting.sessionId === left.sessionId),
  );
  assert.equal(hook.headers['rtk-uuid'], left.eventId);
});

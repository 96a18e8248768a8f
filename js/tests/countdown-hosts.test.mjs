// Who counts as "a host connected" for NO_HOST, and which options an end-now that interrupts a countdown
// carries. README "Ending with a message, a lock, a countdown": "While no participant with `kick_participant` has a
// connection open in the live session, a countdown of that length runs ... and ends the session with `NO_HOST`";
// "A second `kickAll` during a countdown: with `graceSeconds` 0 (or none) it ends the session now with its own record".
import { DEADLINE_MS, kitApi, startServer, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Socket, createServer as createTcpServer } from 'node:net';
import { initMeeting, kickAll, on, sessionEnding } from 'endsession';

const account = 'hosts-account';
const token = randomBytes(16).toString('hex');
let baseURI, stopServer;
const meetings = [];
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

const api = (method, path, body) => kitApi(baseURI, account, token, method, path, body);

before(async () => {
  ({ baseURI, stop: stopServer } = await startServer(account, token));
});
after(async () => {
  await Promise.all(meetings.map((m) => m.leave().catch(() => {})));
  stopServer?.();
});

async function newMeeting(extra = {}) {
  const appId = (await api('POST', '/apps', { name: `h-${Date.now()}-${Math.random()}` })).app.id;
  const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'T', ...extra })).id;
  return { appId, meetingId, base: `/${appId}/meetings/${meetingId}` };
}
async function joinAs(room, id, preset, via = baseURI, options = {}) {
  const added = await api('POST', `${room.base}/participants`, {
    custom_participant_id: id,
    preset_name: preset,
    name: id,
  });
  const meeting = await initMeeting({ authToken: added.token, baseURI: via, ...options });
  const events = [];
  for (const name of ['sessionEnding', 'sessionEndCancelled', 'roomLeft'])
    on(meeting, name, (payload) => events.push([name, payload]));
  await meeting.join();
  meetings.push(meeting);
  return { meeting, id, token: added.token, of: (n) => events.filter(([x]) => x === n).map(([, p]) => p) };
}

/** A TCP relay in front of the server whose connections can be cut (and new ones refused): a network drop. */
async function relay() {
  const target = new URL(baseURI);
  const sockets = new Set();
  let refusing = false;
  const server = createTcpServer((client) => {
    if (refusing) return client.destroy();
    const upstream = new Socket();
    upstream.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      refusing = true;
      for (const s of sockets) s.destroy();
    },
    close: () => server.close(),
  };
}

test('NO_HOST starts while the only host is disconnected (still within its reconnect grace)', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 2 });
  const link = await relay();
  try {
    // The relay refuses every reconnect after the cut, so the host stays away (disconnected) for the whole test.
    const ann = await joinAs(room, 'ann', 'group_call_host', link.url);
    const bob = await joinAs(room, 'bob', 'group_call_participant');
    await sleep(300);
    assert.equal(bob.of('sessionEnding').length, 0, 'a host is connected');
    link.cut();
    await until('ann disconnected', () => ann.of('roomLeft').some((l) => l.state === 'disconnected'));
    // "has a connection open": ann's is gone, though ann stays in the session for --reconnect-grace-ms (30 s).
    const nh = await until('NO_HOST countdown for bob', () => bob.of('sessionEnding')[0], 8000);
    assert.equal(nh.reason, 'NO_HOST');
    const left = await until('bob ended', () => bob.of('roomLeft')[0], 3 * DEADLINE_MS);
    assert.equal(left.reason, 'NO_HOST');
  } finally {
    link.close();
  }
});

test('NO_HOST does not start while the host has a second connection open', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 1 });
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const ann2 = await joinAs(room, 'ann-laptop', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await ann.meeting.leave();
  await sleep(2500);
  assert.equal(bob.of('sessionEnding').length, 0, 'ann-laptop is still a host with a connection');
  assert.equal(bob.meeting.self.roomState, 'joined');
  await ann2.meeting.leave();
  await until('NO_HOST now', () => bob.of('sessionEnding')[0], 8000);
});

// "its own record": the end-now's own message and lock, not the countdown's.
test('an end-now during a locking countdown ends with its own options: no lock unless it asks', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await kickAll(ann.meeting, { graceSeconds: 60, lock: true, message: 'countdown' });
  await until('bob told', () => bob.of('sessionEnding')[0]);
  await kickAll(ann.meeting, { message: 'now, unlocked' });
  const left = await until('bob ended', () => bob.of('roomLeft')[0]);
  assert.equal(left.message, 'now, unlocked');
  assert.equal((await api('GET', room.base)).status, 'ACTIVE', 'the end-now did not ask for a lock');

  const room2 = await newMeeting();
  const cy = await joinAs(room2, 'cy', 'group_call_host');
  await kickAll(cy.meeting, { graceSeconds: 60 });
  await kickAll(cy.meeting, { lock: true });
  await until('cy ended', () => cy.of('roomLeft')[0]);
  assert.equal((await api('GET', room2.base)).status, 'INACTIVE', 'the end-now asked for a lock');
});

// README: "with `graceSeconds` > 0 the running countdown is kept and its `endsAt` answered": its message and lock too.
test('a second countdown request keeps the first one whole: endsAt, message, and lock', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const cy = await joinAs(room, 'cy', 'group_call_host');
  const first = await kickAll(ann.meeting, { graceSeconds: 2, message: 'first' });
  const second = await kickAll(cy.meeting, { graceSeconds: 30, message: 'second', lock: true });
  assert.equal(second.endsAt, first.endsAt);
  assert.equal(sessionEnding(cy.meeting).message, 'first');
  const left = await until('ann ended', () => ann.of('roomLeft')[0], 3 * DEADLINE_MS);
  assert.equal(left.message, 'first');
  assert.equal(left.endedBy.customParticipantId, 'ann');
  assert.equal(
    (await api('GET', room.base)).status,
    'ACTIVE',
    "the kept countdown had no lock; cy's was dropped",
  );
});

// README "`lock: true`: the meeting becomes `INACTIVE` in the same store transaction as the end, under the room lock,
// so no join is admitted after the end (a join racing it either was in the ended session or is refused `4030`)" and
// "At `endsAt` the server ends the session (... its message and lock)": the same must hold when the END is the
// countdown's timer firing, not a host's call. 40 joins spread across endsAt.
test('joins racing a locking countdown as it fires: each was in the ended session or is refused 4030', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  const racers = [];
  for (let i = 0; i < 40; i++) {
    const added = await api('POST', `${room.base}/participants`, {
      custom_participant_id: `r${i}`,
      preset_name: 'group_call_participant',
      name: `r${i}`,
    });
    const meeting = await initMeeting({ authToken: added.token, baseURI });
    const left = [];
    on(meeting, 'roomLeft', (p) => left.push(p));
    racers.push({ meeting, left });
    meetings.push(meeting);
  }
  const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 2, lock: true });
  const at = new Date(endsAt).getTime();
  const results = await Promise.all(
    racers.map(async (r, i) => {
      await sleep(Math.max(0, at - Date.now() - 200 + i * 10)); // from 200 ms before endsAt to 200 ms after
      const t = Date.now() - at;
      try {
        await r.meeting.join();
        return { joined: r.meeting.meta.sessionId, t, done: Date.now() - at };
      } catch (e) {
        return { code: e.code, t, done: Date.now() - at };
      }
    }),
  );
  await until('ann ended', () => ann.of('roomLeft')[0], 3 * DEADLINE_MS);
  const bad = [];
  for (const [i, res] of results.entries()) {
    if (res.code !== undefined) {
      if (res.code !== '4030') bad.push([i, res]);
    } else if (res.joined !== sessionId) {
      bad.push([i, res, 'joined a new session after the locking end']);
    } else {
      await until(`r${i} told the end`, () => racers[i].left.find((l) => l.state === 'ended'));
    }
  }
  assert.deepEqual(bad, [], JSON.stringify(results));
  assert.equal((await api('GET', room.base)).status, 'INACTIVE');
  console.log(
    'race outcomes (ms from endsAt: sent, answered)',
    JSON.stringify(results.map((r) => [r.code ?? (r.joined === sessionId ? 'in' : 'NEW'), r.t, r.done])),
  );
});

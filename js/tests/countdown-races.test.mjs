// Probes of the end options, the countdown, NO_HOST and the end record with inputs the other
// tests do not use: cancel racing expiry, two cancels, presets edited live, a host leaving and coming back during
// NO_HOST, the NO_HOST setting changed mid-session, a countdown racing the last leave, REST PATCH during a countdown,
// clock edges (3600) and many participants. Each assertion cites the README line it checks.
import { DEADLINE_MS, kitApi, kitRaw, startServer, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { ClientError, canEndSession, cancelEnd, initMeeting, kickAll, on, sessionEnding } from 'endsession';

const account = 'account-account';
const token = randomBytes(16).toString('hex');
let baseURI, stopServer, receiver;
const deliveries = [];
const meetings = [];

const raw = (method, path, body, rawBody) => kitRaw(baseURI, account, token, method, path, body, rawBody);
const api = (method, path, body) => kitApi(baseURI, account, token, method, path, body);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

before(async () => {
  ({ baseURI, stop: stopServer } = await startServer(account, token));
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({
        headers: req.headers,
        body: Buffer.concat(chunks),
        json: JSON.parse(Buffer.concat(chunks)),
      });
      res.writeHead(200).end();
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
});
after(async () => {
  await Promise.all(meetings.map((m) => m.leave().catch(() => {})));
  stopServer?.();
  receiver?.close();
});

async function newMeeting(extra = {}) {
  const appId = (await api('POST', '/apps', { name: `edge-${Date.now()}-${Math.random()}` })).app.id;
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
  for (const name of ['sessionEnding', 'sessionEndCancelled', 'roomLeft'])
    on(meeting, name, (payload) => events.push([name, payload]));
  await meeting.join();
  meetings.push(meeting);
  const of = (name) => events.filter(([n]) => n === name).map(([, p]) => p);
  return { meeting, events, of, id, participantId: added.id };
}
const firstOf = (who, name, ms) => until(`${name} at ${who.id}`, () => who.of(name)[0], ms);
const endedWebhooks = (sessionId) =>
  deliveries.filter((d) => d.json.event === 'meeting.ended' && d.json.meeting?.sessionId === sessionId);

// README "Cancel": `cancelEnd` answers `{cancelled}`; "At `endsAt` the server ends the session". A cancel racing the
// expiry must be one or the other: `cancelled: true` and the session lives on, or `cancelled: false` and it ended.
test('cancel racing the expiry at endsAt: cancelled:true never coexists with an end', async () => {
  const outcomes = [];
  for (let round = 0; round < 6; round++) {
    const room = await newMeeting();
    const ann = await joinAs(room, 'ann', 'group_call_host');
    const bob = await joinAs(room, 'bob', 'group_call_participant');
    const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 1 });
    // Aim the cancel at endsAt itself, shifted a little each round to straddle it.
    await sleep(Math.max(0, new Date(endsAt).getTime() - Date.now() - 40 + round * 15));
    const result = await cancelEnd(ann.meeting).catch((e) => e);
    await sleep(1500); // past endsAt by ≥ 0.5 s: an uncancelled countdown has fired by now
    const ended = bob.of('roomLeft').some((l) => l.state === 'ended');
    outcomes.push([result?.cancelled ?? result?.code, ended]);
    if (result?.cancelled === true) {
      assert.equal(ended, false, `round ${round}: cancelled:true but the session ended anyway`);
      assert.equal(bob.meeting.self.roomState, 'joined');
      assert.ok(bob.of('sessionEndCancelled').length >= 1, `round ${round}: no sessionEndCancelled`);
    } else {
      assert.equal(ended, true, `round ${round}: not cancelled (${JSON.stringify(result)}) yet not ended`);
      assert.equal(bob.of('sessionEndCancelled').length, 0, `round ${round}: told cancelled but ended`);
    }
    await ann.meeting.leave().catch(() => {});
    await bob.meeting.leave().catch(() => {});
  }
  console.log('cancel vs expiry outcomes', JSON.stringify(outcomes));
});

// README: "`cancelled: false` if none ran"; "Everyone gets `sessionEndCancelled`". Two cancels at once (two hosts and
// the REST route): exactly one cancels, everyone is told once.
test('three cancels at once (two hosts and REST): exactly one cancels, one sessionEndCancelled each', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const cy = await joinAs(room, 'cy', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await kickAll(ann.meeting, { graceSeconds: 60 });
  await firstOf(bob, 'sessionEnding');
  const [a, c, r] = await Promise.all([
    cancelEnd(ann.meeting),
    cancelEnd(cy.meeting),
    raw('POST', `${room.base}/active-session/cancel-end`),
  ]);
  const flags = [a.cancelled, c.cancelled, r.json.data.cancelled];
  assert.equal(flags.filter(Boolean).length, 1, `exactly one cancel wins: ${JSON.stringify(flags)}`);
  await firstOf(bob, 'sessionEndCancelled');
  await sleep(500);
  for (const who of [ann, cy, bob])
    assert.equal(who.of('sessionEndCancelled').length, 1, `${who.id} told once`);
  assert.equal(canEndSession(ann.meeting), true);
});

// README: "Everyone gets `sessionEnding` ... `canEndSession` is `false` meanwhile" and "no end of this participant's
// under way"; after the end: "`cancelEnd` ... '1205' outside the room".
test('cancelEnd after the countdown ended is 1205; a second kickAll after the end is alreadyEnded', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await kickAll(ann.meeting, { graceSeconds: 1, message: 'bye' });
  assert.equal(canEndSession(ann.meeting), false, 'false during the countdown');
  const left = await firstOf(ann, 'roomLeft', 3 * DEADLINE_MS);
  assert.equal(left.state, 'ended');
  assert.equal(left.message, 'bye');
  await assert.rejects(cancelEnd(ann.meeting), (e) => e instanceof ClientError && e.code === '1205');
  const again = await kickAll(ann.meeting).catch((e) => e);
  // README: "`kickAll` on a session that has ended ... resolves with that session's id ... alreadyEnded: true"
  assert.equal(again.alreadyEnded, true, JSON.stringify(again));
  assert.equal(again.sessionId, left.sessionId);
  const bobLeft = await firstOf(bob, 'roomLeft');
  assert.equal(bobLeft.eventId, left.eventId);
});

// README: "NO_HOST ... While no participant with `kick_participant` has a connection open in the live session, a
// countdown of that length runs ... a host connecting (joining, resuming, or being given the permission) cancels
// it". Permission given/taken by editing the PRESET (not the participant) is the same kind of change.
test('NO_HOST follows a preset edited live: kick_participant taken away starts it, given back cancels it', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 60 });
  // The app's own group_call_host preset, edited through PATCH …/presets/{id} while its holder is in the session.
  const presets = await api('GET', `/${room.appId}/presets`);
  const preset = presets.find((p) => p.name === 'group_call_host');
  assert.ok(preset?.id, JSON.stringify(presets));
  const presetName = 'group_call_host';
  const mod = await joinAs(room, 'mod', presetName);
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  assert.equal(canEndSession(mod.meeting), true, 'the preset gives kick_participant');
  await sleep(300);
  assert.equal(bob.of('sessionEnding').length, 0, 'a host is there: no NO_HOST countdown');
  await api('PATCH', `/${room.appId}/presets/${preset.id}`, { permissions: { kick_participant: false } });
  await until('mod loses the permission', () => canEndSession(mod.meeting) === false);
  const nh = await firstOf(bob, 'sessionEnding', 5000);
  assert.equal(nh.reason, 'NO_HOST');
  await api('PATCH', `/${room.appId}/presets/${preset.id}`, { permissions: { kick_participant: true } });
  await until('NO_HOST cancelled by the preset edit', () => bob.of('sessionEndCancelled')[0], 5000);
  assert.equal(sessionEnding(bob.meeting), null);
});

// README: "a host connecting (joining, resuming ...) cancels it" and "A `NO_HOST` countdown cancelled by hand does not
// start again until a host has been connected": a host that comes back then leaves again restarts it; and it ends
// the session NO_HOST with no endedBy (webhook: `endedBy` null, `message` null, rtk-uuid = eventId).
test('NO_HOST: host leaves, rejoins, leaves again: a fresh countdown, the end is NO_HOST with one record', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 2 });
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await ann.meeting.leave();
  const first = await firstOf(bob, 'sessionEnding', 5000);
  assert.equal(first.reason, 'NO_HOST');
  const ann2 = await joinAs(room, 'ann2', 'group_call_host');
  await until('cancelled by the host joining', () => bob.of('sessionEndCancelled')[0], 5000);
  assert.equal(
    bob.of('sessionEndCancelled')[0].cancelledBy,
    undefined,
    'no cancelledBy for a host connecting',
  );
  // "a host connecting ... cancels it" — a hand cancel followed by a host coming and going: it starts again.
  await ann2.meeting.leave();
  const second = await until('second NO_HOST countdown', () => bob.of('sessionEnding')[1], 5000);
  assert.equal(second.reason, 'NO_HOST');
  assert.ok(new Date(second.endsAt) > new Date(first.endsAt), 'a fresh countdown, not the old endsAt');
  const left = await firstOf(bob, 'roomLeft', 3 * DEADLINE_MS);
  assert.equal(left.state, 'ended');
  assert.equal(left.reason, 'NO_HOST');
  assert.equal(left.endedBy, undefined, 'README: absent when nobody did');
  const hook = await until('meeting.ended', () => endedWebhooks(left.sessionId)[0]);
  assert.equal(hook.json.reason, 'NO_HOST');
  assert.equal(hook.json.endedBy, null);
  assert.equal(hook.json.message, null);
  assert.equal(hook.headers['rtk-uuid'], left.eventId);
});

// README: "`end_when_no_host_after_secs` ... read when a session starts": changing it mid-session changes nothing
// for the live session; the next session uses it.
test('end_when_no_host_after_secs PATCHed mid-session applies to the next session only', async () => {
  const room = await newMeeting();
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await api('PATCH', room.base, { end_when_no_host_after_secs: 1 });
  await sleep(2500);
  assert.equal(bob.of('sessionEnding').length, 0, 'the live session read 0 (never) when it started');
  assert.equal(bob.meeting.self.roomState, 'joined');
  await bob.meeting.leave();
  const eve = await joinAs(room, 'eve', 'group_call_participant');
  const nh = await firstOf(eve, 'sessionEnding', 5000);
  assert.equal(nh.reason, 'NO_HOST');
});

// README: "the timer is the server's ... it runs on when its host leaves"; a meeting PATCH (title) during the
// countdown changes nothing about it; "each session has exactly one `meeting.ended`".
test('REST PATCH of the meeting during a countdown keeps it; it ends at endsAt with one webhook', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 2, message: 'wrap up' });
  await api('PATCH', room.base, { title: 'Renamed during the countdown', end_when_no_host_after_secs: 5 });
  await ann.meeting.leave();
  const left = await firstOf(bob, 'roomLeft', 3 * DEADLINE_MS);
  assert.equal(left.reason, 'HOST_ENDED_MEETING');
  assert.equal(left.message, 'wrap up');
  assert.equal(left.endedBy?.customParticipantId, 'ann');
  assert.ok(Date.now() >= new Date(endsAt).getTime() - 50, 'not before endsAt');
  await until('meeting.ended', () => endedWebhooks(left.sessionId)[0]);
  await sleep(800);
  assert.equal(endedWebhooks(left.sessionId).length, 1, 'exactly one meeting.ended');
});

// README: "each session has exactly one `meeting.ended`". A countdown running when the last participant leaves: the
// session ends ALL_PARTICIPANTS_LEFT (keep-alive 0), and the countdown must not end it a second time at endsAt.
test('countdown running when everyone leaves: one end, one meeting.ended, no second end at endsAt', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  await kickAll(ann.meeting, { graceSeconds: 1 });
  await ann.meeting.leave();
  await until('meeting.ended', () => endedWebhooks(sessionId)[0]);
  await sleep(2000); // past endsAt
  const hooks = endedWebhooks(sessionId);
  assert.equal(hooks.length, 1, `one meeting.ended: ${hooks.map((h) => h.json.reason)}`);
  // A new session in the same meeting is not touched by the old countdown.
  const bob = await joinAs(room, 'bob', 'group_call_host');
  assert.notEqual(bob.meeting.meta.sessionId, sessionId);
  assert.equal(sessionEnding(bob.meeting), null);
  await sleep(500);
  assert.equal(bob.meeting.self.roomState, 'joined');
});

// README: "`graceSeconds` ... 1 to 3600 (`MAX_GRACE_SECONDS`)": 3600 counts down an hour; 3601 is 4220 and ends
// nothing; 0 ends now.
test('clock edges: graceSeconds 3600 is an hour, 3601 is refused, 0 ends now', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await assert.rejects(
    kickAll(ann.meeting, { graceSeconds: 3601 }),
    (e) => e instanceof ClientError && e.code === '4220',
  );
  assert.equal(bob.of('sessionEnding').length, 0);
  const t0 = Date.now();
  const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 3600 });
  const ms = new Date(endsAt).getTime() - t0;
  assert.ok(ms > 3595_000 && ms < 3605_000, `endsAt is an hour away: ${ms} ms`);
  const told = await firstOf(bob, 'sessionEnding');
  assert.ok(told.remainingMs <= 3600_000 && told.remainingMs > 3590_000, `remainingMs ${told.remainingMs}`);
  // README: "A second `kickAll` during a countdown: with `graceSeconds` 0 ... ends the session now with its own record"
  const now = await kickAll(ann.meeting, { graceSeconds: 0, message: 'now' });
  assert.equal(now.alreadyEnded, false);
  const left = await firstOf(bob, 'roomLeft');
  assert.equal(left.message, 'now');
});

// README: "ending the session works the same at any size" and "every participant's `roomLeft` for an end carries
// {...eventId}" — 130 participants (past the 100 where joins stop being announced).
test('130 participants: all see the countdown and one end record with one eventId', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const crowd = [];
  for (let i = 0; i < 129; i += 10) {
    const batch = [];
    for (let j = i; j < Math.min(i + 10, 129); j++)
      batch.push(joinAs(room, `p${j}`, 'group_call_participant'));
    crowd.push(...(await Promise.all(batch)));
  }
  const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 2, message: 'crowd' });
  await until(
    'everyone told the countdown',
    () => crowd.every((p) => p.of('sessionEnding').length === 1),
    20_000,
  );
  for (const p of crowd) assert.equal(p.of('sessionEnding')[0].endsAt, endsAt);
  await until('everyone ended', () => crowd.every((p) => p.of('roomLeft').length >= 1), 30_000);
  const ids = new Set(crowd.map((p) => p.of('roomLeft')[0].eventId));
  assert.equal(ids.size, 1, 'one eventId');
  const left = crowd[0].of('roomLeft')[0];
  assert.equal(left.kickedCount, 130);
  const hook = await until('meeting.ended', () => endedWebhooks(left.sessionId)[0]);
  assert.equal(hook.headers['rtk-uuid'], left.eventId);
  for (const p of crowd) p.meeting.leave().catch(() => {});
});

// Once a fault (fixed): README "`cancelEnd(meeting)` ... { cancelled }; needs kick_participant ('1201' without), '1205'
// outside the room" and js/index.ts "resolves with `{cancelled}` — false when no countdown was running ... Rejects
// like `kickAll`", whose in-flight rule is "`kickAll` on a session that has ended (or ends while the call waits)
// resolves ... `alreadyEnded: true`". A cancelEnd in flight when ANOTHER host or the REST API ends the session is
// rejected with '4902' ("The participant left the room before the call completed") though nobody called leave();
// the same race on one meeting object (its own kickAll then cancelEnd) resolves `{cancelled: false}` as documented.
test('a cancelEnd in flight when another host or the REST API ends the session: {cancelled} or 1205, never 4902', async () => {
  const outcomes = [];
  for (const by of ['other host', 'REST', 'other host', 'REST']) {
    const room = await newMeeting();
    const ann = await joinAs(room, 'ann', 'group_call_host');
    const cy = await joinAs(room, 'cy', 'group_call_host');
    await kickAll(ann.meeting, { graceSeconds: 60 });
    await firstOf(cy, 'sessionEnding');
    const end =
      by === 'REST'
        ? raw('POST', `${room.base}/active-session/kick-all`)
        : kickAll(cy.meeting, { graceSeconds: 0 });
    const [ended, cancel] = await Promise.allSettled([end, cancelEnd(ann.meeting)]);
    assert.equal(ended.status, 'fulfilled', JSON.stringify(ended.reason));
    await firstOf(ann, 'roomLeft');
    const got =
      cancel.status === 'fulfilled'
        ? cancel.value
        : { code: cancel.reason?.code, message: cancel.reason?.message };
    outcomes.push([by, got]);
  }
  for (const [by, got] of outcomes)
    assert.ok(
      typeof got.cancelled === 'boolean' || got.code === '1205',
      `ended by ${by}: cancelEnd answered ${JSON.stringify(got)}; all: ${JSON.stringify(outcomes)}`,
    );
});

// README: "At `endsAt` the server ends the session" and "each session has exactly one `meeting.ended`": many countdowns
// (50 meetings, REST-started, all due within the same second) each end their own session once, with their own record.
test('50 meetings whose countdowns fire in the same second: each ends once, with its own record', async () => {
  const rooms = [];
  for (let i = 0; i < 50; i++) {
    const room = await newMeeting();
    const who = await joinAs(room, `solo${i}`, 'group_call_participant');
    rooms.push({ room, who, message: `room ${i}` });
  }
  const started = await Promise.all(
    rooms.map(({ room, message }) =>
      raw('POST', `${room.base}/active-session/kick-all`, { graceSeconds: 3, message }),
    ),
  );
  for (const s of started) assert.equal(s.status, 200, JSON.stringify(s.json));
  await until(
    'every room ended',
    () => rooms.every(({ who }) => who.of('roomLeft').length > 0),
    6 * DEADLINE_MS,
  );
  for (const [i, { who, message }] of rooms.entries()) {
    const left = who.of('roomLeft')[0];
    assert.equal(left.state, 'ended', `room ${i}`);
    assert.equal(left.message, message, `room ${i} has its own message`);
    assert.deepEqual(left.endedBy, { api: true });
    const hook = await until(
      `room ${i} meeting.ended`,
      () => endedWebhooks(left.sessionId)[0],
      3 * DEADLINE_MS,
    );
    assert.equal(hook.headers['rtk-uuid'], left.eventId);
    assert.equal(hook.json.message, message);
  }
  await sleep(1000);
  for (const { who } of rooms)
    assert.equal(endedWebhooks(who.of('roomLeft')[0].sessionId).length, 1, 'one meeting.ended per session');
});

// README: "`end_when_no_host_after_secs` (whole seconds, 0 to 86400 ...) ... a countdown of that length runs": the
// longest setting counts down a whole day (not clamped to the 3600 of `graceSeconds`).
test('end_when_no_host_after_secs 86400: the NO_HOST countdown is a day long', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 86400 });
  const t0 = Date.now();
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const nh = await firstOf(bob, 'sessionEnding');
  assert.equal(nh.reason, 'NO_HOST');
  const ms = new Date(nh.endsAt).getTime() - t0;
  assert.ok(ms > 86_390_000 && ms < 86_410_000, `a day: ${ms} ms`);
});

// README: "A `NO_HOST` countdown cancelled by hand does not start again until a host has been connected": after a
// host came and went, it does.
test('NO_HOST cancelled by hand, then a host comes and goes: it starts again', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 60 });
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await firstOf(bob, 'sessionEnding');
  const c = await raw('POST', `${room.base}/active-session/cancel-end`);
  assert.equal(c.json.data.cancelled, true);
  await firstOf(bob, 'sessionEndCancelled');
  const ann = await joinAs(room, 'ann', 'group_call_host');
  assert.equal(sessionEnding(ann.meeting), null);
  await ann.meeting.leave();
  const again = await until('NO_HOST again', () => bob.of('sessionEnding')[1], 5000);
  assert.equal(again.reason, 'NO_HOST');
});

// README: "`sessionEnding(meeting)` // the countdown running now, or null" and "the end state `ending` until the end
// or `sessionEndCancelled`": once the countdown has ended the session, none runs.
test('after a countdown ended the session, sessionEnding(meeting) is null and the state is ended', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await kickAll(ann.meeting, { graceSeconds: 1 });
  await firstOf(bob, 'sessionEnding');
  assert.ok(sessionEnding(bob.meeting), 'running during it');
  await firstOf(bob, 'roomLeft', 3 * DEADLINE_MS);
  for (const who of [ann, bob]) {
    assert.equal(sessionEnding(who.meeting), null, `${who.id}: no countdown runs after the end`);
    assert.equal(canEndSession(who.meeting), false);
  }
});

// README "`session_keep_alive_time_in_secs` ... the session stays live that long after its last participant leaves
// ... it ends `ALL_PARTICIPANTS_LEFT` ... once the time runs out" and "each session has exactly one `meeting.ended`":
// a countdown on a kept-alive empty session ends it at endsAt; the keep-alive timer must not end it again.
test('a REST countdown on an empty kept-alive session ends it once at endsAt', async () => {
  const room = await newMeeting({ session_keep_alive_time_in_secs: 3 });
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  await ann.meeting.leave();
  const s = await raw('POST', `${room.base}/active-session/kick-all`, { graceSeconds: 1, message: 'empty' });
  assert.equal(s.status, 200, JSON.stringify(s.json));
  const hook = await until('meeting.ended', () => endedWebhooks(sessionId)[0], 3 * DEADLINE_MS);
  await sleep(4000); // past the keep-alive too
  const hooks = endedWebhooks(sessionId);
  assert.equal(hooks.length, 1, `one meeting.ended: ${JSON.stringify(hooks.map((h) => h.json.reason))}`);
  console.log(
    'kept-alive countdown end',
    JSON.stringify([hook.json.reason, hook.json.message, hook.json.endedBy]),
  );
  assert.equal(
    hook.json.reason,
    'HOST_ENDED_MEETING',
    'the countdown (1 s) is due before the keep-alive (3 s)',
  );
  assert.equal(hook.json.message, 'empty');
});

// What NO_HOST does to an empty kept-alive session (README: no connection of a host → NO_HOST countdown; keep-alive:
// ends ALL_PARTICIPANTS_LEFT when its time runs out). Documents the behaviour: one end either way.
test('NO_HOST and keep-alive on an empty session: exactly one end', async () => {
  const room = await newMeeting({ session_keep_alive_time_in_secs: 4, end_when_no_host_after_secs: 1 });
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  await ann.meeting.leave();
  const hook = await until('meeting.ended', () => endedWebhooks(sessionId)[0], 3 * DEADLINE_MS);
  await sleep(4500);
  assert.equal(endedWebhooks(sessionId).length, 1);
  console.log('empty kept-alive session with NO_HOST ended', hook.json.reason);
});

// README: "Cancel: a participant with `kick_participant` sends cancelEnd" and the bindings "follow live permission
// changes": the permission given by editing the participant's PRESET during a countdown lets them cancel it, and
// taking it away again refuses them (1201).
test('cancelEnd follows a preset edited during the countdown', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const guestPreset = (await api('GET', `/${room.appId}/presets`)).find(
    (p) => p.name === 'group_call_participant',
  );
  await kickAll(ann.meeting, { graceSeconds: 60 });
  await firstOf(bob, 'sessionEnding');
  await assert.rejects(cancelEnd(bob.meeting), (e) => e instanceof ClientError && e.code === '1201');
  await api('PATCH', `/${room.appId}/presets/${guestPreset.id}`, { permissions: { kick_participant: true } });
  await until('bob may cancel', () => bob.meeting.self.permissions.kickParticipant === true);
  assert.deepEqual(await cancelEnd(bob.meeting), { cancelled: true });
  const c = await until('ann told', () => ann.of('sessionEndCancelled')[0]);
  assert.equal(c.cancelledBy?.customParticipantId, 'bob');
  await api('PATCH', `/${room.appId}/presets/${guestPreset.id}`, {
    permissions: { kick_participant: false },
  });
  await until('bob may not', () => bob.meeting.self.permissions.kickParticipant === false);
  await kickAll(ann.meeting, { graceSeconds: 60 });
  await until('bob told again', () => bob.of('sessionEnding')[1]);
  await assert.rejects(cancelEnd(bob.meeting), (e) => e instanceof ClientError && e.code === '1201');
});

// Edge inputs for the end options, the countdown and the end record: Unicode lengths, wrong option types, two hosts
// racing, demotion mid-countdown, odd REST bodies, NO_HOST interplay, and strings JSON cannot carry as-is.
import { DEADLINE_MS, kitApi, kitRaw, startServer, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { ClientError, canEndSession, cancelEnd, initMeeting, kickAll, on, sessionEnding } from 'endsession';
import { endStateSource } from 'endsession/end-state';

const account = 'edges-account';
const token = randomBytes(16).toString('hex');
let baseURI, stopServer, receiver;
const deliveries = [];
const meetings = [];

const raw = (method, path, body, rawBody) => kitRaw(baseURI, account, token, method, path, body, rawBody);
const api = (method, path, body) => kitApi(baseURI, account, token, method, path, body);

before(async () => {
  ({ baseURI, stop: stopServer } = await startServer(account, token));
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
});
after(async () => {
  for (const m of meetings) await m.leave().catch(() => {});
  stopServer?.();
  receiver?.close();
});

async function newMeeting(extra = {}) {
  const appId = (await api('POST', '/apps', { name: `edges-${Date.now()}-${Math.random()}` })).app.id;
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/${appId}`;
  await api('POST', `/${appId}/webhooks`, { name: 'ends', url, events: ['meeting.ended'] });
  const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'T', ...extra })).id;
  return { appId, meetingId };
}
async function joinAs({ appId, meetingId }, id, preset) {
  const added = await api('POST', `/${appId}/meetings/${meetingId}/participants`, {
    custom_participant_id: id,
    preset_name: preset,
    name: id,
  });
  const meeting = await initMeeting({ authToken: added.token, baseURI });
  const events = [];
  for (const name of ['sessionEnding', 'sessionEndCancelled', 'roomLeft', 'permissionsUpdate'])
    on(meeting, name, (payload) => events.push([name, payload]));
  await meeting.join();
  meetings.push(meeting);
  const of = (name) => events.filter(([n]) => n === name).map(([, p]) => p);
  return { meeting, events, of, id, participantId: added.id };
}
const firstOf = (who, name, ms) => until(`${name} at ${who.id}`, () => who.of(name)[0], ms);
const is4220 = (e) => e instanceof ClientError && e.code === '4220';

test('message length in Unicode chars (emoji, combining marks), client', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const emoji501 = '😀'.repeat(501);
  const comb501 = 'e\u0301'.repeat(250) + 'x'; // 501 chars
  await assert.rejects(kickAll(ann.meeting, { message: emoji501, graceSeconds: 60 }), is4220, 'emoji 501');
  await assert.rejects(kickAll(ann.meeting, { message: comb501, graceSeconds: 60 }), is4220, 'combining 501');
  const emoji500 = '😀'.repeat(500);
  const r = await kickAll(ann.meeting, { message: emoji500, graceSeconds: 60 });
  const told = await firstOf(ann, 'sessionEnding');
  assert.equal(told.message, emoji500);
  assert.ok(r.endsAt);
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
  const comb500 = 'e\u0301'.repeat(250);
  await kickAll(ann.meeting, { message: comb500, graceSeconds: 60 });
  await until('2nd sessionEnding', () => ann.of('sessionEnding')[1]);
  assert.equal(ann.of('sessionEnding')[1].message, comb500);
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
});

test('option types: NaN, "30", Infinity, lock "true", null, 3600', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  for (const opts of [
    { graceSeconds: NaN },
    { graceSeconds: '30' },
    { graceSeconds: Infinity },
    { lock: 'true' },
    { lock: 1 },
    { message: null },
    { graceSeconds: null },
    { graceSeconds: -0.5 },
  ]) {
    await assert.rejects(
      kickAll(ann.meeting, opts),
      is4220,
      JSON.stringify(opts) + String(opts.graceSeconds),
    );
  }
  assert.equal(ann.meeting.self.roomState, 'joined');
  const r = await kickAll(ann.meeting, { graceSeconds: 3600 });
  const ms = Date.parse(r.endsAt) - Date.now();
  assert.ok(ms > 3590_000 && ms <= 3600_000 + 2000, `endsAt ${r.endsAt} ms ${ms}`);
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: false });
});

test('options the client cannot read are refused 4220 and end nothing: not an object, an unknown or misspelt option', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  for (const options of [30, '30', [30], true, { grace_seconds: 30 }, { graceseconds: 30 }, { grace: 30 }]) {
    await assert.rejects(kickAll(ann.meeting, options), is4220, JSON.stringify(options));
    await assert.rejects(
      ann.meeting.participants.kickAll(options),
      is4220,
      `participants.kickAll ${JSON.stringify(options)}`,
    );
  }
  // participants.kickAll is RealtimeKit's shape: no timeoutMs there.
  await assert.rejects(ann.meeting.participants.kickAll({ timeoutMs: 5 }), is4220);
  await new Promise((ok) => setTimeout(ok, 300));
  assert.deepEqual(bob.of('roomLeft'), [], 'nobody was told an end');
  assert.deepEqual(bob.of('sessionEnding'), []);
  assert.equal(bob.meeting.self.roomState, 'joined');
  assert.equal(canEndSession(ann.meeting), true);
});

test('empty / whitespace message ends with what message', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await kickAll(ann.meeting, { message: '   ', graceSeconds: 0 });
  const left = await firstOf(bob, 'roomLeft');
  assert.equal(left.state, 'ended');
  assert.equal(left.message, '   ', 'the message arrives as the host wrote it');
});

test('two hosts start countdowns at once: one countdown, same endsAt', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const cat = await joinAs(room, 'cat', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const [a, c] = await Promise.all([
    kickAll(ann.meeting, { graceSeconds: 30, message: 'A' }),
    kickAll(cat.meeting, { graceSeconds: 5, message: 'C' }),
  ]);
  assert.equal(a.endsAt, c.endsAt, `ann ${a.endsAt} cat ${c.endsAt}`);
  await until('bob told', () => bob.of('sessionEnding')[0]);
  await new Promise((ok) => setTimeout(ok, 300));
  assert.equal(bob.of('sessionEnding').length, 1, JSON.stringify(bob.of('sessionEnding')));
  assert.equal(sessionEnding(bob.meeting).endsAt, a.endsAt);
  // the plain end racing the countdown: ends now with its own record
  const plain = await kickAll(cat.meeting, { message: 'now' });
  assert.equal(plain.alreadyEnded, false);
  const left = await firstOf(bob, 'roomLeft');
  assert.equal(left.state, 'ended');
  assert.equal(left.message, 'now');
  assert.equal(left.endedBy.customParticipantId, 'cat');
  const annLeft = await firstOf(ann, 'roomLeft');
  assert.equal(annLeft.eventId, left.eventId);
  const d = await until('webhook', () =>
    deliveries.find((x) => JSON.parse(x.body).meeting?.sessionId === left.sessionId),
  );
  assert.equal(d.headers['rtk-uuid'], left.eventId);
  assert.equal(d.headers['webhook-id'], left.eventId);
  assert.equal(JSON.parse(d.body).message, 'now');
  assert.equal(sessionEnding(bob.meeting), null);
  // a countdown after the end: ann's kickAll resolves alreadyEnded
  const late = await kickAll(ann.meeting, { graceSeconds: 10 });
  assert.equal(late.alreadyEnded, true);
});

test('cancelEnd by a host demoted mid-countdown is refused 1201', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const cat = await joinAs(room, 'cat', 'group_call_host');
  await kickAll(ann.meeting, { graceSeconds: 60 });
  await firstOf(cat, 'sessionEnding');
  await api('PATCH', `/${room.appId}/meetings/${room.meetingId}/participants/${cat.participantId}`, {
    preset_name: 'group_call_participant',
  });
  await until('cat demoted', () => cat.meeting.self.permissions.kickParticipant === false);
  await assert.rejects(cancelEnd(cat.meeting), (e) => e instanceof ClientError && e.code === '1201');
  assert.ok(sessionEnding(cat.meeting), 'still running');
  assert.equal(endStateSource(cat.meeting).state, 'ending', 'a demoted host still sees the countdown');
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
  await firstOf(cat, 'sessionEndCancelled');
  assert.equal(endStateSource(cat.meeting).state, 'no-permission');
});

test('leave() during a countdown; the starting host leaves; a joiner sees sessionEnding(meeting)', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const eve = await joinAs(room, 'eve', 'group_call_participant');
  const r = await kickAll(ann.meeting, { graceSeconds: 3, message: 'bye' });
  await firstOf(eve, 'sessionEnding');
  await eve.meeting.leave();
  assert.equal(sessionEnding(eve.meeting), null, 'sessionEnding after leave()');
  assert.equal(eve.of('roomLeft')[0]?.state, 'left');
  await ann.meeting.leave();
  const dan = await joinAs(room, 'dan', 'group_call_participant');
  const immediate = sessionEnding(dan.meeting);
  const immState = endStateSource(dan.meeting).state,
    immCan = canEndSession(dan.meeting);
  const now = await until('joiner sessionEnding(meeting)', () => sessionEnding(dan.meeting), 2000);
  assert.ok(immediate, 'joiner: sessionEnding(meeting) right after join()');
  assert.equal(immState, 'ending');
  assert.equal(immCan, false);
  assert.equal(now.endsAt, r.endsAt);
  assert.equal(endStateSource(dan.meeting).state, 'ending');
  const left = await firstOf(bob, 'roomLeft', 3 * DEADLINE_MS);
  assert.equal(left.state, 'ended');
  assert.equal(left.endedBy.customParticipantId, 'ann');
  assert.equal(left.message, 'bye');
  const dl = await firstOf(dan, 'roomLeft');
  assert.equal(dl.eventId, left.eventId);
  await new Promise((ok) => setTimeout(ok, 200));
  assert.equal(eve.of('roomLeft').length, 1, 'the one who left is not told an end');
});

test('REST kick-all weird bodies', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const path = `/${room.appId}/meetings/${room.meetingId}/active-session/kick-all`;
  const results = {};
  for (const [name, body] of Object.entries({
    unknown: '{"foo":1}',
    graceStr: '{"graceSeconds":"30"}',
    graceNeg: '{"graceSeconds":-1}',
    graceFrac: '{"graceSeconds":1.5}',
    grace3601: '{"graceSeconds":3601}',
    lockStr: '{"lock":"true"}',
    msgNum: '{"message":42}',
    arr: '[]',
    str: '"x"',
    badjson: '{',
    graceBig: '{"graceSeconds":1e20}',
    msg501: JSON.stringify({ message: '😀'.repeat(501) }),
  })) {
    const { status, json } = await raw('POST', path, undefined, body);
    results[name] = status;
    assert.equal(ann.meeting.self.roomState, 'joined', `after ${name}: ${status} ${JSON.stringify(json)}`);
  }
  for (const [k, v] of Object.entries(results)) assert.equal(v, 400, `${k} -> ${v}`);
  // JSON nulls are the options left out: an end now, no countdown left to cancel.
  const nulls = await raw('POST', path, { message: null, lock: null, graceSeconds: null });
  assert.equal(nulls.status, 200, JSON.stringify(nulls.json));
  assert.equal(nulls.json.data.kicked_participants_count, 1);
  assert.equal((await firstOf(ann, 'roomLeft')).state, 'ended');
  const cancel = await raw('POST', `/${room.appId}/meetings/${room.meetingId}/active-session/cancel-end`);
  assert.equal(cancel.status, 200, JSON.stringify(cancel.json));
  assert.equal(cancel.json.data.cancelled, false);
});

test('REST countdown 3600 + REST cancel-end; none running; with a body', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const base = `/${room.appId}/meetings/${room.meetingId}/active-session`;
  const none = await raw('POST', `${base}/cancel-end`);
  assert.equal(none.status, 200, JSON.stringify(none.json));
  assert.equal(none.json.data.cancelled, false);
  const s = await raw('POST', `${base}/kick-all`, { graceSeconds: 3600, message: 'api' });
  assert.equal(s.status, 200, JSON.stringify(s.json));
  assert.equal(s.json.data.kicked_participants_count, 0);
  const told = await firstOf(ann, 'sessionEnding');
  assert.deepEqual(told.endedBy, { api: true });
  const c = await raw('POST', `${base}/cancel-end`);
  assert.equal(c.json.data.cancelled, true);
  const cc = await firstOf(ann, 'sessionEndCancelled');
  assert.deepEqual(cc.cancelledBy, { api: true });
  assert.equal(sessionEnding(ann.meeting), null);
  assert.equal(canEndSession(ann.meeting), true);
});

test('end-and-lock, PATCH ACTIVE, join again', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const first = ann.meeting.meta.sessionId;
  await kickAll(ann.meeting, { lock: true, message: 'locked' });
  const left = await firstOf(ann, 'roomLeft');
  assert.equal(left.state, 'ended');
  const m = await api('GET', `/${room.appId}/meetings/${room.meetingId}`);
  assert.equal(m.status, 'INACTIVE');
  await assert.rejects(
    joinAs(room, 'x', 'group_call_participant'),
    (e) => e instanceof ClientError && e.code === '4030',
  );
  await api('PATCH', `/${room.appId}/meetings/${room.meetingId}`, { status: 'ACTIVE' });
  const bob = await joinAs(room, 'bob', 'group_call_host');
  assert.notEqual(bob.meeting.meta.sessionId, first);
  assert.equal(sessionEnding(bob.meeting), null);
  assert.equal(canEndSession(bob.meeting), true);
  // lock with countdown, then countdown fires -> INACTIVE
  await kickAll(bob.meeting, { lock: true, graceSeconds: 1 });
  await firstOf(bob, 'roomLeft', 3 * DEADLINE_MS);
  const m2 = await api('GET', `/${room.appId}/meetings/${room.meetingId}`);
  assert.equal(m2.status, 'INACTIVE');
});

test('NO_HOST: host demoted by PATCH starts NO_HOST countdown; host kickAll grace replaces it', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 30 });
  const m = await api('GET', `/${room.appId}/meetings/${room.meetingId}`);
  assert.equal(m.end_when_no_host_after_secs, 30);
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const nh = await firstOf(bob, 'sessionEnding');
  assert.equal(nh.reason, 'NO_HOST');
  assert.equal(nh.endedBy, undefined);
  const ann = await joinAs(room, 'ann', 'group_call_host');
  await until('cancelled', () => bob.of('sessionEndCancelled')[0]);
  assert.equal(sessionEnding(ann.meeting), null);
  // demote ann -> no host with a connection -> NO_HOST again?
  await api('PATCH', `/${room.appId}/meetings/${room.meetingId}/participants/${ann.participantId}`, {
    preset_name: 'group_call_participant',
  });
  const again = await until('NO_HOST after demotion', () => bob.of('sessionEnding')[1], 5000);
  assert.equal(again.reason, 'NO_HOST');
});

test('bad end_when_no_host_after_secs values', async () => {
  const { appId } = await newMeeting();
  const out = {};
  for (const v of [-1, 86401, 1.5, '30', null, true]) {
    const r = await raw('POST', `/${appId}/meetings`, { title: 't', end_when_no_host_after_secs: v });
    out[JSON.stringify(v)] = [r.status, r.json?.data?.end_when_no_host_after_secs];
  }
  for (const v of ['-1', '86401', '1.5', '"30"', 'true']) assert.equal(out[v][0], 400, `${v} -> ${out[v]}`);
  assert.deepEqual(out.null, [201, 0], 'null is the setting left out: off');
});

test('lone surrogate / NUL / bidi override in the message: the client sends what JSON can carry, REST refuses the rest', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  // A lone surrogate is not a Unicode scalar: crossing into the wasm module turns it into U+FFFD (as TextEncoder
  // does). NUL and the bidi override are valid characters and arrive unchanged.
  const cases = [
    ['a\ud800b', 'a\ufffdb'],
    ['a\u0000b', 'a\u0000b'],
    ['\u202eevil', '\u202eevil'],
  ];
  for (const [sent, shown] of cases) {
    const before = ann.of('sessionEnding').length;
    await kickAll(ann.meeting, { message: sent, graceSeconds: 60 });
    const told = await until('told', () => ann.of('sessionEnding')[before]);
    assert.equal(told.message, shown, JSON.stringify(sent));
    assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
    await until('cancelled', () => sessionEnding(ann.meeting) === null);
  }
  const path = `/${room.appId}/meetings/${room.meetingId}/active-session/kick-all`;
  const lone = await raw('POST', path, undefined, '{"message":"a\\ud800b","graceSeconds":60}');
  assert.equal(lone.status, 400, JSON.stringify(lone.json));
  assert.equal(lone.json.success, false);
  assert.equal(ann.meeting.self.roomState, 'joined');
  assert.equal(sessionEnding(ann.meeting), null, 'the refused body started nothing');
});

test('NO_HOST cancelled by hand does not restart; a host kickAll grace replaces NO_HOST', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 60 });
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const nh = await firstOf(bob, 'sessionEnding');
  assert.equal(nh.reason, 'NO_HOST');
  const c = await raw('POST', `/${room.appId}/meetings/${room.meetingId}/active-session/cancel-end`);
  assert.equal(c.json.data.cancelled, true);
  await firstOf(bob, 'sessionEndCancelled');
  const eve = await joinAs(room, 'eve', 'group_call_participant');
  await new Promise((ok) => setTimeout(ok, 300));
  assert.equal(bob.of('sessionEnding').length, 1, 'not restarted by a non-host join');
  assert.equal(sessionEnding(eve.meeting), null);
  // the REST kick-all grace during no countdown
  const s = await raw('POST', `/${room.appId}/meetings/${room.meetingId}/active-session/kick-all`, {
    graceSeconds: 5,
  });
  assert.equal(s.status, 200);
  const t = await until('api countdown', () => bob.of('sessionEnding')[1]);
  assert.deepEqual(t.endedBy, { api: true });
  assert.equal(t.reason, 'HOST_ENDED_MEETING');
  const left = await firstOf(bob, 'roomLeft', 3 * DEADLINE_MS);
  assert.equal(left.reason, 'HOST_ENDED_MEETING');
  assert.deepEqual(left.endedBy, { api: true });
  const d = await until('webhook', () =>
    deliveries.find((x) => JSON.parse(x.body).meeting?.sessionId === left.sessionId),
  );
  assert.equal(d.headers['rtk-uuid'], left.eventId);
  assert.deepEqual(JSON.parse(d.body).endedBy, { api: true });
});

test('a REST countdown replaces a running NO_HOST countdown', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 60 });
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await firstOf(bob, 'sessionEnding');
  const s = await raw('POST', `/${room.appId}/meetings/${room.meetingId}/active-session/kick-all`, {
    graceSeconds: 3,
    message: 'api',
  });
  assert.equal(s.status, 200, JSON.stringify(s.json));
  assert.ok(s.json.data.ends_at);
  const t = await until('replaced', () => bob.of('sessionEnding')[1], 3000);
  assert.equal(t.reason, 'HOST_ENDED_MEETING');
  assert.equal(sessionEnding(bob.meeting).message, 'api');
});

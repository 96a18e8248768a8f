// try13: probes of issue 13's end options, countdown and end record with inputs the other tests do not use.
import { DEADLINE_MS, startServer, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { ClientError, canEndSession, cancelEnd, initMeeting, kickAll, on, sessionEnding } from 'endsession';
import { endStateSource } from 'endsession/end-state';

const account = 'try13-account';
const token = randomBytes(16).toString('hex');
let baseURI, stopServer, receiver;
const deliveries = [];
const meetings = [];

async function raw(method, path, body, rawBody) {
  const response = await fetch(`${baseURI}/client/v4/accounts/${account}/realtime/kit${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: rawBody !== undefined ? rawBody : body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(DEADLINE_MS),
  });
  return { status: response.status, json: await response.json().catch(() => null) };
}
async function api(method, path, body) {
  const { status, json } = await raw(method, path, body);
  assert.equal(json?.success, true, `${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json.data;
}

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
  const appId = (await api('POST', '/apps', { name: `try13-${Date.now()}-${Math.random()}` })).app.id;
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/${appId}`;
  await api('POST', `/${appId}/webhooks`, { name: 'ends', url, events: ['meeting.ended'] });
  const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'T', ...extra })).id;
  return { appId, meetingId };
}
async function joinAs({ appId, meetingId }, id, preset) {
  const added = await api('POST', `/${appId}/meetings/${meetingId}/participants`, {
    custom_participant_id: id, preset_name: preset, name: id,
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

test('P1 message length in Unicode chars (emoji, combining marks), client', async () => {
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

test('P2 option types: NaN, "30", Infinity, lock "true", null, 3600', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  for (const opts of [{ graceSeconds: NaN }, { graceSeconds: '30' }, { graceSeconds: Infinity },
    { lock: 'true' }, { lock: 1 }, { message: null }, { graceSeconds: null }, { graceSeconds: -0.5 }]) {
    await assert.rejects(kickAll(ann.meeting, opts), is4220, JSON.stringify(opts) + String(opts.graceSeconds));
  }
  assert.equal(ann.meeting.self.roomState, 'joined');
  const r = await kickAll(ann.meeting, { graceSeconds: 3600 });
  const ms = Date.parse(r.endsAt) - Date.now();
  assert.ok(ms > 3590_000 && ms <= 3600_000 + 2000, `endsAt ${r.endsAt} ms ${ms}`);
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: false });
});

test('P3 empty / whitespace message ends with what message', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await kickAll(ann.meeting, { message: '   ', graceSeconds: 0 });
  const left = await firstOf(bob, 'roomLeft');
  console.log('P3 whitespace message roomLeft:', JSON.stringify(left));
  assert.equal(left.state, 'ended');
});

test('P4 two hosts start countdowns at once: one countdown, same endsAt', async () => {
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
    deliveries.find((x) => JSON.parse(x.body).meeting?.sessionId === left.sessionId));
  assert.equal(d.headers['rtk-uuid'], left.eventId);
  assert.equal(d.headers['webhook-id'], left.eventId);
  assert.equal(JSON.parse(d.body).message, 'now');
  assert.equal(sessionEnding(bob.meeting), null);
  // a countdown after the end: ann's kickAll resolves alreadyEnded
  const late = await kickAll(ann.meeting, { graceSeconds: 10 });
  assert.equal(late.alreadyEnded, true);
});

test('P5 cancelEnd by a host demoted mid-countdown is refused 1201', async () => {
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
  console.log('P5 demoted state during countdown:', endStateSource(cat.meeting).state);
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
  await firstOf(cat, 'sessionEndCancelled');
  assert.equal(endStateSource(cat.meeting).state, 'no-permission');
});

test('P6 leave() during a countdown; the starting host leaves; a joiner sees sessionEnding(meeting)', async () => {
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
  const immState = endStateSource(dan.meeting).state, immCan = canEndSession(dan.meeting);
  const now = await until('joiner sessionEnding(meeting)', () => sessionEnding(dan.meeting), 2000);
  console.log('P6 right after await join(): sessionEnding=', JSON.stringify(immediate), 'state=', immState, 'canEnd=', immCan);
  assert.ok(immediate, 'joiner: sessionEnding(meeting) right after join()');
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

test('P7 REST kick-all weird bodies', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const path = `/${room.appId}/meetings/${room.meetingId}/active-session/kick-all`;
  const results = {};
  for (const [name, body] of Object.entries({
    unknown: '{"foo":1}', graceStr: '{"graceSeconds":"30"}', graceNeg: '{"graceSeconds":-1}',
    graceFrac: '{"graceSeconds":1.5}', grace3601: '{"graceSeconds":3601}', lockStr: '{"lock":"true"}',
    msgNum: '{"message":42}', arr: '[]', str: '"x"', badjson: '{', graceBig: '{"graceSeconds":1e20}',
    msg501: JSON.stringify({ message: '😀'.repeat(501) }),
  })) {
    const { status, json } = await raw('POST', path, undefined, body);
    results[name] = status;
    assert.equal(ann.meeting.self.roomState, 'joined', `after ${name}: ${status} ${JSON.stringify(json)}`);
  }
  console.log('P7 statuses', JSON.stringify(results));
  for (const [k, v] of Object.entries(results)) assert.equal(v, 400, `${k} -> ${v}`);
  // nulls: accepted as absent?
  const nulls = await raw('POST', path, { message: null, lock: null, graceSeconds: null });
  console.log('P7 nulls', nulls.status, JSON.stringify(nulls.json));
  const cancel = await raw('POST', `/${room.appId}/meetings/${room.meetingId}/active-session/cancel-end`);
  console.log('P7 cancel-end', cancel.status, JSON.stringify(cancel.json));
});

test('P8 REST countdown 3600 + REST cancel-end; none running; with a body', async () => {
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
  console.log('P8 cancelled by API payload', JSON.stringify(cc));
  assert.equal(sessionEnding(ann.meeting), null);
  assert.equal(canEndSession(ann.meeting), true);
});

test('P9 end-and-lock, PATCH ACTIVE, join again', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const first = ann.meeting.meta.sessionId;
  await kickAll(ann.meeting, { lock: true, message: 'locked' });
  const left = await firstOf(ann, 'roomLeft');
  assert.equal(left.state, 'ended');
  const m = await api('GET', `/${room.appId}/meetings/${room.meetingId}`);
  assert.equal(m.status, 'INACTIVE');
  await assert.rejects(joinAs(room, 'x', 'group_call_participant'), (e) => { console.log('P9 locked join:', e.code, e.message); return true; });
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

test('P10 NO_HOST: host demoted by PATCH starts NO_HOST countdown; host kickAll grace replaces it', async () => {
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

test('P11 bad end_when_no_host_after_secs values', async () => {
  const { appId } = await newMeeting();
  const out = {};
  for (const v of [-1, 86401, 1.5, '30', null, true]) {
    const r = await raw('POST', `/${appId}/meetings`, { title: 't', end_when_no_host_after_secs: v });
    out[JSON.stringify(v)] = [r.status, r.json?.data?.end_when_no_host_after_secs];
  }
  console.log('P11', JSON.stringify(out));
  for (const v of ['-1', '86401', '1.5', '"30"', 'true']) assert.equal(out[v][0], 400, `${v} -> ${out[v]}`);
});

test('P12 lone surrogate / NUL / control chars in message, client and REST', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const out = {};
  for (const [name, msg] of Object.entries({ lone: 'a\ud800b', nul: 'a\u0000b', bidi: '\u202eevil' })) {
    try {
      const r = await kickAll(ann.meeting, { message: msg, graceSeconds: 60 });
      const told = await until('told', () => ann.of('sessionEnding').at(-1));
      out[name] = ['scheduled', JSON.stringify(told.message)];
      await cancelEnd(ann.meeting);
      await until('cancel', () => sessionEnding(ann.meeting) === null);
    } catch (e) {
      out[name] = ['rejected', e.code, e.message];
    }
    out[name].push(ann.meeting.self.roomState);
  }
  const path = `/${room.appId}/meetings/${room.meetingId}/active-session/kick-all`;
  const lone = await raw('POST', path, undefined, '{"message":"a\\ud800b","graceSeconds":60}');
  out.restLone = [lone.status, JSON.stringify(lone.json)];
  console.log('P12', JSON.stringify(out));
  assert.equal(ann.meeting.self.roomState, 'joined');
});

test('P13 NO_HOST cancelled by hand does not restart; a host kickAll grace replaces NO_HOST', async () => {
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
  const s = await raw('POST', `/${room.appId}/meetings/${room.meetingId}/active-session/kick-all`, { graceSeconds: 5 });
  assert.equal(s.status, 200);
  const t = await until('api countdown', () => bob.of('sessionEnding')[1]);
  assert.deepEqual(t.endedBy, { api: true });
  assert.equal(t.reason, 'HOST_ENDED_MEETING');
  const left = await firstOf(bob, 'roomLeft', 3 * DEADLINE_MS);
  assert.equal(left.reason, 'HOST_ENDED_MEETING');
  assert.deepEqual(left.endedBy, { api: true });
  const d = await until('webhook', () =>
    deliveries.find((x) => JSON.parse(x.body).meeting?.sessionId === left.sessionId));
  assert.equal(d.headers['rtk-uuid'], left.eventId);
  assert.deepEqual(JSON.parse(d.body).endedBy, { api: true });
});

test('P14 NO_HOST countdown replaced by a host-less REST countdown? and a host kickAll grace replaces NO_HOST', async () => {
  const room = await newMeeting({ end_when_no_host_after_secs: 60 });
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  await firstOf(bob, 'sessionEnding');
  const s = await raw('POST', `/${room.appId}/meetings/${room.meetingId}/active-session/kick-all`, { graceSeconds: 3, message: 'api' });
  console.log('P14 REST grace during NO_HOST', s.status, JSON.stringify(s.json));
  const t = await until('replaced', () => bob.of('sessionEnding')[1], 3000);
  assert.equal(t.reason, 'HOST_ENDED_MEETING');
  assert.equal(sessionEnding(bob.meeting).message, 'api');
});

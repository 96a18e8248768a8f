// The countdown to a session's end and the end record (issue 13) through endsession's own client in Node, against a
// real endsession-server (release build, started here on a free port with a fresh data dir) over real WebSockets:
// a host's kickAll with a grace period reaches every participant as `sessionEnding` (end state `ending`), a second
// host cancels it (`sessionEndCancelled` for all), a participant without kick_participant may not, a joiner during a
// countdown is told it, and the next countdown ends the session with its record (`endedBy`, `message`, `eventId`),
// whose `eventId` is the `rtk-uuid` of the `meeting.ended` webhook a real HTTP receiver gets.
// Binary: $ENDSESSION_SERVER_BIN, else ${CARGO_TARGET_DIR:-target}/release/endsession-server.
// Node 20 has WebSocket only behind --experimental-websocket (scripts/test.sh passes it; Node 22 has it by default).
import { DEADLINE_MS, kitApi, startServer, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { ClientError, canEndSession, cancelEnd, initMeeting, kickAll, on, sessionEnding } from 'endsession';
import { endStateSource } from 'endsession/end-state';

const account = 'countdown-account';
const token = randomBytes(16).toString('hex');

let baseURI;
let stopServer;
let receiver;
const deliveries = []; // [{ headers, body: Buffer }] as the receiver got them
const meetings = [];

const api = (method, path, body) => kitApi(baseURI, account, token, method, path, body);

before(async () => {
  assert.equal(
    typeof WebSocket,
    'function',
    'no WebSocket: run node --experimental-websocket --test (Node 20)',
  );
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
  for (const meeting of meetings) await meeting.leave().catch(() => {});
  stopServer?.();
  receiver?.close();
});

/** A new meeting of a new app whose webhook sends meeting.ended to the receiver; returns { appId, meetingId }. */
async function newMeeting() {
  const appId = (await api('POST', '/apps', { name: `countdown-${Date.now()}` })).app.id;
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/${appId}`;
  await api('POST', `/${appId}/webhooks`, { name: 'ends', url, events: ['meeting.ended'] });
  const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'Countdown' })).id;
  return { appId, meetingId };
}

/**
 * A participant in Node: endsession's own meeting over a real WebSocket, joined, with every `sessionEnding`,
 * `sessionEndCancelled` and `roomLeft` payload it got, in order, in `events` as [name, payload].
 */
async function joinAs({ appId, meetingId }, id, preset) {
  const { token } = await api('POST', `/${appId}/meetings/${meetingId}/participants`, {
    custom_participant_id: id,
    preset_name: preset,
    name: id,
  });
  const meeting = await initMeeting({ authToken: token, baseURI });
  const events = [];
  for (const name of ['sessionEnding', 'sessionEndCancelled', 'roomLeft'])
    on(meeting, name, (payload) => events.push([name, payload]));
  await meeting.join();
  meetings.push(meeting);
  const of = (name) => events.filter(([n]) => n === name).map(([, payload]) => payload);
  return { meeting, events, of, id };
}

/** `endedBy` as it names the participant `who`. */
const by = (who) => ({ id: who.meeting.self.id, name: who.id, customParticipantId: who.id });

test('a countdown reaches everyone, a second host cancels it, the next one ends the session with its record', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const cat = await joinAs(room, 'cat', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const everyone = [ann, cat, bob];
  assert.equal(sessionEnding(bob.meeting), null, 'no countdown yet');

  const scheduled = await kickAll(ann.meeting, { graceSeconds: 2, message: 'Wrapping up' });
  assert.equal(scheduled.kickedCount, 0);
  assert.equal(scheduled.alreadyEnded, false);
  assert.equal(scheduled.sessionId, ann.meeting.meta.sessionId);
  assert.ok(Date.parse(scheduled.endsAt) > Date.now() - 1000, `endsAt is a time: ${scheduled.endsAt}`);
  for (const who of everyone) {
    const [told] = await until(
      `sessionEnding at ${who.id}`,
      () => who.of('sessionEnding').length && who.of('sessionEnding'),
    );
    assert.deepEqual(
      { ...told, remainingMs: undefined },
      {
        sessionId: scheduled.sessionId,
        endsAt: scheduled.endsAt,
        remainingMs: undefined,
        reason: 'HOST_ENDED_MEETING',
        endedBy: by(ann),
        message: 'Wrapping up',
      },
    );
    assert.ok(told.remainingMs > 0 && told.remainingMs <= 2000, `remainingMs ${told.remainingMs}`);
    assert.equal(endStateSource(who.meeting).state, 'ending', who.id);
    assert.equal(canEndSession(who.meeting), false, who.id);
    const now = sessionEnding(who.meeting);
    assert.equal(now.endsAt, scheduled.endsAt);
    assert.ok(now.remainingMs <= told.remainingMs, 'counted down since');
  }

  // A participant without kick_participant may not cancel it: RealtimeKit's permission error, nothing sent.
  await assert.rejects(cancelEnd(bob.meeting), (e) => e instanceof ClientError && e.code === '1201');
  // A second host may.
  assert.deepEqual(await cancelEnd(cat.meeting), { cancelled: true });
  for (const who of everyone) {
    const [cancelled] = await until(
      `sessionEndCancelled at ${who.id}`,
      () => who.of('sessionEndCancelled').length && who.of('sessionEndCancelled'),
    );
    assert.deepEqual(cancelled, { sessionId: scheduled.sessionId, cancelledBy: by(cat) });
    assert.equal(sessionEnding(who.meeting), null);
  }
  assert.equal(endStateSource(ann.meeting).state, 'allowed');
  assert.equal(endStateSource(cat.meeting).state, 'allowed');
  assert.equal(endStateSource(bob.meeting).state, 'no-permission');
  assert.equal(canEndSession(ann.meeting), true);
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: false }, 'nothing left to cancel');
  // Past the cancelled end (by this machine's clock, which the server shares), with a margin: nobody was ended.
  await until(
    'the cancelled countdown time past',
    () => Date.now() > Date.parse(scheduled.endsAt) + 1000,
    2 * DEADLINE_MS,
  );
  for (const who of everyone) assert.equal(who.meeting.self.roomState, 'joined', who.id);
  assert.deepEqual(ann.of('roomLeft'), []);

  // The next countdown runs out: everyone leaves `ended` with the same record.
  const second = await kickAll(ann.meeting, { graceSeconds: 1, message: 'Bye now' });
  assert.notEqual(second.endsAt, scheduled.endsAt);
  const records = [];
  for (const who of everyone) {
    const [left] = await until(
      `roomLeft at ${who.id}`,
      () => who.of('roomLeft').length && who.of('roomLeft'),
      2 * DEADLINE_MS,
    );
    assert.equal(left.state, 'ended', who.id);
    assert.equal(left.sessionId, scheduled.sessionId);
    assert.equal(left.reason, 'HOST_ENDED_MEETING');
    assert.deepEqual(left.endedBy, by(ann));
    assert.equal(left.message, 'Bye now');
    assert.equal(typeof left.eventId, 'string');
    records.push(left.eventId);
    assert.equal(who.of('sessionEnding').length, 2, 'told both countdowns');
    assert.equal(sessionEnding(who.meeting), null, 'over once ended');
    assert.equal(endStateSource(who.meeting).state, 'ended');
  }
  assert.equal(new Set(records).size, 1, `one end record for everyone: ${records}`);

  // The record's eventId is the rtk-uuid of the end's meeting.ended webhook.
  const delivery = await until('meeting.ended at the receiver', () =>
    deliveries.find((d) => JSON.parse(d.body).meeting?.sessionId === scheduled.sessionId),
  );
  assert.equal(JSON.parse(delivery.body).event, 'meeting.ended');
  assert.equal(delivery.headers['rtk-uuid'], records[0]);
});

test('a participant who joins during a countdown is told it; kickAll during it answers its endsAt', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 60, message: 'Last orders' });
  const dan = await joinAs(room, 'dan', 'group_call_participant');
  const [told] = await until(
    'sessionEnding at the joiner',
    () => dan.of('sessionEnding').length && dan.of('sessionEnding'),
  );
  assert.equal(told.endsAt, endsAt);
  assert.equal(told.message, 'Last orders');
  assert.deepEqual(told.endedBy, by(ann));
  assert.equal(endStateSource(dan.meeting).state, 'ending');
  // The countdown already running is kept.
  const again = await kickAll(ann.meeting, { graceSeconds: 30 });
  assert.equal(again.endsAt, endsAt);
  assert.deepEqual(await cancelEnd(ann.meeting), { cancelled: true });
  await until('sessionEndCancelled at the joiner', () => dan.of('sessionEndCancelled').length);
  assert.equal(endStateSource(dan.meeting).state, 'no-permission');
});

test('a plain end with a message and a lock: the record reaches everyone, and the meeting is locked', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const result = await kickAll(ann.meeting, { message: 'Thanks, all', lock: true });
  assert.deepEqual(
    { ...result, sessionId: undefined },
    { sessionId: undefined, kickedCount: 2, alreadyEnded: false },
    'no endsAt for an end now',
  );
  for (const who of [ann, bob]) {
    const [left] = await until(
      `roomLeft at ${who.id}`,
      () => who.of('roomLeft').length && who.of('roomLeft'),
    );
    assert.equal(left.state, 'ended');
    assert.equal(left.message, 'Thanks, all');
    assert.deepEqual(left.endedBy, by(ann));
    const delivery = await until('meeting.ended at the receiver', () =>
      deliveries.find((d) => JSON.parse(d.body).meeting?.sessionId === left.sessionId),
    );
    assert.equal(delivery.headers['rtk-uuid'], left.eventId);
  }
  // Locked: a join now is refused as INACTIVE.
  const late = await initMeeting({
    authToken: (
      await api('POST', `/${room.appId}/meetings/${room.meetingId}/participants`, {
        custom_participant_id: 'late',
        preset_name: 'group_call_participant',
        name: 'late',
      })
    ).token,
    baseURI,
  });
  await assert.rejects(late.join(), (e) => e instanceof ClientError && e.code === '4030');
});

test('end options out of bounds are refused with 4220 and nothing happens', async () => {
  const room = await newMeeting();
  const ann = await joinAs(room, 'ann', 'group_call_host');
  const refused = (e) => e instanceof ClientError && e.code === '4220';
  // The wrong type: refused here, nothing sent.
  await assert.rejects(kickAll(ann.meeting, { graceSeconds: -1 }), refused);
  await assert.rejects(kickAll(ann.meeting, { graceSeconds: 1.5 }), refused);
  await assert.rejects(kickAll(ann.meeting, { message: 42 }), refused);
  await assert.rejects(kickAll(ann.meeting, { lock: 'yes' }), refused);
  // Past the server's bounds: refused by the server.
  await assert.rejects(kickAll(ann.meeting, { graceSeconds: 3601 }), refused);
  await assert.rejects(kickAll(ann.meeting, { message: 'x'.repeat(501) }), refused);
  assert.equal(ann.meeting.self.roomState, 'joined');
  assert.equal(endStateSource(ann.meeting).state, 'allowed');
  assert.deepEqual(ann.events, []);
});

test('auto-end: a session without a host counts down (NO_HOST); a host who comes cancels it, one who goes lets it end', async () => {
  const appId = (await api('POST', '/apps', { name: `no-host-${Date.now()}` })).app.id;
  const meetingId = (
    await api('POST', `/${appId}/meetings`, { title: 'No host', end_when_no_host_after_secs: 1 })
  ).id;
  const room = { appId, meetingId };
  const bob = await joinAs(room, 'bob', 'group_call_participant');
  const [alone] = await until(
    'a NO_HOST sessionEnding',
    () => bob.of('sessionEnding').length && bob.of('sessionEnding'),
  );
  assert.equal(alone.reason, 'NO_HOST');
  assert.equal(alone.endedBy, undefined, 'nobody asked for it');
  assert.equal(endStateSource(bob.meeting).state, 'ending');
  assert.equal(sessionEnding(bob.meeting).reason, 'NO_HOST');

  const ann = await joinAs(room, 'ann', 'group_call_host');
  const [cancelled] = await until(
    'sessionEndCancelled by the host coming',
    () => bob.of('sessionEndCancelled').length && bob.of('sessionEndCancelled'),
  );
  assert.deepEqual(cancelled, { sessionId: alone.sessionId }, 'cancelled by nobody in particular');
  assert.equal(endStateSource(bob.meeting).state, 'no-permission');
  assert.equal(sessionEnding(bob.meeting), null);

  await ann.meeting.leave();
  const [left] = await until(
    'roomLeft ended NO_HOST',
    () => bob.of('roomLeft').length && bob.of('roomLeft'),
    3 * DEADLINE_MS,
  );
  assert.equal(bob.of('sessionEnding').length, 2, `each countdown told once: ${JSON.stringify(bob.events)}`);
  assert.equal(left.state, 'ended');
  assert.equal(left.reason, 'NO_HOST');
  assert.equal(typeof left.eventId, 'string');
});

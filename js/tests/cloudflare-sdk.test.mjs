// The REST API driven by the official `cloudflare` npm SDK (7.x), as an app's Node backend drives it, against a real
// endsession-server (release build, started here on a free port with a fresh data dir): create an app, a meeting
// and participants, end the session with kick-all while two participants (endsession in Node, real WebSockets) are
// in it, and manage webhooks, whose signed `meeting.ended` arrives at a real HTTP receiver that verifies it with
// `endsession/webhooks`. Binary: $ENDSESSION_SERVER_BIN, else ${CARGO_TARGET_DIR:-target}/release/endsession-server.
// Node 20 has WebSocket only behind --experimental-websocket (scripts/test.sh passes it; Node 22 has it by default).
import { DEADLINE_MS, startServer, until } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import net from 'node:net';
import Cloudflare from 'cloudflare';
import { canEndSession, initMeeting, kickAll, on } from 'endsession';
import { verifyWebhook } from 'endsession/webhooks';

const account = 'sdk-account';
const secret = randomBytes(16).toString('hex');

let baseURI;
let stopServer;
let cf;
let receiver;
let hooks; // [{ headers, body }] as the receiver got them
let joined = [];

before(async () => {
  assert.equal(
    typeof WebSocket,
    'function',
    'no WebSocket: run node --experimental-websocket --test (Node 20)',
  );
  ({ baseURI, stop: stopServer } = await startServer(account, secret));
  cf = new Cloudflare({
    apiToken: secret,
    baseURL: `${baseURI}/client/v4`,
    maxRetries: 0,
    timeout: DEADLINE_MS,
  });

  hooks = [];
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
});

after(async () => {
  for (const meeting of joined) await meeting.leave().catch(() => {});
  stopServer?.();
  receiver?.close();
});

const receiverURL = () => `http://127.0.0.1:${receiver.address().port}/hooks`;

async function newApp() {
  const app = await cf.realtimeKit.apps.post({ account_id: account, name: `sdk-${Date.now()}` });
  assert.equal(app.success, true);
  assert.ok(app.data.app.id);
  return app.data.app.id;
}

async function addParticipant(appId, meetingId, id, preset) {
  const added = await cf.realtimeKit.meetings.addParticipant(meetingId, {
    account_id: account,
    app_id: appId,
    custom_participant_id: id,
    preset_name: preset,
    name: id,
  });
  assert.equal(added.success, true);
  assert.equal(added.data.custom_participant_id, id);
  assert.equal(added.data.preset_name, preset);
  assert.ok(added.data.token);
  return added.data;
}

/** A participant in Node: endsession's own meeting over a real WebSocket, joined, with its roomLeft states. */
async function joinAs(token) {
  const meeting = await initMeeting({ authToken: token, baseURI });
  const left = [];
  on(meeting, 'roomLeft', ({ state }) => left.push(state));
  await meeting.join();
  joined.push(meeting);
  return { meeting, left };
}

test('create an app, a meeting and participants, read them back', async () => {
  const appId = await newApp();
  const created = await cf.realtimeKit.meetings.create(appId, { account_id: account, title: 'Standup' });
  assert.equal(created.success, true);
  assert.equal(created.data.title, 'Standup');
  assert.equal(created.data.status, 'ACTIVE');
  const meetingId = created.data.id;

  const got = await cf.realtimeKit.meetings.getMeetingByID(meetingId, { account_id: account, app_id: appId });
  assert.equal(got.data.id, meetingId);
  const listed = await cf.realtimeKit.meetings.get(appId, { account_id: account });
  assert.deepEqual(
    listed.data.map((m) => m.id),
    [meetingId],
  );

  const ann = await addParticipant(appId, meetingId, 'ann', 'group_call_host');
  await addParticipant(appId, meetingId, 'bob', 'group_call_participant');
  const participants = await cf.realtimeKit.meetings.getMeetingParticipants(meetingId, {
    account_id: account,
    app_id: appId,
  });
  assert.deepEqual(participants.data.map((p) => p.custom_participant_id).sort(), ['ann', 'bob']);
  const one = await cf.realtimeKit.meetings.getMeetingParticipant(ann.id, {
    account_id: account,
    app_id: appId,
    meeting_id: meetingId,
  });
  assert.equal(one.data.preset_name, 'group_call_host');
});

test('kick-all ends the live session for every participant and reports how many it ended', async () => {
  const appId = await newApp();
  const meetingId = (await cf.realtimeKit.meetings.create(appId, { account_id: account, title: 'End me' }))
    .data.id;
  const ann = await joinAs((await addParticipant(appId, meetingId, 'ann', 'group_call_host')).token);
  const bob = await joinAs((await addParticipant(appId, meetingId, 'bob', 'group_call_participant')).token);
  const live = await cf.realtimeKit.activeSession.getActiveSession(meetingId, {
    account_id: account,
    app_id: appId,
  });
  assert.equal(live.data.status, 'LIVE');
  assert.equal(live.data.live_participants, 2);

  const kicked = await cf.realtimeKit.activeSession.kickAllParticipants(meetingId, {
    account_id: account,
    app_id: appId,
  });
  assert.equal(kicked.success, true);
  assert.equal(kicked.data.kicked_participants_count, 2);
  for (const who of [ann, bob]) {
    await until('roomLeft ended', () => who.left.length > 0);
    assert.deepEqual(who.left, ['ended']);
    assert.equal(who.meeting.self.roomState, 'ended');
  }
  const ended = await cf.realtimeKit.activeSession.getActiveSession(meetingId, {
    account_id: account,
    app_id: appId,
  });
  assert.equal(ended.data.id, live.data.id);
  assert.equal(ended.data.status, 'ENDED');
  assert.equal(ended.data.live_participants, 0);
});

test('kick-all of a meeting with no live session ends nobody; a wrong token is refused', async () => {
  const appId = await newApp();
  const meetingId = (await cf.realtimeKit.meetings.create(appId, { account_id: account, title: 'Empty' }))
    .data.id;
  const params = { account_id: account, app_id: appId };
  const kicked = await cf.realtimeKit.activeSession.kickAllParticipants(meetingId, params).then(
    (r) => r.data.kicked_participants_count,
    (e) => (e instanceof Cloudflare.APIError ? e.status : Promise.reject(e)),
  );
  assert.ok([0, 404, 409].includes(kicked), `kick-all with nobody in: ${kicked}`);
  const stranger = new Cloudflare({ apiToken: 'wrong', baseURL: `${baseURI}/client/v4`, maxRetries: 0 });
  await assert.rejects(
    stranger.realtimeKit.activeSession.kickAllParticipants(meetingId, params),
    (e) => e instanceof Cloudflare.AuthenticationError && e.status === 401,
  );
});

test('webhooks: create, list, edit, delete, and a signed meeting.ended delivered on kick-all', async () => {
  const appId = await newApp();
  const webhook = await cf.realtimeKit.webhooks.createWebhook(appId, {
    account_id: account,
    name: 'backend',
    url: receiverURL(),
    events: ['meeting.ended'],
  });
  assert.equal(webhook.success, true);
  assert.equal(webhook.data.enabled, true);
  const params = { account_id: account, app_id: appId };
  const listed = await cf.realtimeKit.webhooks.getWebhooks(appId, { account_id: account });
  assert.deepEqual(
    listed.data.map((w) => w.id),
    [webhook.data.id],
  );
  const edited = await cf.realtimeKit.webhooks.editWebhook(webhook.data.id, { ...params, name: 'ends' });
  assert.equal(edited.data.name, 'ends');
  assert.deepEqual(edited.data.events, ['meeting.ended']);
  const spare = await cf.realtimeKit.webhooks.createWebhook(appId, {
    account_id: account,
    name: 'spare',
    url: receiverURL(),
    events: ['meeting.started'],
  });
  await cf.realtimeKit.webhooks.deleteWebhook(spare.data.id, params);
  await assert.rejects(
    cf.realtimeKit.webhooks.getWebhookByID(spare.data.id, params),
    (e) => e instanceof Cloudflare.NotFoundError,
  );

  const meetingId = (await cf.realtimeKit.meetings.create(appId, { account_id: account, title: 'Hooked' }))
    .data.id;
  const ann = await joinAs((await addParticipant(appId, meetingId, 'ann', 'group_call_host')).token);
  const sessionId = ann.meeting.meta.sessionId;
  const before = hooks.length;
  await cf.realtimeKit.activeSession.kickAllParticipants(meetingId, params);
  const delivery = await until('meeting.ended webhook', () =>
    hooks.slice(before).find((h) => JSON.parse(h.body).meeting?.id === meetingId),
  );
  const { data: keys } = await (await fetch(`${baseURI}/.well-known/webhooks.json`)).json();
  assert.equal(verifyWebhook(delivery.body, delivery.headers['rtk-signature'], keys.publicKey), true);
  const tampered = Buffer.from(delivery.body.toString().replace('ENDED', 'LIVE'));
  assert.equal(verifyWebhook(tampered, delivery.headers['rtk-signature'], keys.publicKey), false);
  const event = JSON.parse(delivery.body);
  assert.equal(event.event, 'meeting.ended');
  assert.equal(event.reason, 'HOST_ENDED_MEETING');
  assert.equal(event.meeting.status, 'ENDED');
  if (sessionId) assert.equal(event.meeting.sessionId, sessionId);
  // Only the subscribed event: the deleted webhook's meeting.started never came.
  assert.deepEqual(
    hooks.map((h) => JSON.parse(h.body).event),
    ['meeting.ended'],
  );
});

/**
 * A TCP relay to the server that the test can take down (every relayed socket destroyed, new ones refused: a dropped
 * network) and bring up again; tests/e2e/relay.ts is the fuller one Playwright uses.
 */
async function relayTo(origin) {
  const port = Number(new URL(origin).port);
  let open = true;
  const sockets = new Set();
  const relay = net.createServer((client) => {
    if (!open) return client.destroy();
    const upstream = net.connect(port, '127.0.0.1');
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ]) {
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
      sockets.add(a);
      a.on('close', () => sockets.delete(a));
    }
  });
  await new Promise((ok) => relay.listen(0, '127.0.0.1', ok));
  return {
    origin: `http://127.0.0.1:${relay.address().port}`,
    down() {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    up() {
      open = true;
    },
    close() {
      this.down();
      relay.close();
    },
  };
}

test('canEndSession follows the end state: off while disconnected and after leave(); kickAll waits for the reconnect', async () => {
  const appId = await newApp();
  const meetingId = (await cf.realtimeKit.meetings.create(appId, { account_id: account, title: 'Gate' })).data
    .id;
  const relay = await relayTo(baseURI);
  try {
    const host = await initMeeting({
      authToken: (await addParticipant(appId, meetingId, 'ann', 'group_call_host')).token,
      baseURI: relay.origin,
      reconnect: { baseDelayMs: 100, maxDelayMs: 500, attempts: 40 },
    });
    assert.equal(canEndSession(host), false, 'init');
    await host.join();
    joined.push(host);
    const guest = await joinAs(
      (await addParticipant(appId, meetingId, 'bob', 'group_call_participant')).token,
    );
    assert.equal(canEndSession(host), true, 'a host in the room');
    assert.equal(canEndSession(guest.meeting), false, 'a guest in the room');
    const sessionId = host.meta.sessionId;

    relay.down();
    await until('roomState disconnected', () => host.self.roomState === 'disconnected');
    assert.equal(host.self.permissions.kickParticipant, true);
    assert.equal(canEndSession(host), false, 'disconnected: the permission alone does not open the gate');
    let outcome;
    kickAll(host).then(
      (value) => (outcome = { value }),
      (error) => (outcome = { code: error.code }),
    );
    await new Promise((ok) => setTimeout(ok, 50));
    assert.equal(outcome, undefined, 'kickAll waits for the reconnect: no 1205');

    relay.up();
    await until('kickAll settled after the reconnect', () => outcome);
    assert.deepEqual(outcome, { value: { sessionId, kickedCount: 2, alreadyEnded: false } });
    await until('roomLeft ended for the guest', () => guest.left.includes('ended'));
    assert.equal(canEndSession(host), false, 'ended');

    // After leave(): out of the room, the gate is closed and kickAll says 1205.
    const other = (await cf.realtimeKit.meetings.create(appId, { account_id: account, title: 'Left' })).data
      .id;
    const carl = await joinAs((await addParticipant(appId, other, 'carl', 'group_call_host')).token);
    assert.equal(canEndSession(carl.meeting), true);
    await carl.meeting.leave();
    assert.equal(carl.meeting.self.roomState, 'left');
    assert.equal(canEndSession(carl.meeting), false, 'left');
    await assert.rejects(kickAll(carl.meeting), { code: '1205' });
  } finally {
    relay.close();
  }
});

// Standard Webhooks signatures of a real endsession-server (release build, started here on a free port with a fresh
// data dir), verified by a real HTTP receiver with the official `standardwebhooks` npm package: a delivery verifies,
// a tampered one and a replayed one (the package's clock six minutes on) do not, and after a secret rotation a
// delivery verifies with the old and with the new secret. A participant joins over a raw WebSocket (undici's: Node 20
// has no global one without a flag) so that the session starts and the API can end it.
// Binary: $ENDSESSION_SERVER_BIN, else ${CARGO_TARGET_DIR:-target}/release/endsession-server.
import { DEADLINE_MS, startServer, until } from './server.mjs';
import { test, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { WebSocket } from 'undici';

const account = 'standard-webhooks-account';
const token = randomBytes(16).toString('hex');

let baseURI;
let stopServer;
let receiver;
const deliveries = []; // [{ headers, body: Buffer }] as the receiver got them

/** One REST call below /client/v4/accounts/{account}/realtime/kit; resolves with `data`, throws on !success. */
async function api(method, path, body) {
  const response = await fetch(`${baseURI}/client/v4/accounts/${account}/realtime/kit${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(DEADLINE_MS),
  });
  const json = await response.json();
  assert.equal(json.success, true, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
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

after(() => {
  stopServer?.();
  receiver?.close();
});

/** A new app with a webhook for meeting.ended to the receiver; returns { appId, hook } (hook.secret included). */
async function appWithWebhook() {
  const appId = (await api('POST', '/apps', { name: `app-${Date.now()}` })).app.id;
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/${appId}`;
  const hook = await api('POST', `/${appId}/webhooks`, { name: 'ends', url, events: ['meeting.ended'] });
  return { appId, hook };
}

/** Starts a session of a new meeting (one participant over a raw WebSocket), ends it with kick-all, and resolves
 * with the receiver's `meeting.ended` delivery for it. */
async function endASession(appId) {
  const meeting = await api('POST', `/${appId}/meetings`, { title: 'Standard Webhooks' });
  const participant = await api('POST', `/${appId}/meetings/${meeting.id}/participants`, {
    custom_participant_id: `p-${Date.now()}`,
    preset_name: 'group_call_host',
    name: 'Host',
  });
  const socket = new WebSocket(`${baseURI.replace('http', 'ws')}/realtime/ws`);
  const frames = [];
  socket.addEventListener('message', (event) => frames.push(JSON.parse(event.data)));
  await until('the socket open', () => socket.readyState === WebSocket.OPEN);
  socket.send(JSON.stringify({ type: 'join', token: participant.token, version: 1 }));
  const joined = await until('joined', () => frames.find((f) => f.type === 'joined'));
  await api('POST', `/${appId}/meetings/${meeting.id}/active-session/kick-all`);
  socket.close();
  return until('meeting.ended at the receiver', () =>
    deliveries.find((d) => JSON.parse(d.body).meeting?.sessionId === joined.sessionId),
  );
}

const rejects = (hook, body, headers) =>
  assert.throws(() => new Webhook(hook).verify(body, headers), WebhookVerificationError);

test('the secret is shown once, and a real delivery verifies with the standardwebhooks package', async () => {
  const { appId, hook } = await appWithWebhook();
  assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const got = await api('GET', `/${appId}/webhooks/${hook.id}`);
  assert.equal(got.secret, undefined, 'GET does not show it');
  assert.ok(
    (await api('GET', `/${appId}/webhooks`)).every((h) => h.secret === undefined),
    'nor the list',
  );

  const d = await endASession(appId);
  const payload = new Webhook(hook.secret).verify(d.body, d.headers);
  assert.equal(payload.event, 'meeting.ended');
  assert.equal(d.headers['webhook-id'], d.headers['rtk-uuid'], 'webhook-id is the event id');
  assert.ok(Math.abs(Number(d.headers['webhook-timestamp']) - Date.now() / 1000) < 30, 'sent just now');

  const tampered = Buffer.from(d.body.toString().replace('HOST_ENDED_MEETING', 'ALL_PARTICIPANTS_LEFT'));
  rejects(hook.secret, tampered, d.headers);
  rejects(hook.secret, d.body, {
    ...d.headers,
    'webhook-timestamp': String(Number(d.headers['webhook-timestamp']) + 1),
  });
  rejects((await appWithWebhook()).hook.secret, d.body, d.headers);

  // Replayed as it was, six minutes later: the package's clock finds the timestamp too old.
  mock.timers.enable({ apis: ['Date'], now: Date.now() + 6 * 60 * 1000 });
  try {
    assert.throws(() => new Webhook(hook.secret).verify(d.body, d.headers), /too old/);
  } finally {
    mock.timers.reset();
  }
  new Webhook(hook.secret).verify(d.body, d.headers); // the clock back: the rejection was the timestamp's
});

test('after a rotation a delivery verifies with the old and with the new secret', async () => {
  const { appId, hook } = await appWithWebhook();
  const rotated = await api('POST', `/${appId}/webhooks/${hook.id}/rotate-secret`);
  assert.match(rotated.secret, /^whsec_/);
  assert.notEqual(rotated.secret, hook.secret);
  assert.ok(
    Date.parse(rotated.previous_secret_expires_at) > Date.now() + 3600_000,
    'the default window: a day',
  );

  const d = await endASession(appId);
  assert.equal(d.headers['webhook-signature'].split(' ').length, 2);
  assert.equal(new Webhook(hook.secret).verify(d.body, d.headers).event, 'meeting.ended');
  assert.equal(new Webhook(rotated.secret).verify(d.body, d.headers).event, 'meeting.ended');
});

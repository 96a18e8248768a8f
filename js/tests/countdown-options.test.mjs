// End options a user gets wrong. README "Use it": "Options of the wrong type reject with `'4220'` before
// anything is sent". An end is irreversible for everyone, so an option the client cannot read must never turn into
// an end-now.
import { kitApi, startServer } from './server.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ClientError, initMeeting, kickAll, on, sessionEnding } from 'endsession';

const account = 'options-account';
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

/** A meeting with a host and a guest in its session; `guestLeft` collects the guest's roomLeft payloads. */
async function room() {
  const appId = (await api('POST', '/apps', { name: `o-${Date.now()}-${Math.random()}` })).app.id;
  const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'T' })).id;
  const join = async (id, preset) => {
    const added = await api('POST', `/${appId}/meetings/${meetingId}/participants`, {
      custom_participant_id: id,
      preset_name: preset,
      name: id,
    });
    const meeting = await initMeeting({ authToken: added.token, baseURI });
    await meeting.join();
    meetings.push(meeting);
    return meeting;
  };
  const host = await join('host', 'group_call_host');
  const guest = await join('guest', 'group_call_participant');
  const guestLeft = [];
  on(guest, 'roomLeft', (p) => guestLeft.push(p));
  return { host, guest, guestLeft };
}

async function outcome(options) {
  const { host, guest, guestLeft } = await room();
  let result;
  try {
    result = await kickAll(host, options);
  } catch (e) {
    result = e instanceof ClientError ? { code: e.code } : { thrown: String(e) };
  }
  await sleep(300);
  return {
    result,
    ended: guestLeft.some((l) => l.state === 'ended'),
    counting: sessionEnding(guest) !== null,
  };
}

// Once a fault (fixed): kickAll(meeting, 30) — the grace written positionally — and the other non-object options END THE
// SESSION FOR EVERYONE AT ONCE (resolves {kickedCount, alreadyEnded: false}) instead of rejecting with '4220'.
for (const [label, options] of [
  ['a number (30)', 30],
  ['a string ("30")', '30'],
  ['an array ([30])', [30]],
  ['true', true],
]) {
  test(`kickAll(meeting, ${label}): options of the wrong type reject 4220 and end nothing`, async () => {
    const { result, ended } = await outcome(options);
    assert.equal(ended, false, `the session was ended for everyone: ${JSON.stringify(result)}`);
    assert.deepEqual(result, { code: '4220' });
  });
}

// Once a fault (fixed): a misspelt option is dropped silently and the session ends now. `grace_seconds` is the spelling the
// REST API itself accepts for kick-all (server/src/rest/active_session.rs `alias = "grace_seconds"`), and the REST
// API refuses an unknown field with a 400 (README: "an unknown field is a 400"); the client and the socket drop it
// and end the session at once for everyone.
for (const [label, options] of [
  ['{grace_seconds: 30}', { grace_seconds: 30 }],
  ['{graceseconds: 30}', { graceseconds: 30 }],
  ['{grace: 30}', { grace: 30 }],
]) {
  test(`kickAll(meeting, ${label}): an option the client does not know does not end the session now`, async () => {
    const { result, ended, counting } = await outcome(options);
    assert.equal(ended, false, `the session was ended for everyone: ${JSON.stringify(result)}`);
    assert.ok(result.code === '4220' || counting, JSON.stringify(result));
  });
}

// What holds: the documented wrong types inside an options object.
test('options objects with wrong-typed fields reject 4220 and end nothing', async () => {
  for (const options of [{ lock: 1 }, { message: 5 }, { graceSeconds: 1.0000001 }, { graceSeconds: 30n }]) {
    const { result, ended } = await outcome(options);
    assert.equal(ended, false, String(Object.keys(options)));
    assert.deepEqual(result, { code: '4220' });
  }
});

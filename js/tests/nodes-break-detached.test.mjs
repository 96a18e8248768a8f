// Several nodes (README "Several nodes"), broken on purpose: REST kick-alls whose client hangs up or that hit
// --request-timeout-ms (hub/detached.rs) (nodes-break-cluster.mjs has the harness).
import {
  DEADLINE_MS,
  WRITE_LOCK,
  account,
  cluster,
  oneEnd,
  onEachStore,
  secret,
  skip,
  skipPostgres,
  sleep,
  timeline,
  until,
} from './nodes-break-cluster.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { cancelEnd, initMeeting, kickAll, on } from 'endsession';

// --- 3. Hub calls detached from their caller ------------------------------------------------------------------

/** POSTs the REST kick-all to `node` and hangs up `delayMs` after the request is written. */
function kickAllAndHangUp(c, room, node, body, delayMs = 0) {
  return new Promise((ok) => {
    const req = request({
      host: '127.0.0.1',
      port: node.port,
      method: 'POST',
      path: `/client/v4/accounts/${account}/realtime/kit${room.base}/active-session/kick-all`,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    });
    req.on('error', () => {});
    req.end(JSON.stringify(body), () =>
      setTimeout(() => {
        req.destroy();
        ok();
      }, delayMs),
    );
  });
}

/**
 * Ten REST kick-alls through node 2, each hung up 0..50 ms after it was written, each on a session of its own
 * with participants on nodes 0 and 1. Returns, per attempt, whether the end happened and what was inconsistent.
 */
async function hangUps(c, body) {
  const room = await c.newMeeting();
  const attempts = [];
  for (const delay of [0, 0, 0, 1, 2, 3, 5, 10, 20, 50]) {
    const ann = await c.join(room, `ann${attempts.length}`, 'group_call_host', [0]);
    const bob = await c.join(room, `bob${attempts.length}`, 'group_call_participant', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('ann sees bob', () => ann.meeting.participants.joined.size === 1);
    await kickAllAndHangUp(c, room, c.nodes[2], body, delay);
    const both = () => [ann, bob].every((p) => p.of('roomLeft').some((l) => l.state === 'ended'));
    const told = await until('both told the end', both, 8000 + 1000 * (body.graceSeconds ?? 0)).catch(
      () => false,
    );
    const faults = [];
    const status = (await c.session(room, sessionId, c.nodes[0])).status;
    if (told) {
      const ids = [ann, bob].map((p) => p.of('roomLeft').find((l) => l.state === 'ended').eventId);
      if (ids[0] !== ids[1]) faults.push('two end records');
      if (status !== 'ENDED') faults.push(`told the end but the session is ${status}`);
      const hook = await until('meeting.ended', () => c.ended(sessionId)[0], DEADLINE_MS).catch(() => null);
      if (!hook) faults.push('no meeting.ended');
      else if (hook.rtkUuid !== ids[0]) faults.push("roomLeft.eventId is not the delivery's rtk-uuid");
    } else {
      const someone = [ann, bob].filter((p) => p.of('roomLeft').length > 0).map((p) => p.name);
      if (someone.length) faults.push(`only ${someone} told the end`);
      if (status !== 'LIVE') faults.push(`nobody told but the session is ${status}`);
      // Not ended: end it the ordinary way, and go on.
      await kickAll(ann.meeting);
      await until('both told the end', both);
    }
    attempts.push({ delay, ended: Boolean(told), faults });
  }
  await sleep(1500);
  const ids = c.deliveries.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'no delivery came twice');
  return attempts;
}

onEachStore(
  'a REST kick-all whose client hangs up at once ends the session for everyone, or not at all: never half',
  { skip },
  async (store) => {
    const c = await cluster({ store });
    const attempts = await hangUps(c, {});
    assert.deepEqual(
      attempts.flatMap((a) => a.faults.map((f) => `${a.delay} ms: ${f}`)),
      [],
      JSON.stringify(attempts),
    );
    await c.stop();
  },
);

test(
  'a REST kick-all whose client hangs up at once still ends the session (README: hub calls run to their end)',
  {
    skip,
  },
  async () => {
    const c = await cluster();
    const attempts = await hangUps(c, {});
    const countdowns = await hangUps(c, { graceSeconds: 1 });
    const missed = [...attempts, ...countdowns].filter((a) => !a.ended).map((a) => a.delay);
    assert.deepEqual(
      missed,
      [],
      `kick-alls hung up after these delays (ms) ended nothing: ${JSON.stringify(missed)}`,
    );
    await c.stop();
  },
);

test(
  'a REST kick-all past --request-timeout-ms still ends the session for everyone, recorded once',
  { skip },
  async () => {
    const c = await cluster();
    // A fourth node whose every request times out almost at once.
    const hasty = await c.startNode(['--request-timeout-ms', '1']);
    const room = await c.newMeeting();
    const people = [];
    for (const [i, name] of ['ann', 'bob', 'cat'].entries())
      people.push(await c.join(room, name, i === 0 ? 'group_call_host' : 'group_call_participant', [i]));
    const sessionId = people[0].meeting.meta.sessionId;
    await until('everyone sees three', () => people.every((p) => p.meeting.participants.joined.size === 2));
    const response = await fetch(
      `http://127.0.0.1:${hasty.port}/client/v4/accounts/${account}/realtime/kit${room.base}/active-session/kick-all`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(DEADLINE_MS),
      },
    ).catch((e) => ({ status: `error ${e}` }));
    const ends = [];
    for (const p of people)
      ends.push(
        await until(`${p.name} told the end (answer was ${response.status})`, () =>
          p.of('roomLeft').find((l) => l.state === 'ended'),
        ),
      );
    assert.equal(new Set(ends.map((l) => l.eventId)).size, 1, 'one end record');
    await oneEnd(c, sessionId, ends[0].eventId);
    await c.stop();
  },
);

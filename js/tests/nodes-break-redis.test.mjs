// Several nodes (README "Several nodes"), broken on purpose: a node cut from Redis, a lost subscription, and a
// Redis restart under live sessions (nodes-break-cluster.mjs has the harness).
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

// --- 2. A node cut from Redis, and Redis restarted -----------------------------------------------------------

onEachStore(
  'a node cut from Redis for 5 s: its participants resume elsewhere in the same session; after the cut it serves again',
  { skip },
  async (store) => {
    const c = await cluster({ store });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [1, 2]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [0, 1, 2]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [0, 2, 1]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('everyone sees three', () =>
      [ann, bob, cat].every((p) => p.meeting.participants.joined.size === 2),
    );
    c.nodes[0].relay.cut();
    // Node 0 lets go of its sockets (1013) within about 2 s; the balancer still prefers node 0, which accepts the
    // TCP connection: a real balancer's health check would not fail it over either. Bob and cat are sent on.
    await sleep(1500);
    bob.route([1, 2]);
    cat.route([2, 1]);
    for (const p of [bob, cat]) {
      const back = await until(
        `${p.name} resumes elsewhere`,
        () => p.of('roomJoined').find((j) => j.reconnected === true),
        30_000,
      );
      assert.equal(back.reconnected, true);
      assert.equal(p.meeting.meta.sessionId, sessionId, `${p.name} is back in the same session`);
    }
    await sleep(3500);
    c.nodes[0].relay.restore();
    await sleep(4000); // node 0 stamps itself alive again and resubscribes
    assert.deepEqual(ann.leftNames(), [], 'ann saw somebody leave');
    for (const p of [ann, bob, cat])
      assert.equal(p.meeting.participants.joined.size, 2, `${p.name} sees all`);
    // Node 0 serves again: dan joins through it and sees the others; the end reaches him there.
    const dan = await c.join(room, 'dan', 'group_call_participant', [0]);
    assert.equal(dan.meeting.meta.sessionId, sessionId);
    await until('dan sees three', () => dan.meeting.participants.joined.size === 3);
    await until('ann sees dan', () => ann.meeting.participants.joined.size === 3);
    await kickAll(ann.meeting);
    const ends = [];
    for (const p of [ann, bob, cat, dan])
      ends.push(
        await until(`${p.name} told the end`, () => p.of('roomLeft').find((l) => l.state === 'ended')),
      );
    assert.equal(new Set(ends.map((l) => l.eventId)).size, 1, 'one end record');
    await oneEnd(c, sessionId, ends[0].eventId);
    const joins = c.deliveries.filter(
      (d) => d.type === 'meeting.participantJoined' && d.sessionId === sessionId,
    );
    assert.equal(joins.length, 4, 'a resume is not a second join');
    await c.stop();
  },
);

test(
  'a participant joining through a node while it is cut from Redis is answered within a deadline, and nobody is left in an ended session',
  { skip },
  async () => {
    const c = await cluster();
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    c.nodes[0].relay.cut();
    await sleep(500);
    const added = await c.api('POST', `${room.base}/participants`, {
      custom_participant_id: 'eve',
      preset_name: 'group_call_participant',
      name: 'eve',
    });
    const eve = await initMeeting({ authToken: added.token, baseURI: `http://127.0.0.1:${c.nodes[0].port}` });
    const eveLeft = [];
    on(eve, 'roomLeft', (l) => eveLeft.push(l));
    const outcome = await Promise.race([
      eve.join().then(
        () => 'joined',
        (e) => `refused: ${e?.code ?? e}`,
      ),
      sleep(30_000).then(() => 'no answer'),
    ]);
    assert.notEqual(outcome, 'no answer', 'a join through a cut node hung for 30 s');
    c.nodes[0].relay.restore();
    await sleep(3000);
    await kickAll(ann.meeting);
    const left = await until('ann told the end', () => ann.of('roomLeft')[0]);
    if (outcome === 'joined') await until('eve told the end', () => eveLeft[0], 20_000);
    await oneEnd(c, sessionId, left.eventId);
    await eve.leave().catch(() => {});
    await c.stop();
  },
);

test(
  'Redis restarted (shutdown nosave) under a live session: everyone is back in one session seeing the others, and it ends once',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: ['--reconnect-grace-ms', '5000'] });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0, 1, 2]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1, 2, 0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2, 0, 1]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('everyone sees three', () =>
      [ann, bob, cat].every((p) => p.meeting.participants.joined.size === 2),
    );
    await c.stopRedis();
    await sleep(1000);
    c.redis = await c.startRedis();
    // Within a deadline each participant is either back in a session with the others or told it ended.
    await sleep(10_000);
    const state = () =>
      JSON.stringify(
        [ann, bob, cat].map((p) => ({
          name: p.name,
          roomState: p.meeting.self.roomState,
          session: p.meeting.meta.sessionId === sessionId ? 'same' : p.meeting.meta.sessionId,
          sees: p.meeting.participants.joined.toArray().map((x) => x.customParticipantId ?? x.name),
          left: p.of('roomLeft').map((l) => l.state),
          joined: p.of('roomJoined').map((j) => j.reconnected),
        })),
      );
    const faults = [];
    const inNow = [ann, bob, cat].filter((p) => p.meeting.self.roomState === 'joined');
    for (const p of inNow)
      if (p.meeting.participants.joined.size !== inNow.length - 1)
        faults.push(`${p.name} sees ${p.meeting.participants.joined.size} of ${inNow.length - 1} others`);
    if (new Set(inNow.map((p) => p.meeting.meta.sessionId)).size > 1)
      faults.push('they are in different sessions');
    // Everyone leaves: the session ends, once; it does not stay LIVE.
    for (const p of [ann, bob, cat]) await p.meeting.leave().catch(() => {});
    const ended = await until(
      'the session ENDED',
      async () => (await c.session(room, sessionId, c.nodes[1])).status === 'ENDED',
      20_000,
    ).catch(() => false);
    if (!ended) faults.push('the session stayed LIVE after everyone left');
    else {
      await sleep(1500);
      if (c.ended(sessionId).length !== 1) faults.push(`${c.ended(sessionId).length} meeting.ended webhooks`);
    }
    assert.deepEqual(faults, [], state());
    await c.stop();
  },
);

onEachStore(
  "a participant admitted while its node's Redis subscription is being taken again gets its frames (or is asked to reconnect)",
  {
    skip,
  },
  async (store) => {
    const c = await cluster({ store });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    // Redis drops every subscription (as on a Redis failover or a `CLIENT KILL TYPE pubsub`); node 0 takes its own
    // again after a pause. Bob joins through node 0 meanwhile; cat joins through node 2 a moment later.
    const killed = spawnSync('redis-cli', ['-p', String(c.redisPort), 'CLIENT', 'KILL', 'TYPE', 'pubsub'], {
      timeout: DEADLINE_MS,
    });
    assert.equal(killed.status, 0, String(killed.stderr));
    const bob = await c.join(room, 'bob', 'group_call_participant', [0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2]);
    assert.equal(bob.meeting.meta.sessionId, sessionId);
    await until('bob sees ann and cat', () => bob.meeting.participants.joined.size === 2, 15_000).catch(() =>
      assert.fail(
        `bob (admitted on node 0 during its re-subscription) sees ${bob.meeting.participants.joined.size} of 2 and was not asked to reconnect (roomJoined ${JSON.stringify(bob.of('roomJoined'))})`,
      ),
    );
    await kickAll(ann.meeting);
    const ends = [];
    for (const p of [ann, bob, cat])
      ends.push(
        await until(`${p.name} told the end`, () => p.of('roomLeft').find((l) => l.state === 'ended')),
      );
    await oneEnd(c, sessionId, ends[0].eventId);
    await c.stop();
  },
);

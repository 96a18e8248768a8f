// Several nodes (README "Several nodes"), broken on purpose: timers that outlive their node, nodes dying one after
// another, and a node losing Redis between recording an end and telling it (nodes-break-cluster.mjs has the harness).
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

// --- 1. Timers that outlive their node -------------------------------------------------------------------------

test(
  'nodes dying one after another: a dropped participant is still removed, then the emptied session ends once',
  { skip },
  async () => {
    const c = await cluster({ count: 4, args: ['--reconnect-grace-ms', '3000'] });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [3]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('ann sees two', () => ann.meeting.participants.joined.size === 2);
    // Bob's network goes and his node dies; then the node whose sweep may have taken over dies too.
    bob.sever();
    await sleep(300);
    c.nodes[0].kill();
    await sleep(1500);
    c.nodes[1].kill(); // cat's node: cat has nowhere to resume (her balancer knows only node 1)
    const gone = await until(
      'ann sees bob and cat leave',
      () => (ann.leftNames().length >= 2 ? ann.leftNames() : null),
      30_000,
    );
    assert.deepEqual([...gone].sort(), ['bob', 'cat']);
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'LIVE', 'ann is still in');
    // Ann's network goes too and her node dies: the session empties on a dead node and must end all the same.
    ann.sever();
    await sleep(300);
    c.nodes[3].kill();
    const ended = await oneEnd(c, sessionId);
    assert.equal(ended.reason, 'ALL_PARTICIPANTS_LEFT');
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'ENDED');
    await c.stop();
  },
);

onEachStore(
  'a cancelled countdown whose node dies does not end the session, nor does its stale timer end a later one early',
  { skip },
  async (store) => {
    const c = await cluster({ store });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const ben = await c.join(room, 'ben', 'group_call_host', [1, 2]);
    const cleo = await c.join(room, 'cleo', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    await kickAll(ann.meeting, { graceSeconds: 2, message: 'from A' });
    await until('cleo told the countdown', () => cleo.of('sessionEnding')[0]);
    assert.deepEqual(await cancelEnd(ben.meeting), { cancelled: true });
    await until('cleo told cancelled', () => cleo.of('sessionEndCancelled')[0]);
    // A second countdown, 12 s, started on node 1; then node 0 (which timed the first) dies.
    const second = await kickAll(ben.meeting, { graceSeconds: 12, message: 'from B' });
    await until('cleo told the second countdown', () => cleo.of('sessionEnding')[1]);
    c.nodes[0].kill();
    // Past the first countdown's due time plus the sweep's slack, and more: nobody was ended by it.
    await sleep(6000);
    assert.equal(
      cleo.of('roomLeft').length,
      0,
      'the cancelled countdown (or a stale timer) ended the session',
    );
    assert.equal(ben.of('roomLeft').length, 0);
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'LIVE');
    // The second ends it, not before its endsAt, with its own message.
    const left = await until('cleo ended by the second countdown', () => cleo.of('roomLeft')[0], 30_000);
    assert.ok(Date.now() - new Date(second.endsAt).getTime() > -200, 'not before the second countdown ends');
    assert.equal(left.message, 'from B');
    assert.equal(left.endedBy?.customParticipantId, 'ben');
    await until('ben ended', () => ben.of('roomLeft')[0]);
    await oneEnd(c, sessionId, left.eventId);
    await c.stop();
  },
);

test(
  'a countdown running when its node and the node of its host both die still ends once',
  { skip },
  async () => {
    const c = await cluster();
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
    const cy = await c.join(room, 'cy', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 3, message: 'two die' });
    await until('cy told the countdown', () => cy.of('sessionEnding')[0]);
    c.nodes[0].kill();
    c.nodes[1].kill();
    const left = await until('cy ended', () => cy.of('roomLeft')[0], 30_000);
    assert.equal(left.reason, 'HOST_ENDED_MEETING');
    assert.equal(left.message, 'two die');
    assert.ok(Date.now() - new Date(endsAt).getTime() > -200);
    await oneEnd(c, sessionId, left.eventId);
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'ENDED');
    void bob;
    await c.stop();
  },
);

test(
  "postgres: an end waits for the store's write lock; its node's Redis stops answering after it recorded the end, then the node dies: everyone is still told",
  {
    skip: skipPostgres,
  },
  async (t) => {
    const c = await cluster({ store: 'postgres' });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [1]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    await until('ann sees bob', () => ann.meeting.participants.joined.size === 1);
    // Hold the store's one write lock (README: "a transaction-scoped advisory lock") from psql, so that the end
    // node 0 is asked for waits inside its lease; cut Redis from node 0 (it stops answering); let the end through.
    const holder = spawn('psql', [c.databaseUrl, '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    holder.stdout.on('data', (b) => (out += b));
    holder.stdin.write(`SELECT pg_advisory_lock(${WRITE_LOCK});\n\\echo locked\n`);
    await until('psql holds the write lock', () => out.includes('locked'));
    const lockedAt = new Date().toISOString();
    const kicked = fetch(
      `http://127.0.0.1:${c.nodes[0].port}/client/v4/accounts/${account}/realtime/kit${room.base}/active-session/kick-all`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(60_000),
      },
    ).then(
      (r) => r.status,
      (e) => `${e}`,
    );
    await sleep(1500);
    // The store's write lock is held: the end cannot be recorded yet, so nobody may have been told.
    if (process.env.BREAK_DEBUG)
      console.error(
        execFileSync(
          'psql',
          [
            c.databaseUrl,
            '-Atc',
            "SELECT pid, granted, classid, objid, mode FROM pg_locks WHERE locktype = 'advisory'; SELECT id, ended_at FROM sessions",
          ],
          { timeout: DEADLINE_MS },
        ).toString(),
        out,
        `locked at ${lockedAt}`,
      );
    assert.deepEqual(
      [ann, bob].flatMap((p) => p.of('roomLeft')),
      [],
      'told the end before it could be recorded',
    );
    c.nodes[0].relay.stall();
    const stalledAt = Date.now();
    holder.stdin.write(`SELECT pg_advisory_unlock(${WRITE_LOCK});\n\\q\n`);
    await sleep(1500);
    c.nodes[0].kill();
    // The end is recorded (the store says ENDED, meeting.ended is delivered): everyone must be told, at the
    // latest once node 0's lease (30 s) ran out.
    const status = (await c.session(room, sessionId, c.nodes[1])).status;
    t.diagnostic(`after node 0 died the store says the session is ${status}`);
    t.diagnostic(
      `told ${JSON.stringify([ann, bob].map((p) => p.events.filter(([n]) => n === 'roomLeft').map(([, , at]) => at - stalledAt)))} ms after the stall`,
    );
    if (status === 'ENDED') {
      for (const p of [ann, bob])
        await until(
          `${p.name} told the end the store recorded`,
          () => p.of('roomLeft').find((l) => l.state === 'ended'),
          50_000,
        ).catch(() =>
          assert.fail(
            `the session is ENDED (meeting.ended: ${c.ended(sessionId).length}) but ${p.name} was not told in 50 s: still ${p.meeting.self.roomState}`,
          ),
        );
      await oneEnd(c, sessionId, ann.of('roomLeft')[0].eventId);
    } else {
      // Not recorded: the session goes on; the host can end it through another node once the lease is gone.
      assert.equal(status, 'LIVE');
      await until('the host ends it through node 1', () => kickAll(ann.meeting).then(() => true), 50_000);
      await until('bob told the end', () => bob.of('roomLeft')[0]);
      await oneEnd(c, sessionId, bob.of('roomLeft')[0].eventId);
    }
    await c.stop();
  },
);

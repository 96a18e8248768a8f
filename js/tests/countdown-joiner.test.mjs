// A participant who joins during a countdown: sessionEnding(meeting) is set when `await meeting.join()`
// resolves (README: "as does anyone who joins during it, right after `joined`"). Joins 40 participants one by one.
import { kitApi, startServer, until } from './server.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { initMeeting, kickAll, sessionEnding, canEndSession } from 'endsession';
import { endStateSource } from 'endsession/end-state';

test('every joiner during a countdown sees it when join() resolves', async () => {
  const account = 'race',
    token = randomBytes(16).toString('hex');
  const { baseURI, stop } = await startServer(account, token);
  const api = (method, path, body) => kitApi(baseURI, account, token, method, path, body);
  const joined = [];
  try {
    const appId = (await api('POST', '/apps', { name: 'race' })).app.id;
    const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'r' })).id;
    const join = async (id, preset) => {
      const { token: t } = await api('POST', `/${appId}/meetings/${meetingId}/participants`, {
        custom_participant_id: id,
        preset_name: preset,
        name: id,
      });
      const m = await initMeeting({ authToken: t, baseURI });
      await m.join();
      joined.push(m);
      return m;
    };
    const host = await join('host', 'group_call_host');
    await kickAll(host, { graceSeconds: 120 });
    const misses = [];
    for (let i = 0; i < 40; i++) {
      const m = await join(`p${i}`, i % 2 ? 'group_call_host' : 'group_call_participant');
      const s = sessionEnding(m),
        st = endStateSource(m).state,
        can = canEndSession(m);
      if (!s || st !== 'ending' || can)
        misses.push({
          i,
          sessionEnding: s,
          state: st,
          canEndSession: can,
          later: await until('later', () => sessionEnding(m), 2000).then(
            () => 'told later',
            () => 'never',
          ),
        });
    }
    assert.deepEqual(misses, [], `joiners not told at join(): ${JSON.stringify(misses)}`);
  } finally {
    for (const m of joined) await m.leave().catch(() => {});
    stop();
  }
});

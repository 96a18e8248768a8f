// The gate and the end in the states around the room (issue 10, faults 3 and the "calls in the wrong state" kind):
// - `canEndSession` and every End button follow the end state: closed while the connection is down (Bob's tab goes
//   through a TCP relay the test takes down, as reconnect.spec.ts does) and after leaving, open again after the
//   reconnect with no error left over from before;
// - `kickAll` called while disconnected waits for the reconnect and is sent then; it fails with 4901 if reconnecting
//   gives up;
// - several `kickAll` calls on one meeting object (a double-click) end the session once: exactly one resolves
//   `alreadyEnded: false`, the others `alreadyEnded: true` with the same session and count;
// - ending by keyboard leaves the focus on the ended screen's heading, not on <body>.
import { test, expect, type Browser, type Page } from '@playwright/test';
import { Relay } from './relay';
import { backend, devConfig, join, newMeeting } from './support';

let relay: Relay;
test.beforeEach(async ({ baseURL }) => {
  relay = await Relay.start(Number(new URL(baseURL!).port));
});
test.afterEach(() => relay.stop());

/** A host in its own page whose every connection goes through the relay. */
async function hostThroughRelay(
  browser: Browser,
  meetingId: string,
  reconnect = 'reconnectBaseMs=200&reconnectMaxMs=1000',
) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(
    `${relay.origin}/participant.html?meeting=${meetingId}&name=Bob&preset=group_call_host&${reconnect}`,
  );
  await expect(page.getByTestId('state')).toHaveText('joined');
  return page;
}

const canEnd = (page: Page) =>
  page.evaluate(() => (window as any).endsession.canEndSession((window as any).meeting));

/** Starts `kickAll` on the page's meeting; its outcome lands in `window.kicked` (`{ok, value}`). */
const startKickAll = (page: Page) =>
  page.evaluate(() => {
    const w = window as any;
    w.kicked = undefined;
    w.endsession.kickAll(w.meeting).then(
      (value: unknown) => (w.kicked = { ok: true, value }),
      (error: { code: string }) => (w.kicked = { ok: false, code: error.code }),
    );
  });
const kicked = (page: Page) => page.evaluate(() => (window as any).kicked);

test('the End button and canEndSession are off while disconnected, on again after the reconnect, no error left', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const bob = await hostThroughRelay(browser, meetingId);
  const end = bob.getByTestId('end-button');
  await expect(end).toBeEnabled();
  expect(await canEnd(bob)).toBe(true);

  relay.down();
  await expect(bob.getByTestId('state')).toHaveText('disconnected');
  await expect(end).toBeDisabled();
  expect(await canEnd(bob)).toBe(false);
  await expect(bob.getByTestId('end-reason')).toHaveText('Reconnecting…');

  relay.up();
  await expect(bob.getByTestId('state')).toHaveText('joined', { timeout: 10_000 });
  await expect(end).toBeEnabled();
  expect(await canEnd(bob)).toBe(true);
  await expect(bob.getByTestId('end-reason')).toHaveText('');
  await expect(bob.getByTestId('error')).toHaveText('');
});

test('canEndSession per state: host joined, guest, after leave() (kickAll 1205 there), after the end', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const ann = await join(browser, meetingId, 'Ann', 'group_call_host');
  const guest = await join(browser, meetingId, 'Gus', 'group_call_participant');
  expect(await canEnd(ann)).toBe(true);
  expect(await canEnd(guest)).toBe(false);
  const ben = await join(browser, meetingId, 'Ben', 'group_call_host');
  await ben.evaluate(() => (window as any).meeting.leave());
  await expect(ben.getByTestId('state')).toHaveText('left');
  expect(await ben.evaluate(() => (window as any).meeting.self.permissions.kickParticipant)).toBe(true);
  expect(await canEnd(ben), 'left: the permission alone does not open the gate').toBe(false);
  await startKickAll(ben);
  await expect.poll(() => kicked(ben)).toEqual({ ok: false, code: '1205' });

  await ann.getByTestId('end-button').click();
  await ann.getByTestId('confirm-end').click();
  await expect(ann.getByTestId('state')).toHaveText('ended');
  expect(await canEnd(ann)).toBe(false);
});

test('kickAll called while disconnected waits for the reconnect and then ends the session', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const ann = await join(browser, meetingId, 'Ann', 'group_call_participant');
  const bob = await hostThroughRelay(browser, meetingId);
  const sessionId = await bob.getByTestId('session-id').textContent();

  relay.down();
  await expect(bob.getByTestId('state')).toHaveText('disconnected');
  await startKickAll(bob);
  // Still waiting while the connection is down: not a 1205, and the session goes on.
  await expect(ann.getByTestId('participant-count')).toHaveText('2');
  expect(await kicked(bob)).toBeUndefined();

  relay.up();
  await expect
    .poll(() => kicked(bob), { timeout: 10_000 })
    .toEqual({
      ok: true,
      value: { sessionId, kickedCount: 2, alreadyEnded: false },
    });
  await expect(ann.getByTestId('state')).toHaveText('ended');
  await expect(bob.getByTestId('state')).toHaveText('ended');
});

test('kickAll called while disconnected fails with 4901 when reconnecting gives up', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const bob = await hostThroughRelay(
    browser,
    meetingId,
    'reconnectBaseMs=100&reconnectMaxMs=200&reconnectAttempts=2',
  );
  relay.down();
  await expect(bob.getByTestId('state')).toHaveText('disconnected');
  await startKickAll(bob);
  await expect.poll(() => kicked(bob), { timeout: 10_000 }).toEqual({ ok: false, code: '4901' });
  await expect(bob.getByTestId('state')).toHaveText('failed');
});

for (const n of [2, 3, 5]) {
  test(`${n} kickAll calls at once on one meeting: one ended it, the others alreadyEnded, same session and count`, async ({
    browser,
    request,
  }) => {
    const meetingId = await newMeeting(request);
    const guest = await join(browser, meetingId, 'Gus', 'group_call_participant');
    const ann = await join(browser, meetingId, 'Ann', 'group_call_host');
    const sessionId = await ann.getByTestId('session-id').textContent();
    const results = await ann.evaluate(async (n) => {
      const w = window as any;
      // A double-click and friends: both public doors, all before any answer.
      const calls = Array.from({ length: n }, (_, i) =>
        i % 2 ? w.meeting.participants.kickAll() : w.endsession.kickAll(w.meeting),
      );
      const settled = await Promise.allSettled(calls);
      const later = await w.endsession.kickAll(w.meeting);
      return { settled, later };
    }, n);
    const values = results.settled.map((r: any) => r.value ?? r.reason);
    expect(values.filter((v: any) => v.alreadyEnded === false)).toHaveLength(1);
    for (const v of values) expect(v).toMatchObject({ sessionId, kickedCount: 2 });
    expect(results.later).toEqual({ sessionId, kickedCount: 2, alreadyEnded: true });
    await expect(guest.getByTestId('state')).toHaveText('ended');
  });
}

test('a kickAll made while the first is in flight, and one made across a reconnect, are alreadyEnded', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  await join(browser, meetingId, 'Gus', 'group_call_participant');
  const bob = await hostThroughRelay(browser, meetingId);
  const sessionId = await bob.getByTestId('session-id').textContent();
  // The first call is sent and lost with the connection; the second is made while disconnected.
  relay.freeze();
  await bob.evaluate(() => {
    const w = window as any;
    w.first = w.endsession.kickAll(w.meeting);
  });
  relay.down();
  await expect(bob.getByTestId('state')).toHaveText('disconnected');
  relay.thaw();
  await bob.evaluate(() => {
    const w = window as any;
    w.second = w.endsession.kickAll(w.meeting);
  });
  relay.up();
  const [first, second] = await bob.evaluate(() => {
    const w = window as any;
    return Promise.all([w.first, w.second]);
  });
  expect([first.alreadyEnded, second.alreadyEnded].sort()).toEqual([false, true]);
  expect(first).toMatchObject({ sessionId, kickedCount: second.kickedCount });
  expect(second.sessionId).toBe(sessionId);
});

// ----- focus after ending by keyboard -----

for (const key of ['Enter', 'Space']) {
  test(`ending by keyboard (${key}) on the participant page moves the focus to the ended screen`, async ({
    browser,
    request,
  }) => {
    const meetingId = await newMeeting(request);
    const ann = await join(browser, meetingId, 'Ann', 'group_call_host');
    await ann.getByTestId('end-button').focus();
    await ann.keyboard.press(key);
    await expect(ann.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await ann.keyboard.press('Tab');
    await expect(ann.getByTestId('confirm-end')).toBeFocused();
    await ann.keyboard.press(key);
    await expect(ann.getByTestId('ended-screen')).toBeVisible();
    await expect(ann.getByRole('heading', { name: 'The meeting ended.' })).toBeFocused();
    expect(await ann.evaluate(() => document.activeElement?.id)).toBe('ended-title');
  });
}

type Panel = 'react' | 'angular' | 'element';

/** The demo on a new meeting with the `name` panel a host (its End allowed); returns the meeting and the panel. */
async function demoPanelAllowed(page: Page, request: Parameters<typeof newMeeting>[0], name: Panel) {
  await page.setViewportSize({ width: 1440, height: 1000 });
  const meetingId = await newMeeting(request);
  await page.goto(`/?meeting=${meetingId}`);
  const toggle = page.getByTestId(`grant-${name}`);
  await expect(toggle).toBeVisible();
  if ((await toggle.getAttribute('aria-checked')) !== 'true') await toggle.click();
  await expect(page.getByTestId(`${name}-state`)).toHaveAttribute('data-state', 'allowed');
  return { meetingId, panel: page.locator(`article[data-panel=${name}]`) };
}
for (const name of ['react', 'angular', 'element'] as Panel[]) {
  test(`ending by keyboard from the ${name} panel of the demo moves the focus to that panel's ended screen`, async ({
    page,
    request,
  }) => {
    const { panel } = await demoPanelAllowed(page, request, name);
    const end = panel.getByRole('button', { name: 'End meeting for all' });
    await end.focus();
    await page.keyboard.press('Enter');
    await expect(panel.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    for (const p of ['react', 'angular', 'element'])
      await expect(page.getByTestId(`${p}-state`)).toHaveAttribute('data-state', 'ended');
    const heading = panel.getByRole('status').getByRole('heading', { name: 'The meeting ended.' });
    await expect(heading).toBeFocused();
    // The focus is in this panel, not on <body> nor on another panel's screen.
    expect(
      await page.evaluate((name) => !!document.activeElement?.closest(`article[data-panel=${name}]`), name),
    ).toBe(true);
  });
}

// An end from elsewhere (REST) while the panel's End control has the focus — on its button, or in its open
// confirmation dialog on Cancel or on "End now": the focus goes to that panel's ended screen, not to <body>.
for (const name of ['react', 'angular', 'element'] as Panel[])
  for (const where of ['button', 'dialog: Cancel', 'dialog: End now'])
    test(`an end by the API while the ${name} panel's End control has the focus (${where}) moves it to that panel's ended screen`, async ({
      page,
      request,
    }) => {
      const { meetingId, panel } = await demoPanelAllowed(page, request, name);
      await panel.getByRole('button', { name: 'End meeting for all' }).focus();
      if (where !== 'button') {
        await page.keyboard.press('Enter');
        await expect(panel.getByRole('button', { name: 'Cancel' })).toBeFocused();
        if (where === 'dialog: End now') await page.keyboard.press('Tab');
      }
      const cfg = await devConfig(request);
      const ended = await request.post(
        `/client/v4/accounts/${cfg.accountId}/realtime/kit/${cfg.appId}/meetings/${meetingId}/active-session/kick-all`,
        { headers: { authorization: `Bearer ${cfg.apiToken}` }, data: {} },
      );
      expect(ended.ok()).toBe(true);
      await expect(page.getByTestId(`${name}-state`)).toHaveAttribute('data-state', 'ended');
      const heading = panel.getByRole('status').getByRole('heading', { name: 'The meeting ended.' });
      await expect(heading).toBeFocused();
      expect(
        await page.evaluate((name) => !!document.activeElement?.closest(`article[data-panel=${name}]`), name),
      ).toBe(true);
    });

// ----- the bindings on the demo page, every connection through the relay -----

const PANELS: Panel[] = ['react', 'angular', 'element'];
const pill = (page: Page, name: Panel) => page.getByTestId(`${name}-state`);
const endButton = (page: Page, name: Panel) =>
  page.locator(`article[data-panel=${name}]`).getByRole('button', { name: 'End meeting for all' });
const reason = (page: Page, name: Panel) =>
  page.locator(`article[data-panel=${name}]`).locator('.endsession-reason, [part=reason]');

/** The demo on a new meeting, loaded through the relay (its panels connect to `location.origin`), every panel a host. */
async function demoThroughRelay(page: Page, request: Parameters<typeof newMeeting>[0]) {
  await page.setViewportSize({ width: 1440, height: 1000 });
  const meetingId = await newMeeting(request);
  await page.goto(`${relay.origin}/?meeting=${meetingId}`);
  for (const name of PANELS) {
    const toggle = page.getByTestId(`grant-${name}`);
    await expect(toggle).toBeVisible();
    if ((await toggle.getAttribute('aria-checked')) !== 'true') await toggle.click();
    await expect(pill(page, name)).toHaveAttribute('data-state', 'allowed');
  }
  return meetingId;
}

test('every binding disables its End button while disconnected and enables it again after the reconnect', async ({
  page,
  request,
}) => {
  await demoThroughRelay(page, request);
  relay.down();
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'not-joined');
    await expect(endButton(page, name)).toBeDisabled();
  }
  relay.up();
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'allowed', { timeout: 15_000 });
    await expect(endButton(page, name)).toBeEnabled();
    await expect(reason(page, name)).toHaveText('');
  }
});

for (const name of PANELS) {
  test(`the ${name} binding's error goes when the state changes back to allowed`, async ({
    page,
    request,
  }) => {
    const meetingId = await demoThroughRelay(page, request);
    const rest = await backend(request);
    const participantId = await page.evaluate(
      (name) => (window as any).endsessionDemo.seats[name].participantId,
      name,
    );
    const role = (preset: string) =>
      rest.call('PATCH', `/meetings/${meetingId}/participants/${participantId}`, { preset_name: preset });
    await endButton(page, name).click();
    // The kickAll waits in the frozen relay while the backend (connected directly) revokes the permission: the
    // server refuses it with 1201, an error the button shows.
    relay.freeze();
    await page.locator(`article[data-panel=${name}]`).getByRole('button', { name: 'End now' }).click();
    await expect(pill(page, name)).toHaveAttribute('data-state', 'ending');
    await role('group_call_participant');
    relay.thaw();
    await expect(pill(page, name)).toHaveAttribute('data-state', 'no-permission');
    await expect(reason(page, name)).toHaveAttribute('data-error', '');
    await expect(reason(page, name)).toContainText('permission');
    // Granted again: allowed, and the error from before is gone.
    await role('group_call_host');
    await expect(pill(page, name)).toHaveAttribute('data-state', 'allowed');
    await expect(endButton(page, name)).toBeEnabled();
    await expect(reason(page, name)).not.toHaveAttribute('data-error');
    await expect(reason(page, name)).toHaveText('');
  });
}

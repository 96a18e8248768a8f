// `endsession/element` in Chromium against the real server: <end-meeting-button> follows a live permission change
// without a reload, its confirmation dialog works with the keyboard alone (focus trapped, Esc cancels), and
// <meeting-ended-screen> shows the end. Screenshots of each state are saved as test artifacts.
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { walkDialogByKeyboard } from './support';

async function api(request: APIRequestContext) {
  const config = await (await request.get('/dev/config.json')).json();
  const base = `/client/v4/accounts/${config.accountId}/realtime/kit/${config.appId}`;
  const headers = { authorization: `Bearer ${config.apiToken}` };
  return async (method: 'POST' | 'PATCH', path: string, data: object = {}) => {
    const response = await request.fetch(base + path, { method, headers, data });
    expect(response.status(), `${method} ${path}`).toBeLessThan(300);
    return (await response.json()).data;
  };
}

/** A page on the server's origin with both elements given a joined meeting of a new participant. */
async function setUp(page: Page, request: APIRequestContext) {
  const call = await api(request);
  const meeting = await call('POST', '/meetings', { title: test.info().title });
  const who = await call('POST', `/meetings/${meeting.id}/participants`, {
    name: 'Ann',
    preset_name: 'group_call_host',
    custom_participant_id: `ann-${Date.now()}`,
  });
  await page.goto('/blank.html');
  await page.setContent(`<!doctype html><html lang="en"><body style="font-family: sans-serif; padding: 2rem">
    <end-meeting-button></end-meeting-button>
    <meeting-ended-screen><button>Join again</button></meeting-ended-screen>
    <script type="module">
      import { initMeeting } from '/pkg/index.js';
      import '/pkg/element/index.js';
      const meeting = await initMeeting({ authToken: ${JSON.stringify(who.token)}, baseURI: location.origin });
      document.querySelector('end-meeting-button').meeting = meeting;
      document.querySelector('meeting-ended-screen').meeting = meeting;
      await meeting.join();
    </script></body></html>`);
  const button = page.locator('end-meeting-button');
  await expect(button).toHaveAttribute('state', 'allowed');
  return {
    button,
    setPreset: (preset: string) =>
      call('PATCH', `/meetings/${meeting.id}/participants/${who.id}`, { preset_name: preset }),
  };
}

const shot = (page: Page, name: string) => page.screenshot({ path: test.info().outputPath(`${name}.png`) });

test('a revoked permission disables the button within a second, with the reason shown', async ({
  page,
  request,
}) => {
  const { button, setPreset } = await setUp(page, request);
  const press = button.getByRole('button', { name: 'End meeting for all' });
  await expect(press).toBeEnabled();
  await shot(page, 'allowed');
  await setPreset('group_call_participant');
  await expect(press).toBeDisabled({ timeout: 1000 });
  await expect(button).toHaveAttribute('state', 'no-permission');
  await expect(button.getByText('Your role cannot end the meeting for everyone.')).toBeVisible();
  await shot(page, 'no-permission');
  await setPreset('group_call_host');
  await expect(press).toBeEnabled({ timeout: 1000 });
});

test('the confirmation dialog works with the keyboard alone', async ({ page, request }) => {
  const { button } = await setUp(page, request);
  const dialog = button.getByRole('dialog');
  await page.keyboard.press('Tab');
  await expect(button.getByRole('button', { name: 'End meeting for all' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAccessibleName('End the meeting for everyone?');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await shot(page, 'confirm-dialog');
  // Focus trapped in the dialog; Esc cancels and gives the focus back.
  await walkDialogByKeyboard(page, dialog);
  await expect(button).toHaveAttribute('state', 'allowed');
  await expect(button.getByRole('button', { name: 'End meeting for all' })).toBeFocused();
  // Enter, Tab to "End now", Enter: the session ends.
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await expect(button).toHaveAttribute('state', 'ended');
  const screen = page.locator('meeting-ended-screen');
  await expect(screen).toHaveAttribute('state', 'ended');
  await expect(screen.getByRole('status')).toContainText('The meeting ended.');
  await expect(screen.getByRole('button', { name: 'Join again' })).toBeVisible();
  await shot(page, 'ended');
});

// Issue 10, fault 10: a page that sets `.meeting` before `endsession/element` is imported (the elements are not
// defined yet, so the value lands as a plain property) must still get elements that follow the meeting.
test('a .meeting set before the module is imported is taken over by both elements', async ({
  page,
  request,
}) => {
  const call = await api(request);
  const meeting = await call('POST', '/meetings', { title: test.info().title });
  const who = await call('POST', `/meetings/${meeting.id}/participants`, {
    name: 'Ann',
    preset_name: 'group_call_host',
    custom_participant_id: `ann-${Date.now()}`,
  });
  await page.goto('/blank.html');
  await page.setContent(`<!doctype html><html lang="en"><body>
    <end-meeting-button></end-meeting-button>
    <meeting-ended-screen><button>Join again</button></meeting-ended-screen>
    <script type="module">
      import { initMeeting } from '/pkg/index.js';
      const meeting = await initMeeting({ authToken: ${JSON.stringify(who.token)}, baseURI: location.origin });
      window.meeting = meeting;
      // Before the upgrade: in the document, and one made but not yet connected.
      document.querySelector('end-meeting-button').meeting = meeting;
      document.querySelector('meeting-ended-screen').meeting = meeting;
      const later = document.createElement('end-meeting-button');
      later.id = 'later';
      later.meeting = meeting;
      await meeting.join();
      await import('/pkg/element/index.js');
      document.body.append(later);
      window.ready = true;
    </script></body></html>`);
  await page.waitForFunction(() => (window as any).ready === true, null, { timeout: 10_000 });
  for (const button of [page.locator('end-meeting-button').first(), page.locator('#later')]) {
    await expect(button).toHaveAttribute('state', 'allowed');
    await expect(button.getByRole('button', { name: 'End meeting for all' })).toBeEnabled();
  }
  // The value now lives behind the element's accessor, and setting it again still works.
  expect(
    await page.evaluate(() =>
      [...document.querySelectorAll('end-meeting-button, meeting-ended-screen')].map(
        (el) =>
          !Object.prototype.hasOwnProperty.call(el, 'meeting') &&
          (el as any).meeting === (window as any).meeting,
      ),
    ),
  ).toEqual([true, true, true]);
  await page
    .locator('end-meeting-button')
    .first()
    .getByRole('button', { name: 'End meeting for all' })
    .click();
  await page.getByRole('button', { name: 'End now' }).first().click();
  const screen = page.locator('meeting-ended-screen');
  await expect(screen).toHaveAttribute('state', 'ended');
  await expect(screen).toHaveAttribute('reason', 'HOST_ENDED_MEETING');
  await expect(screen.getByRole('status')).toContainText('Ann ended the session for everyone.');
  await expect(page.locator('#later')).toHaveAttribute('state', 'ended');
});

// Issue 10, fault 7: the ended screen says something true for each way out and each reason. The element is given a
// RealtimeKit-shaped meeting that the page drives, so every payload can be shown (the server's ends are checked
// above and in end-for-all/reconnect).
test('<meeting-ended-screen> says something true for every leave state and reason', async ({ page }) => {
  await page.goto('/blank.html');
  await page.setContent(`<!doctype html><html lang="en"><body>
    <meeting-ended-screen></meeting-ended-screen>
    <script type="module">
      import '/pkg/element/index.js';
      const listeners = new Set();
      const emitter = () => ({ on() {}, off() {} });
      const self = {
        roomState: 'joined',
        permissions: { ...emitter(), kickParticipant: true },
        on: (e, f) => e === 'roomLeft' && listeners.add(f),
        off: (e, f) => listeners.delete(f),
      };
      const meeting = { self, participants: { kickAll: async () => {} }, meta: { sessionId: 's-1' } };
      document.querySelector('meeting-ended-screen').meeting = meeting;
      window.leave = (payload) => {
        self.roomState = 'joined';
        for (const f of listeners) f({ state: 'disconnected' });
        self.roomState = payload.state;
        for (const f of [...listeners]) f(payload);
      };
    </script></body></html>`);
  await page.waitForFunction(() => typeof (window as any).leave === 'function');
  const screen = page.locator('meeting-ended-screen');
  const cases: [object, string, string?][] = [
    [{ state: 'ended', reason: 'HOST_ENDED_MEETING' }, 'The session was ended for everyone.'],
    [
      {
        state: 'ended',
        reason: 'HOST_ENDED_MEETING',
        endedBy: { id: 'p-1', name: 'Zoe', customParticipantId: 'zoe' },
        message: 'Thanks, all.',
      },
      'Zoe ended the session for everyone.Message from ZoeThanks, all.',
    ],
    [
      { state: 'ended', reason: 'HOST_ENDED_MEETING', endedBy: { api: true } },
      "The meeting's organiser ended the session for everyone.",
      'Message',
    ],
    [
      { state: 'ended', reason: 'NO_HOST' },
      'The session ended because no host was left in it.',
      'for everyone',
    ],
    [
      { state: 'ended', reason: 'ALL_PARTICIPANTS_LEFT' },
      'The session ended because everyone left.',
      'for everyone',
    ],
    [{ state: 'ended' }, 'This session is over.', 'for everyone'],
    [{ state: 'kicked' }, 'A host removed you from this session.'],
    [{ state: 'left' }, 'You left the meeting.'],
    [{ state: 'rejected', code: '4030', message: 'meeting is INACTIVE' }, 'The meeting is closed'],
    [
      { state: 'rejected', message: 'Your session was replaced by a newer token' },
      'replaced by a newer token',
    ],
    [{ state: 'failed' }, 'Reconnecting failed.'],
  ];
  for (const [payload, says, never] of cases) {
    await page.evaluate((p) => (window as any).leave(p), payload);
    await expect(screen).toHaveAttribute('state', (payload as { state: string }).state);
    await expect(screen.getByRole('status')).toContainText(says);
    if (never) await expect(screen.getByRole('status')).not.toContainText(never);
  }
});

// The vertical slice in real browser tabs: three participants, each its own page and connection, against a real
// endsession-server. Assertions read what a person sees, plus the public API where the page has no words for it.
import { test, expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';
import { backend, join, newMeeting } from './support';

/**
 * Registers `event` on the page's meeting before the test acts; returns a function giving its first payload. The
 * listener is in place once this resolves, so an event caused by the next step cannot be missed.
 */
async function listen(
  page: Page,
  target: 'self' | 'permissions',
  event: string,
): Promise<() => Promise<unknown>> {
  await page.evaluate(
    ([target, event]) => {
      const meeting = (window as any).meeting;
      const emitter = target === 'self' ? meeting.self : meeting.self.permissions;
      (window as any).firstEvent = new Promise((resolve) => emitter.on(event, resolve));
    },
    [target, event],
  );
  return () => page.evaluate(() => (window as any).firstEvent);
}

async function joinThree(browser: Browser, request: APIRequestContext) {
  const meetingId = await newMeeting(request);
  const host = await join(browser, meetingId, 'Ann', 'group_call_host');
  const bob = await join(browser, meetingId, 'Bob', 'group_call_participant');
  const cy = await join(browser, meetingId, 'Cy', 'group_call_participant');
  for (const page of [host, bob, cy]) await expect(page.getByTestId('participant-count')).toHaveText('3');
  const sessionId = await host.getByTestId('session-id').textContent();
  for (const page of [bob, cy]) await expect(page.getByTestId('session-id')).toHaveText(sessionId!);
  return { meetingId, host, bob, cy, sessionId: sessionId! };
}

test('a host ends the session and all three see ended within a second', async ({ browser, request }) => {
  const { meetingId, host, bob, cy, sessionId } = await joinThree(browser, request);
  await expect(host.getByTestId('end-button')).toBeEnabled();
  const roomLeft = await listen(host, 'self', 'roomLeft');

  await host.getByTestId('end-button').click();
  await host.getByTestId('confirm-end').click();

  for (const page of [host, bob, cy]) {
    await expect(page.getByTestId('state')).toHaveText('ended', { timeout: 1000 });
    await expect(page.getByTestId('ended-screen')).toBeVisible();
    await expect(page.getByTestId('ended-screen')).toContainText('The meeting ended');
  }
  expect(await roomLeft()).toMatchObject({ state: 'ended' });

  // The next join starts a new session.
  const again = await join(browser, meetingId, 'Dee', 'group_call_participant');
  await expect(again.getByTestId('session-id')).not.toHaveText(sessionId);
});

test('kickAll returns the server-confirmed result', async ({ browser, request }) => {
  const { host, sessionId } = await joinThree(browser, request);
  const result = await host.evaluate(() => (window as any).endsession.kickAll((window as any).meeting));
  expect(result).toEqual({ sessionId, kickedCount: 3, alreadyEnded: false });
});

test('a participant without the permission gets 1201 and nobody leaves', async ({ browser, request }) => {
  const { host, bob, cy } = await joinThree(browser, request);
  await expect(bob.getByTestId('end-button')).toBeDisabled();
  await expect(bob.getByTestId('end-reason')).toContainText('cannot end');

  const error = await bob.evaluate(async () => {
    const { kickAll, ClientError } = (window as any).endsession;
    try {
      await kickAll((window as any).meeting);
      return null;
    } catch (e: any) {
      return { code: e.code, message: e.message, isClientError: e instanceof ClientError };
    }
  });
  expect(error).toEqual({
    code: '1201',
    message: expect.stringContaining('User does not have permission to kick peers'),
    isClientError: true,
  });

  // Everyone is still in the same session.
  await bob.waitForTimeout(300);
  for (const page of [host, bob, cy]) {
    await expect(page.getByTestId('state')).toHaveText('joined');
    await expect(page.getByTestId('participant-count')).toHaveText('3');
  }
});

test('granting the permission through REST flips the gate live', async ({ browser, request }) => {
  const { meetingId, bob, cy } = await joinThree(browser, request);
  await expect(bob.getByTestId('end-button')).toBeDisabled();
  const bobId = await bob.evaluate(() => (window as any).participantId);
  const permissionsUpdate = await listen(bob, 'permissions', 'permissionsUpdate');

  await (
    await backend(request)
  ).call('PATCH', `/meetings/${meetingId}/participants/${bobId}`, {
    preset_name: 'group_call_host',
  });

  await expect(bob.getByTestId('end-button')).toBeEnabled({ timeout: 1000 });
  expect(await permissionsUpdate()).toMatchObject({ kickParticipant: true });
  expect(await bob.evaluate(() => (window as any).endsession.canEndSession((window as any).meeting))).toBe(
    true,
  );
  expect(await bob.evaluate(() => (window as any).meeting.self.permissions.kickParticipant)).toBe(true);

  // And the new host can now end the session for everyone.
  await bob.getByTestId('end-button').click();
  await bob.getByTestId('confirm-end').click();
  await expect(cy.getByTestId('state')).toHaveText('ended', { timeout: 1000 });
});

// Issue 10, fault 3: every kickAll on a session that ends — before, during or just after the end, from any caller —
// resolves with that session's id and `alreadyEnded: true`, but the one call that ended it.

test('kickAll after the session ended resolves with that session, alreadyEnded, and the button shows no error', async ({
  browser,
  request,
}) => {
  const { host, sessionId } = await joinThree(browser, request);
  const first = await host.evaluate(() => (window as any).endsession.kickAll((window as any).meeting));
  expect(first).toEqual({ sessionId, kickedCount: 3, alreadyEnded: false });
  await expect(host.getByTestId('state')).toHaveText('ended');
  const again = await host.evaluate(() => (window as any).endsession.kickAll((window as any).meeting));
  expect(again).toEqual({ sessionId, kickedCount: 3, alreadyEnded: true });
  await expect(host.getByTestId('error')).toHaveText('');
});

test('two hosts racing to end: both resolve with the same session, exactly one ended it', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const ann = await join(browser, meetingId, 'Ann', 'group_call_host');
  const zoe = await join(browser, meetingId, 'Zoe', 'group_call_host');
  await expect(ann.getByTestId('participant-count')).toHaveText('2');
  const sessionId = await ann.getByTestId('session-id').textContent();
  const end = (page: Page) =>
    page.evaluate(() =>
      (window as any).endsession.kickAll((window as any).meeting).then(
        (r: object) => r,
        (e: { code: string }) => ({ error: e.code }),
      ),
    );
  const results = await Promise.all([end(ann), end(zoe)]);
  for (const result of results) expect(result).toMatchObject({ sessionId, kickedCount: 2 });
  expect(results.filter((r) => r.alreadyEnded === false)).toHaveLength(1);
});

test('a host ending while the API ends the session: resolved, with the API’s session', async ({
  browser,
  request,
}) => {
  const { meetingId, host, sessionId } = await joinThree(browser, request);
  const api = await backend(request);
  const [result] = await Promise.all([
    host.evaluate(() =>
      (window as any).endsession.kickAll((window as any).meeting).then(
        (r: object) => r,
        (e: { code: string }) => ({ error: e.code }),
      ),
    ),
    api.call('POST', `/meetings/${meetingId}/active-session/kick-all`),
  ]);
  expect(result).toMatchObject({ sessionId, kickedCount: 3 });
  await expect(host.getByTestId('state')).toHaveText('ended');
  await expect(host.getByTestId('error')).toHaveText('');
});

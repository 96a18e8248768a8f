// The vertical slice in real browser tabs: three participants, each its own page and connection, against a real
// endsession-server. Assertions read what a person sees, plus the public API where the page has no words for it.
import { test, expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';

type Role = 'group_call_host' | 'group_call_participant';

/** The REST API as a backend calls it, with the dev account the server seeded. */
async function backend(request: APIRequestContext) {
  const config = await (await request.get('/dev/config.json')).json();
  const base = `/client/v4/accounts/${config.accountId}/realtime/kit/${config.appId}`;
  const headers = { authorization: `Bearer ${config.apiToken}` };
  return {
    async call(method: 'POST' | 'PATCH', path: string, data?: object) {
      const response = await request.fetch(base + path, { method, headers, data: data ?? {} });
      expect(response.status(), `${method} ${path}`).toBeLessThan(300);
      return (await response.json()).data;
    },
  };
}

/** Each test gets its own meeting, so tests cannot see each other's participants. */
async function newMeeting(request: APIRequestContext): Promise<string> {
  const meeting = await (await backend(request)).call('POST', '/meetings', { title: test.info().title });
  return meeting.id;
}

async function join(browser: Browser, meetingId: string, name: string, preset: Role): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`/participant.html?meeting=${meetingId}&name=${name}&preset=${preset}`);
  await expect(page.getByTestId('state')).toHaveText('joined');
  return page;
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
  const result = host.evaluate(
    () =>
      new Promise((resolve) => {
        (window as any).meeting.self.on('roomLeft', (e: { state: string }) => resolve(e.state));
      }),
  );

  await host.getByTestId('end-button').click();
  await host.getByTestId('confirm-end').click();

  for (const page of [host, bob, cy]) {
    await expect(page.getByTestId('state')).toHaveText('ended', { timeout: 1000 });
    await expect(page.getByTestId('ended-screen')).toBeVisible();
    await expect(page.getByTestId('ended-screen')).toContainText('The meeting ended');
  }
  expect(await result).toBe('ended');

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
  const updates = bob.evaluate(
    () =>
      new Promise((resolve) => {
        (window as any).meeting.self.permissions.on('permissionsUpdate', resolve);
      }),
  );

  await (
    await backend(request)
  ).call('PATCH', `/meetings/${meetingId}/participants/${bobId}`, {
    preset_name: 'group_call_host',
  });

  await expect(bob.getByTestId('end-button')).toBeEnabled({ timeout: 1000 });
  expect(await updates).toMatchObject({ kickParticipant: true });
  expect(await bob.evaluate(() => (window as any).endsession.canEndSession((window as any).meeting))).toBe(
    true,
  );
  expect(await bob.evaluate(() => (window as any).meeting.self.permissions.kickParticipant)).toBe(true);

  // And the new host can now end the session for everyone.
  await bob.getByTestId('end-button').click();
  await bob.getByTestId('confirm-end').click();
  await expect(cy.getByTestId('state')).toHaveText('ended', { timeout: 1000 });
});

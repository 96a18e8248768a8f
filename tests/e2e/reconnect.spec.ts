// Lost connections, for real: Bob's tab reaches the server through a TCP relay that the test takes down (every open
// socket destroyed, as a network drop does, and new connections refused) and brings up again. The server keeps
// running throughout; Ann, the host, is connected directly.
import { test, expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';
import { Relay } from './relay';
import { join, newMeeting } from './support';

let relay: Relay;
test.beforeEach(async ({ baseURL }) => {
  relay = await Relay.start(Number(new URL(baseURL!).port));
});
test.afterEach(() => relay.stop());

/** Bob, a participant whose every connection goes through the relay. */
async function joinThroughRelay(browser: Browser, meetingId: string, reconnect: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(
    `${relay.origin}/participant.html?meeting=${meetingId}&name=Bob&preset=group_call_participant&${reconnect}`,
  );
  await expect(page.getByTestId('state')).toHaveText('joined');
  // Every event in arrival order, registered before anything is cut.
  await page.evaluate(() => {
    const events: unknown[] = ((window as any).events = []);
    const self = (window as any).meeting.self;
    self.on('roomJoined', (e: object) => events.push({ event: 'roomJoined', ...e }));
    self.on('roomLeft', (e: object) => events.push({ event: 'roomLeft', ...e }));
  });
  return page;
}

const events = (page: Page) => page.evaluate(() => (window as any).events);

/** A new meeting with Ann (host, direct) and Bob (participant, through the relay, with these reconnect options). */
async function annAndBob(browser: Browser, request: APIRequestContext, reconnect: string) {
  const meetingId = await newMeeting(request);
  const ann = await join(browser, meetingId, 'Ann', 'group_call_host');
  const bob = await joinThroughRelay(browser, meetingId, reconnect);
  await expect(ann.getByTestId('participant-count')).toHaveText('2');
  // What Ann is told about others coming and going, from here on.
  await ann.evaluate(() => {
    const seen: string[] = ((window as any).comings = []);
    const joined = (window as any).meeting.participants.joined;
    joined.on('participantJoined', (p: { name: string }) => seen.push(`joined ${p.name}`));
    joined.on('participantLeft', (p: { name: string }) => seen.push(`left ${p.name}`));
  });
  return { ann, bob };
}

test('a dropped connection comes back into the same session, and the others never see it leave', async ({
  browser,
  request,
}) => {
  const { ann, bob } = await annAndBob(browser, request, 'reconnectBaseMs=200&reconnectMaxMs=1000');
  const sessionId = await ann.getByTestId('session-id').textContent();

  relay.down();
  await expect(bob.getByTestId('state')).toHaveText('disconnected');
  const disconnected = { event: 'roomLeft', state: 'disconnected', sessionId, reason: null };
  expect(await events(bob)).toEqual([disconnected]);

  relay.up();
  await expect(bob.getByTestId('state')).toHaveText('joined', { timeout: 5000 });
  expect(await events(bob)).toEqual([disconnected, { event: 'roomJoined', reconnected: true }]);
  await expect(bob.getByTestId('session-id')).toHaveText(sessionId!);
  // Within the server's reconnect grace, Bob never left the session: Ann was told nothing.
  await expect(ann.getByTestId('participant-count')).toHaveText('2');
  expect(await ann.evaluate(() => (window as any).comings)).toEqual([]);

  // And the end still reaches him on his new connection.
  await ann.getByTestId('end-button').click();
  await ann.getByTestId('confirm-end').click();
  await expect(bob.getByTestId('state')).toHaveText('ended', { timeout: 1000 });
});

test('a participant whose connection is down when the session ends is told ended when it comes back', async ({
  browser,
  request,
}) => {
  const { ann, bob } = await annAndBob(
    browser,
    request,
    'reconnectBaseMs=200&reconnectMaxMs=300&reconnectAttempts=50',
  );

  relay.down();
  await expect(bob.getByTestId('state')).toHaveText('disconnected');
  const result = await ann.evaluate(() => (window as any).endsession.kickAll((window as any).meeting));
  expect(result).toMatchObject({ kickedCount: 2, alreadyEnded: false });
  await expect(bob.getByTestId('state')).toHaveText('disconnected'); // nothing can reach him yet

  relay.up();
  await expect(bob.getByTestId('state')).toHaveText('ended', { timeout: 5000 });
  await expect(bob.getByTestId('ended-screen')).toContainText('The meeting ended');
  // Who ended it reaches him too (the end record is kept on the session).
  await expect(bob.getByTestId('ended-screen')).toContainText('Ann ended the session for everyone.');
  expect((await events(bob)).at(-1)).toMatchObject({
    event: 'roomLeft',
    state: 'ended',
    sessionId: await ann.getByTestId('session-id').textContent(),
    reason: 'HOST_ENDED_MEETING',
  });
});

test('when every reconnect fails, the participant sees failed and the session goes on without it', async ({
  browser,
  request,
}) => {
  const { ann, bob } = await annAndBob(
    browser,
    request,
    'reconnectBaseMs=100&reconnectMaxMs=200&reconnectAttempts=3',
  );

  relay.down();
  await expect(bob.getByTestId('ended-screen')).toContainText('Connection lost', { timeout: 5000 });
  const sessionId = await ann.getByTestId('session-id').textContent();
  expect(await events(bob)).toEqual([
    { event: 'roomLeft', state: 'disconnected', sessionId, reason: null },
    { event: 'roomLeft', state: 'failed', sessionId, reason: null },
  ]);
  expect(await bob.evaluate(() => (window as any).endsession.canEndSession((window as any).meeting))).toBe(
    false,
  );
  // Ann's session is untouched: she is still in it and can still end it.
  await expect(ann.getByTestId('state')).toHaveText('joined');
  await expect(ann.getByTestId('end-button')).toBeEnabled();
});

// The demo's backend half (issue 13): the backend pane's end controls ("End in N s", "Cancel end", "End and lock",
// the end message, the no-host auto-end setting) and its live list of webhook deliveries, which the dev server's own
// sink received and verified (rtk-signature against the published key, webhook-signature with the webhook's
// secret). Every test opens the demo on a fresh meeting; "End in N s" is shortened with the page's `?grace=N` (the panels use it too).
import { test, expect, type Page } from '@playwright/test';
import { backend, newMeeting } from './support';

type Panel = 'react' | 'angular' | 'element';
const PANELS: Panel[] = ['react', 'angular', 'element'];
/** The shortened grace of "End in N s", in seconds. */
const GRACE = 3;

test.use({ viewport: { width: 1440, height: 1000 } });

const panel = (page: Page, name: Panel) => page.locator(`article[data-panel=${name}]`);
const pill = (page: Page, name: Panel) => page.getByTestId(`${name}-state`);
/** The pane's rows for the meeting's deliveries of `event`. */
const deliveries = (page: Page, event: string) =>
  page.getByTestId('deliveries').locator(`li[data-event="${event}"]`);

/** Opens the demo on a new meeting and waits until all three panels are in the room. */
async function openDemo(page: Page, request: Parameters<typeof newMeeting>[0], query = '') {
  const meetingId = await newMeeting(request);
  await page.goto(`/?meeting=${meetingId}${query}`);
  await expect(page.getByTestId('meeting-id')).toHaveText(meetingId);
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
  for (const name of PANELS) await expect(panel(page, name)).toContainText('3 in the room');
  // The panels show a short session id; the REST API and the deliveries carry the whole one.
  const live = await activeSession(request, meetingId);
  expect(live.status).toBe('LIVE');
  const session: string = live.id;
  await expect(page.getByTestId('react-session')).toContainText(session.slice(0, 8));
  return { meetingId, session };
}

async function expectAllEnded(page: Page) {
  for (const name of PANELS) await expect(pill(page, name)).toHaveAttribute('data-state', 'ended');
}

/** The meeting's active session as the REST API reports it. */
async function activeSession(request: Parameters<typeof newMeeting>[0], meetingId: string) {
  return (await backend(request)).call('GET', `/meetings/${meetingId}/active-session`);
}

test('the backend pane lists the meeting.ended delivery with both signatures verified', async ({
  page,
  request,
}) => {
  const { session } = await openDemo(page, request);
  const started = deliveries(page, 'meeting.started');
  await expect(started).toHaveCount(1);
  await expect(started).toHaveAttribute('data-verified', 'true');
  await expect(started).toHaveAttribute('data-session', session);
  await expect(started.locator('.mark')).toHaveText('✓');

  await page.getByTestId('end-api').click();
  await expectAllEnded(page);
  const ended = deliveries(page, 'meeting.ended');
  await expect(ended).toHaveCount(1);
  await expect(ended).toHaveAttribute('data-verified', 'true');
  await expect(ended).toHaveAttribute('data-session', session);
  await expect(ended.locator('.mark')).toHaveText('✓');
  await expect(ended.locator('.mark')).toHaveAttribute('aria-label', 'signatures verified');
  await expect(ended).toContainText('HOST_ENDED_MEETING');
  await expect(ended).toContainText('by the API');
  // Nothing in the list failed its checks.
  await expect(page.getByTestId('deliveries').locator('li[data-verified="false"]')).toHaveCount(0);
});

test('an end with a message: the meeting.ended delivery in the pane shows the message and the reason', async ({
  page,
  request,
}) => {
  const { session } = await openDemo(page, request);
  await page.getByTestId('end-message').fill('Thanks for coming — see you Thursday');
  await page.getByTestId('end-api').click();
  await expectAllEnded(page);
  const ended = deliveries(page, 'meeting.ended');
  await expect(ended).toHaveCount(1);
  await expect(ended).toHaveAttribute('data-session', session);
  await expect(ended.locator('.message')).toHaveText('“Thanks for coming — see you Thursday”');
  await expect(ended.locator('.reason')).toHaveText('HOST_ENDED_MEETING · by the API');
  await expect(ended).toHaveAttribute('data-verified', 'true');
});

test('End and lock ends the session and closes the meeting: a rejoin is refused', async ({
  page,
  request,
}) => {
  const { meetingId, session } = await openDemo(page, request);
  await page.getByTestId('end-lock').click();
  await expectAllEnded(page);
  await expect(page.getByTestId('meeting-status')).toHaveText('INACTIVE');
  const meeting = await (await backend(request)).call('GET', `/meetings/${meetingId}`);
  expect(meeting.status).toBe('INACTIVE');
  await expect(deliveries(page, 'meeting.ended')).toHaveAttribute('data-session', session);
  await expect(deliveries(page, 'meeting.ended')).toHaveAttribute('data-verified', 'true');

  await page.getByTestId('rejoin-all').click();
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'rejected');
    await expect(panel(page, name).getByRole('status')).toContainText('The meeting is closed');
  }
  expect((await activeSession(request, meetingId)).id).toBe(session); // no new session started
});

test(`End in ${GRACE} s (?grace=${GRACE}): the countdown runs, Cancel end stops it, a second one ends the session`, async ({
  page,
  request,
}) => {
  const { meetingId, session } = await openDemo(page, request, `&grace=${GRACE}`);
  const endGrace = page.getByTestId('end-grace');
  await expect(endGrace).toHaveText(`End in ${GRACE} s`);
  const countdown = page.getByTestId('end-countdown');

  await endGrace.click();
  await expect(countdown).toContainText('Ends in');
  await expect(countdown).toHaveAttribute('data-state', 'running');
  await page.getByTestId('cancel-end').click();
  await expect(countdown).toHaveText('Countdown cancelled');

  // Past the time the countdown would have ended (a generous margin): the session is still live, nobody left.
  await page.waitForTimeout((GRACE + 2) * 1000);
  const live = await activeSession(request, meetingId);
  expect([live.id, live.status, live.live_participants]).toEqual([session, 'LIVE', 3]);
  for (const name of PANELS) {
    await expect(pill(page, name)).not.toHaveAttribute('data-state', 'ended');
    await expect(panel(page, name)).toContainText('3 in the room');
  }
  await expect(deliveries(page, 'meeting.ended')).toHaveCount(0);

  await endGrace.click();
  await expect(countdown).toContainText('Ends in');
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'ended', { timeout: (GRACE + 10) * 1000 });
  }
  const ended = await activeSession(request, meetingId);
  expect([ended.id, ended.status]).toEqual([session, 'ENDED']);
  await expect(deliveries(page, 'meeting.ended')).toHaveAttribute('data-verified', 'true');
  await expect(deliveries(page, 'meeting.ended')).toHaveAttribute('data-session', session);
  await expect(countdown).toHaveText('Ended');
});

test('the no-host setting is saved on the meeting from the pane', async ({ page, request }) => {
  const { meetingId } = await openDemo(page, request);
  const field = page.getByTestId('no-host-secs');
  await expect(field).toHaveValue('0');
  await field.fill('120');
  await page.getByTestId('no-host-save').click();
  await expect(page.locator('#log li').first()).toHaveAttribute('data-result', 'ok');
  const meeting = await (await backend(request)).call('GET', `/meetings/${meetingId}`);
  expect(meeting.end_when_no_host_after_secs).toBe(120);
  await page.reload();
  await expect(page.getByTestId('no-host-secs')).toHaveValue('120');
});

test('with the no-host setting, revoking the only host ends the next session after it: NO_HOST, in the pane', async ({
  page,
  request,
}) => {
  const { meetingId, session } = await openDemo(page, request);
  await page.getByTestId('no-host-secs').fill('2');
  await page.getByTestId('no-host-save').click();
  await expect(page.locator('#log li').first()).toHaveAttribute('data-result', 'ok');
  // The setting is read when a session starts: end this one and seat everyone in a new one.
  await page.getByTestId('end-api').click();
  await expectAllEnded(page);
  await page.getByTestId('rejoin-all').click();
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
  for (const name of PANELS) await expect(panel(page, name)).toContainText('3 in the room');
  const next: string = (await activeSession(request, meetingId)).id;
  expect(next).not.toBe(session);

  // React's Ada is the only host; taking her permission away leaves the session without one.
  // The NO_HOST countdown (2 s) reaches the panels first: every participant's end state is `ending` until it ends.
  await page.getByTestId('grant-react').click();
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'ending');
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'ended', { timeout: 15_000 });
  }
  const ended = page
    .getByTestId('deliveries')
    .locator(`li[data-event="meeting.ended"][data-session="${next}"]`);
  await expect(ended.locator('.reason')).toHaveText('NO_HOST');
  await expect(ended).toHaveAttribute('data-verified', 'true');
  const after = await activeSession(request, meetingId);
  expect([after.id, after.status, after.reason]).toEqual([next, 'ENDED', 'NO_HOST']);
});

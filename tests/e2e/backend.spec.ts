// A backend ends the session and closes the meeting through the official cloudflare SDK, while the participants
// are real pages in headless Chromium.
import { test, expect } from '@playwright/test';
import { devConfig, join, newMeeting, sdk } from './support';

test('a backend kick_all_participants call ends the session for every page', async ({
  browser,
  request,
  baseURL,
}) => {
  const config = await devConfig(request);
  const meetingId = await newMeeting(request);
  const pages = [
    await join(browser, meetingId, 'Ann', 'group_call_host'),
    await join(browser, meetingId, 'Bob', 'group_call_participant'),
  ];
  for (const page of pages) await expect(page.getByTestId('participant-count')).toHaveText('2');

  const result = sdk(config, baseURL!, 'active_session.kick_all_participants', { meeting_id: meetingId });
  expect(result).toMatchObject({ success: true, data: { kicked_participants_count: 2 } });

  for (const page of pages) {
    await expect(page.getByTestId('state')).toHaveText('ended', { timeout: 1000 });
    await expect(page.getByTestId('ended-screen')).toContainText('The meeting ended');
  }
  const session = sdk(config, baseURL!, 'active_session.get_active_session', { meeting_id: meetingId });
  expect(session).toMatchObject({ success: true, data: { status: 'ENDED' } });
  expect(session.data.ended_at).toBeTruthy();
});

test('after status INACTIVE a new join is rejected; ACTIVE lets it in again', async ({
  browser,
  request,
  baseURL,
}) => {
  const config = await devConfig(request);
  const meetingId = await newMeeting(request);
  const ann = await join(browser, meetingId, 'Ann', 'group_call_host');

  const meeting = sdk(config, baseURL!, 'meetings.update_meeting_by_id', {
    meeting_id: meetingId,
    status: 'INACTIVE',
  });
  expect(meeting).toMatchObject({ success: true, data: { status: 'INACTIVE' } });

  // The live session is not ended by the status change alone...
  await expect(ann.getByTestId('state')).toHaveText('joined');
  // ...but nobody new gets in, and the page says why.
  const late = await join(browser, meetingId, 'Bob', 'group_call_participant', 'rejected');
  await expect(late.getByTestId('ended-screen')).toContainText('could not join');
  const lateEvents = await late.evaluate(() => (window as any).meeting.self.roomState);
  expect(lateEvents).toBe('rejected');

  sdk(config, baseURL!, 'meetings.update_meeting_by_id', { meeting_id: meetingId, status: 'ACTIVE' });
  await join(browser, meetingId, 'Cleo', 'group_call_participant');
});

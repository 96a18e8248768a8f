// One participant in one tab: `participant.html?name=Ann&preset=group_call_host`; optional `reconnectBaseMs`,
// `reconnectMaxMs`, `reconnectAttempts` tune the client's reconnect backoff and `heartbeatTimeoutMs` its silence
// timeout (tests/e2e/reconnect.spec.ts).
// Uses only the public `endsession` API (and `<session-ending-banner>` from `endsession/element` for a countdown);
// the tests read the same DOM a person does.
import {
  initMeeting,
  canEndSession,
  cancelEnd,
  kickAll,
  on,
  sessionEnding,
  ClientError,
} from '/pkg/index.js';
import { disabledReason, endNote, leaveText } from '/pkg/end-state/index.js';
import '/pkg/element/index.js';
import { addParticipant } from './backend.js';

const params = new URLSearchParams(location.search);
const name = params.get('name') ?? 'Guest';
const preset = params.get('preset') ?? 'group_call_participant';
const meetingId = params.get('meeting') ?? undefined; // default: the seeded demo meeting
const $ = (id) => document.getElementById(id);
const stateEl = document.querySelector('[data-testid=state]');

window.endsession = { canEndSession, cancelEnd, kickAll, on, sessionEnding, ClientError };

async function start() {
  $('name').textContent = name;
  $('preset').textContent = preset;
  const participant = await addParticipant({ name, preset, meetingId });
  window.participantId = participant.id;
  const meeting = await initMeeting({
    authToken: participant.token,
    baseURI: location.origin,
    reconnect: reconnect(),
    heartbeatTimeoutMs: params.has('heartbeatTimeoutMs')
      ? Number(params.get('heartbeatTimeoutMs'))
      : undefined,
  });
  window.meeting = meeting;
  wire(meeting);
  try {
    await meeting.join();
  } catch (error) {
    showError(error);
  }
}

function reconnect() {
  const number = (key) => (params.has(key) ? Number(params.get(key)) : undefined);
  return {
    baseDelayMs: number('reconnectBaseMs'),
    maxDelayMs: number('reconnectMaxMs'),
    attempts: number('reconnectAttempts'),
  };
}

function wire(meeting) {
  let left = null; // the last roomLeft payload: the ended screen says why
  let shown = null; // the state and gate last rendered: an error shown belongs to them
  const render = () => {
    const state = meeting.self.roomState;
    const allowed = canEndSession(meeting);
    // An error is about what was tried in one state: it goes when the state or the gate changes (a 1205 from before
    // a reconnect is not true after it).
    const now = `${state}:${allowed}`;
    if (shown !== null && shown !== now) $('error').textContent = '';
    shown = now;
    stateEl.textContent = state;
    stateEl.dataset.state = state;
    document.querySelector('[data-testid=session-id]').textContent = meeting.meta.sessionId ?? '–';
    const people = meeting.participants.joined.toArray();
    $('participants').replaceChildren(
      ...[{ name: `${meeting.self.name} (you)` }, ...people].map((p) => {
        const li = document.createElement('li');
        li.textContent = p.name;
        return li;
      }),
    );
    document.querySelector('[data-testid=participant-count]').textContent = String(people.length + 1);
    // The gate is the end state: closed while reconnecting and while the end is under way, open again after.
    $('end').disabled = !allowed;
    // Texts of the end states are the package's (disabledReason); "Reconnecting…" is this page's own.
    $('end-reason').textContent =
      !allowed && state === 'disconnected'
        ? 'Reconnecting…'
        : disabledReason(
            allowed
              ? 'allowed'
              : state !== 'joined'
                ? 'not-joined'
                : meeting.self.permissions.kickParticipant
                  ? 'ending'
                  : 'no-permission',
          );
    const out = left?.state === state && !['joined', 'disconnected'].includes(state);
    // Focus in the room that is about to be hidden (the End button pressed by keyboard) would fall to <body>: it
    // moves to the ended screen's heading instead.
    const focusLost =
      out &&
      $('ended').hidden &&
      ($('in-room').contains(document.activeElement) || document.activeElement === document.body);
    $('in-room').hidden = !['joined', 'disconnected'].includes(state);
    $('ended').hidden = !out;
    if (focusLost) $('ended-title').focus();
    $('ended').dataset.reason = (out && left.reason) || '';
    if (out) [$('ended-title').textContent, $('ended-text').textContent] = leaveText(left);
    // The message of whoever ended the session, with whom it is from.
    const note = out ? endNote(left) : null;
    $('ended-note').hidden = !note;
    if (note)
      [$('ended-note').firstElementChild.textContent, $('ended-note').lastElementChild.textContent] = note;
  };
  document.querySelector('session-ending-banner').meeting = meeting;
  meeting.self.on('roomJoined', render);
  meeting.self.on('roomLeft', (payload) => {
    left = payload;
    render();
  });
  meeting.self.permissions.on('permissionsUpdate', render);
  // A countdown closes the gate for everyone (end state `ending`) until it is cancelled.
  meeting.self.on('sessionEnding', render);
  meeting.self.on('sessionEndCancelled', render);
  meeting.participants.joined.on('participantJoined', render);
  meeting.participants.joined.on('participantLeft', render);
  render();

  $('end').addEventListener('click', () => $('confirm').showModal());
  $('confirm').addEventListener('close', async () => {
    if ($('confirm').returnValue !== 'end') return;
    try {
      const ending = kickAll(meeting);
      render(); // the gate is closed while the end is under way
      await ending;
    } catch (error) {
      render();
      showError(error);
    }
  });
  $('leave').addEventListener('click', () => meeting.leave());
  $('rejoin').addEventListener('click', () => location.reload());
}

function showError(error) {
  $('error').textContent = error instanceof ClientError ? `${error.code}: ${error.message}` : String(error);
}

start().catch(showError);

// One participant in one tab: `participant.html?name=Ann&preset=group_call_host`; optional `reconnectBaseMs`,
// `reconnectMaxMs`, `reconnectAttempts` tune the client's reconnect backoff and `heartbeatTimeoutMs` its silence
// timeout (tests/e2e/reconnect.spec.ts).
// Uses only the public `endsession` API; the tests read the same DOM a person does.
import { initMeeting, canEndSession, kickAll, on, ClientError } from '/pkg/index.js';
import { disabledReason, leaveText } from '/pkg/end-state/index.js';
import { addParticipant } from './backend.js';

const params = new URLSearchParams(location.search);
const name = params.get('name') ?? 'Guest';
const preset = params.get('preset') ?? 'group_call_participant';
const meetingId = params.get('meeting') ?? undefined; // default: the seeded demo meeting
const $ = (id) => document.getElementById(id);
const stateEl = document.querySelector('[data-testid=state]');

window.endsession = { canEndSession, kickAll, on, ClientError };

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
  const render = () => {
    const state = meeting.self.roomState;
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
    const allowed = canEndSession(meeting);
    $('end').disabled = !allowed;
    $('end-reason').textContent = disabledReason(
      allowed ? 'allowed' : state === 'joined' ? 'no-permission' : 'not-joined',
    );
    $('in-room').hidden = !['joined', 'disconnected'].includes(state);
    const out = left?.state === state && !['joined', 'disconnected'].includes(state);
    $('ended').hidden = !out;
    $('ended').dataset.reason = (out && left.reason) || '';
    if (out) [$('ended-title').textContent, $('ended-text').textContent] = leaveText(left);
  };
  meeting.self.on('roomJoined', render);
  meeting.self.on('roomLeft', (payload) => {
    left = payload;
    render();
  });
  meeting.self.permissions.on('permissionsUpdate', render);
  meeting.participants.joined.on('participantJoined', render);
  meeting.participants.joined.on('participantLeft', render);
  render();

  $('end').addEventListener('click', () => $('confirm').showModal());
  $('confirm').addEventListener('close', async () => {
    if ($('confirm').returnValue !== 'end') return;
    try {
      await kickAll(meeting);
    } catch (error) {
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

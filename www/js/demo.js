// The demo page's backend pane and the seat bus the three panels follow.
//
// The page plays the app's backend: it adds one participant per panel through the REST API (backend.js) and hands
// each panel its seat `{panel, name, role, participantId, token, baseURI}` on `window.endsessionDemo`. Every panel
// (React, Angular, Web Component) makes its own meeting with `initMeeting` from that token: three participants, three
// connections. The pane then changes roles (PATCH participant), ends the session (POST active-session/kick-all),
// sets the meeting INACTIVE or ACTIVE (PATCH meeting) and seats new participants ("Rejoin all").
//
// Query parameters: `meeting=ID` opens that meeting instead of the seeded one; `grace=N` sets the countdown every
// panel's End dialog offers ("End in N s", 1 to 3600; 30 by default; 0 offers none), e.g. `?grace=5` to watch a
// countdown end without waiting half a minute (tests/e2e/end-options.spec.ts does).
import { api, devConfig, addParticipant, setPreset, endForAll } from './backend.js';
import { call } from './activity.js';

const HOST = 'group_call_host';
const GUEST = 'group_call_participant';
const PANELS = [
  { panel: 'react', name: 'Ada', role: HOST, framework: 'React' },
  { panel: 'angular', name: 'Ben', role: GUEST, framework: 'Angular' },
  { panel: 'element', name: 'Cleo', role: GUEST, framework: 'Web Component' },
];
const STATE_LABEL = {
  allowed: 'Can end',
  'no-permission': 'Cannot end',
  'not-joined': 'Joining…',
  ending: 'Ending…',
  ended: 'Ended',
  kicked: 'Removed',
  left: 'Left',
  rejected: 'Rejected',
  failed: 'Disconnected',
};

const events = new EventTarget();
const seats = {};
const params = new URLSearchParams(location.search);

/** `?grace=N`: whole seconds, 0 to 3600 (the server's `MAX_GRACE_SECONDS`); anything else is the default, 30. */
function graceSeconds() {
  const n = Number(params.get('grace') ?? 30);
  return Number.isSafeInteger(n) && n >= 0 && n <= 3600 ? n : 30;
}

/** What the panels use: `follow(panel, onSeat)`, `rejoin(panel)`, `label(state)`, `roleLabel(role)`, `room(...)`. */
const bus = {
  seats,
  meetings: {},
  graceSeconds: graceSeconds(),
  /** Calls `onSeat(seat)` with the panel's seat now (if any) and whenever it changes; returns the unsubscribe. */
  follow(panel, onSeat) {
    const listener = (e) => e.detail.panel === panel && onSeat(e.detail);
    events.addEventListener('seat', listener);
    if (seats[panel]) onSeat(seats[panel]);
    return () => events.removeEventListener('seat', listener);
  },
  /** A new participant for one panel (its "Join again"). */
  rejoin: (panel) => seat(PANELS.find((p) => p.panel === panel)),
  label: (state) => STATE_LABEL[state] ?? state,
  roleLabel: (role) => (role === HOST ? 'Host' : 'Participant'),
  /** Calls `onChange({sessionId, count, names})` on every room change of `meeting`; returns the unsubscribe. */
  room(meeting, onChange) {
    const update = () => {
      const joined = meeting.self.roomState === 'joined';
      const others = joined ? meeting.participants.joined.toArray().map((p) => p.name) : [];
      onChange({
        sessionId: meeting.meta.sessionId || '',
        count: joined ? others.length + 1 : 0,
        names: joined ? [`${meeting.self.name} (you)`, ...others] : [],
      });
    };
    const pairs = [
      [meeting.self, 'roomJoined'],
      [meeting.self, 'roomLeft'],
      [meeting.participants.joined, 'participantJoined'],
      [meeting.participants.joined, 'participantLeft'],
    ];
    for (const [emitter, name] of pairs) emitter.on(name, update);
    update();
    return () => pairs.forEach(([emitter, name]) => emitter.off(name, update));
  },
};
window.endsessionDemo = bus;

const $ = (selector) => document.querySelector(selector);
let meetingId;

function publish(next) {
  seats[next.panel] = next;
  events.dispatchEvent(new CustomEvent('seat', { detail: next }));
  renderPeople();
}

/** Adds a new participant for the panel through the REST API and seats it there. */
async function seat({ panel, name, framework }) {
  const role = seats[panel]?.role ?? PANELS.find((p) => p.panel === panel).role;
  const participant = await call(`Add participant ${name}`, () =>
    addParticipant({ name, preset: role, meetingId }),
  );
  publish({
    panel,
    framework,
    name,
    role,
    participantId: participant.id,
    token: participant.token,
    baseURI: location.origin,
  });
}

function renderPeople() {
  const list = $('#people');
  list.replaceChildren(
    ...PANELS.filter((p) => seats[p.panel]).map(({ panel }) => {
      const s = seats[panel];
      const host = s.role === HOST;
      const row = document.createElement('li');
      row.className = 'person';
      row.dataset.panel = panel;
      row.innerHTML = `<span class="avatar"></span>
        <span class="who"><span class="name"></span><span class="sub"></span></span>
        <button type="button" class="switch" role="switch"></button>`;
      row.querySelector('.avatar').textContent = s.name[0];
      row.querySelector('.name').textContent = s.name;
      row.querySelector('.sub').textContent = `${s.framework} · ${bus.roleLabel(s.role)}`;
      const toggle = row.querySelector('.switch');
      toggle.dataset.testid = `grant-${panel}`;
      toggle.setAttribute('aria-checked', String(host));
      toggle.setAttribute('aria-label', `${s.name} may end the session`);
      toggle.title = host ? 'Revoke the end permission' : 'Grant the end permission';
      toggle.addEventListener('click', () => setRole(panel, host ? GUEST : HOST));
      return row;
    }),
  );
}

async function setRole(panel, role) {
  const s = seats[panel];
  await call(`${role === HOST ? 'Grant' : 'Revoke'} end for ${s.name}`, () =>
    setPreset(s.participantId, role, meetingId),
  );
  publish({ ...seats[panel], role });
}

async function setStatus(status) {
  await call(`Set meeting ${status}`, () => api('PATCH', `/meetings/${meetingId}`, { status }));
  showStatus(status);
}

function showStatus(status) {
  const pill = $('#meeting-status');
  pill.textContent = status;
  pill.dataset.state = status.toLowerCase();
}

async function start() {
  const config = await devConfig();
  meetingId = params.get('meeting') ?? config.meetingId;
  $('#meeting-id').textContent = meetingId;
  const meeting = await api('GET', `/meetings/${meetingId}`);
  $('#meeting-title').textContent = meeting.title || 'Demo meeting';
  showStatus(meeting.status ?? 'ACTIVE');

  $('#end-api').addEventListener('click', () =>
    call('End session (kick-all)', () => endForAll(meetingId)).catch(() => {}),
  );
  $('#set-inactive').addEventListener('click', () => setStatus('INACTIVE').catch(() => {}));
  $('#set-active').addEventListener('click', () => setStatus('ACTIVE').catch(() => {}));
  $('#rejoin-all').addEventListener('click', () => Promise.all(PANELS.map(seat)).catch(() => {}));

  await Promise.all(PANELS.map(seat));
  document.body.dataset.ready = '';
}

start().catch((error) => {
  $('#page-error').textContent = String(error.message ?? error);
  $('#page-error').hidden = false;
});

// The backend pane's end controls and its webhook deliveries (the rest of the pane is demo.js's).
//
// - "End in N s" starts a countdown (kick-all `{graceSeconds}`); N is 30 unless the page's `?grace=N` says
//   otherwise (the tests use a few seconds). "Cancel end" cancels it (POST …/active-session/cancel-end);
//   "End and lock" ends at once and makes the meeting INACTIVE in the same step (kick-all `{lock: true}`). The end
//   message goes with every end the pane makes, "End session via API" included.
// - "End when no host for" sets the meeting's `end_when_no_host_after_secs` (PATCH meeting).
// - The deliveries list polls the dev server's webhook sink for this meeting and shows each delivery: event,
//   session, reason, message, and ✓ when both signatures (`rtk-signature`, `webhook-signature`) verified.
import { api, devConfig, endForAll, cancelEnd, setEndMessage, webhookDeliveries } from './backend.js';
import { call } from './activity.js';

const params = new URLSearchParams(location.search);
const GRACE = Math.max(1, Math.min(3600, Number(params.get('grace')) || 30));
/** How often the deliveries are polled, and how many are shown. */
const POLL_MS = 700;
const SHOWN = 8;
const $ = (selector) => document.querySelector(selector);
let meetingId;
let countdown; // {endsAt: ms, timer}

function showCountdown(text, state) {
  const line = $('#end-countdown');
  line.textContent = text;
  line.dataset.state = state;
}

function stopCountdown(text, state) {
  clearInterval(countdown?.timer);
  countdown = undefined;
  showCountdown(text, state);
}

function startCountdown(endsAt) {
  clearInterval(countdown?.timer);
  const tick = () => {
    const left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
    showCountdown(left > 0 ? `Ends in ${left} s` : 'Ending…', 'running');
  };
  countdown = { endsAt, timer: setInterval(tick, 250) };
  tick();
}

async function endInGrace() {
  const result = await call(`End in ${GRACE} s (kick-all graceSeconds)`, () =>
    endForAll(meetingId, { graceSeconds: GRACE }),
  );
  if (result.ends_at) startCountdown(Date.parse(result.ends_at));
  else showCountdown('No live session to end', 'idle');
}

async function cancel() {
  const result = await call('Cancel end', () => cancelEnd(meetingId));
  stopCountdown(result.cancelled ? 'Countdown cancelled' : 'No countdown was running', 'cancelled');
}

async function endAndLock() {
  await call('End and lock (kick-all lock)', () => endForAll(meetingId, { lock: true }));
  stopCountdown('', 'idle');
  const pill = $('#meeting-status');
  pill.textContent = 'INACTIVE';
  pill.dataset.state = 'inactive';
}

async function saveNoHost(event) {
  event.preventDefault();
  const secs = Number($('#no-host-secs').value || 0);
  const meeting = await call(`End when no host for ${secs} s`, () =>
    api('PATCH', `/meetings/${meetingId}`, { end_when_no_host_after_secs: secs }),
  );
  $('#no-host-secs').value = meeting.end_when_no_host_after_secs ?? secs;
}

const short = (id) => (id ? id.slice(0, 8) : '—');

function deliveryRow(d) {
  const row = document.createElement('li');
  row.dataset.event = d.event ?? '';
  row.dataset.verified = String(d.verified);
  row.dataset.session = d.sessionId ?? '';
  row.innerHTML = `<span class="event"></span><span class="mark"></span>
    <span class="detail"><span class="session"></span> <span class="reason"></span> <span class="message"></span></span>`;
  row.querySelector('.event').textContent = (d.event ?? '(not JSON)').replace(/^meeting\./, '');
  const mark = row.querySelector('.mark');
  mark.textContent = d.verified ? '✓' : '✗';
  mark.setAttribute('aria-label', d.verified ? 'signatures verified' : `not verified: ${d.problem}`);
  mark.title = d.verified ? 'rtk-signature and webhook-signature verified' : d.problem;
  row.querySelector('.session').textContent = `session ${short(d.sessionId)}`;
  const who =
    d.participant ?? (d.endedBy?.api ? 'by the API' : d.endedBy?.name ? `by ${d.endedBy.name}` : '');
  row.querySelector('.reason').textContent = [d.reason, who].filter(Boolean).join(' · ');
  row.querySelector('.message').textContent = d.message ? `“${d.message}”` : '';
  return row;
}

let shownSeq;
async function pollDeliveries() {
  try {
    const { deliveries, sink } = await webhookDeliveries(meetingId);
    if (!sink) {
      $('#sink-hint').textContent = 'The webhook sink is off (--webhook-targets public).';
      return;
    }
    const newest = deliveries[0]?.seq;
    if (newest !== shownSeq) {
      shownSeq = newest;
      $('#deliveries').replaceChildren(...deliveries.slice(0, SHOWN).map(deliveryRow));
    }
    // The end arrived: the countdown (if the pane ran one) is over.
    const ended = deliveries.find((d) => d.event === 'meeting.ended');
    if (countdown && ended && Date.parse(ended.receivedAt) >= countdown.endsAt - 1000) {
      stopCountdown('Ended', 'ended');
    }
  } catch {
    // The next poll tries again; a failed GET changes nothing shown.
  }
  setTimeout(pollDeliveries, POLL_MS);
}

async function start() {
  const config = await devConfig();
  meetingId = params.get('meeting') ?? config.meetingId;
  $('#end-grace').textContent = `End in ${GRACE} s`;
  $('#end-message').addEventListener('input', (e) => setEndMessage(e.target.value));
  setEndMessage($('#end-message').value);
  $('#end-grace').addEventListener('click', () => endInGrace().catch(() => {}));
  $('#cancel-end').addEventListener('click', () => cancel().catch(() => {}));
  $('#end-lock').addEventListener('click', () => endAndLock().catch(() => {}));
  $('#no-host-form').addEventListener('submit', (e) => saveNoHost(e).catch(() => {}));
  const meeting = await api('GET', `/meetings/${meetingId}`);
  $('#no-host-secs').value = meeting.end_when_no_host_after_secs ?? 0;
  pollDeliveries();
}

start().catch(() => {
  // demo.js shows the page's error (the same config and meeting fail there too).
});

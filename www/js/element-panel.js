// The Web Component panel: plain JavaScript with `endsession/element` (<end-meeting-button>,
// <session-ending-banner>, <meeting-ended-screen>) and its own meeting, made from the seat the page's backend gives it.
import { initMeeting } from '/pkg/index.js';
import { endStateSource } from '/pkg/end-state/index.js';
import '/pkg/element/index.js';

const bus = window.endsessionDemo;
const root = document.getElementById('element-root');
root.innerHTML = `
  <div class="seat">
    <span class="avatar"></span>
    <span class="who"><span class="name" data-testid="element-name">Connecting…</span><span class="sub"></span></span>
    <span class="pill" data-testid="element-state" data-state="not-joined">Joining…</span>
  </div>
  <div class="room">
    <p class="meta"></p>
    <ul class="roster" aria-label="In the room"></ul>
    <session-ending-banner></session-ending-banner>
    <end-meeting-button></end-meeting-button>
  </div>
  <meeting-ended-screen data-testid="element-ended">
    <button type="button" class="secondary">Join again</button>
  </meeting-ended-screen>`;
const $ = (selector) => root.querySelector(selector);
const button = $('end-meeting-button');
const banner = $('session-ending-banner');
const screen = $('meeting-ended-screen');
button.graceSeconds = bus.graceSeconds;
$('meeting-ended-screen button').addEventListener('click', () => bus.rejoin('element'));

let current = null; // {token, meeting, off}

bus.follow('element', async (seat) => {
  $('.avatar').textContent = seat.name[0];
  $('.name').textContent = seat.name;
  $('.sub').textContent = bus.roleLabel(seat.role);
  if (current?.token === seat.token) return;
  current?.off();
  current?.meeting?.leave();
  const mine = (current = { token: seat.token, meeting: null, off: () => {} });
  const meeting = await initMeeting({ authToken: seat.token, baseURI: seat.baseURI });
  if (current !== mine) return void meeting.leave();
  mine.meeting = bus.meetings.element = meeting;
  const end = endStateSource(meeting);
  const pill = $('.pill');
  const showState = () => {
    pill.dataset.state = end.state;
    pill.textContent = bus.label(end.state);
    $('.room').hidden = end.roomLeft !== null;
  };
  const offState = end.subscribe(showState);
  const offRoom = bus.room(meeting, ({ sessionId, count, names }) => {
    $('.roster').replaceChildren(
      ...names.map((n) => {
        const li = document.createElement('li');
        li.innerHTML = '<span class="mini"></span>';
        li.firstChild.textContent = n[0];
        li.append(n);
        return li;
      }),
    );
    $('.meta').innerHTML = sessionId
      ? `<span class="dot"></span>${count} in the room · session <code data-testid="element-session"></code>`
      : 'Connecting…';
    if (sessionId) $('.meta code').textContent = sessionId.slice(0, 8);
  });
  mine.off = () => (offState(), offRoom());
  showState();
  button.meeting = meeting;
  banner.meeting = meeting;
  screen.meeting = meeting;
  await meeting.join().catch(() => {}); // a refused join shows as the `rejected` state
});

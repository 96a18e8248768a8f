// A fresh webpack 5 app using the packed tarball: `endsession` and `endsession/element`.
// The page gets the server and a participant token in its query: ?server=http://…&token=…
import { initMeeting, on } from 'endsession';
import 'endsession/element';

const query = new URLSearchParams(location.search);
const state = document.querySelector('[data-testid=state]');

initMeeting({ authToken: query.get('token'), baseURI: query.get('server') }).then(async (meeting) => {
  document.querySelector('end-meeting-button').meeting = meeting;
  document.querySelector('meeting-ended-screen').meeting = meeting;
  on(meeting, 'roomLeft', ({ state: left }) => (state.textContent = left));
  await meeting.join();
  state.textContent = meeting.self.roomState;
});

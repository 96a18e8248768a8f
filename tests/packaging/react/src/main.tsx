// A fresh app using the packed tarball: `endsession`, `endsession/react` and `endsession/element`, with types.
// The page gets the server and a participant token in its query: ?server=http://…&token=…
import { createRoot } from 'react-dom/client';
import { initMeeting, type Meeting } from 'endsession';
import { EndMeetingButton, MeetingEndedScreen, useEndSession } from 'endsession/react';
import 'endsession/element';
import { useEffect, useRef, useState } from 'react';

const query = new URLSearchParams(location.search);

function App() {
  const [meeting, setMeeting] = useState<Meeting | null>(null);
  const { state } = useEndSession(meeting);
  const element = useRef<HTMLElement & { meeting: Meeting | null }>(null);
  useEffect(() => {
    initMeeting({ authToken: query.get('token')!, baseURI: query.get('server')! }).then(async (m) => {
      setMeeting(m);
      Object.assign(window, { meeting: m });
      await m.join();
    });
  }, []);
  useEffect(() => {
    if (element.current) element.current.meeting = meeting;
  }, [meeting]);
  return (
    <main>
      <p data-testid="state">{state}</p>
      <EndMeetingButton
        meeting={meeting}
        onEnded={(r) => console.log('ended', JSON.stringify(r))}
        onError={(e) => console.log('error', String(e))}
      />
      <MeetingEndedScreen meeting={meeting} />
      <meeting-ended-screen ref={element} data-testid="element-screen" />
    </main>
  );
}

declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'meeting-ended-screen': React.DetailedHTMLProps<React.HTMLAttributes<HTMLElement>, HTMLElement>;
    }
  }
}

createRoot(document.getElementById('root')!).render(<App />);

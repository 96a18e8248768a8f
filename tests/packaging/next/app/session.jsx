'use client';
// The client component: makes the meeting from ?server=…&token=… and joins it.
import { initMeeting } from 'endsession';
import { EndMeetingButton, MeetingEndedScreen, useEndSession } from 'endsession/react';
import { useEffect, useState } from 'react';

export default function Session() {
  const [meeting, setMeeting] = useState(null);
  const { state } = useEndSession(meeting);
  useEffect(() => {
    const query = new URLSearchParams(location.search);
    initMeeting({ authToken: query.get('token'), baseURI: query.get('server') }).then(async (m) => {
      setMeeting(m);
      await m.join();
    });
  }, []);
  return (
    <section data-testid="client">
      <p data-testid="state">{state}</p>
      <EndMeetingButton meeting={meeting} />
      <MeetingEndedScreen meeting={meeting} />
    </section>
  );
}

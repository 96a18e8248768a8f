// The React panel: `endsession/react` (useEndSession, <EndMeetingButton>, <SessionEndingBanner>,
// <MeetingEndedScreen>) with its own
// meeting, made from the seat the page's backend gives it (window.endsessionDemo, see www/js/demo.js).
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { initMeeting, type Meeting } from 'endsession';
import { EndMeetingButton, MeetingEndedScreen, SessionEndingBanner, useEndSession } from 'endsession/react';
import type { DemoBus, Room, Seat } from '../bus';

const bus = (window as unknown as { endsessionDemo: DemoBus }).endsessionDemo;

function useSeat(panel: string): Seat | null {
  const [seat, setSeat] = useState<Seat | null>(null);
  useEffect(() => bus.follow(panel, setSeat), [panel]);
  return seat;
}

/** A meeting for the seat's token, joined; left when the token changes (a rejoin) or the panel goes away. */
function useMeeting(seat: Seat | null): Meeting | null {
  const [meeting, setMeeting] = useState<Meeting | null>(null);
  const token = seat?.token;
  useEffect(() => {
    if (!token || !seat) return;
    let mine: Meeting | null = null;
    let gone = false;
    initMeeting({ authToken: token, baseURI: seat.baseURI }).then((m) => {
      if (gone) return void m.leave();
      mine = bus.meetings.react = m;
      setMeeting(m);
      m.join().catch(() => {}); // a refused join shows as the `rejected` state
    });
    return () => {
      gone = true;
      void mine?.leave();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- a new meeting per token only
  }, [token]);
  return meeting;
}

function useRoom(meeting: Meeting | null) {
  const [room, setRoom] = useState<Room>({ sessionId: '', count: 0, names: [] });
  useEffect(() => (meeting ? bus.room(meeting, setRoom) : undefined), [meeting]);
  return room;
}

function ReactPanel() {
  const seat = useSeat('react');
  const meeting = useMeeting(seat);
  const { state } = useEndSession(meeting);
  const room = useRoom(meeting);
  const left = ['ended', 'kicked', 'left', 'rejected', 'failed'].includes(state);
  return (
    <>
      <div className="seat">
        <span className="avatar">{seat?.name[0]}</span>
        <span className="who">
          <span className="name" data-testid="react-name">
            {seat?.name ?? 'Connecting…'}
          </span>
          <span className="sub">{seat ? bus.roleLabel(seat.role) : ''}</span>
        </span>
        <span className="pill" data-testid="react-state" data-state={state}>
          {bus.label(state)}
        </span>
      </div>
      {!left && (
        <div className="room">
          <p className="meta">
            {room.sessionId ? (
              <>
                <span className="dot" />
                {room.count} in the room · session{' '}
                <code data-testid="react-session">{room.sessionId.slice(0, 8)}</code>
              </>
            ) : (
              'Connecting…'
            )}
          </p>
          <ul className="roster" aria-label="In the room">
            {room.names.map((n) => (
              <li key={n}>
                <span className="mini">{n[0]}</span>
                {n}
              </li>
            ))}
          </ul>
          <SessionEndingBanner meeting={meeting} />
          <EndMeetingButton meeting={meeting} graceSeconds={bus.graceSeconds} />
        </div>
      )}
      <MeetingEndedScreen meeting={meeting}>
        <button type="button" className="secondary" onClick={() => bus.rejoin('react')}>
          Join again
        </button>
      </MeetingEndedScreen>
    </>
  );
}

createRoot(document.getElementById('react-root')!).render(
  <StrictMode>
    <ReactPanel />
  </StrictMode>,
);

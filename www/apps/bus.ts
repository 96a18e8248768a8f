// The types of `window.endsessionDemo`, the seat bus of the demo page (www/js/demo.js), for the React and Angular
// panels.
import type { Meeting } from 'endsession';

/** One panel's participant, added by the page's backend through the REST API. */
export interface Seat {
  panel: 'react' | 'angular' | 'element';
  framework: string;
  name: string;
  role: 'group_call_host' | 'group_call_participant';
  participantId: string;
  token: string;
  baseURI: string;
}

export interface DemoBus {
  meetings: Record<string, Meeting>;
  /** The countdown the End dialogs offer ("End in N s"), in seconds: the page's `?grace=N`, 30 by default. */
  graceSeconds: number;
  follow(panel: string, onSeat: (seat: Seat) => void): () => void;
  rejoin(panel: string): Promise<void>;
  label(state: string): string;
  roleLabel(role: string): string;
  room(meeting: Meeting, onChange: (room: Room) => void): () => void;
}

/** Who is in the room, as one panel's participant sees it. */
export interface Room {
  sessionId: string;
  count: number;
  /** "Ada (you)" first, then the others. */
  names: string[];
}

// A Server Component (no 'use client'): it imports the React binding and renders its button for a meeting it does not
// have yet (prerendered, disabled, with the reason), next to the client component that joins.
import { EndMeetingButton } from 'endsession/react';
import Session from './session';

export default function Page() {
  return (
    <main>
      <section data-testid="server">
        <EndMeetingButton meeting={null}>End meeting for all (server)</EndMeetingButton>
      </section>
      <Session />
    </main>
  );
}

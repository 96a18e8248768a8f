// Node server-side rendering of the React binding from the packed tarball: `renderToString` of <EndMeetingButton>
// and <MeetingEndedScreen> before there is a meeting. It must need no wasm and no socket: both are made to throw.
// Prints the HTML.
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';

const refuse = (what) => () => {
  throw new Error(`server rendering used ${what}`);
};
for (const name of ['instantiate', 'instantiateStreaming', 'compile', 'compileStreaming']) {
  WebAssembly[name] = refuse(`WebAssembly.${name}`);
}
WebAssembly.Module = refuse('WebAssembly.Module');
globalThis.WebSocket = refuse('WebSocket');

const { EndMeetingButton, MeetingEndedScreen } = await import('endsession/react');
process.stdout.write(
  renderToString(
    createElement(
      'main',
      null,
      createElement(EndMeetingButton, { meeting: null }),
      createElement(MeetingEndedScreen, { meeting: null }),
    ),
  ),
);

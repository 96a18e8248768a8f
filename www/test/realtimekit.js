// Test page module for tests/e2e/realtimekit.spec.ts: a real `@cloudflare/realtimekit` 2.0.2 meeting, driven
// offline through the package's own `./mock` export, next to endsession's root API, React and Angular bindings and
// custom elements. Bare imports: the spec bundles this file with Vite (it is not served as is).
//
// `setupStubs` (the `./mock` export) replaces `window.WebSocket` with a mock-socket client talking to an in-page
// mock socket server, `window.fetch` with a stub answering `{}` to everything, and `RTCPeerConnection` with a stub.
// What this file adds, and why:
// - `cachedUserDetails` for `init`: the stubbed fetch answers `{}` to the participant-details request, which has no
//   preset; the preset comes from here instead (host: `kick_participant: true`, participant: false).
// - The wasm module is loaded before `setupStubs`, since it is fetched and the stubbed fetch would answer `{}`.
// - A socket shim, a subclass of the mock's WebSocket (nothing else is patched):
//   1. 2.0.2 sends media events in the 0x03 namespace (`event = 0x03_000000 | id`); the mock answers them only in
//      the older 0x01 namespace. The shim sends them to the mock as 0x01 and gives the answers back as 0x03.
//   2. The mock answers events it does not know (`storeGetKeys`, `getUserPresets`, `kickAll`, ...) without a
//      payload, which the SDK cannot decode; the shim gives it an empty payload (all fields default). It answers
//      `storeGetKeys` itself by echoing the request (same `plugin_id`, `store_name`, no items), which is what lets
//      `init` create its plugin stores instead of timing out.
//   3. It keeps `kickAll` and `kick` requests from the mock, which would echo them at once without a payload: the
//      SDK reads any message with the kickAll event id as the server's broadcast, so the echo would end the meeting
//      before the test could look. (RealtimeKit's server does not answer the request either: it broadcasts.)
//   4. It keeps the events the SDK sent (`sent`), and lets the test push server events: `kick`, `kickAll` and
//      `updateUserPreset`, encoded with the SDK's own message layouts (field numbers from 2.0.2).
import RealtimeKitClient from '@cloudflare/realtimekit';
import { setupStubs } from '@cloudflare/realtimekit/mock';
import { MessageType } from '@protobuf-ts/runtime';
import { createEnvironmentInjector, Injector, runInInjectionContext } from '@angular/core';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { canEndSession, ClientError, initMeeting, kickAll, on } from 'endsession';
import { endStateSource } from 'endsession/end-state';
import { injectEndSession } from 'endsession/angular';
import { EndMeetingButton, MeetingEndedScreen, useCanEndSession, useRoomLeft } from 'endsession/react';
import 'endsession/element';

// ----- the wire: RealtimeKit 2.0.2's socket envelope and the messages the test pushes -----
const STRING = 9;
const BOOL = 8;
const UINT32 = 13;
const BYTES = 12;
const SocketMessage = new MessageType('message.v1.SocketMessage', [
  { no: 1, name: 'event', kind: 'scalar', T: UINT32 },
  { no: 2, name: 'id', kind: 'scalar', opt: true, T: STRING },
  { no: 3, name: 'payload', kind: 'scalar', opt: true, T: BYTES },
  { no: 4, name: 'metadata', kind: 'scalar', opt: true, T: BYTES },
]);
/** `socket.preset.PresetPatch`, the one field the test changes. */
const PresetPatch = new MessageType('socket.preset.PresetPatch', [
  { no: 13, name: 'kick_participant', kind: 'scalar', opt: true, T: BOOL },
]);
const UpdatePeerPreset = new MessageType('socket.preset.UpdatePeerPreset', [
  { no: 1, name: 'user_ids', kind: 'scalar', T: STRING },
  { no: 2, name: 'patch', kind: 'message', T: () => PresetPatch },
]);
const UpdatePeersPresetResponse = new MessageType('socket.preset.UpdatePeersPresetResponse', [
  { no: 1, name: 'update_peers_presets', kind: 'message', repeat: 1, T: () => UpdatePeerPreset },
]);

/** Event ids: `(namespace << 16) + id`; media events carry a namespace byte instead. */
export const EVENTS = {
  kick: (0 << 16) + 30,
  kickAll: (0 << 16) + 31,
  storeGetKeys: (2 << 16) + 10,
  updateUserPreset: (5 << 16) + 1,
};
const MEDIA_OLD = 0x01000000;
const MEDIA_NEW = 0x03000000;

let socket = null;
/** Every event id the SDK sent, in order. */
export const sent = [];

function installSocketShim() {
  const MockWebSocket = window.WebSocket;
  window.WebSocket = class ShimWebSocket extends MockWebSocket {
    constructor(...args) {
      super(...args);
      socket = this;
    }
    send(data) {
      if (typeof data === 'string') return super.send(data); // heartbeats
      const m = SocketMessage.fromBinary(new Uint8Array(data));
      sent.push(m.event);
      if (m.event === EVENTS.storeGetKeys) return void queueMicrotask(() => this.deliver(m));
      if (m.event === EVENTS.kickAll || m.event === EVENTS.kick) return; // the test answers: server.kickAll()
      if ((m.event & 0xff000000) === MEDIA_NEW) m.event = (m.event & 0xffffff) | MEDIA_OLD;
      return super.send(SocketMessage.toBinary(m));
    }
    // The SDK listens with `onmessage`; what the mock server sends passes through `fromServer` first.
    get onmessage() {
      return this.sdkListener;
    }
    set onmessage(listener) {
      this.sdkListener = listener;
      super.onmessage = listener && ((event) => this.fromServer(event.data));
    }
    fromServer(data) {
      if (typeof data === 'string') return this.sdkListener?.({ data });
      const m = SocketMessage.fromBinary(new Uint8Array(data));
      if ((m.event & 0xff000000) === MEDIA_OLD) m.event = (m.event & 0xffffff) | MEDIA_NEW;
      m.payload ??= new Uint8Array(0);
      this.deliver(m);
    }
    deliver(m) {
      this.sdkListener?.(new MessageEvent('message', { data: SocketMessage.toBinary(m).slice().buffer }));
    }
  };
}

/** Server events the test pushes to the meeting, as RealtimeKit's socket server sends them. */
export const server = {
  push(event, payload = new Uint8Array(0)) {
    socket.deliver({ event, id: `server-${sent.length}-${Math.random()}`, payload });
  },
  kick() {
    server.push(EVENTS.kick);
  },
  kickAll() {
    server.push(EVENTS.kickAll);
  },
  setKickParticipant(userId, kickParticipant) {
    const patch = { userIds: userId, patch: { kickParticipant } };
    server.push(EVENTS.updateUserPreset, UpdatePeersPresetResponse.toBinary({ updatePeersPresets: [patch] }));
  },
};

// ----- the meeting -----
const base64url = (value) => btoa(JSON.stringify(value)).replace(/=+$/, '');

/** A complete 2.0.2 preset (snake_case, as the REST API returns it); only `kick_participant` differs. */
function preset(name, kickParticipant) {
  const no = { can_send: false, can_receive: false, text: false, files: false };
  return {
    name,
    permissions: {
      kick_participant: kickParticipant,
      can_edit_display_name: true,
      waiting_room_type: 'SKIP',
      plugins: { can_close: false, can_start: false, can_edit_config: false, config: {} },
      polls: { can_create: false, can_vote: false, can_view: false },
      media: {
        video: { can_produce: 'NOT_ALLOWED' },
        audio: { can_produce: 'NOT_ALLOWED' },
        screenshare: { can_produce: 'NOT_ALLOWED' },
      },
      chat: { public: no, private: no },
      hidden_participant: false,
      is_recorder: false,
      recorder_type: 'NONE',
      show_participant_list: true,
      connected_meetings: {
        can_alter_connected_meetings: false,
        can_switch_connected_meetings: false,
        can_switch_to_parent_meeting: false,
      },
      stage_enabled: false,
      accept_stage_requests: false,
    },
    config: {
      view_type: 'GROUP_CALL',
      media: {
        audio: { enable_stereo: false, enable_high_bitrate: false },
        video: { quality: 'vga', frame_rate: 30, simulcast: false },
        screenshare: { quality: 'hd', frame_rate: 5 },
      },
      max_video_streams: { mobile: 6, desktop: 6 },
      max_screenshare_count: 1,
      track_recording: { subscriptions: [] },
    },
    version: '2.0.0',
  };
}

/**
 * A real RealtimeKit meeting (not joined) with the `group_call_host` preset (`kick_participant`) or the
 * `group_call_participant` one. One per page: the mock socket server is one per page.
 */
export async function createMeeting(role) {
  await initMeeting({ authToken: 'unused', baseURI: 'http://127.0.0.1:9' }); // loads the wasm module
  setupStubs({ peerId: 'peer-self', mockParticipants: [] });
  installSocketShim();
  const host = role === 'host';
  const authToken = `eyJhbGciOiJub25lIn0.${base64url({ meetingId: 'meeting-1', orgId: 'org-1', participantId: 'user-1' })}.x`;
  return RealtimeKitClient.init({
    authToken,
    defaults: { audio: false, video: false },
    cachedUserDetails: {
      peerId: 'peer-self',
      userDetails: {
        participant: { id: 'user-1', name: host ? 'Host' : 'Guest', email: '' },
        preset: preset(host ? 'group_call_host' : 'group_call_participant', host),
        meeting: { title: 'Standup' },
        socket: { baseUri: 'ws://localhost:8080/ws' },
      },
      roomDetails: { meetingTitle: 'Standup' },
      iceServers: [],
    },
  });
}

// ----- the bindings, rendered into the page -----
/** Renders the React hooks and components for `meeting` into `#react`; returns the root. */
export function renderReact(meeting) {
  function Probe() {
    const can = useCanEndSession(meeting);
    const left = useRoomLeft(meeting);
    return createElement(
      'div',
      null,
      createElement('output', { id: 'react-can', 'data-can': String(can) }, String(can)),
      createElement('output', { id: 'react-left' }, left ?? ''),
      createElement(EndMeetingButton, { meeting }),
      createElement(MeetingEndedScreen, { meeting }),
    );
  }
  const root = createRoot(document.getElementById('react'));
  root.render(createElement(Probe));
  return root;
}

/** Puts `<end-meeting-button>` and `<meeting-ended-screen>` for `meeting` into `#element`. */
export function renderElements(meeting) {
  const host = document.getElementById('element');
  const button = document.createElement('end-meeting-button');
  const screen = document.createElement('meeting-ended-screen');
  host.append(button, screen);
  button.meeting = meeting;
  screen.meeting = meeting;
}

/** `injectEndSession(meeting)` in an Angular injection context: its signals, read on demand. */
export function angularSignals(meeting) {
  const injector = createEnvironmentInjector([], Injector.NULL);
  const end = runInInjectionContext(injector, () => injectEndSession(meeting));
  return () => ({ state: end.state(), canEnd: end.canEnd(), roomLeft: end.roomLeft() });
}

Object.assign(window, {
  rtk: { createMeeting, server, sent, EVENTS, renderReact, renderElements, angularSignals },
  endsession: { canEndSession, ClientError, kickAll, on, endStateSource },
});

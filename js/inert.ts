/**
 * The members of RealtimeKit's meeting that this server has no counterpart for — media, stage, recording,
 * livestream, chat, polls, plugins, AI, waiting room — present and inert, so that RealtimeKit's own UI kit
 * (`@cloudflare/realtimekit-ui`, whose `<rtk-meeting>` renders every control of a call) runs its join, leave and end
 * flow on our meeting without a `TypeError`. Every value says "nothing here" (`false`, empty, `'IDLE'`,
 * `'NOT_ALLOWED'`), every emitter never emits, and every action resolves and does nothing: the permissions above
 * make the kit hide the controls that would call them.
 *
 * @module
 */
import { Emitter } from './events.js';

/** Events RealtimeKit's media, stage, recording, chat, ... emitters have; none is emitted here. */
export type InertEvents = Record<string, unknown>;

/** An async action that does nothing, for the controls the kit hides anyway. */
const nothing = async (): Promise<void> => {};

/** An empty RealtimeKit participant map (`participants.active`, `.pinned`, `.waitlisted`, `plugins.all`, ...). */
export class EmptyMap<T = never> extends Emitter<InertEvents> implements Iterable<T> {
  readonly size = 0;
  get(): T | undefined {
    return undefined;
  }
  has(): boolean {
    return false;
  }
  toArray(): T[] {
    return [];
  }
  [Symbol.iterator](): Iterator<T> {
    return ([] as T[])[Symbol.iterator]();
  }
}

/** `meeting.self`'s media members: no microphone, camera or screen share, and no devices. */
export interface InertSelfMedia {
  readonly audioEnabled: false;
  readonly videoEnabled: false;
  readonly screenShareEnabled: false;
  readonly audioTrack: undefined;
  readonly videoTrack: undefined;
  readonly screenShareTracks: { audio: undefined; video: undefined };
  readonly mediaPermissions: { audio: 'NOT_REQUESTED'; video: 'NOT_REQUESTED'; screenshare: 'NOT_REQUESTED' };
  /** RealtimeKit's stage status; in a group call everyone is on stage. */
  readonly stageStatus: 'ON_STAGE';
  readonly hidden: false;
  readonly isPinned: false;
  readonly picture: undefined;
  /** RealtimeKit's UI config from the preset: see {@link PresetUiConfig}. */
  readonly config: PresetUiConfig;
  getCurrentDevices(): { audio: undefined; video: undefined; speaker: undefined };
  getAudioDevices(): Promise<MediaDeviceInfo[]>;
  getVideoDevices(): Promise<MediaDeviceInfo[]>;
  getSpeakerDevices(): Promise<MediaDeviceInfo[]>;
  enableAudio(): Promise<void>;
  disableAudio(): Promise<void>;
  enableVideo(): Promise<void>;
  disableVideo(): Promise<void>;
  enableScreenShare(): Promise<void>;
  disableScreenShare(): Promise<void>;
  setDevice(): Promise<void>;
  setupTracks(): Promise<void>;
  setName(): void;
  disablePreview(): void;
  pin(): Promise<void>;
  unpin(): Promise<void>;
  /** RealtimeKit plays the participant's video into these elements; there is no video here. */
  registerVideoElement(element: HTMLVideoElement): void;
  deregisterVideoElement(element: HTMLVideoElement): void;
}

/**
 * The part of a RealtimeKit preset's UI config that its UI kit reads (`self.config`): a group call with a header
 * (title) and a control bar, which holds the kit's Leave button, no setup screen (our meeting joins without media),
 * no video streams and no screen shares.
 */
export interface PresetUiConfig {
  viewType: 'GROUP_CALL';
  maxVideoStreams: { mobile: 0; desktop: 0 };
  maxScreenShareCount: 0;
  pipMode: false;
  header: { isEnabled: true; elements: { title: true } };
  controlBar: { isEnabled: true; elements: Record<string, never> };
  setupScreen: { isEnabled: false };
  designTokens: Record<string, unknown>;
}

/** A fresh config for one meeting (the kit writes into `designTokens`). */
export function presetUiConfig(): PresetUiConfig {
  return {
    viewType: 'GROUP_CALL',
    maxVideoStreams: { mobile: 0, desktop: 0 },
    maxScreenShareCount: 0,
    pipMode: false,
    header: { isEnabled: true, elements: { title: true } },
    controlBar: { isEnabled: true, elements: {} },
    setupScreen: { isEnabled: false },
    designTokens: {},
  };
}

/** The media members of `meeting.self` (mixed into its class). */
export const selfMedia: Omit<InertSelfMedia, 'config'> = Object.freeze({
  audioEnabled: false,
  videoEnabled: false,
  screenShareEnabled: false,
  audioTrack: undefined,
  videoTrack: undefined,
  screenShareTracks: Object.freeze({ audio: undefined, video: undefined }),
  mediaPermissions: Object.freeze({
    audio: 'NOT_REQUESTED',
    video: 'NOT_REQUESTED',
    screenshare: 'NOT_REQUESTED',
  } as const),
  stageStatus: 'ON_STAGE',
  hidden: false,
  isPinned: false,
  picture: undefined,
  getCurrentDevices: () => ({ audio: undefined, video: undefined, speaker: undefined }),
  getAudioDevices: async () => [],
  getVideoDevices: async () => [],
  getSpeakerDevices: async () => [],
  enableAudio: nothing,
  disableAudio: nothing,
  enableVideo: nothing,
  disableVideo: nothing,
  enableScreenShare: nothing,
  disableScreenShare: nothing,
  setDevice: nothing,
  setupTracks: nothing,
  setName: () => {},
  disablePreview: () => {},
  pin: nothing,
  unpin: nothing,
  registerVideoElement: () => {},
  deregisterVideoElement: () => {},
} as const);

/** `meeting.self.permissions`' members for what this server does not have: nothing is allowed. */
export interface InertPermissions {
  readonly transcriptionEnabled: false;
  readonly canProduceAudio: 'NOT_ALLOWED';
  readonly canProduceVideo: 'NOT_ALLOWED';
  readonly canProduceScreenshare: 'NOT_ALLOWED';
  readonly stageEnabled: false;
  readonly stageAccess: 'NOT_ALLOWED';
  readonly acceptStageRequests: false;
  readonly acceptWaitingRequests: false;
  readonly canAllowParticipantAudio: false;
  readonly canAllowParticipantVideo: false;
  readonly canDisableParticipantAudio: false;
  readonly canDisableParticipantVideo: false;
  readonly canEditDisplayName: false;
  readonly canLivestream: false;
  readonly canRecord: false;
  readonly canSpotlight: false;
  readonly pinParticipant: false;
  readonly hiddenParticipant: false;
  readonly isRecorder: false;
  readonly chatPublic: { canSend: false; text: false; files: false };
  readonly chatPrivate: { canSend: false; canReceive: false; text: false; files: false };
  readonly polls: { canCreate: false; canVote: false; canView: false };
  readonly plugins: { canStart: false; canClose: false };
}

export const permissions: InertPermissions = Object.freeze({
  transcriptionEnabled: false,
  canProduceAudio: 'NOT_ALLOWED',
  canProduceVideo: 'NOT_ALLOWED',
  canProduceScreenshare: 'NOT_ALLOWED',
  stageEnabled: false,
  stageAccess: 'NOT_ALLOWED',
  acceptStageRequests: false,
  acceptWaitingRequests: false,
  canAllowParticipantAudio: false,
  canAllowParticipantVideo: false,
  canDisableParticipantAudio: false,
  canDisableParticipantVideo: false,
  canEditDisplayName: false,
  canLivestream: false,
  canRecord: false,
  canSpotlight: false,
  pinParticipant: false,
  hiddenParticipant: false,
  isRecorder: false,
  chatPublic: Object.freeze({ canSend: false, text: false, files: false }),
  chatPrivate: Object.freeze({ canSend: false, canReceive: false, text: false, files: false }),
  polls: Object.freeze({ canCreate: false, canVote: false, canView: false }),
  plugins: Object.freeze({ canStart: false, canClose: false }),
} as const);

/** `meeting.participants`' members beyond `joined` and `kickAll`: no waiting room, no pages, nobody pinned. */
export interface InertParticipants {
  readonly active: EmptyMap;
  readonly pinned: EmptyMap;
  readonly waitlisted: EmptyMap;
  readonly all: EmptyMap;
  /** Picture-in-picture: not supported. */
  readonly pip: undefined;
  readonly viewMode: 'ACTIVE_GRID';
  readonly currentPage: 0;
  readonly pageCount: 0;
  setViewMode(): Promise<void>;
  setPage(): Promise<void>;
  acceptWaitingRoomRequest(): Promise<void>;
  acceptAllWaitingRoomRequest(): Promise<void>;
  rejectWaitingRoomRequest(): Promise<void>;
  disableAllAudio(): Promise<void>;
}

/** Fresh inert members for one meeting's `participants` (its maps are emitters, one set per meeting). */
export function participants(): InertParticipants {
  return {
    active: new EmptyMap(),
    pinned: new EmptyMap(),
    waitlisted: new EmptyMap(),
    all: new EmptyMap(),
    pip: undefined,
    viewMode: 'ACTIVE_GRID',
    currentPage: 0,
    pageCount: 0,
    setViewMode: nothing,
    setPage: nothing,
    acceptWaitingRoomRequest: nothing,
    acceptAllWaitingRoomRequest: nothing,
    rejectWaitingRoomRequest: nothing,
    disableAllAudio: nothing,
  };
}

/** `meeting.stage`: in a group call everyone is on stage, and nothing changes. */
export class Stage extends Emitter<InertEvents> {
  readonly status = 'ON_STAGE';
  join = nothing;
  leave = nothing;
  grantAccess = nothing;
  denyAccess = nothing;
  kick = nothing;
}

/** `meeting.recording`: never recording. */
export class Recording extends Emitter<InertEvents> {
  readonly recordingState = 'IDLE';
  start = nothing;
  stop = nothing;
  pause = nothing;
  resume = nothing;
}

/** `meeting.livestream`: never live. */
export class Livestream extends Emitter<InertEvents> {
  readonly state = 'IDLE';
  readonly playbackUrl: string | undefined = undefined;
  start = nothing;
  stop = nothing;
}

/** `meeting.chat`: no messages; the permissions hide the composer. */
export class Chat extends Emitter<InertEvents> {
  readonly pinned: readonly never[] = [];
  readonly maxTextLimit = 0;
  readonly rateLimits = Object.freeze({ maxInvocations: 0, period: 0 });
  sendMessage = nothing;
  deleteMessage = nothing;
  pin = nothing;
  unpin = nothing;
  fetchPublicMessages = async (): Promise<never[]> => [];
  fetchPrivateMessages = async (): Promise<never[]> => [];
  fetchPinnedMessages = async (): Promise<never[]> => [];
}

/** `meeting.polls`: none. */
export class Polls extends Emitter<InertEvents> {
  readonly items: readonly never[] = [];
  create = nothing;
  vote = nothing;
}

/** `meeting.plugins`: none. */
export class Plugins {
  readonly all = new EmptyMap();
  readonly active = new EmptyMap();
}

/** `meeting.ai`: no transcripts. */
export class Ai extends Emitter<InertEvents> {
  readonly transcripts: readonly never[] = [];
}

/** A logger that drops everything: RealtimeKit's UI kit logs through `meeting.__internals__.logger`. */
export interface Internals {
  readonly logger: Record<'debug' | 'info' | 'log' | 'warn' | 'error', (...args: unknown[]) => void>;
}

export const internals: Internals = Object.freeze({
  logger: Object.freeze({ debug() {}, info() {}, log() {}, warn() {}, error() {} }),
});

// The RealtimeKit meeting members that RealtimeKit's UI kit touches, on a meeting from initMeeting(), in Node 20 (run
// `npm run build` first): the emitter methods on every emitter, `once`, the inert members. The kit itself runs in
// Chromium in tests/e2e/realtimekit-ui.spec.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initMeeting } from 'endsession';

const options = { authToken: 'not-a-real-token', baseURI: 'http://127.0.0.1:9' };

/** The emitters a RealtimeKit meeting has, by path. */
const emitters = (m) => ({
  self: m.self,
  'self.permissions': m.self.permissions,
  meta: m.meta,
  participants: m.participants,
  'participants.joined': m.participants.joined,
  'participants.active': m.participants.active,
  'participants.waitlisted': m.participants.waitlisted,
  connectedMeetings: m.connectedMeetings,
  stage: m.stage,
  recording: m.recording,
  livestream: m.livestream,
  chat: m.chat,
  polls: m.polls,
  ai: m.ai,
});

test('every emitter has RealtimeKit emitter methods, which return the emitter', async () => {
  const m = await initMeeting(options);
  const listener = () => {};
  for (const [path, emitter] of Object.entries(emitters(m))) {
    for (const name of ['on', 'off', 'addListener', 'removeListener', 'once'])
      assert.equal(emitter[name]('someEvent', listener), emitter, `${path}.${name}`);
    assert.equal(
      emitter.listenerCount('someEvent'),
      1,
      `${path}: on/off and addListener/removeListener cancel out`,
    );
    assert.equal(emitter.removeAllListeners(), emitter, `${path}.removeAllListeners`);
    assert.equal(emitter.listenerCount('someEvent'), 0, path);
  }
});

test('once fires for the next event only; off with the same listener cancels it; removeListener stops on', async () => {
  const m = await initMeeting(options);
  const seen = { once: [], cancelled: [], removed: [], kept: [] };
  m.self.once('roomLeft', ({ state }) => seen.once.push(state));
  const cancelled = ({ state }) => seen.cancelled.push(state);
  m.self.once('roomLeft', cancelled);
  m.self.off('roomLeft', cancelled);
  const removed = ({ state }) => seen.removed.push(state);
  m.self.addListener('roomLeft', removed);
  m.self.removeListener('roomLeft', removed);
  m.self.addListener('roomLeft', ({ state }) => seen.kept.push(state));
  await assert.rejects(m.join(), { code: '4900' });
  await assert.rejects(m.join(), { code: '4900' });
  assert.equal(seen.kept.length, 2, 'two joins failed, two roomLeft');
  assert.deepEqual(seen.once, [seen.kept[0]]);
  assert.deepEqual(seen.cancelled, []);
  assert.deepEqual(seen.removed, []);
  assert.equal(m.self.listenerCount('roomLeft'), 1);
});

test('the members the kit reads around joining, leaving and ending', async () => {
  const m = await initMeeting(options);
  assert.equal(m.self.roomJoined, false);
  assert.equal(m.self.userId, '');
  assert.equal(m.meta.meetingTitle, '');
  assert.equal(m.meta.viewType, 'GROUP_CALL');
  assert.deepEqual(m.meta.socketState, { state: 'disconnected' });
  assert.equal(m.meta.meetingStartedTimestamp, undefined);
  assert.equal(m.connectedMeetings.isActive, false);
  assert.deepEqual(m.connectedMeetings.meetings, []);
  assert.equal(m.connectedMeetings.parentMeeting, undefined);
  assert.deepEqual(m.self.permissions.connectedMeetings, {
    canAlterConnectedMeetings: false,
    canSwitchConnectedMeetings: false,
    canSwitchToParentMeeting: false,
  });
  assert.equal(m.self.permissions.kickParticipant, false);
});

test('media, stage, recording, chat, polls and plugins are present, allow nothing and do nothing', async () => {
  const m = await initMeeting(options);
  const p = m.self.permissions;
  for (const key of ['canProduceAudio', 'canProduceVideo', 'canProduceScreenshare', 'stageAccess'])
    assert.equal(p[key], 'NOT_ALLOWED', key);
  for (const key of ['canRecord', 'canLivestream', 'stageEnabled', 'transcriptionEnabled', 'pinParticipant'])
    assert.equal(p[key], false, key);
  assert.equal(p.chatPublic.canSend, false);
  assert.equal(p.polls.canCreate, false);
  assert.equal(m.self.audioEnabled, false);
  assert.equal(m.self.videoEnabled, false);
  assert.deepEqual(await m.self.getAudioDevices(), []);
  assert.equal(await m.self.enableAudio(), undefined);
  assert.equal(m.self.audioEnabled, false, 'enableAudio does nothing');
  assert.equal(m.participants.active.size, 0);
  assert.deepEqual(m.participants.pinned.toArray(), []);
  assert.equal(m.recording.recordingState, 'IDLE');
  assert.equal(m.stage.status, 'ON_STAGE');
  assert.deepEqual(m.polls.items, []);
  assert.deepEqual(m.plugins.all.toArray(), []);
  assert.equal(typeof m.__internals__.logger.info, 'function');
  // Two meetings do not share listeners through their inert emitters.
  const other = await initMeeting(options);
  m.participants.active.on('participantJoined', () => {});
  assert.equal(other.participants.active.listenerCount('participantJoined'), 0);
});

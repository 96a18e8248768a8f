// The demo's stand-in for an app backend: it calls the REST API with the dev API token that
// `endsession-server --dev` hands out at /dev/config.json. A real app keeps its API token on its server.

let configPromise;

/** `{accountId, appId, meetingId, apiToken}` of the seeded demo account. */
export function devConfig() {
  configPromise ??= fetch('/dev/config.json').then((r) => {
    if (!r.ok) throw new Error(`GET /dev/config.json: ${r.status} (is the server running with --dev?)`);
    return r.json();
  });
  return configPromise;
}

/** Calls `{method} /client/v4/accounts/{account}/realtime/kit/{app}{path}` and returns `data`. */
export async function api(method, path, body) {
  const config = await devConfig();
  const url = `${location.origin}/client/v4/accounts/${config.accountId}/realtime/kit/${config.appId}${path}`;
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${config.apiToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok || json.success === false) {
    const message = json.errors?.map((e) => e.message).join('; ') || response.statusText;
    throw new Error(`${method} ${path}: ${response.status} ${message}`);
  }
  return json.data;
}

/** Adds a participant to the demo meeting; returns the participant with its `token`. */
export async function addParticipant({ name, preset, meetingId }) {
  const config = await devConfig();
  const id = meetingId ?? config.meetingId;
  return api('POST', `/meetings/${id}/participants`, {
    name,
    preset_name: preset,
    custom_participant_id: `${name.toLowerCase().replace(/\W+/g, '-')}-${crypto.randomUUID().slice(0, 8)}`,
  });
}

/** Gives a participant another preset; the server pushes the new permissions to its live connection. */
export async function setPreset(participantId, preset, meetingId) {
  const config = await devConfig();
  return api('PATCH', `/meetings/${meetingId ?? config.meetingId}/participants/${participantId}`, {
    preset_name: preset,
  });
}

/** The end message the backend pane sends with every end it makes (empty: none). */
let endMessage = '';
export function setEndMessage(message) {
  endMessage = message.trim();
}

/**
 * Ends the live session of the meeting for everyone, as a backend would: `POST …/active-session/kick-all`, with the
 * pane's end message and `{lock, graceSeconds}` as the extension fields of the body (none at all: RealtimeKit's
 * plain call). Resolves `{action, kicked_participants_count, ends_at?}` (`ends_at` when a countdown started).
 */
export async function endForAll(meetingId, { lock = false, graceSeconds } = {}) {
  const config = await devConfig();
  const body = {};
  if (endMessage) body.message = endMessage;
  if (lock) body.lock = true;
  if (graceSeconds !== undefined) body.graceSeconds = graceSeconds;
  const path = `/meetings/${meetingId ?? config.meetingId}/active-session/kick-all`;
  return api('POST', path, Object.keys(body).length ? body : undefined);
}

/** Cancels the countdown to the end of the live session; resolves `{action, cancelled}`. */
export async function cancelEnd(meetingId) {
  const config = await devConfig();
  return api('POST', `/meetings/${meetingId ?? config.meetingId}/active-session/cancel-end`);
}

/**
 * What the dev server's webhook sink received for the meeting, newest first: `{deliveries: [{seq, event, sessionId,
 * reason, message, endedBy, verified, problem, …}], sink}` (`sink` false when it is off). Rejects after `timeoutMs`.
 */
export async function webhookDeliveries(meetingId, timeoutMs = 3000) {
  const query = new URLSearchParams({ meeting: meetingId });
  const response = await fetch(`/dev/webhook-deliveries?${query}`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) throw new Error(`GET /dev/webhook-deliveries: ${response.status}`);
  return response.json();
}

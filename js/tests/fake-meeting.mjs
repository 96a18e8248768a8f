// A RealtimeKit-shaped meeting for the binding tests (Node and the browser fixtures).
/** A RealtimeKit-shaped meeting whose state the test sets, emitting as RealtimeKit does. */
export function fakeMeeting({ roomState = 'init', kick = false } = {}) {
  const emitter = () => {
    const listeners = new Map();
    return {
      on(e, f) {
        (listeners.get(e) ?? listeners.set(e, new Set()).get(e)).add(f);
        return this;
      },
      off(e, f) {
        listeners.get(e)?.delete(f);
        return this;
      },
      emit(e, payload) {
        for (const f of [...(listeners.get(e) ?? [])]) f(payload);
      },
      count: () => [...listeners.values()].reduce((n, s) => n + s.size, 0),
    };
  };
  const permissions = Object.assign(emitter(), { kickParticipant: kick });
  const self = Object.assign(emitter(), { roomState, permissions });
  let kicks = [];
  const meeting = {
    self,
    participants: {
      kickAll: () => new Promise((resolve, reject) => kicks.push({ resolve, reject })),
    },
    join() {
      self.roomState = 'joined';
      self.emit('roomJoined', { reconnected: false });
    },
    leave(state) {
      self.roomState = state;
      self.emit('roomLeft', { state });
    },
    grant(kick) {
      permissions.kickParticipant = kick;
      permissions.emit('permissionsUpdate', { kickParticipant: kick });
    },
    takeKicks: () => kicks.splice(0),
    /** The next `participants.kickAll()` call, once made (the adapter is imported on the first kickAll). */
    async nextKick() {
      for (let i = 0; !kicks.length && i < 200; i++) await new Promise((r) => setTimeout(r, 5));
      return kicks.shift();
    },
  };
  return meeting;
}

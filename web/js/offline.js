// Since when a stream has been offline (its source lost: `retrying`, or
// `failed`), for its tile's "offline since 14:02:31" label. The time is the
// moment the page learnt of it: exact when a stream.state event brought the
// change or the stream was known live just before, otherwise (a page opened
// while the camera was already down) only when it was noticed, which the
// label says.

export const OFFLINE_STATES = new Set(['retrying', 'failed']);

export class OfflineClock {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.since = null; // ms since the epoch, null while not offline
    this.exact = false; // `since` is when the stream went offline, not when we noticed
  }

  get offline() {
    return this.since !== null;
  }

  // The stream's state changed (or was told again); `exact`: this is the
  // moment of the change (an event, or the stream was live a moment ago).
  // `starting` leaves the clock as it is: the source is not back yet.
  update(state, { exact = false } = {}) {
    if (OFFLINE_STATES.has(state)) {
      if (this.since === null) {
        this.since = this.now();
        this.exact = exact;
      }
    } else if (state !== 'starting') {
      this.since = null;
      this.exact = false;
    }
  }

  // "Offline since 14:02:31", or "Offline, noticed at 14:02:31"; '' when not offline.
  label() {
    if (this.since === null) return '';
    const at = clockTime(this.since);
    return this.exact ? `Offline since ${at}` : `Offline, noticed at ${at}`;
  }
}

// 14:02:31 in the viewer's own time zone, 24-hour.
export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

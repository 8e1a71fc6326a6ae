// The top bar's connection indicator and summary line. Its element carries
// data-state="connecting|connected|disconnected|restarting|signed-out" for
// tests ("signed-out": the server refused our token, or wants one, and the
// dashboard waits for a sign-in instead of retrying; "restarting": the
// server said it is shutting down, and the dashboard reconnects when it is
// back: not an error).

// Why the server closed the socket (PROTOCOL.md, "Close codes").
const CLOSE_REASONS = {
  1001: 'server shut down',
  1008: 'replies not read',
  1009: 'message too large',
  4001: 'too slow for the stream',
  4003: 'not authorised',
  4008: 'no hello in time',
};

export class StatusBar {
  constructor(root) {
    this.pill = root.querySelector('#conn-status');
    this.summary = root.querySelector('#summary');
    this.server = root.querySelector('#server-info');
    this.countdown = null;
  }

  // `detail` is a Connection 'status' event's detail.
  connection(detail) {
    clearInterval(this.countdown);
    // Counts from before the disconnection would be stale; the next list
    // after reconnecting fills them in again.
    if (detail.state !== 'open') this.summary.textContent = '';
    if (detail.state === 'open') {
      this.show('connected', 'connected');
    } else if (detail.unauthorized !== undefined) {
      this.show('signed-out', 'not signed in');
      this.pill.title = detail.unauthorized;
      return;
    } else if (detail.restarting) {
      // The server said it is restarting: a countdown while we wait for it.
      const at = Date.now() + (detail.retryInMs || 0);
      const update = () => {
        const s = Math.max(0, Math.ceil((at - Date.now()) / 1000));
        const when = detail.state === 'connecting' ? 'reconnecting…'
          : detail.retryInMs !== undefined ? `reconnecting in ${s} s` : 'clients told to reconnect';
        this.show('restarting', `server restarting · ${when}`);
      };
      update();
      if (detail.retryInMs !== undefined) this.countdown = setInterval(update, 500);
    } else if (detail.state === 'connecting') {
      this.show('connecting', 'connecting…');
    } else if (detail.retryInMs !== undefined) {
      // Count down to the next attempt so a dead server is obvious.
      const at = Date.now() + detail.retryInMs;
      const why = CLOSE_REASONS[detail.code] ? ` (${CLOSE_REASONS[detail.code]})` : '';
      const update = () => {
        const s = Math.max(0, Math.ceil((at - Date.now()) / 1000));
        this.show('disconnected', `disconnected${why} · retry in ${s} s`);
      };
      update();
      this.countdown = setInterval(update, 500);
    } else {
      this.show('disconnected', 'disconnected');
    }
  }

  show(state, text) {
    this.pill.removeAttribute('title');
    this.pill.dataset.state = state;
    this.pill.textContent = text;
  }

  setServer(hello) {
    this.server.textContent = hello ? `${hello.server || 'vigil'} ${hello.version || ''}`.trim() : '';
  }

  setSummary(streams) {
    const live = streams.filter((s) => s.state === 'live').length;
    this.summary.textContent = `${streams.length} stream${streams.length === 1 ? '' : 's'} · ${live} live`;
  }
}

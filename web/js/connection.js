// The dashboard's single vigil.v1 WebSocket: request/reply matched by id,
// server events, binary media frames, and automatic reconnect with
// exponential backoff. It knows nothing about streams or tiles.
//
// Every new socket first goes through `handshake(request)` (the hello with
// the token, auth.js); only when it succeeds is the connection 'open' and
// may the rest of the dashboard send requests. When the server refuses us
// (an `unauthorized` reply to the hello, or close code 4003, e.g. a token that
// expired mid-session) it does NOT reconnect: retrying with the same token
// would only hammer the server. It stays halted until start() or restart().
//
// A `server.shutdown` event (the server is draining, PROTOCOL.md) is not an
// error: the server is going away and coming back. The connection says so
// at once (status 'restarting'), and when the server closes (1001) waits the
// server's `reconnect_after_ms` hint (with the usual jitter) before its
// first attempt; until it is back (or for a minute at most) every status
// says `restarting: true`.
//
// Events (it is an EventTarget):
//   'status'  detail {state: 'connecting'|'open'|'restarting'|'closed',
//             retryInMs?, code?, restarting?: true, unauthorized?: reason}
//   'open'    a (re)connection is ready (hello done); listeners re-subscribe here
//   'unauthorized' detail {reason}: the server refused us; no retry follows
//   'message' detail: a server event (a text message without our id)
//   'binary'  detail: the raw ArrayBuffer of a binary frame

const PROTOCOL = 'vigil.v1';
const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 10000;
const REQUEST_TIMEOUT_MS = 10000;
const RESTART_PATIENCE_MS = 60000; // how long "server restarting" is believed
export const CLOSE_UNAUTHORIZED = 4003; // PROTOCOL.md: bad or expired token

export class RequestError extends Error {
  constructor(reply) {
    super(reply.message || reply.code || 'request failed');
    this.code = reply.code;
    this.field = reply.field;
    this.reply = reply;
  }
}

export class Connection extends EventTarget {
  // `handshake(request)`: run on every new socket before it counts as open;
  // `request(type, fields)` works like request() on that socket. Resolve to
  // go on (the value is kept as .hello), reject to drop the socket.
  constructor(url, { handshake = null } = {}) {
    super();
    this.url = url;
    this.handshake = handshake;
    this.hello = null; // what the last handshake resolved with
    this.ready = false; // the handshake of the current socket succeeded
    this.halted = null; // {reason} after the server refused us
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.backoffMs = BACKOFF_START_MS;
    this.retryTimer = null;
    this.stopped = false;
    this.state = 'closed';
    this.restarting = null; // {reason, reconnectAfterMs} from server.shutdown until back
  }

  start() {
    this.stopped = false;
    this.halted = null;
    this.backoffMs = BACKOFF_START_MS;
    if (!this.ws) this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
  }

  // Drops the current socket (if any) and connects again at once, e.g. with
  // a new token.
  restart() {
    clearTimeout(this.retryTimer);
    const old = this.ws;
    if (old) {
      this.ws = null;
      this.ready = false;
      old.close(1000);
      this.failPending(new Error('connection restarted'));
      this.setStatus({ state: 'closed', code: 1000 });
    }
    this.start();
  }

  // Open and past the handshake: requests may go out.
  get isOpen() {
    return this.ready && this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.setStatus({ state: 'connecting' });
    let ws;
    try {
      ws = new WebSocket(this.url, [PROTOCOL]);
    } catch (err) {
      console.warn('vigil: cannot create WebSocket', err);
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      if (ws.protocol !== PROTOCOL) {
        // A server that does not speak our protocol: do not guess.
        console.warn('vigil: server did not accept subprotocol', PROTOCOL);
        ws.close(1002);
        return;
      }
      this.shake(ws);
    };
    ws.onmessage = (ev) => this.onMessage(ev.data);
    // onerror is always followed by onclose, which does the work.
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      this.failPending(new Error(`connection closed (${ev.code})`));
      if (ev.code === CLOSE_UNAUTHORIZED && !this.halted) {
        // Closed for our token mid-session ("token expired"), or before the
        // hello reply could tell us why.
        this.halt(ev.reason || 'unauthorized');
      }
      if (this.stopped || this.halted) {
        const detail = { state: 'closed', code: ev.code };
        if (this.halted) detail.unauthorized = this.halted.reason;
        this.setStatus(detail);
        return;
      }
      this.scheduleReconnect(ev.code);
    };
  }

  // Runs the handshake on a fresh socket; open on success.
  async shake(ws) {
    if (this.handshake) {
      try {
        this.hello = await this.handshake((type, fields, timeoutMs) => this.send(ws, type, fields, timeoutMs));
      } catch (err) {
        if (this.ws !== ws) return;
        if (err.code === 'unauthorized') this.halt(err.message);
        else console.warn('vigil: handshake failed', err);
        // The server closes after refusing a hello; do not wait for it.
        ws.close(1000);
        return;
      }
      if (this.ws !== ws) return;
    }
    this.ready = true;
    this.backoffMs = BACKOFF_START_MS;
    this.restarting = null;
    this.setStatus({ state: 'open' });
    this.dispatchEvent(new Event('open'));
  }

  halt(reason) {
    this.halted = { reason };
    clearTimeout(this.retryTimer);
    this.dispatchEvent(new CustomEvent('unauthorized', { detail: { reason } }));
  }

  scheduleReconnect(code) {
    // The first attempt after a server.shutdown waits for the server's hint;
    // later ones back off as usual.
    // A server that said it was restarting and is still away after a
    // minute is simply unreachable.
    if (this.restarting && Date.now() - this.restarting.since > RESTART_PATIENCE_MS) this.restarting = null;
    const hint = this.restarting && !this.restarting.waited ? this.restarting.reconnectAfterMs : 0;
    if (this.restarting) this.restarting.waited = true;
    const base = Math.max(hint, this.backoffMs);
    // Jitter spreads many dashboards reconnecting after a server restart.
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.setStatus({ state: 'closed', code, retryInMs: delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // The server is draining: remember its hint and say so; the close follows.
  onShutdown(msg) {
    const hint = Number.isFinite(msg.reconnect_after_ms) && msg.reconnect_after_ms >= 0
      ? Math.min(msg.reconnect_after_ms, BACKOFF_MAX_MS * 6) : BACKOFF_START_MS;
    this.restarting = { reason: typeof msg.reason === 'string' ? msg.reason : '', reconnectAfterMs: hint, since: Date.now() };
    this.setStatus({ state: 'restarting' });
  }

  setStatus(detail) {
    if (this.restarting && detail.state !== 'open') detail.restarting = true;
    this.state = detail.state;
    this.dispatchEvent(new CustomEvent('status', { detail }));
  }

  onMessage(data) {
    if (data instanceof ArrayBuffer) {
      this.dispatchEvent(new CustomEvent('binary', { detail: data }));
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('vigil: unparsable text message dropped');
      return;
    }
    if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    const waiter = msg.id !== undefined ? this.pending.get(String(msg.id)) : undefined;
    if (waiter) {
      this.pending.delete(String(msg.id));
      clearTimeout(waiter.timer);
      if (msg.type === 'error') waiter.reject(new RequestError(msg));
      else waiter.resolve(msg);
      return;
    }
    if (msg.type === 'server.shutdown') this.onShutdown(msg);
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
  }

  // Sends {type, ...fields} with a fresh id; resolves with the reply, rejects
  // with RequestError on an error reply, or Error on timeout / disconnect.
  request(type, fields = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (!this.isOpen) return Promise.reject(new Error('not connected'));
    return this.send(this.ws, type, fields, timeoutMs);
  }

  send(ws, type, fields = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('not connected'));
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${type}: no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  failPending(err) {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(err);
    }
    this.pending.clear();
  }
}

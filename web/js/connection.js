// The dashboard's single vigil.v1 WebSocket: request/reply matched by id,
// server events, binary media frames, and automatic reconnect with
// exponential backoff. It knows nothing about streams or tiles.
//
// Events (it is an EventTarget):
//   'status'  detail {state: 'connecting'|'open'|'closed', retryInMs?, code?}
//   'open'    a (re)connection is ready; listeners re-subscribe here
//   'message' detail: a server event (a text message without our id)
//   'binary'  detail: the raw ArrayBuffer of a binary frame

const PROTOCOL = 'vigil.v1';
const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 10000;
const REQUEST_TIMEOUT_MS = 10000;

export class RequestError extends Error {
  constructor(reply) {
    super(reply.message || reply.code || 'request failed');
    this.code = reply.code;
    this.field = reply.field;
    this.reply = reply;
  }
}

export class Connection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.backoffMs = BACKOFF_START_MS;
    this.retryTimer = null;
    this.stopped = false;
    this.state = 'closed';
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
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
      this.backoffMs = BACKOFF_START_MS;
      this.setStatus({ state: 'open' });
      this.dispatchEvent(new Event('open'));
    };
    ws.onmessage = (ev) => this.onMessage(ev.data);
    // onerror is always followed by onclose, which does the work.
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending(new Error(`connection closed (${ev.code})`));
      if (this.stopped) {
        this.setStatus({ state: 'closed', code: ev.code });
        return;
      }
      this.scheduleReconnect(ev.code);
    };
  }

  scheduleReconnect(code) {
    // Jitter spreads many dashboards reconnecting after a server restart.
    const delay = Math.round(this.backoffMs * (0.8 + Math.random() * 0.4));
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.setStatus({ state: 'closed', code, retryInMs: delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  setStatus(detail) {
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
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
  }

  // Sends {type, ...fields} with a fresh id; resolves with the reply, rejects
  // with RequestError on an error reply, or Error on timeout / disconnect.
  request(type, fields = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (!this.isOpen) return Promise.reject(new Error('not connected'));
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${type}: no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...fields, type, id }));
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

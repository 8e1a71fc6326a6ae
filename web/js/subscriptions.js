// Keeps the set of streams the dashboard wants to watch subscribed across
// reconnects, and routes binary frames (by channel) and stream.state events
// to the handler of each stream. Channels are the server's choice and only
// valid for one connection, so they are forgotten on every disconnect.
//
// A handler is an object with an optional `mode` ("mse" when absent, or
// "webcodecs": read at every subscribe) and optional methods:
//   onSubscribed(reply)  the subscribe reply (state, codecs, mime, channel)
//   onFrame(header)      a parsed binary frame of this stream's channel
//   onStreamState(event) a stream.state event for this stream
//   onLost()             the connection dropped; a new subscription will follow
//   onFailed(error)      the subscribe request was refused (RequestError)

import { parseFrameHeader } from './frame_header.js';
import { acceptedFamilies } from './media_support.js';

export class Subscriptions {
  constructor(connection) {
    this.conn = connection;
    this.entries = new Map(); // stream id -> {stream, handler, channel, pending}
    this.byChannel = new Map(); // channel -> entry
    this.ignoredFrames = 0; // frames for channels we do not (or no longer) have

    connection.addEventListener('open', () => this.retry());
    connection.addEventListener('status', (ev) => {
      if (ev.detail.state === 'closed') this.forgetChannels();
    });
    connection.addEventListener('binary', (ev) => this.onBinary(ev.detail));
    connection.addEventListener('message', (ev) => this.onEvent(ev.detail));
  }

  has(stream) {
    return this.entries.has(stream);
  }

  // Starts watching `stream` (idempotent).
  add(stream, handler) {
    if (this.entries.has(stream)) return;
    const entry = { stream, handler, channel: null, pending: false, failed: false };
    this.entries.set(stream, entry);
    this.subscribe(entry);
  }

  // Stops watching `stream`; no callback of its handler runs afterwards.
  remove(stream) {
    const entry = this.entries.get(stream);
    if (!entry) return;
    this.entries.delete(stream);
    if (entry.channel !== null) {
      this.byChannel.delete(entry.channel);
      this.conn.request('unsubscribe', { channel: entry.channel }).catch(() => {});
    }
    // A subscribe still in flight is undone when its reply comes (subscribe()).
  }

  // Subscribes `stream` again, e.g. in another mode (its handler's `mode`):
  // the current channel is unsubscribed first (the server allows one channel
  // per stream), frames still in flight for it are ignored, and the new
  // subscribe reply starts over with onSubscribed.
  async resubscribe(stream) {
    const entry = this.entries.get(stream);
    if (!entry) return;
    if (entry.pending) {
      entry.again = true; // once the subscribe in flight has its reply
      return;
    }
    if (entry.channel !== null) {
      const old = entry.channel;
      this.byChannel.delete(old);
      entry.channel = null;
      entry.pending = true;
      await this.conn.request('unsubscribe', { channel: old }).catch(() => {});
      entry.pending = false;
      if (this.entries.get(stream) !== entry) return;
    }
    this.subscribe(entry);
  }

  // Subscribes every wanted stream that has no channel yet, including ones a
  // previous attempt failed for (the limit may have been raised, or a stream
  // that was unknown may exist now).
  retry() {
    for (const entry of this.entries.values()) {
      if (entry.channel === null && !entry.pending) this.subscribe(entry);
    }
  }

  async subscribe(entry) {
    if (!this.conn.isOpen) return;
    entry.pending = true;
    let reply;
    try {
      const mode = entry.handler.mode || 'mse';
      const accept = await acceptedFamilies(mode);
      const req = { stream: entry.stream, mode };
      // Nothing decodable at all is the tile's own message (canPlayLive).
      if (accept.length) req.accept = accept;
      reply = await this.conn.request('subscribe', req);
    } catch (err) {
      entry.pending = false;
      if (this.entries.get(entry.stream) === entry && err.code) {
        entry.failed = true;
        call(entry.handler, 'onFailed', err);
      }
      return;
    }
    entry.pending = false;
    if (this.entries.get(entry.stream) !== entry) {
      // Removed while the request was in flight.
      this.conn.request('unsubscribe', { channel: reply.channel }).catch(() => {});
      return;
    }
    entry.failed = false;
    entry.channel = reply.channel;
    this.byChannel.set(reply.channel, entry);
    call(entry.handler, 'onSubscribed', reply);
    if (entry.again) {
      entry.again = false;
      this.resubscribe(entry.stream);
    }
  }

  forgetChannels() {
    this.byChannel.clear();
    for (const entry of this.entries.values()) {
      const had = entry.channel !== null || entry.pending;
      entry.channel = null;
      entry.pending = false;
      if (had) call(entry.handler, 'onLost');
    }
  }

  onBinary(buffer) {
    const header = parseFrameHeader(buffer);
    if (!header) return;
    const entry = this.byChannel.get(header.channel);
    if (!entry) {
      this.ignoredFrames++;
      return;
    }
    call(entry.handler, 'onFrame', header);
  }

  onEvent(msg) {
    if (msg.type !== 'stream.state') return;
    let entry = typeof msg.channel === 'number' ? this.byChannel.get(msg.channel) : undefined;
    if (!entry && typeof msg.stream === 'string') {
      const byName = this.entries.get(msg.stream);
      // Only trust the name when the event carries no channel of ours.
      if (byName && (msg.channel === undefined || byName.channel === null)) entry = byName;
    }
    if (entry) call(entry.handler, 'onStreamState', msg);
  }
}

// One broken handler must not stop frames for the other streams.
function call(handler, method, arg) {
  if (typeof handler[method] !== 'function') return;
  try {
    handler[method](arg);
  } catch (err) {
    console.error(`vigil: ${method} handler failed`, err);
  }
}

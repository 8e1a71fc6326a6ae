// Keeps the set of streams the dashboard wants to watch subscribed across
// reconnects, and routes binary frames (by channel), stream.state and
// stream.removed events to the handler of each stream. Channels are the
// server's choice and only valid for one connection, so they are forgotten
// on every disconnect (and one at a time when a reload ends them).
//
// A handler is an object with an optional `mode` ("mse" when absent, or
// "webcodecs": read at every subscribe) and optional methods:
//   variantFor(accept)   the `variant` to ask for, given the codec families
//                        sent as `accept`; null or absent: none (the server picks)
//   onSubscribed(reply)  the subscribe reply (state, codecs, mime, channel, variant)
//   onFrame(header)      a parsed binary frame of one of this stream's channels
//   onStreamState(event) a stream.state event for this stream
//   onStreamRemoved(event) a stream.removed event for one of its channels: a
//                        reload took the stream (or the variant on that
//                        channel) away, or access to it. The channel is
//                        already forgotten (the server dropped it: no
//                        unsubscribe); when it was the stream's channel the
//                        stream is left without one until retry() or
//                        resubscribe() subscribes it again
//   onLost()             the connection dropped; a new subscription will follow
//   onFailed(error, request) the subscribe request was refused (RequestError);
//                        `request` is what was asked (stream, mode, accept, variant)
//
// A stream has one channel, its picture. While a tile switches pictures (a
// variant) it holds a second one beside it (subscribeBeside), whose frames
// and events go to the same handler, until it adopts it in place of the
// first or drops it.

import { parseFrameHeader } from './frame_header.js';
import { acceptedFamilies } from './media_support.js';

export class Subscriptions {
  constructor(connection) {
    this.conn = connection;
    this.entries = new Map(); // stream id -> {stream, handler, channel, pending, failed, beside}
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
    // beside: channels subscribed next to `channel` (subscribeBeside).
    const entry = { stream, handler, channel: null, pending: false, failed: false, beside: new Set() };
    this.entries.set(stream, entry);
    this.subscribe(entry);
  }

  // Stops watching `stream`; no callback of its handler runs afterwards.
  remove(stream) {
    const entry = this.entries.get(stream);
    if (!entry) return;
    this.entries.delete(stream);
    for (const channel of [entry.channel, ...entry.beside]) {
      if (channel === null) continue;
      this.byChannel.delete(channel);
      this.conn.request('unsubscribe', { channel }).catch(() => {});
    }
    entry.beside.clear();
    // A subscribe still in flight is undone when its reply comes (subscribe()).
  }

  // Subscribes `stream` on a second channel with `fields` (e.g. {variant}),
  // keeping the current one, so a tile switching pictures shows the old one
  // until the new one has a frame; it then adopt()s or drops the new
  // channel. Resolves with the reply; rejects with the server's refusal
  // (RequestError), or an Error when the stream stopped being watched, or
  // the connection dropped, meanwhile.
  async subscribeBeside(stream, fields = {}) {
    const entry = this.entries.get(stream);
    if (!entry || entry.channel === null || entry.pending) throw new Error(`${stream} has no channel to keep`);
    const mode = entry.handler.mode || 'mse';
    const req = { ...fields, stream, mode };
    const accept = await acceptedFamilies(mode);
    if (accept.length) req.accept = accept;
    const reply = await this.conn.request('subscribe', req);
    if (this.entries.get(stream) !== entry) {
      this.conn.request('unsubscribe', { channel: reply.channel }).catch(() => {});
      throw new Error(`${stream} is no longer watched`);
    }
    entry.beside.add(reply.channel);
    this.byChannel.set(reply.channel, entry);
    return reply;
  }

  // Makes `channel` (from subscribeBeside) the stream's channel in place of
  // the current one, which is unsubscribed: none of its frames reach the
  // handler any more. False when `channel` is not one beside it (dropped, or
  // forgotten with the connection).
  adopt(stream, channel) {
    const entry = this.entries.get(stream);
    if (!entry || entry.pending || !entry.beside.delete(channel)) return false;
    const old = entry.channel;
    entry.channel = channel;
    if (old !== null) {
      this.byChannel.delete(old);
      this.conn.request('unsubscribe', { channel: old }).catch(() => {});
    }
    return true;
  }

  // Unsubscribes a channel from subscribeBeside that is not wanted after all.
  dropBeside(stream, channel) {
    const entry = this.entries.get(stream);
    if (!entry || !entry.beside.delete(channel)) return;
    this.byChannel.delete(channel);
    this.conn.request('unsubscribe', { channel }).catch(() => {});
  }

  // Subscribes `stream` again, e.g. in another mode (its handler's `mode`):
  // the current channel is unsubscribed first (the new subscribe may ask for
  // the same picture, which a connection holds once), frames still in flight
  // for it are ignored, and the new subscribe reply starts over with
  // onSubscribed. Channels beside it are dropped: it starts over on one.
  async resubscribe(stream) {
    const entry = this.entries.get(stream);
    if (!entry) return;
    for (const channel of [...entry.beside]) this.dropBeside(stream, channel);
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
    let req = null;
    try {
      const mode = entry.handler.mode || 'mse';
      const accept = await acceptedFamilies(mode);
      req = { stream: entry.stream, mode };
      // Nothing decodable at all is the tile's own message (canPlayLive).
      if (accept.length) req.accept = accept;
      const variant = typeof entry.handler.variantFor === 'function' ? entry.handler.variantFor(accept) : null;
      if (variant) req.variant = variant;
      reply = await this.conn.request('subscribe', req);
    } catch (err) {
      entry.pending = false;
      if (this.entries.get(entry.stream) === entry && err.code) {
        entry.failed = true;
        call(entry.handler, 'onFailed', err, req);
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
      entry.beside.clear();
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
    if (msg.type === 'stream.removed') {
      this.onStreamRemoved(msg);
      return;
    }
    if (msg.type !== 'stream.state') return;
    let entry = typeof msg.channel === 'number' ? this.byChannel.get(msg.channel) : undefined;
    if (!entry && typeof msg.stream === 'string') {
      const byName = this.entries.get(msg.stream);
      // Only trust the name when the event carries no channel of ours.
      if (byName && (msg.channel === undefined || byName.channel === null)) entry = byName;
    }
    if (entry) call(entry.handler, 'onStreamState', msg);
  }

  // Only by channel: the stream's name alone does not say which of its
  // pictures ended.
  onStreamRemoved(msg) {
    const entry = typeof msg.channel === 'number' ? this.byChannel.get(msg.channel) : undefined;
    if (!entry) return;
    this.byChannel.delete(msg.channel);
    if (entry.channel === msg.channel) entry.channel = null;
    else entry.beside.delete(msg.channel);
    call(entry.handler, 'onStreamRemoved', msg);
  }
}

// One broken handler must not stop frames for the other streams.
function call(handler, method, ...args) {
  if (typeof handler[method] !== 'function') return;
  try {
    handler[method](...args);
  } catch (err) {
    console.error(`vigil: ${method} handler failed`, err);
  }
}

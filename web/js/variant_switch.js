// One switch of a tile to another picture of its stream (a variant, e.g.
// the main stream when the tile is enlarged) without going black
// (PROTOCOL.md, subscribe): the new picture is subscribed on a second
// channel and played by a second feed, of the tile's mode, beneath the one
// on screen. Once it has shown a frame the tile puts it in the old one's
// place and unsubscribes the old channel (onReady). If the new picture is
// refused, its decoder fails, its codec turns out to be one this browser
// cannot decode, its source is down, a reload removes it (stream.removed),
// or it shows nothing within SWITCH_TIMEOUT_MS, the switch gives up
// (onGiveUp): its channel is dropped and the old picture plays on as if
// nothing had happened.

import { cannotDecode } from './variant_choice.js';

// A substream's camera starts in a second or so, a transcode at the main
// stream's next keyframe; both then need a keyframe to decode from.
export const SWITCH_TIMEOUT_MS = 15000;
const CHECK_EVERY_MS = 30; // about a frame: how soon the new picture takes over

export class VariantSwitch {
  // `subs`: the Subscriptions; `feed`: a Feed of the tile's mode on an
  // element beneath the picture shown; `accept`: the codec families this
  // browser decodes in that mode. onReady(sw) once the feed shows a frame;
  // onGiveUp(sw, why) when it will not; never both, nothing after cancel().
  constructor({ subs, stream, variant, feed, accept, onReady, onGiveUp, timeoutMs = SWITCH_TIMEOUT_MS }) {
    this.subs = subs;
    this.stream = stream;
    this.variant = variant;
    this.feed = feed;
    this.accept = accept;
    this.onReady = onReady;
    this.onGiveUp = onGiveUp;
    this.timeoutMs = timeoutMs;
    this.channel = null; // once subscribed
    this.reply = null;
    this.state = null; // the new channel's stream state
    this.reason = '';
    this.codecs = null; // the new picture's codecs, when announced
    this.undecodable = false; // gave up on codecs this browser cannot decode
    this.over = false;
    this.deadline = null;
    this.poll = null;
    feed.addEventListener('error', (ev) => this.giveUp(`player: ${ev.detail}`));
    feed.addEventListener('unsupported', (ev) => this.giveUp(`cannot decode ${ev.detail}`));
  }

  async start() {
    let reply;
    try {
      reply = await this.subs.subscribeBeside(this.stream, { variant: this.variant });
    } catch (err) {
      this.giveUp(err.code || err.message);
      return;
    }
    if (this.over) {
      // Cancelled while the subscribe was in flight.
      this.subs.dropBeside(this.stream, reply.channel);
      return;
    }
    this.channel = reply.channel;
    this.reply = reply;
    this.feed.onReply(reply);
    this.setState(reply.state, reply.reason, reply.codecs);
    if (this.over) return;
    this.deadline = setTimeout(() => this.giveUp('no picture in time'), this.timeoutMs);
    this.poll = setInterval(() => this.check(), CHECK_EVERY_MS);
  }

  // A binary frame of the new channel.
  onFrame(h, arrivalMs) {
    if (this.over) return;
    this.feed.push(h, arrivalMs);
  }

  // A stream.state event of the new channel.
  onState(event) {
    if (this.over) return;
    this.feed.onState(event);
    this.setState(event.state, event.reason, event.codecs);
  }

  // A stream.removed event of the new channel (a reload took its picture
  // away): the server has dropped the channel already.
  onRemoved(event) {
    this.giveUp(`removed: ${event.reason || 'no reason given'}`);
  }

  // Stops the switch: the new channel is dropped and its feed destroyed.
  cancel() {
    if (this.over) return;
    this.finish();
    if (this.channel !== null) this.subs.dropBeside(this.stream, this.channel);
    this.feed.destroy();
  }

  // --- internals ---

  setState(state, reason, codecs) {
    if (typeof state === 'string') this.state = state;
    this.reason = typeof reason === 'string' ? reason : '';
    if (state === 'live' && codecs) {
      this.codecs = codecs;
      if (this.accept.length && cannotDecode(codecs, this.accept)) {
        this.undecodable = true;
        this.giveUp(`cannot decode ${codecs}`);
        return;
      }
    }
    // Its source is down: the old picture is better than waiting.
    if (['retrying', 'failed', 'stopped'].includes(state)) this.giveUp(`${state}${this.reason ? `: ${this.reason}` : ''}`);
  }

  check() {
    if (this.over || !this.feed.shown) return;
    this.finish();
    this.onReady(this);
  }

  giveUp(why) {
    if (this.over) return;
    this.cancel();
    this.onGiveUp(this, why);
  }

  finish() {
    this.over = true;
    clearTimeout(this.deadline);
    clearInterval(this.poll);
  }
}

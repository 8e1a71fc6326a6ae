// One camera tile: a header bar (stream id, playback mode switch, state
// badge), the picture, and a stats line. It is the Subscriptions handler for
// its stream, plays it in one of two modes, and mirrors its numbers into
// data-* attributes so tests and scripts can read them without parsing text:
//   data-stream, data-state, data-mode ("webcodecs": WebCodecsPlayer drawing
//   on a canvas, lowest latency; "mse": MsePlayer in a <video>),
//   data-fps, data-bitrate-bps, data-latency-ms,
//   data-frames (fragments or access units received), data-decoded (frames
//   decoded), data-drawn (WebCodecs: frames drawn),
//   data-skipped (frames the server skipped for us), data-skips (skips to a
//   keyframe seen in the frame flags), data-lag-ms (buffered
//   media ahead of the playhead; WebCodecs: arrival to drawn), data-resets
//   (player rebuilds or decoder errors), data-reason (why the stream is not
//   live, from the last stream.state event, or the list's last_error),
//   data-audio ("none": the stream has no sound, "muted", "on"),
//   data-offline ("true" while the source is lost: retrying or failed),
//   data-offline-since (when it went offline, ms since the epoch),
//   data-media-source (mode "mse": "MediaSource" or "ManagedMediaSource",
//   Safari on iPhone), data-playable ("false": this browser has neither
//   WebCodecs nor Media Source Extensions, and the tile says so),
//   data-variant (the picture on screen: "main", a substream's name,
//   "transcode"), data-focused ("true" while enlarged), data-switching (the
//   variant being switched to, '' when none) and data-switches (switches
//   of picture completed).
//
// Pictures: a stream may have substreams and a transcode beside its main
// picture (PROTOCOL.md, subscribe `variant`). A tile in the grid asks for
// the lightest substream it can decode; enlarged (the button in the header,
// or a double-click on the picture) it asks for the main one when it can
// decode it (variant_choice.js). Changing pictures never goes black: the
// new one plays beneath the old one until it shows a frame
// (variant_switch.js). A picture whose codec, once announced, this browser
// cannot decode is asked for again without a variant, so the server picks
// another; when there is none the tile says so.
//
// An offline stream's tile says so over its last picture, dimmed: "offline"
// in the badge, and "Offline since 14:02:31" with the reason on the picture,
// never a frozen picture marked live.
//
// A reload of the server's configuration may end the tile's channel
// (stream.removed): the tile stops waiting for its frames and the app lists
// the streams again (onRemoved). When only the picture on screen (a
// variant) went, the tile says "Starting…" over it until it is subscribed
// again to another picture of the new list; when the stream itself went (or
// this viewer's access to it), it says why, dimmed, in state "removed",
// until the list takes the tile away.
//
// The mode is WebCodecs where the browser has VideoDecoder and it supports
// the stream's codec (VideoDecoder.isConfigSupported), MSE otherwise
// (media_support.js: MediaSource, or ManagedMediaSource where that is all
// there is). The switch in the header changes it for this stream and
// remembers the choice (localStorage "vigil.mode.<stream>"); changing it
// resubscribes.
//
// A tile that is not playing live (before its first picture, a stream it
// does not watch, a browser that cannot play video) shows the stream's
// snapshot instead, refreshed every 10 s (snapshot.js), with data-snapshot
// "true" while it does.
//
// A stream with sound starts muted (browsers only autoplay muted media);
// the speaker button in the header turns it on and off. Its click is the
// user gesture that lets the browser play sound. Sound comes only in the
// MSE mode's fMP4 (WebCodecs mode carries video alone), so turning it on in
// WebCodecs mode switches the tile to MSE, for this page's life.

import { nowMs } from './webcodecs_player.js';
import { Feed, mediaElement } from './feed.js';
import { RateMeter, Smoothed } from './meters.js';
import { iconButton, setIcon } from './icons.js';
import { OfflineClock, OFFLINE_STATES } from './offline.js';
import { NO_PLAYBACK, acceptedFamilies, canPlayLive, hasWebCodecs } from './media_support.js';
import { VariantPicker, cannotDecode } from './variant_choice.js';
import { VariantSwitch } from './variant_switch.js';
import { Snapshot } from './snapshot.js';
import { Timeline } from './timeline.js';

export const MODES = ['webcodecs', 'mse'];
const MODE_KEY = 'vigil.mode.';
const RESUBSCRIBE_MIN_MS = 1000; // after a decoder error
const MAX_DECODER_ERRORS = 4; // within ERROR_WINDOW_MS: give up on WebCodecs
const ERROR_WINDOW_MS = 20000;

// The mode this stream's tile starts in: the user's choice, else WebCodecs
// when the browser has it.
export function preferredMode(stream) {
  let stored = null;
  try {
    stored = localStorage.getItem(MODE_KEY + stream);
  } catch { /* storage blocked */ }
  if (stored === 'mse') return 'mse';
  return hasWebCodecs() ? 'webcodecs' : 'mse';
}

// Measuring latency (tests, docs/LATENCY.md): window.vigilMeasureLatency.
function measuring() {
  return globalThis.vigilMeasureLatency === true;
}

const STATE_TEXT = {
  starting: 'starting',
  live: 'live',
  retrying: 'offline',
  failed: 'offline',
  stopped: 'stopped',
  disconnected: 'offline',
  restarting: 'restarting',
  unsubscribed: 'not watched',
  removed: 'removed',
};

// Refusals whose reason the tile says as it is (the others read "Not
// watched: <the server's message>").
const REFUSALS = {
  unsupported_codec: (err) => `This browser cannot decode this camera's video (${err.message})`,
  transcode_limit: () => 'Too many transcodes are running on the server to play this camera in this browser',
};

export class Tile {
  // `subs`: the Subscriptions this tile is the handler of (it resubscribes,
  // and switches pictures, through it). `onFocusChange(tile)`: after the
  // user enlarged the tile or put it back. `onRemoved(tile, event)`: a
  // reload ended the channel on screen (stream.removed); the tile waits to
  // be subscribed again or taken away. `headers()`: the headers of REST
  // requests (the token), for the snapshot. `canClip()`: may this dashboard
  // ask for clips (its role)?
  constructor(streamId, { subs, onFocusChange = () => {}, onRemoved = () => {}, headers = () => ({}), canClip = () => false } = {}) {
    this.stream = streamId;
    this.subs = subs;
    this.onFocusChange = onFocusChange;
    this.onRemoved = onRemoved;
    // Without WebCodecs and MSE nothing can be shown: the app does not
    // subscribe such a tile, which says why it stays dark.
    this.playable = canPlayLive();
    this.state = 'starting';
    this.reason = '';
    this.offline = new OfflineClock();
    this.connected = true;
    this.watching = true; // false when the server refused our subscription
    this.refusal = ''; // what the tile says about that refusal, when plain words fit it
    this.frames = 0;
    this.skips = 0; // "first frame after a skip" flags seen
    this.serverSkipped = 0;
    this.soundOn = false; // the user turned the sound on
    this.streamCodecs = null; // the codecs (video and audio) of the picture on screen, whatever the mode
    this.fps = new RateMeter();
    this.bytes = new RateMeter();
    this.latency = new Smoothed(0.1);
    this.channel = null; // the channel of the picture on screen
    this.variant = null; // and its variant ("main" when the server names none)
    this.picker = new VariantPicker();
    this.switching = null; // a VariantSwitch under way
    this.switches = 0;
    this.accept = null; // the codec families this browser decodes in this mode

    this.el = build(streamId);
    this.video = this.el.querySelector('video');
    this.canvas = this.el.querySelector('canvas');
    this.modeButton = this.el.querySelector('.mode-toggle');
    this.modeButton.addEventListener('click', () => this.setMode(this.mode === 'webcodecs' ? 'mse' : 'webcodecs', { persist: true }));
    this.speaker = this.el.querySelector('.tile-audio');
    this.speaker.addEventListener('click', () => this.setSound(!this.soundOn));
    this.focusButton = this.el.querySelector('.tile-focus');
    this.focusButton.addEventListener('click', () => this.toggleFocus());
    const media = this.el.querySelector('.tile-media');
    media.addEventListener('dblclick', () => this.toggleFocus());
    this.snapshot = new Snapshot(streamId, this.el.querySelector('.tile-snapshot'), {
      headers,
      width: () => media.clientWidth * (globalThis.devicePixelRatio || 1),
    });
    // Recordings under the picture (timeline.js); playing one covers the
    // live picture, which keeps playing beneath for "Live" to come back to.
    this.timeline = new Timeline(streamId, media, { headers, canClip, onChange: () => this.render() });
    this.el.querySelector('.tile-stats').before(this.timeline.el);
    this.mode = preferredMode(streamId);
    this.fallback = ''; // why WebCodecs is not used although preferred
    this.decoderErrors = [];
    this.lastResubscribe = 0;
    this.feed = null;
    this.startPlayer();
    this.render();
  }

  // The player of the picture on screen.
  get player() {
    return this.feed.player;
  }

  get focused() {
    return this.picker.focused;
  }

  resubscribe() {
    this.cancelSwitch();
    this.subs.resubscribe(this.stream);
  }

  // --- mode ---

  setMode(mode, { persist = false, reason = '' } = {}) {
    if (!MODES.includes(mode)) return;
    if (mode === 'webcodecs' && !hasWebCodecs()) return;
    if (persist) {
      try {
        localStorage.setItem(MODE_KEY + this.stream, mode);
      } catch { /* storage blocked */ }
      this.decoderErrors = [];
    }
    this.fallback = reason;
    if (mode === this.mode) return;
    this.mode = mode;
    this.startPlayer();
    this.resubscribe();
    this.render();
  }

  startPlayer() {
    this.cancelSwitch();
    if (this.feed) this.feed.destroy();
    this.frames = 0;
    this.retired = { decoded: 0, drawn: 0 }; // by the feeds a switch replaced
    this.fps.reset();
    this.bytes.reset();
    this.latency.reset();
    this.accept = null;
    const mode = this.mode;
    acceptedFamilies(mode).then((families) => {
      if (this.mode === mode) this.accept = families;
    });
    this.feed = this.makeFeed(mode === 'webcodecs' ? this.canvas : this.video);
    // A new MsePlayer mutes the element (autoplay); the user's choice wins.
    this.video.muted = !this.soundOn;
    this.video.hidden = mode !== 'mse';
    this.canvas.hidden = mode !== 'webcodecs';
  }

  // A feed of the tile's mode on `element`, reporting to the tile while it
  // is the one on screen (a switch's feed reports to the switch).
  makeFeed(element) {
    const feed = new Feed(this.mode, element, { measure: measuring() });
    feed.addEventListener('error', (ev) => {
      if (feed !== this.feed) return;
      if (feed.webcodecs) {
        this.onDecoderError(ev.detail);
      } else {
        this.reason = ev.detail;
        this.render();
      }
    });
    feed.addEventListener('unsupported', (ev) => {
      if (feed === this.feed && this.mode === 'webcodecs') {
        this.setMode('mse', { reason: `this browser's WebCodecs cannot decode ${ev.detail}` });
      }
    });
    return feed;
  }

  // The decoder failed: subscribe again (a fresh configuration and a
  // keyframe from the server's GOP cache), unless it keeps failing, then
  // fall back to MSE for this page's life.
  onDecoderError(message) {
    const now = performance.now();
    this.decoderErrors = this.decoderErrors.filter((t) => now - t < ERROR_WINDOW_MS);
    this.decoderErrors.push(now);
    if (this.decoderErrors.length >= MAX_DECODER_ERRORS) {
      this.setMode('mse', { reason: `WebCodecs failed: ${message}` });
      return;
    }
    const wait = Math.max(0, this.lastResubscribe + RESUBSCRIBE_MIN_MS - now);
    clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = setTimeout(() => {
      this.lastResubscribe = performance.now();
      if (this.mode === 'webcodecs') this.resubscribe();
    }, wait);
  }

  // --- pictures (variants) ---

  toggleFocus() {
    this.setFocused(!this.focused);
  }

  // Enlarged (true) or back in the grid: the picture to show is chosen again.
  setFocused(focused) {
    if (focused === this.focused) return;
    this.picker.setFocused(focused);
    this.render();
    this.onFocusChange(this);
    this.reconsider();
  }

  // Subscriptions asks which variant to subscribe with.
  variantFor(accept) {
    return this.picker.choose(accept);
  }

  // Starts switching to the picture the tile wants now, when that is not
  // the one on screen (null: the server's pick, whatever is on screen).
  reconsider() {
    if (this.channel === null || !this.accept) return;
    const want = this.picker.choose(this.accept);
    if (this.switching) {
      if (this.switching.variant === want) return;
      this.cancelSwitch();
    }
    if (want === null || want === this.variant) return;
    const element = mediaElement(this.mode, this.stream);
    element.classList.add('tile-standby');
    element.setAttribute('aria-hidden', 'true');
    this.feed.element.after(element);
    // A new MsePlayer starts muted: the picture on screen keeps the sound
    // until the swap.
    const feed = this.makeFeed(element);
    this.switching = new VariantSwitch({
      subs: this.subs,
      stream: this.stream,
      variant: want,
      feed,
      accept: this.accept,
      onReady: (sw) => this.adoptSwitch(sw),
      onGiveUp: (sw, why) => this.switchFailed(sw, why),
    });
    this.switching.start();
    this.render();
  }

  // The new picture has shown a frame: it takes the old one's place.
  adoptSwitch(sw) {
    this.switching = null;
    if (!this.subs.adopt(this.stream, sw.channel)) {
      // Its channel went with the connection meanwhile.
      sw.feed.destroy();
      sw.feed.element.remove();
      this.render();
      return;
    }
    const old = this.feed;
    this.retired.decoded += old.player.decodedFrames;
    this.retired.drawn += old.webcodecs ? old.player.stats.drawn : 0;
    old.destroy();
    // The new element sits right after the old one: it takes its place
    // without being moved (moving a playing <video> may pause it).
    const element = sw.feed.element;
    element.classList.remove('tile-standby');
    element.removeAttribute('aria-hidden');
    old.element.remove();
    if (old.webcodecs) this.canvas = element;
    else this.video = element;
    this.feed = sw.feed;
    this.channel = sw.channel;
    this.variant = sw.reply.variant || 'main';
    this.picker.learn(this.variant, sw.codecs);
    this.streamCodecs = sw.feed.streamCodecs;
    this.switches++;
    this.serverSkipped = 0;
    this.video.muted = !this.soundOn;
    if (this.soundOn) this.video.play().catch(() => {});
    this.reason = sw.reason;
    this.setState(sw.state, { exact: true });
  }

  // The new picture will not play: the old one stays, without a word on
  // screen (the console says why).
  switchFailed(sw, why) {
    if (this.switching === sw) this.switching = null;
    sw.feed.element.remove();
    console.info(`vigil: ${this.stream}: staying on ${this.variant}, ${sw.variant} did not play: ${why}`);
    if (sw.undecodable) this.picker.learn(sw.variant, sw.codecs);
    this.picker.avoid(sw.variant);
    this.render();
  }

  cancelSwitch() {
    const sw = this.switching;
    if (!sw) return;
    this.switching = null;
    sw.cancel();
    sw.feed.element.remove();
  }

  // --- Subscriptions handler ---

  onSubscribed(reply) {
    this.cancelSwitch();
    this.connected = true;
    this.watching = true;
    this.refusal = '';
    this.channel = reply.channel;
    this.variant = typeof reply.variant === 'string' ? reply.variant : 'main';
    if (typeof reply.reason === 'string') this.reason = reply.reason;
    if (reply.codecs) this.streamCodecs = reply.codecs;
    this.setState(reply.state);
    this.feed.onReply(reply);
  }

  onStreamState(event) {
    if (event.channel !== undefined && event.channel !== this.channel) {
      if (this.switching && event.channel === this.switching.channel) this.switching.onState(event);
      return;
    }
    this.reason = event.reason || '';
    if (event.state === 'live' && event.codecs) this.streamCodecs = event.codecs;
    this.setState(event.state, { exact: true });
    if (event.state === 'live' && event.codecs && this.accept && this.accept.length
      && cannotDecode(event.codecs, this.accept)) {
      // A picture of a codec not known when it was chosen (a substream not
      // watched before) that this browser cannot decode: ask again, and the
      // server, which knows the codec now, picks another.
      this.picker.learn(this.variant, event.codecs);
      this.resubscribe();
      return;
    }
    this.feed.onState(event);
  }

  onFrame(h) {
    const arrivalMs = nowMs();
    if (h.channel !== this.channel) {
      if (this.switching && h.channel === this.switching.channel) this.switching.onFrame(h, arrivalMs);
      return;
    }
    const what = this.feed.push(h, arrivalMs);
    if (what === null) return;
    this.bytes.add(h.payload.byteLength);
    // Frames and fps count pictures.
    if (what !== 'video') return;
    this.frames++;
    this.fps.add(1);
    if (h.afterSkip) this.skips++;
    this.latency.add(arrivalMs - h.timeUs / 1000);
  }

  // The channel on screen ended (Subscriptions forgot it): nothing more
  // comes on it. One being switched to just ends the switch.
  onStreamRemoved(event) {
    if (event.channel !== this.channel) {
      if (this.switching && event.channel === this.switching.channel) this.switching.onRemoved(event);
      return;
    }
    this.cancelSwitch();
    clearTimeout(this.resubscribeTimer);
    this.channel = null;
    this.feed.discontinuity();
    this.reason = typeof event.reason === 'string' ? event.reason : '';
    if (typeof event.variant === 'string') {
      // Perhaps only this picture went: whatever comes next is not it.
      this.picker.avoid(event.variant);
      this.setState('starting', { exact: true });
    } else {
      this.setState('removed', { exact: true });
    }
    this.onRemoved(this, event);
  }

  onLost() {
    this.cancelSwitch();
    this.channel = null;
    this.feed.discontinuity();
  }

  onFailed(err, request) {
    if (request && request.variant && ['unknown_variant', 'unsupported_codec'].includes(err.code)) {
      // The list we chose from was behind the server: ask without it.
      this.picker.avoid(request.variant);
      this.resubscribe();
      return;
    }
    this.watching = false;
    const refusal = REFUSALS[err.code];
    this.refusal = refusal ? refusal(err) : '';
    this.reason = this.refusal || err.message;
    this.render();
  }

  // --- from the app ---

  // `info` is this stream's entry of a list reply.
  listed(info) {
    this.picker.listed(info);
    this.reconsider();
    // A substream or transcode on screen has a state of its own.
    const shown = (this.variant && this.variant !== 'main' && Array.isArray(info.variants)
      && info.variants.find((v) => v && v.name === this.variant)) || info;
    if (typeof shown.state !== 'string') return;
    // A page opened while the source was already down learns why from here.
    if (OFFLINE_STATES.has(shown.state) && !this.reason && typeof shown.last_error === 'string') this.reason = shown.last_error;
    this.setState(shown.state);
  }

  // `restarting`: the server said it is restarting (server.shutdown): the
  // tile says so rather than "unreachable" while the connection waits.
  setConnected(connected, restarting = false) {
    this.connected = connected;
    this.restarting = !connected && restarting;
    if (!connected) {
      this.fps.reset();
      this.bytes.reset();
      this.latency.reset();
    }
    this.render();
  }

  // `channel` is this stream's entry of a stats reply.
  serverStats(channel) {
    if (channel.channel !== this.channel) return; // a picture being switched to
    if (Number.isFinite(channel.frames_skipped)) this.serverSkipped = channel.frames_skipped;
  }

  // Sound on or off; only ever called from the speaker button's click, a
  // user gesture, so the browser lets an unmuted video play.
  setSound(on) {
    this.soundOn = on && hasAudio(this.streamCodecs);
    if (this.soundOn && this.mode === 'webcodecs') {
      this.setMode('mse', { reason: 'sound plays with Media Source Extensions' });
    }
    this.video.muted = !this.soundOn;
    if (this.soundOn) this.video.play().catch(() => {});
    this.render();
  }

  // `exact`: the change happens now (a stream.state event), so it dates the
  // offline label; a state from a reply dates it only after a live one.
  setState(state, { exact = false } = {}) {
    if (typeof state === 'string') {
      this.offline.update(state, { exact: exact || this.state === 'live' });
      this.state = state;
    }
    if (state === 'live') this.reason = '';
    this.render();
  }

  destroy() {
    clearTimeout(this.resubscribeTimer);
    this.cancelSwitch();
    this.snapshot.destroy();
    this.timeline.destroy();
    this.feed.destroy();
    this.el.remove();
  }

  // Writes the numbers into the DOM; called on a timer, not per frame.
  render() {
    const shown = !this.connected ? (this.restarting ? 'restarting' : 'disconnected')
      : !this.watching ? 'unsubscribed' : this.state;
    const fps = this.fps.perSecond();
    const bps = this.bytes.perSecond() * 8;
    const lat = this.latency.value;
    const d = this.el.dataset;
    d.state = shown;
    d.reason = this.reason;
    d.offline = String(this.offline.offline);
    d.offlineSince = this.offline.offline ? String(this.offline.since) : '';
    d.playable = String(this.playable);
    if (this.mode === 'mse' && this.player.sourceName) d.mediaSource = this.player.sourceName;
    else delete d.mediaSource;
    d.fps = fps.toFixed(1);
    d.bitrateBps = String(Math.round(bps));
    d.latencyMs = lat === null ? '' : String(Math.round(lat));
    d.frames = String(this.frames);
    d.mode = this.mode;
    d.decoded = String(this.retired.decoded + this.player.decodedFrames);
    if (this.mode === 'webcodecs') d.drawn = String(this.retired.drawn + this.player.stats.drawn);
    else delete d.drawn;
    d.skipped = String(this.serverSkipped);
    d.skips = String(this.skips);
    d.lagMs = String(Math.round(this.player.lagSeconds * 1000));
    d.resets = String(this.mode === 'webcodecs' ? this.player.stats.errors : this.player.stats.resets);
    d.fallback = this.fallback;
    d.variant = this.variant || '';
    d.focused = String(this.focused);
    d.switching = this.switching ? this.switching.variant : '';
    d.switches = String(this.switches);
    // No picture of its own on screen: the snapshot stands in for it.
    this.snapshot.setWanted(this.connected && !this.feed.shown);
    d.snapshot = String(!this.snapshot.img.hidden);

    const wc = this.mode === 'webcodecs';
    this.modeButton.dataset.mode = this.mode;
    setIcon(this.modeButton, this.mode, wc ? 'WebCodecs' : 'MSE');
    this.modeButton.title = (wc
      ? 'Decoded with WebCodecs and drawn at once (lowest latency). Click to play with Media Source Extensions.'
      : 'Played with Media Source Extensions. Click to decode with WebCodecs.')
      + (this.fallback ? `\n(${this.fallback})` : '');
    this.modeButton.disabled = !hasWebCodecs();

    const f = this.focused;
    this.focusButton.setAttribute('aria-pressed', String(f));
    setIcon(this.focusButton, f ? 'shrink' : 'enlarge');
    this.focusButton.title = f ? 'Back to the grid (Esc)' : 'Enlarge (double-click the picture)';
    this.focusButton.setAttribute('aria-label', `${f ? 'Shrink' : 'Enlarge'} ${this.stream}`);

    const audio = !hasAudio(this.streamCodecs) ? 'none' : this.soundOn && !wc && !this.video.muted ? 'on' : 'muted';
    d.audio = audio;
    this.speaker.hidden = audio === 'none';
    this.speaker.setAttribute('aria-pressed', String(audio === 'on'));
    setIcon(this.speaker, audio === 'on' ? 'sound-on' : 'sound-off');
    this.speaker.title = audio === 'on' ? 'Sound on: click to mute'
      : wc ? 'Muted: click for sound (plays with Media Source Extensions)' : 'Muted: click for sound';

    const badge = this.el.querySelector('.badge');
    // A recording playing is never shown as live.
    d.playback = String(this.timeline.playing);
    badge.dataset.state = this.timeline.playing ? 'playback' : shown;
    badge.textContent = this.timeline.playing ? 'playback' : STATE_TEXT[shown] || shown;

    const set = (key, text) => { this.el.querySelector(`[data-stat="${key}"]`).textContent = text; };
    set('fps', fps.toFixed(1));
    set('bitrate', formatBitrate(bps));
    set('latency', lat === null ? '–' : `${Math.round(lat)} ms`);
    set('buffer', `${(this.player.lagSeconds * 1000).toFixed(0)} ms`);
    set('frames', String(this.frames));
    set('skipped', String(this.serverSkipped));

    const overlay = this.el.querySelector('.tile-overlay');
    const [title, detail] = this.overlayText(shown);
    overlay.querySelector('.overlay-title').textContent = title;
    overlay.querySelector('.overlay-detail').textContent = detail;
    overlay.dataset.kind = this.offline.offline && shown !== 'disconnected' ? 'offline' : '';
    overlay.hidden = title === '';
  }

  // What the picture says: [title, detail], both '' over a playing picture.
  overlayText(shown) {
    if (!this.playable) return [NO_PLAYBACK, ''];
    const why = this.reason ? `: ${this.reason}` : '';
    if (this.offline.offline && ['retrying', 'failed', 'starting'].includes(shown)) {
      const what = shown === 'failed' ? 'The source failed' : 'The source is unavailable, retrying';
      return [this.offline.label(), `${what}${why}`];
    }
    return [this.overlayMessage(shown), ''];
  }

  overlayMessage(shown) {
    const why = this.reason ? `: ${this.reason}` : '';
    switch (shown) {
      case 'disconnected': return 'Server unreachable, reconnecting…';
      case 'restarting': return 'Server restarting, reconnecting when it is back…';
      case 'starting': return 'Starting…';
      case 'stopped': return `Stopped${why}`;
      case 'unsubscribed': return this.refusal || `Not watched${why}`;
      case 'removed': return this.reason ? this.reason[0].toUpperCase() + this.reason.slice(1) : 'Removed';
      case 'live':
        if (this.mode === 'webcodecs') {
          if (this.player.stats.drawn > 0) return '';
          return this.player.lastError || 'Waiting for video…';
        }
        if (this.player.lastError && this.player.stats.appended === 0) return this.player.lastError;
        // A seek to the live edge keeps the last frame on screen meanwhile.
        return this.video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA && !this.video.seeking ? 'Waiting for video…' : '';
      default: return shown;
    }
  }
}

function build(streamId) {
  const el = document.createElement('article');
  el.className = 'tile';
  el.dataset.stream = streamId;

  const head = document.createElement('header');
  head.className = 'tile-head';
  const name = document.createElement('span');
  name.className = 'tile-name';
  name.textContent = streamId;
  name.title = streamId;
  const badge = document.createElement('span');
  badge.className = 'badge';
  const toggle = document.createElement('button');
  toggle.type = 'button';
  toggle.className = 'mode-toggle';
  toggle.setAttribute('aria-label', 'playback mode');
  // Shown for streams with sound (render()); a toggle button, so screen
  // readers announce its state.
  const speaker = document.createElement('button');
  speaker.type = 'button';
  speaker.className = 'tile-audio';
  speaker.setAttribute('aria-label', `Sound of ${streamId}`);
  speaker.setAttribute('aria-pressed', 'false');
  speaker.hidden = true;
  // Enlarges the tile (its main picture) and puts it back; a toggle button.
  const focus = iconButton('enlarge', `Enlarge ${streamId}`, 'tile-focus');
  focus.setAttribute('aria-pressed', 'false');
  const right = document.createElement('span');
  right.className = 'tile-head-right';
  right.append(speaker, toggle, focus, badge);
  head.append(name, right);

  const media = document.createElement('div');
  media.className = 'tile-media';
  const video = mediaElement('mse', streamId);
  const canvas = mediaElement('webcodecs', streamId);
  canvas.hidden = true;
  // The snapshot (snapshot.js), over the dark video while it has no picture.
  const still = document.createElement('img');
  still.className = 'tile-snapshot';
  still.alt = `Snapshot of ${streamId}`;
  still.hidden = true;
  const overlay = document.createElement('div');
  overlay.className = 'tile-overlay';
  const title = document.createElement('p');
  title.className = 'overlay-title';
  const detail = document.createElement('p');
  detail.className = 'overlay-detail';
  overlay.append(title, detail);
  media.append(video, canvas, still, overlay);

  const stats = document.createElement('footer');
  stats.className = 'tile-stats';
  // [key, text before the value, text after it]
  const items = [['fps', '', ' fps'], ['bitrate', '', ''], ['latency', 'latency ', ''],
    ['buffer', 'buffer ', ''], ['frames', 'frames ', ''], ['skipped', 'skipped ', '']];
  for (const [key, before, after] of items) {
    const item = document.createElement('span');
    item.className = 'stat';
    const value = document.createElement('b');
    value.dataset.stat = key;
    item.append(before, value, after);
    stats.append(item);
  }

  el.append(head, media, stats);
  return el;
}

// True when a codecs string (e.g. "avc1.64001f,opus") names an audio codec.
function hasAudio(codecs) {
  return typeof codecs === 'string' &&
    codecs.split(',').some((c) => /^(opus|mp4a|ac-3|ec-3|flac|alac)\b/i.test(c.trim()));
}


function formatBitrate(bps) {
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mb/s`;
  if (bps >= 1e3) return `${Math.round(bps / 1e3)} kb/s`;
  return `${Math.round(bps)} b/s`;
}

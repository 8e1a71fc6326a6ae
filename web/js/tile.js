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
//   Safari on iPhone) and data-playable ("false": this browser has neither
//   WebCodecs nor Media Source Extensions, and the tile says so).
//
// An offline stream's tile says so over its last picture, dimmed: "offline"
// in the badge, and "Offline since 14:02:31" with the reason on the picture,
// never a frozen picture marked live.
//
// The mode is WebCodecs where the browser has VideoDecoder and it supports
// the stream's codec (VideoDecoder.isConfigSupported), MSE otherwise
// (media_support.js: MediaSource, or ManagedMediaSource where that is all
// there is). The switch in the header changes it for this stream and
// remembers the choice (localStorage "vigil.mode.<stream>"); changing it
// resubscribes.
//
// A stream with sound starts muted (browsers only autoplay muted media);
// the speaker button in the header turns it on and off. Its click is the
// user gesture that lets the browser play sound. Sound comes only in the
// MSE mode's fMP4 (WebCodecs mode carries video alone), so turning it on in
// WebCodecs mode switches the tile to MSE, for this page's life.

import { KIND_ACCESS_UNIT, KIND_DECODER_CONFIG, KIND_FRAGMENT, KIND_INIT, parseDecoderConfig } from './frame_header.js';
import { MsePlayer } from './mse_player.js';
import { WebCodecsPlayer, nowMs } from './webcodecs_player.js';
import { RateMeter, Smoothed } from './meters.js';
import { setIcon } from './icons.js';
import { OfflineClock, OFFLINE_STATES } from './offline.js';
import { NO_PLAYBACK, canPlayLive, hasWebCodecs } from './media_support.js';

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
  unsubscribed: 'not watched',
};

export class Tile {
  // `resubscribe()`: asks for this stream again (in the tile's new mode).
  constructor(streamId, { resubscribe = () => {} } = {}) {
    this.stream = streamId;
    this.resubscribe = resubscribe;
    // Without WebCodecs and MSE nothing can be shown: the app does not
    // subscribe such a tile, which says why it stays dark.
    this.playable = canPlayLive();
    this.state = 'starting';
    this.reason = '';
    this.offline = new OfflineClock();
    this.connected = true;
    this.watching = true; // false when the server refused our subscription
    this.frames = 0;
    this.skips = 0; // "first frame after a skip" flags seen
    this.serverSkipped = 0;
    this.codecs = null; // what the player was set up for
    this.soundOn = false; // the user turned the sound on
    this.streamCodecs = null; // the stream's codecs (video and audio), whatever the mode
    this.fps = new RateMeter();
    this.bytes = new RateMeter();
    this.latency = new Smoothed(0.1);

    this.el = build(streamId);
    this.video = this.el.querySelector('video');
    this.canvas = this.el.querySelector('canvas');
    this.modeButton = this.el.querySelector('.mode-toggle');
    this.modeButton.addEventListener('click', () => this.setMode(this.mode === 'webcodecs' ? 'mse' : 'webcodecs', { persist: true }));
    this.speaker = this.el.querySelector('.tile-audio');
    this.speaker.addEventListener('click', () => this.setSound(!this.soundOn));
    this.mode = preferredMode(streamId);
    this.fallback = ''; // why WebCodecs is not used although preferred
    this.checkedConfig = null; // the codec string isConfigSupported said yes to
    this.decoderErrors = [];
    this.lastResubscribe = 0;
    this.player = null;
    this.startPlayer();
    this.render();
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
    if (this.player) this.player.destroy();
    this.frames = 0;
    this.fps.reset();
    this.bytes.reset();
    this.latency.reset();
    this.checkedConfig = null;
    const opts = { measure: measuring() };
    if (this.mode === 'webcodecs') {
      this.player = new WebCodecsPlayer(this.canvas, opts);
      this.player.addEventListener('error', (ev) => this.onDecoderError(ev.detail));
    } else {
      this.player = new MsePlayer(this.video, opts);
      this.player.addEventListener('error', (ev) => {
        this.reason = ev.detail;
        this.render();
      });
      // The subscribe reply (after the resubscription) brings the MIME type.
      this.codecs = null;
    }
    // A new MsePlayer mutes the element (autoplay); the user's choice wins.
    this.video.muted = !this.soundOn;
    this.video.hidden = this.mode !== 'mse';
    this.canvas.hidden = this.mode !== 'webcodecs';
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

  onDecoderConfig(h) {
    const cfg = parseDecoderConfig(h.payload);
    if (!cfg) return;
    this.codecs = cfg.codec;
    this.player.configure(cfg);
    if (this.checkedConfig === cfg.codec) return;
    this.checkedConfig = cfg.codec;
    const player = this.player;
    WebCodecsPlayer.supports(cfg).then((ok) => {
      if (!ok && this.player === player && this.mode === 'webcodecs') {
        this.setMode('mse', { reason: `this browser's WebCodecs cannot decode ${cfg.codec}` });
      }
    });
  }

  // --- Subscriptions handler ---

  onSubscribed(reply) {
    this.connected = true;
    this.watching = true;
    if (typeof reply.reason === 'string') this.reason = reply.reason;
    this.setState(reply.state);
    if (reply.codecs) this.streamCodecs = reply.codecs;
    if (this.mode === 'mse' && reply.mime) {
      this.codecs = reply.codecs;
      this.player.setMime(reply.mime);
    }
  }

  onStreamState(event) {
    this.reason = event.reason || '';
    if (event.state === 'live' && event.codecs) this.streamCodecs = event.codecs;
    this.setState(event.state, { exact: true });
    if (this.mode === 'mse' && event.state === 'live' && event.codecs && !sameCodecs(event.codecs, this.codecs)) {
      // New codecs: a new init segment follows (PROTOCOL.md). Only codecs
      // travel in the event, so the MIME is built here; comparing codecs,
      // not MIME strings, keeps a same-codec event from rebuilding the player.
      this.codecs = event.codecs;
      this.player.setMime(`video/mp4; codecs="${event.codecs}"`);
    }
  }

  onFrame(h) {
    const arrivalMs = nowMs();
    const wc = this.mode === 'webcodecs';
    if (h.kind === KIND_INIT) {
      if (!wc) this.player.pushInit(h.payload);
      return;
    }
    if (h.kind === KIND_DECODER_CONFIG) {
      if (wc) this.onDecoderConfig(h);
      return;
    }
    // Reserved kinds, or a frame of the other mode: skip.
    if (h.kind !== (wc ? KIND_ACCESS_UNIT : KIND_FRAGMENT)) return;
    this.bytes.add(h.payload.byteLength);
    if (!wc && h.audio) {
      // Sound travels in the same fMP4: the player takes both, but frames
      // and fps count pictures.
      this.player.pushFragment(h.payload, false, { arrivalMs, headerMs: h.timeUs / 1000 });
      return;
    }
    this.frames++;
    this.fps.add(1);
    if (h.afterSkip) this.skips++;
    this.latency.add(arrivalMs - h.timeUs / 1000);
    if (wc) this.player.pushChunk(h, arrivalMs);
    else this.player.pushFragment(h.payload, h.keyframe, { arrivalMs, headerMs: h.timeUs / 1000 });
  }

  onLost() {
    this.player.discontinuity();
  }

  onFailed(err) {
    this.watching = false;
    this.reason = err.code === 'unsupported_codec'
      ? `This browser cannot decode this camera's video (${err.message})`
      : err.message;
    this.render();
  }

  // --- from the app ---

  // `info` is this stream's entry of a list reply.
  listed(info) {
    if (typeof info.state !== 'string') return;
    // A page opened while the source was already down learns why from here.
    if (OFFLINE_STATES.has(info.state) && !this.reason && typeof info.last_error === 'string') this.reason = info.last_error;
    this.setState(info.state);
  }

  setConnected(connected) {
    this.connected = connected;
    if (!connected) {
      this.fps.reset();
      this.bytes.reset();
      this.latency.reset();
    }
    this.render();
  }

  // `channel` is this stream's entry of a stats reply.
  serverStats(channel) {
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
    this.player.destroy();
    this.el.remove();
  }

  // Writes the numbers into the DOM; called on a timer, not per frame.
  render() {
    const shown = !this.connected ? 'disconnected' : !this.watching ? 'unsubscribed' : this.state;
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
    d.decoded = String(this.player.decodedFrames);
    if (this.mode === 'webcodecs') d.drawn = String(this.player.stats.drawn);
    else delete d.drawn;
    d.skipped = String(this.serverSkipped);
    d.skips = String(this.skips);
    d.lagMs = String(Math.round(this.player.lagSeconds * 1000));
    d.resets = String(this.mode === 'webcodecs' ? this.player.stats.errors : this.player.stats.resets);
    d.fallback = this.fallback;

    const wc = this.mode === 'webcodecs';
    this.modeButton.dataset.mode = this.mode;
    setIcon(this.modeButton, this.mode, wc ? 'WebCodecs' : 'MSE');
    this.modeButton.title = (wc
      ? 'Decoded with WebCodecs and drawn at once (lowest latency). Click to play with Media Source Extensions.'
      : 'Played with Media Source Extensions. Click to decode with WebCodecs.')
      + (this.fallback ? `\n(${this.fallback})` : '');
    this.modeButton.disabled = !hasWebCodecs();

    const audio = !hasAudio(this.streamCodecs) ? 'none' : this.soundOn && !wc && !this.video.muted ? 'on' : 'muted';
    d.audio = audio;
    this.speaker.hidden = audio === 'none';
    this.speaker.setAttribute('aria-pressed', String(audio === 'on'));
    setIcon(this.speaker, audio === 'on' ? 'sound-on' : 'sound-off');
    this.speaker.title = audio === 'on' ? 'Sound on: click to mute'
      : wc ? 'Muted: click for sound (plays with Media Source Extensions)' : 'Muted: click for sound';

    const badge = this.el.querySelector('.badge');
    badge.dataset.state = shown;
    badge.textContent = STATE_TEXT[shown] || shown;

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
      case 'starting': return 'Starting…';
      case 'stopped': return `Stopped${why}`;
      case 'unsubscribed': return `Not watched${why}`;
      case 'live':
        if (this.mode === 'webcodecs') {
          if (this.player.stats.drawn > 0) return '';
          return this.player.lastError || 'Waiting for video…';
        }
        if (this.player.lastError && this.player.stats.appended === 0) return this.player.lastError;
        return this.video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA ? 'Waiting for video…' : '';
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
  const right = document.createElement('span');
  right.className = 'tile-head-right';
  right.append(speaker, toggle, badge);
  head.append(name, right);

  const media = document.createElement('div');
  media.className = 'tile-media';
  const video = document.createElement('video');
  video.className = 'tile-video';
  video.dataset.stream = streamId;
  // The attributes as well as the properties, for the first autoplay check.
  video.setAttribute('muted', '');
  video.setAttribute('playsinline', '');
  video.setAttribute('autoplay', '');
  const canvas = document.createElement('canvas');
  canvas.className = 'tile-video tile-canvas';
  canvas.dataset.stream = streamId;
  canvas.hidden = true;
  const overlay = document.createElement('div');
  overlay.className = 'tile-overlay';
  const title = document.createElement('p');
  title.className = 'overlay-title';
  const detail = document.createElement('p');
  detail.className = 'overlay-detail';
  overlay.append(title, detail);
  media.append(video, canvas, overlay);

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

// RFC 6381 codec strings compare case-insensitively (avc1.42C01F = avc1.42c01f).
function sameCodecs(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

function formatBitrate(bps) {
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mb/s`;
  if (bps >= 1e3) return `${Math.round(bps / 1e3)} kb/s`;
  return `${Math.round(bps)} b/s`;
}

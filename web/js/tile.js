// One camera tile: a header bar (stream id, state badge), the video, and a
// stats line. It is the Subscriptions handler for its stream, feeds the
// MsePlayer, and mirrors its numbers into data-* attributes so tests and
// scripts can read them without parsing text:
//   data-stream, data-state, data-fps, data-bitrate-bps, data-latency-ms,
//   data-frames (fragments received), data-decoded (frames the video decoded),
//   data-skipped (frames the server skipped for us), data-skips (skips to a
//   keyframe seen in the frame flags), data-lag-ms (buffered
//   media ahead of the playhead), data-resets (player rebuilds), data-reason
//   (why the stream is not live, from the last stream.state event),
//   data-audio ("none": the stream has no sound, "muted", "on").
//
// A stream with sound starts muted (browsers only autoplay muted media);
// the speaker button in the header turns it on and off. Its click is the
// user gesture that lets the browser play sound.

import { KIND_FRAGMENT, KIND_INIT } from './frame_header.js';
import { MsePlayer } from './mse_player.js';
import { RateMeter, Smoothed } from './meters.js';

const STATE_TEXT = {
  starting: 'starting',
  live: 'live',
  retrying: 'retrying',
  failed: 'failed',
  stopped: 'stopped',
  disconnected: 'offline',
  unsubscribed: 'not watched',
};

export class Tile {
  constructor(streamId) {
    this.stream = streamId;
    this.state = 'starting';
    this.reason = '';
    this.connected = true;
    this.watching = true; // false when the server refused our subscription
    this.frames = 0;
    this.skips = 0; // "first frame after a skip" flags seen
    this.serverSkipped = 0;
    this.codecs = null; // what the player was set up for
    this.soundOn = false; // the user turned the sound on
    this.fps = new RateMeter();
    this.bytes = new RateMeter();
    this.latency = new Smoothed(0.1);

    this.el = build(streamId);
    this.video = this.el.querySelector('video');
    this.player = new MsePlayer(this.video);
    this.speaker = this.el.querySelector('.tile-audio');
    this.speaker.addEventListener('click', () => this.setSound(!this.soundOn));
    this.player.addEventListener('error', (ev) => {
      this.reason = ev.detail;
      this.render();
    });
    this.render();
  }

  // --- Subscriptions handler ---

  onSubscribed(reply) {
    this.connected = true;
    this.watching = true;
    this.setState(reply.state);
    if (reply.mime) {
      this.codecs = reply.codecs;
      this.player.setMime(reply.mime);
    }
  }

  onStreamState(event) {
    this.reason = event.reason || '';
    this.setState(event.state);
    if (event.state === 'live' && event.codecs && !sameCodecs(event.codecs, this.codecs)) {
      // New codecs: a new init segment follows (PROTOCOL.md). Only codecs
      // travel in the event, so the MIME is built here; comparing codecs,
      // not MIME strings, keeps a same-codec event from rebuilding the player.
      this.codecs = event.codecs;
      this.player.setMime(`video/mp4; codecs="${event.codecs}"`);
    }
  }

  onFrame(h) {
    if (h.kind === KIND_INIT) {
      this.player.pushInit(h.payload);
      return;
    }
    if (h.kind !== KIND_FRAGMENT) return; // reserved kinds: skip
    this.bytes.add(h.payload.byteLength);
    this.latency.add(Date.now() - h.timeUs / 1000);
    if (h.audio) {
      // Sound travels in the same fMP4: the player takes both, but frames
      // and fps count pictures.
      this.player.pushFragment(h.payload, false);
      return;
    }
    this.frames++;
    this.fps.add(1);
    if (h.afterSkip) this.skips++;
    this.player.pushFragment(h.payload, h.keyframe);
  }

  onLost() {
    this.player.discontinuity();
  }

  onFailed(err) {
    this.watching = false;
    this.reason = err.message;
    this.render();
  }

  // --- from the app ---

  // `info` is this stream's entry of a list reply.
  listed(info) {
    if (typeof info.state === 'string') this.setState(info.state);
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
    this.soundOn = on && hasAudio(this.codecs);
    this.video.muted = !this.soundOn;
    if (this.soundOn) this.video.play().catch(() => {});
    this.render();
  }

  setState(state) {
    if (typeof state === 'string') this.state = state;
    if (state === 'live') this.reason = '';
    this.render();
  }

  destroy() {
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
    d.fps = fps.toFixed(1);
    d.bitrateBps = String(Math.round(bps));
    d.latencyMs = lat === null ? '' : String(Math.round(lat));
    d.frames = String(this.frames);
    d.decoded = String(this.player.decodedFrames);
    d.skipped = String(this.serverSkipped);
    d.skips = String(this.skips);
    d.lagMs = String(Math.round(this.player.lagSeconds * 1000));
    d.resets = String(this.player.stats.resets);
    const audio = !hasAudio(this.codecs) ? 'none' : this.soundOn && !this.video.muted ? 'on' : 'muted';
    d.audio = audio;
    this.speaker.hidden = audio === 'none';
    this.speaker.setAttribute('aria-pressed', String(audio === 'on'));
    this.speaker.textContent = audio === 'on' ? '🔊' : '🔇';
    this.speaker.title = audio === 'on' ? 'Sound on: click to mute' : 'Muted: click for sound';

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
    const message = this.overlayText(shown);
    overlay.textContent = message;
    overlay.hidden = message === '';
  }

  overlayText(shown) {
    const why = this.reason ? `: ${this.reason}` : '';
    switch (shown) {
      case 'disconnected': return 'Server unreachable, reconnecting…';
      case 'starting': return 'Starting…';
      case 'retrying': return `Source unavailable, retrying${why}`;
      case 'failed': return `Source failed${why}`;
      case 'stopped': return `Stopped${why}`;
      case 'unsubscribed': return `Not watched${why}`;
      case 'live':
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
  right.append(speaker, badge);
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
  const overlay = document.createElement('div');
  overlay.className = 'tile-overlay';
  media.append(video, overlay);

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

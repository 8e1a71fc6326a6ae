// Plays one channel's fragmented MP4 (an init segment, then one moof+mdat per
// frame) in a <video> through Media Source Extensions, kept near the live edge.
// A stream with sound has its audio track in the same fMP4 (fragments of
// either track, the audio ones never keyframes): one SourceBuffer takes both.
//
// The server may restart a source, skip frames for a slow viewer, or be
// reconnected to; the player copes by keeping the last init segment, dropping
// fragments until the next keyframe after any discontinuity, and rebuilding
// the MediaSource from scratch when the browser reports an error.
//
// Where the browser has no MediaSource but a ManagedMediaSource (Safari on
// iPhone, iOS 17.1+), that is used instead: the video element must then have
// remote playback (AirPlay) disabled, and media is appended only while the
// browser asks for it (between its startstreaming and endstreaming events);
// meanwhile only fragments from the newest keyframe on are kept.

import { decodeMark, markStrip } from './latency_mark.js';
import { TARGET_LAG_S, liveEdgeStep } from './live_edge.js';
import { mediaSourceType } from './media_support.js';

const KEEP_BEHIND_S = 10; // buffered media kept behind the playhead
const EVICT_SLACK_S = 2; // let this much extra pile up before removing
const MAX_QUEUED = 90; // ~3 s of frames waiting for the SourceBuffer
const MAX_QUEUED_WITH_AUDIO = 240; // the same with ~50 audio fragments a second
const STALL_MS = 3000; // no progress with data ahead for this long: nudge/reset
const TICK_MS = 250;
const MAX_SAMPLES = 4000;

export class MsePlayer extends EventTarget {
  // `measure`: collect per-frame latency samples: for each presented frame
  // (requestVideoFrameCallback), the capture time read from its latency mark,
  // and the server time and arrival of the fragment that carried it.
  constructor(video, { measure = false } = {}) {
    super();
    this.video = video;
    this.measure = measure;
    this.samples = [];
    this.appended = []; // measuring: {end, arrivalMs, headerMs} per appended fragment
    this.appending = null;
    this.mime = null;
    this.maxQueued = MAX_QUEUED;
    this.init = null; // last init segment (Uint8Array)
    this.ms = null;
    this.url = null; // object URL of this.ms until its sourceopen
    this.sb = null;
    this.queue = [];
    this.needKeyframe = true;
    this.resetTimer = null;
    this.recentResets = 0;
    this.lastProgress = { time: 0, at: performance.now() };
    // jumps: seeks to the live edge; catchUps: times it played faster to catch up.
    this.stats = { appended: 0, dropped: 0, resets: 0, jumps: 0, catchUps: 0, evictions: 0 };
    this.decodedBefore = 0; // frames decoded by MediaSources torn down since
    this.source = mediaSourceType(); // {type, managed}, or null: no MSE here
    this.streaming = true; // a ManagedMediaSource wants data (a MediaSource always does)
    this.streamingEvents = null; // AbortController of the listeners of a ManagedMediaSource

    // Autoplay is only allowed muted; playsinline keeps iOS from going full screen.
    video.muted = true;
    video.defaultMuted = true;
    video.playsInline = true;
    video.autoplay = true;
    // A ManagedMediaSource opens only without AirPlay (or with an AirPlay
    // alternative source, which a live stream does not have).
    if (this.source && this.source.managed) video.disableRemotePlayback = true;

    this.onVideoError = () => this.scheduleReset(`video error ${video.error && video.error.code}`);
    video.addEventListener('error', this.onVideoError);
    this.tick = setInterval(() => this.keepLive(), TICK_MS);
    if (measure && typeof video.requestVideoFrameCallback === 'function') {
      const onFrame = (now, meta) => {
        if (this.destroyed) return;
        this.onPresented(meta);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  // Sets the MIME type ('video/mp4; codecs="..."') of what will follow. A
  // different codec needs a new SourceBuffer, and its own init segment.
  setMime(mime) {
    if (!mime || mime === this.mime) return;
    const hadOne = this.mime !== null;
    this.mime = mime;
    this.maxQueued = /opus|mp4a/i.test(mime) ? MAX_QUEUED_WITH_AUDIO : MAX_QUEUED;
    if (!this.supports(mime)) {
      this.emitError(this.source ? `browser cannot play ${mime}` : 'browser has no Media Source Extensions');
      return;
    }
    if (hadOne) this.init = null;
    this.rebuild();
  }

  pushInit(bytes) {
    if (this.init && sameBytes(this.init, bytes)) {
      // A resubscription resends the same init: nothing to change, but the
      // fragments that follow start a new run.
      this.discontinuity();
      return;
    }
    this.init = bytes;
    this.discontinuity();
    if (!this.ms) {
      this.rebuild();
      return;
    }
    // A restarted source: append its init in place; the SourceBuffer takes a
    // new init segment between fragments (errors fall back to a rebuild).
    this.queue.push({ init: true, data: bytes });
    this.pump();
  }

  // `meta` ({arrivalMs, headerMs}) is kept only when measuring.
  pushFragment(bytes, keyframe, meta = null) {
    if (!this.init) {
      this.stats.dropped++;
      return;
    }
    if (this.needKeyframe) {
      if (!keyframe) {
        this.stats.dropped++;
        return;
      }
      this.needKeyframe = false;
    }
    if (keyframe && !this.streaming) {
      // The browser wants no data for now: only the newest run from a
      // keyframe is worth appending when it asks again.
      this.dropQueuedMedia();
    }
    if (this.queue.length >= this.maxQueued) {
      // The SourceBuffer cannot keep up (hidden tab, slow machine): throw the
      // backlog away and restart from a keyframe rather than lag forever.
      this.dropQueuedMedia();
      this.needKeyframe = !keyframe;
      if (!keyframe) {
        this.stats.dropped++;
        return;
      }
    }
    this.queue.push({ init: false, data: bytes, meta: this.measure ? meta : null });
    this.pump();
  }

  // Frames are missing from here on (reconnect, skip): wait for a keyframe.
  discontinuity() {
    this.needKeyframe = true;
    this.dropQueuedMedia();
  }

  // 'MediaSource' or 'ManagedMediaSource' (null: none in this browser).
  get sourceName() {
    return this.source ? (this.source.managed ? 'ManagedMediaSource' : 'MediaSource') : null;
  }

  // Frames the video element decoded, across rebuilds (each rebuild starts
  // the element's own count from zero).
  get decodedFrames() {
    return this.decodedBefore + this.video.getVideoPlaybackQuality().totalVideoFrames;
  }

  // Seconds of media buffered ahead of the playhead.
  get lagSeconds() {
    const b = this.video.buffered;
    if (!b.length) return 0;
    return Math.max(0, b.end(b.length - 1) - this.video.currentTime);
  }

  destroy() {
    this.destroyed = true;
    clearInterval(this.tick);
    clearTimeout(this.resetTimer);
    this.video.removeEventListener('error', this.onVideoError);
    this.teardown();
  }

  // --- internals ---

  dropQueuedMedia() {
    const before = this.queue.length;
    this.queue = this.queue.filter((op) => op.init);
    this.stats.dropped += before - this.queue.length;
  }

  supports(mime) {
    return this.source !== null && this.source.type.isTypeSupported(mime);
  }

  teardown() {
    if (this.sb) {
      this.sb.onupdateend = null;
      this.sb.onerror = null;
    }
    if (this.ms) this.ms.onsourceopen = null;
    if (this.streamingEvents) this.streamingEvents.abort();
    this.streamingEvents = null;
    if (this.url) URL.revokeObjectURL(this.url); // torn down before sourceopen
    this.url = null;
    this.sb = null;
    this.ms = null;
    this.queue = [];
    this.appended = [];
    this.appending = null;
    this.decodedBefore += this.video.getVideoPlaybackQuality().totalVideoFrames;
    this.video.removeAttribute('src');
    this.video.load();
  }

  // A fresh MediaSource that starts with the last init segment, if any.
  rebuild() {
    this.teardown();
    if (!this.mime || !this.supports(this.mime)) return;
    this.needKeyframe = true;
    if (this.init) this.queue.push({ init: true, data: this.init });
    const ms = new this.source.type();
    this.ms = ms;
    if (this.source.managed) this.followStreaming(ms);
    const url = URL.createObjectURL(ms);
    this.url = url;
    ms.onsourceopen = () => {
      URL.revokeObjectURL(url);
      this.url = null;
      if (this.ms !== ms) return;
      let sb;
      try {
        sb = ms.addSourceBuffer(this.mime);
        // 'sequence' lays fragments end to end whatever their timestamps, so
        // a skip, a reconnect or a restarted source leaves no gap to stall on.
        sb.mode = 'sequence';
      } catch (err) {
        this.emitError(`addSourceBuffer failed: ${err.message}`);
        return;
      }
      this.sb = sb;
      sb.onupdateend = () => {
        if (this.appending && sb.buffered.length) {
          // The fragment just appended is the newest frame: it ends where the
          // buffered media now ends.
          this.appended.push({ end: sb.buffered.end(sb.buffered.length - 1), ...this.appending });
          if (this.appended.length > 300) this.appended.splice(0, this.appended.length - 300);
        }
        this.appending = null;
        this.keepLive();
        this.pump();
      };
      sb.onerror = () => {
        // The element's error says what the browser disliked, when it knows.
        const why = this.video.error && this.video.error.message;
        this.scheduleReset(why ? `SourceBuffer error: ${why}` : 'SourceBuffer error');
      };
      this.pump();
    };
    this.video.src = url;
  }

  // A ManagedMediaSource says when the browser wants media (startstreaming)
  // and when it has enough (endstreaming); init segments go in regardless.
  followStreaming(ms) {
    this.streaming = ms.streaming === true;
    this.streamingEvents = new AbortController();
    const { signal } = this.streamingEvents;
    ms.addEventListener('startstreaming', () => {
      this.streaming = true;
      this.pump();
    }, { signal });
    ms.addEventListener('endstreaming', () => {
      this.streaming = false;
    }, { signal });
  }

  pump() {
    const sb = this.sb;
    if (!sb || sb.updating || !this.ms || this.ms.readyState !== 'open') return;
    if (this.evict(false)) return; // updateend will call pump again
    if (!this.queue.length || (!this.streaming && !this.queue[0].init)) return;
    const op = this.queue.shift();
    try {
      sb.appendBuffer(op.data);
      this.appending = op.meta || null;
      this.stats.appended++;
    } catch (err) {
      if (err.name === 'QuotaExceededError') {
        this.queue.unshift(op);
        if (!this.evict(true)) {
          // Nothing left to free: start over from the next keyframe.
          this.discontinuity();
        }
        return;
      }
      this.scheduleReset(`appendBuffer: ${err.name} ${err.message}`);
    }
  }

  // Measuring: a frame was handed to the compositor. Its fragment is the
  // first appended one that ends after the frame's media time.
  onPresented(meta) {
    const rec = this.appended.find((r) => r.end > meta.mediaTime + 0.0005);
    if (!rec) return;
    const displayMs = performance.timeOrigin + meta.presentationTime;
    const w = this.video.videoWidth;
    const h = this.video.videoHeight;
    let captureMs = null;
    if (w && h) {
      const s = markStrip(w, h);
      if (!this.markCtx) {
        const c = document.createElement('canvas');
        this.markCtx = c.getContext('2d', { willReadFrequently: true });
      }
      const c = this.markCtx.canvas;
      if (c.width !== s.w) c.width = s.w;
      c.height = 1;
      this.markCtx.drawImage(this.video, s.x, s.y, s.w, 1, 0, 0, s.w, 1);
      captureMs = decodeMark(this.markCtx.getImageData(0, 0, s.w, 1).data, s.block, displayMs);
    }
    this.samples.push({ captureMs, headerMs: rec.headerMs, arrivalMs: rec.arrivalMs, displayMs });
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
  }

  // Removes media more than KEEP_BEHIND_S behind the playhead (or, under
  // quota pressure, everything but the last second). Returns true when a
  // removal was started.
  evict(urgent) {
    const sb = this.sb;
    const b = sb.buffered;
    if (!b.length) return false;
    const keep = urgent ? 1 : KEEP_BEHIND_S;
    const slack = urgent ? 0 : EVICT_SLACK_S;
    const cut = this.video.currentTime - keep;
    if (b.start(0) >= cut - slack || cut <= 0) return false;
    try {
      sb.remove(0, cut);
      this.stats.evictions++;
      return true;
    } catch {
      return false;
    }
  }

  // Keeps the playhead just behind the newest buffered frame (live_edge.js:
  // jump when far behind, play faster when slightly behind), and makes sure
  // the muted video is playing at all.
  keepLive() {
    const v = this.video;
    const b = v.buffered;
    if (!b.length || v.seeking) return;
    const last = b.length - 1;
    const end = b.end(last);
    const step = liveEdgeStep({ start: b.start(last), end, time: v.currentTime, rate: v.playbackRate });
    if (step.seek !== null) {
      v.currentTime = step.seek;
      this.stats.jumps++;
    }
    if (v.playbackRate !== step.rate) {
      if (v.playbackRate === 1) this.stats.catchUps++;
      v.playbackRate = step.rate;
    }
    if (v.paused && v.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) {
      v.play().catch(() => {});
    }
    this.watchStall(end - v.currentTime);
  }

  // Chrome occasionally sits still with data ahead of it (after a seek into
  // a range that was just evicted, for instance). Nudge it, then rebuild.
  watchStall(lag) {
    const now = performance.now();
    const t = this.video.currentTime;
    if (t !== this.lastProgress.time || lag < 0.3 || this.video.paused) {
      if (t !== this.lastProgress.time) this.recentResets = 0;
      this.lastProgress = { time: t, at: now, nudged: false };
      return;
    }
    if (now - this.lastProgress.at < STALL_MS) return;
    if (!this.lastProgress.nudged) {
      this.lastProgress.nudged = true;
      this.lastProgress.at = now;
      this.video.currentTime = Math.max(0, this.video.buffered.end(this.video.buffered.length - 1) - TARGET_LAG_S);
      return;
    }
    this.scheduleReset('playback stalled');
  }

  // Rebuilds after an error; repeated failures wait longer (up to 5 s) so a
  // stream the browser cannot decode does not spin the CPU.
  scheduleReset(reason) {
    if (this.resetTimer) return;
    console.warn('vigil: player reset:', reason);
    this.stats.resets++;
    this.lastError = reason;
    const delay = Math.min(5000, 100 * 2 ** this.recentResets);
    this.recentResets++;
    this.dispatchEvent(new CustomEvent('reset', { detail: reason }));
    this.resetTimer = setTimeout(() => {
      this.resetTimer = null;
      this.lastProgress = { time: -1, at: performance.now() };
      this.rebuild();
    }, delay);
  }

  emitError(message) {
    this.lastError = message;
    this.dispatchEvent(new CustomEvent('error', { detail: message }));
  }
}

function sameBytes(a, b) {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

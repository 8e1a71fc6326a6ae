// Plays one channel of mode "webcodecs" (signaling/PROTOCOL.md): a decoder
// configuration (codec string + avcC), then one H.264 access unit per binary
// frame, decoded with WebCodecs' VideoDecoder and drawn on a <canvas> as soon
// as each frame comes out of the decoder. Nothing is buffered for smooth
// playback: this is for the lowest latency, and a frame that is already late
// when it comes out (newer ones are waiting behind it in the decoder) is
// dropped rather than drawn. Every VideoFrame is closed once drawn or dropped.
//
// With B-frames, units come in decode order and their timestamps go back
// and forth; the decoder holds as many frames as the stream reorders before
// it can output one. Those held frames are not a backlog: the player learns
// the stream's reorder depth from the timestamps and allows for it.
//
// After any discontinuity (a skip, a new configuration, a reconnect) chunks
// are dropped until the next keyframe. A decoder error closes the decoder;
// the player reports it ('error' event) and its owner resubscribes, which
// brings a configuration and a keyframe from the server's GOP cache.
//
// Events: 'error' (detail: message) when the decoder failed or cannot be
// configured.

import { parseAccessUnit } from './frame_header.js';
import { readMark } from './latency_mark.js';

// More decodes than this waiting: the decoder cannot keep up. Start over at
// the next keyframe instead of falling further behind.
const MAX_DECODE_QUEUE = 60;
// Frames decoded ahead of the one just output before it counts as late.
const LATE_BACKLOG = 1;
const MAX_SAMPLES = 4000;

export class WebCodecsPlayer extends EventTarget {
  // `measure`: collect per-frame latency samples (capture time read from the
  // picture's latency mark, server time, arrival, decode output, drawn).
  constructor(canvas, { measure = false } = {}) {
    super();
    this.canvas = canvas;
    this.measure = measure;
    this.ctx = canvas.getContext('2d', { alpha: false, desynchronized: true, willReadFrequently: measure });
    this.decoder = null;
    this.config = null; // the VideoDecoderConfig in use
    this.needKeyframe = true;
    this.inFlight = new Map(); // timestamp -> {arrivalMs, headerMs}, chunks in the decoder
    // Most units seen sent ahead of a unit shown before them (0 without
    // B-frames): frames the decoder holds back to reorder.
    this.reorder = 0;
    this.lastArrivalToDrawnMs = 0;
    this.stats = { chunks: 0, decoded: 0, drawn: 0, late: 0, dropped: 0, errors: 0, configures: 0 };
    this.samples = []; // latency samples when measuring
    this.lastError = null;
    this.destroyed = false;
  }

  get decodedFrames() {
    return this.stats.decoded;
  }

  // How far behind arrival the last frame was drawn, in seconds (the tile's
  // "buffer" figure: for this player it is decoding and drawing time only).
  get lagSeconds() {
    return this.lastArrivalToDrawnMs / 1000;
  }

  static async supports(config) {
    if (typeof VideoDecoder !== 'function') return false;
    try {
      const r = await VideoDecoder.isConfigSupported(toDecoderConfig(config));
      return r.supported === true;
    } catch {
      return false;
    }
  }

  // A decoder configuration frame (parseDecoderConfig). The same one again
  // (a resubscription, a restarted source with the same parameters) keeps the
  // decoder but waits for a keyframe.
  configure(cfg) {
    if (this.destroyed) return;
    const next = toDecoderConfig(cfg);
    this.needKeyframe = true;
    if (this.decoder && this.decoder.state === 'configured' && sameConfig(this.config, next)) return;
    this.config = next;
    this.reorder = 0;
    if (!this.decoder || this.decoder.state === 'closed') this.decoder = this.makeDecoder();
    try {
      this.decoder.configure(next);
      this.stats.configures++;
    } catch (err) {
      this.fail(`configure: ${err.message}`);
    }
    this.inFlight.clear();
  }

  // A kind 4 frame (parsed header). `arrivalMs`: when it reached the page
  // (ms since the epoch, sub-millisecond).
  pushChunk(h, arrivalMs = nowMs()) {
    if (this.destroyed) return;
    this.stats.chunks++;
    const au = parseAccessUnit(h.payload);
    if (!au || !this.decoder || this.decoder.state !== 'configured') {
      this.stats.dropped++;
      return;
    }
    if (this.needKeyframe) {
      if (!h.keyframe) {
        this.stats.dropped++;
        return;
      }
      this.needKeyframe = false;
    }
    if (this.decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
      // Hopelessly behind: throw the backlog away, start again at a keyframe.
      this.decoder.reset();
      this.inFlight.clear();
      this.decoder.configure(this.config);
      this.needKeyframe = !h.keyframe;
      if (!h.keyframe) {
        this.stats.dropped++;
        return;
      }
    }
    this.learnReorder(au.ptsUs);
    this.inFlight.set(au.ptsUs, { arrivalMs, headerMs: h.timeUs / 1000 });
    try {
      this.decoder.decode(new EncodedVideoChunk({
        type: h.keyframe ? 'key' : 'delta',
        timestamp: au.ptsUs,
        data: au.data,
      }));
    } catch (err) {
      this.inFlight.delete(au.ptsUs);
      this.fail(`decode: ${err.message}`);
    }
  }

  // Frames are missing from here on: wait for a keyframe.
  discontinuity() {
    this.needKeyframe = true;
  }

  destroy() {
    this.destroyed = true;
    if (this.decoder && this.decoder.state !== 'closed') {
      try { this.decoder.close(); } catch { /* already closed */ }
    }
    this.decoder = null;
    this.inFlight.clear();
  }

  // --- internals ---

  // Units still in the decoder that are shown after this one were sent
  // before it: the stream reorders at least that deep.
  learnReorder(ptsUs) {
    let ahead = 0;
    for (const t of this.inFlight.keys()) if (t > ptsUs) ahead++;
    if (ahead > this.reorder) this.reorder = ahead;
  }

  makeDecoder() {
    const decoder = new VideoDecoder({
      output: (frame) => this.onOutput(decoder, frame),
      error: (err) => {
        if (this.decoder === decoder) this.fail(`decoder: ${err.message}`);
      },
    });
    return decoder;
  }

  onOutput(decoder, frame) {
    const outMs = nowMs();
    const info = this.inFlight.get(frame.timestamp);
    this.inFlight.delete(frame.timestamp);
    if (this.destroyed || decoder !== this.decoder) {
      frame.close();
      return;
    }
    this.stats.decoded++;
    // Late: newer frames are already waiting in the decoder (a burst, such
    // as the GOP cache at subscription, or a decoder that fell behind).
    // Drawing this one would only delay them.
    if (this.inFlight.size > LATE_BACKLOG + this.reorder) {
      this.stats.late++;
      frame.close();
      return;
    }
    const w = frame.displayWidth;
    const h = frame.displayHeight;
    try {
      if (this.canvas.width !== w || this.canvas.height !== h) {
        this.canvas.width = w;
        this.canvas.height = h;
      }
      this.ctx.drawImage(frame, 0, 0, w, h);
    } finally {
      frame.close();
    }
    const drawnMs = nowMs();
    this.stats.drawn++;
    if (info) this.lastArrivalToDrawnMs = drawnMs - info.arrivalMs;
    if (this.measure && info) {
      const captureMs = readMark(this.ctx, w, h, drawnMs);
      this.samples.push({ captureMs, headerMs: info.headerMs, arrivalMs: info.arrivalMs, outputMs: outMs, displayMs: drawnMs });
      if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
    }
  }

  fail(message) {
    this.stats.errors++;
    this.lastError = message;
    console.warn('vigil: webcodecs:', message);
    if (this.decoder && this.decoder.state !== 'closed') {
      try { this.decoder.close(); } catch { /* closed */ }
    }
    this.decoder = null;
    this.config = null;
    this.inFlight.clear();
    this.needKeyframe = true;
    this.dispatchEvent(new CustomEvent('error', { detail: message }));
  }
}

// Wall-clock ms with sub-millisecond precision, on the same clock as Date.now().
export function nowMs() {
  return performance.timeOrigin + performance.now();
}

function toDecoderConfig(cfg) {
  const c = { codec: cfg.codec, optimizeForLatency: true };
  // avc format: the NAL units are length-prefixed, described by the avcC.
  if (cfg.description && cfg.description.byteLength) c.description = cfg.description;
  if (cfg.codedWidth) c.codedWidth = cfg.codedWidth;
  if (cfg.codedHeight) c.codedHeight = cfg.codedHeight;
  return c;
}

function sameConfig(a, b) {
  if (!a || !b || a.codec !== b.codec || a.codedWidth !== b.codedWidth || a.codedHeight !== b.codedHeight) return false;
  const x = a.description;
  const y = b.description;
  if (!x || !y) return x === y;
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

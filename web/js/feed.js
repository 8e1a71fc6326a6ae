// What one channel shows: the player of its mode and the element it draws
// in (MsePlayer in a <video>, WebCodecsPlayer on a <canvas>), fed that
// channel's binary frames, with what the player was set up for. A tile
// shows one feed; while it switches pictures (variant_switch.js) a second
// one plays beneath it until it has shown a frame, then takes its place.
//
// Events: 'error' (detail: message): the player cannot play what came (MSE)
// or its decoder failed (WebCodecs); 'unsupported' (detail: codec string):
// this browser's WebCodecs cannot decode the configuration that came.

import { KIND_ACCESS_UNIT, KIND_DECODER_CONFIG, KIND_FRAGMENT, KIND_INIT, parseDecoderConfig } from './frame_header.js';
import { MsePlayer } from './mse_player.js';
import { WebCodecsPlayer } from './webcodecs_player.js';

// The element a feed of `mode` draws in, for the tile of `stream`.
export function mediaElement(mode, stream) {
  if (mode === 'webcodecs') {
    const canvas = document.createElement('canvas');
    canvas.className = 'tile-video tile-canvas';
    canvas.dataset.stream = stream;
    return canvas;
  }
  const video = document.createElement('video');
  video.className = 'tile-video';
  video.dataset.stream = stream;
  // The attributes as well as the properties, for the first autoplay check.
  video.setAttribute('muted', '');
  video.setAttribute('playsinline', '');
  video.setAttribute('autoplay', '');
  return video;
}

export class Feed extends EventTarget {
  // `element`: a <video> for mode "mse", a <canvas> for "webcodecs".
  constructor(mode, element, { measure = false } = {}) {
    super();
    this.mode = mode;
    this.element = element;
    this.codecs = null; // MSE: the codecs the player's MIME type names
    this.checkedConfig = null; // WebCodecs: the codec isConfigSupported said yes to
    this.streamCodecs = null; // the channel's codecs (video and audio), from the reply or events
    // MSE: a frame went to the compositor (requestVideoFrameCallback).
    // Decoded and ready at the playhead is not quite enough: the first
    // frame may still paint as black for a moment.
    this.presented = false;
    if (mode !== 'webcodecs' && typeof element.requestVideoFrameCallback === 'function') {
      element.requestVideoFrameCallback(() => { this.presented = true; });
    }
    const forward = (ev) => this.dispatchEvent(new CustomEvent('error', { detail: ev.detail }));
    this.player = mode === 'webcodecs' ? new WebCodecsPlayer(element, { measure }) : new MsePlayer(element, { measure });
    this.player.addEventListener('error', forward);
  }

  get webcodecs() {
    return this.mode === 'webcodecs';
  }

  // True once a picture is on the element: drawn on the canvas, or
  // presented by the video (where the browser cannot tell, decoded and
  // ready at its playhead).
  get shown() {
    if (this.webcodecs) return this.player.stats.drawn > 0;
    const v = this.element;
    const ready = v.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && !v.seeking && v.videoWidth > 0
      && this.player.decodedFrames > 0;
    return ready && (this.presented || typeof v.requestVideoFrameCallback !== 'function');
  }

  // The subscribe reply: MSE learns its MIME type from it.
  onReply(reply) {
    if (reply.codecs) this.streamCodecs = reply.codecs;
    if (!this.webcodecs && reply.mime) {
      this.codecs = reply.codecs;
      this.player.setMime(reply.mime);
    }
  }

  // A stream.state event of the channel.
  onState(event) {
    if (event.state !== 'live' || !event.codecs) return;
    this.streamCodecs = event.codecs;
    if (!this.webcodecs && !sameCodecs(event.codecs, this.codecs)) {
      // New codecs: a new init segment follows (PROTOCOL.md). Only codecs
      // travel in the event, so the MIME is built here; comparing codecs,
      // not MIME strings, keeps a same-codec event from rebuilding the player.
      this.codecs = event.codecs;
      this.player.setMime(`video/mp4; codecs="${event.codecs}"`);
    }
  }

  // A parsed binary frame of the channel. Returns 'video' for a picture
  // given to the player, 'audio' for sound, null for anything else (set-up
  // frames, the other mode's kinds, reserved kinds).
  push(h, arrivalMs) {
    if (h.kind === KIND_INIT) {
      if (!this.webcodecs) this.player.pushInit(h.payload);
      return null;
    }
    if (h.kind === KIND_DECODER_CONFIG) {
      if (this.webcodecs) this.configure(h);
      return null;
    }
    if (h.kind !== (this.webcodecs ? KIND_ACCESS_UNIT : KIND_FRAGMENT)) return null;
    if (this.webcodecs) {
      this.player.pushChunk(h, arrivalMs);
      return 'video';
    }
    // Sound travels in the same fMP4: the player takes both, but only
    // pictures wait for a keyframe.
    this.player.pushFragment(h.payload, h.keyframe && !h.audio, { arrivalMs, headerMs: h.timeUs / 1000 });
    return h.audio ? 'audio' : 'video';
  }

  discontinuity() {
    this.player.discontinuity();
  }

  destroy() {
    this.destroyed = true;
    this.player.destroy();
  }

  configure(h) {
    const cfg = parseDecoderConfig(h.payload);
    if (!cfg) return;
    this.codecs = cfg.codec;
    this.player.configure(cfg);
    if (this.checkedConfig === cfg.codec) return;
    this.checkedConfig = cfg.codec;
    WebCodecsPlayer.supports(cfg).then((ok) => {
      if (!ok && !this.destroyed) this.dispatchEvent(new CustomEvent('unsupported', { detail: cfg.codec }));
    });
  }
}

// RFC 6381 codec strings compare case-insensitively (avc1.42C01F = avc1.42c01f).
function sameCodecs(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

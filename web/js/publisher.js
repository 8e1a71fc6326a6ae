// The publisher page (publish.html): this browser's camera, encoded to H.264
// by WebCodecs, published to a publish:// stream of vigil over the same
// vigil.v1 WebSocket as the dashboard (PROTOCOL.md "Publishing").
//
//   getUserMedia (camera) -> MediaStreamTrackProcessor -> VideoEncoder
//   (avc1.42001f: Constrained Baseline, avc format, realtime, a keyframe
//   every second) -> EncodedVideoChunk -> one binary frame each: the 16-byte
//   header (kind 1, keyframe flag, channel, chunk.timestamp in µs) and the
//   chunk's bytes, which in avc format are AVCC (4-byte length-prefixed NAL
//   units). The encoder's first output carries decoderConfig.description,
//   the avcC record: it goes (base64) into the publish request, so the page
//   sends `publish` when the first chunk is out, holds the chunks until the
//   reply gives the channel, and publishes again if the description changes.
//
// With "Microphone" ticked (off by default), the microphone goes along:
//
//   getUserMedia (audio) -> MediaStreamTrackProcessor -> AudioEncoder (Opus,
//   48 kHz, 20 ms packets) -> EncodedAudioChunk -> one kind-2 frame each,
//   with chunk.timestamp as its time
//
// and the publish request announces it (`audio`: codec, sample rate,
// channels, and the OpusHead as `description` when the encoder gives one),
// so it waits for the first output of both encoders. Both tracks' times go
// on one clock: each track's timestamps are moved onto performance.now()
// (in µs) by the offset its first frame had, so the server can keep sound
// and picture together. A stream that takes no audio (bad_field audio…)
// is published again without it, and the page says so.
//
// The token comes from #token= (or what the dashboard kept, auth.js), the
// stream from #stream= or the list of publish:// streams the token may see.
// When the socket falls behind (bufferedAmount), delta frames are dropped and
// the next frame is forced to be a keyframe.
//
// For tests and scripts, #publisher carries data-state (idle, starting,
// publishing, reconnecting, stopped, error), data-channel, data-frames-sent,
// data-keyframes, data-fps, data-bitrate, data-dropped, data-errors,
// data-audio (off, starting, on, refused), data-audio-frames,
// data-audio-dropped.

import { Connection } from './connection.js';
import { Auth } from './auth.js';

export const KIND_VIDEO = 1;
export const KIND_AUDIO = 2;
export const FLAG_KEYFRAME = 1;
export const HEADER_BYTES = 16;
const PUBLISH_ROLES = new Set(['publisher', 'admin']);
const CODEC = 'avc1.42001f'; // Constrained Baseline 3.1: no B-frames
const KEY_INTERVAL_US = 1_000_000;
const MAX_BUFFERED_BYTES = 1 << 20; // socket backlog above which delta frames are dropped
const MAX_PENDING = 90; // chunks held while the publish request is answered
const FPS = 30;
const AUDIO_RATE = 48000;
const AUDIO_BITRATE = 64000;

// One client-to-server binary frame: the header, then the payload.
export function publishFrame(channel, kind, flags, timeUs, payload) {
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, 1);
  v.setUint8(1, kind);
  v.setUint8(2, flags);
  v.setUint32(4, channel, false);
  v.setBigUint64(8, BigInt(Math.max(0, Math.round(timeUs))), false);
  out.set(payload, HEADER_BYTES);
  return out;
}

export function bytesToBase64(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  let s = '';
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(s);
}

class Publisher {
  constructor(conn, el) {
    this.conn = conn;
    this.el = el;
    this.preview = document.getElementById('preview');
    this.message = document.getElementById('message');
    this.state = 'idle';
    this.reset();
  }

  reset() {
    this.media = null;
    this.encoder = null;
    this.reader = null;
    this.timer = null;
    this.audioTimer = null;
    this.stream = null;
    this.channel = null;
    this.publishing = null; // the pending publish request
    this.config = null; // {codec, description (base64)}
    this.pending = [];
    this.awaitKey = true;
    this.forceKey = true;
    this.lastKeyTs = null;
    this.withAudio = false; // the microphone was asked for
    this.audioEncoder = null;
    this.audioReader = null;
    this.audioConfig = null; // {codec, sample_rate, channels, description?} for the request
    this.audioState = 'off';
    this.offsets = { video: null, audio: null }; // track timestamp -> performance.now() µs
    this.stats = { frames: 0, keyframes: 0, bytes: 0, dropped: 0, errors: 0, fps: 0, bitrate: 0,
      audioFrames: 0, audioDropped: 0 };
    this.window = { at: performance.now(), frames: 0, bytes: 0 };
  }

  get active() {
    return this.media !== null;
  }

  async start(stream, width, height, withAudio = false) {
    if (this.active) return;
    this.reset();
    this.stream = stream;
    this.withAudio = withAudio;
    this.audioState = withAudio ? 'starting' : 'off';
    this.setState('starting');
    this.say('');
    try {
      if (!('VideoEncoder' in window)) throw new Error('this browser has no WebCodecs VideoEncoder (or the page is not served over https)');
      if (withAudio && !('AudioEncoder' in window)) throw new Error('this browser has no WebCodecs AudioEncoder');
      const audio = withAudio ? { sampleRate: AUDIO_RATE, channelCount: { ideal: 1 } } : false;
      this.media = await navigator.mediaDevices.getUserMedia({ video: { width, height, frameRate: FPS }, audio });
      this.preview.srcObject = this.media;
      const track = this.media.getVideoTracks()[0];
      const s = track.getSettings();
      const config = {
        codec: CODEC, width: s.width || width, height: s.height || height,
        bitrate: Math.round((s.width || width) * (s.height || height) * FPS * 0.1),
        framerate: FPS, latencyMode: 'realtime', avc: { format: 'avc' },
      };
      const support = await VideoEncoder.isConfigSupported(config);
      if (!support.supported) throw new Error(`the encoder does not take ${CODEC} ${config.width}x${config.height}`);
      this.encoder = new VideoEncoder({
        output: (chunk, meta) => this.onChunk(chunk, meta),
        error: (e) => this.fail(`encoder: ${e.message}`),
      });
      this.encoder.configure(config);
      this.readFrames(track);
      if (withAudio) {
        this.readAudio(this.media.getAudioTracks()[0]);
        // A microphone that gives nothing must not hold the picture back.
        this.audioTimer = setTimeout(() => {
          if (!this.active || this.audioConfig || this.audioState === 'refused') return;
          this.audioState = 'refused';
          this.say('without sound: the microphone gave nothing');
          this.publish();
        }, 3000);
      }
    } catch (err) {
      this.fail(err.message || String(err));
    }
  }

  // Camera frames into the encoder: MediaStreamTrackProcessor where there
  // is one, else the preview element sampled on a timer.
  readFrames(track) {
    if ('MediaStreamTrackProcessor' in window) {
      this.reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
      const pump = async () => {
        for (;;) {
          const { value: frame, done } = await this.reader.read().catch(() => ({ done: true }));
          if (done || !frame) return;
          this.encode(frame);
        }
      };
      pump();
    } else {
      this.timer = setInterval(() => {
        if (this.preview.readyState < 2) return;
        this.encode(new VideoFrame(this.preview, { timestamp: Math.round(performance.now() * 1000) }));
      }, 1000 / FPS);
    }
  }

  // The offset that puts a track's timestamps (µs) on performance.now()'s
  // clock, fixed by its first frame.
  clockOffset(kind, timestamp) {
    if (this.offsets[kind] === null) this.offsets[kind] = performance.now() * 1000 - timestamp;
    return this.offsets[kind];
  }

  // Microphone samples into an Opus AudioEncoder, configured from the first
  // AudioData (its rate and channels: the encoder takes what it gets).
  readAudio(track) {
    if (!track) {
      this.fail('no microphone');
      return;
    }
    if (!('MediaStreamTrackProcessor' in window)) {
      this.fail('this browser cannot read the microphone for WebCodecs (no MediaStreamTrackProcessor)');
      return;
    }
    this.audioReader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    const pump = async () => {
      for (;;) {
        const { value: data, done } = await this.audioReader.read().catch(() => ({ done: true }));
        if (done || !data) return;
        this.encodeAudio(data);
      }
    };
    pump();
  }

  encodeAudio(data) {
    try {
      this.clockOffset('audio', data.timestamp);
      if (!this.audioEncoder && this.audioState !== 'refused') {
        const channels = Math.min(2, data.numberOfChannels);
        this.audioEncoder = new AudioEncoder({
          output: (chunk, meta) => this.onAudioChunk(chunk, meta),
          error: (e) => this.fail(`audio encoder: ${e.message}`),
        });
        this.audioEncoder.configure({ codec: 'opus', sampleRate: data.sampleRate, numberOfChannels: channels, bitrate: AUDIO_BITRATE });
      }
      const enc = this.audioEncoder;
      if (enc && enc.state === 'configured' && enc.encodeQueueSize <= 10) enc.encode(data);
    } catch (err) {
      this.fail(`audio encode: ${err.message}`);
    }
    data.close();
  }

  onAudioChunk(chunk, meta) {
    if (!this.active || this.audioState === 'refused') return;
    const dc = meta && meta.decoderConfig;
    if (dc && !this.audioConfig) {
      this.audioConfig = { codec: 'opus', sample_rate: dc.sampleRate || AUDIO_RATE, channels: dc.numberOfChannels || 1 };
      if (dc.description && dc.description.byteLength) this.audioConfig.description = bytesToBase64(dc.description);
      this.publish();
    }
    const ws = this.conn.ws;
    if (this.channel === null || this.awaitKey || !this.conn.isOpen || !ws) return; // not yet: nothing to go with
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.stats.audioDropped++;
      return;
    }
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    ws.send(publishFrame(this.channel, KIND_AUDIO, 0, chunk.timestamp + this.offsets.audio, data));
    this.stats.audioFrames++;
  }

  encode(frame) {
    const enc = this.encoder;
    if (!enc || enc.state !== 'configured' || enc.encodeQueueSize > 2) {
      frame.close(); // the encoder is behind: skip this picture
      return;
    }
    this.clockOffset('video', frame.timestamp);
    let keyFrame = this.forceKey || this.lastKeyTs === null || frame.timestamp - this.lastKeyTs >= KEY_INTERVAL_US;
    if (keyFrame) {
      this.lastKeyTs = frame.timestamp;
      this.forceKey = false;
    }
    try {
      enc.encode(frame, { keyFrame });
    } catch (err) {
      this.fail(`encode: ${err.message}`);
    }
    frame.close();
  }

  onChunk(chunk, meta) {
    if (!this.active) return;
    const dc = meta && meta.decoderConfig;
    if (dc && dc.description) {
      const config = { codec: dc.codec || CODEC, description: bytesToBase64(dc.description) };
      if (!this.config || config.codec !== this.config.codec || config.description !== this.config.description) {
        this.config = config;
        this.publish();
      }
    }
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    const item = { key: chunk.type === 'key', ts: chunk.timestamp + this.offsets.video, data };
    if (this.channel === null) {
      // Held until the publish reply; beyond a bound, start again at a keyframe.
      if (this.pending.length >= MAX_PENDING) {
        this.pending = [];
        this.forceKey = true;
        this.stats.dropped += MAX_PENDING;
      }
      if (this.pending.length || item.key) this.pending.push(item);
      else this.stats.dropped++;
      return;
    }
    this.send(item);
  }

  send(item) {
    const ws = this.conn.ws;
    if (!this.conn.isOpen || !ws) {
      this.stats.dropped++;
      this.awaitKey = true;
      return;
    }
    if (!item.key && (this.awaitKey || ws.bufferedAmount > MAX_BUFFERED_BYTES)) {
      // Behind (or after a gap): nothing until the next keyframe, asked for now.
      if (!this.awaitKey) this.forceKey = true;
      this.awaitKey = true;
      this.stats.dropped++;
      return;
    }
    this.awaitKey = false;
    ws.send(publishFrame(this.channel, KIND_VIDEO, item.key ? FLAG_KEYFRAME : 0, item.ts, item.data));
    this.stats.frames++;
    this.stats.bytes += item.data.byteLength;
    if (item.key) this.stats.keyframes++;
    this.window.frames++;
    this.window.bytes += item.data.byteLength;
  }

  // (Re)publishes with the current decoder config; the held chunks follow
  // the reply.
  async publish() {
    if (!this.config || !this.conn.isOpen) return;
    // With the microphone: once its encoder has said what it makes, too.
    const audio = this.audioState === 'refused' ? null : this.audioConfig;
    if (this.withAudio && this.audioState !== 'refused' && !audio) return;
    const old = this.channel;
    this.channel = null;
    const attempt = {};
    this.publishing = attempt;
    try {
      if (old !== null) await this.conn.request('unpublish', { channel: old }).catch(() => {});
      const request = {
        stream: this.stream,
        video: { codec: this.config.codec, description: this.config.description },
      };
      if (audio) request.audio = audio;
      const reply = await this.conn.request('publish', request);
      if (this.publishing !== attempt || !this.active) return;
      if (audio) this.audioState = reply.audio_relayed ? 'on' : 'refused';
      this.channel = reply.channel;
      this.awaitKey = true;
      this.setState('publishing');
      this.say('');
      const held = this.pending;
      this.pending = [];
      for (const item of held) this.send(item);
      if (!held.length) this.forceKey = true;
    } catch (err) {
      if (this.publishing !== attempt) return;
      if (audio && err.code === 'bad_field' && String(err.field || '').startsWith('audio')) {
        // The stream takes no (such) audio: the picture alone, and say so.
        this.audioState = 'refused';
        this.say(`without sound: ${err.message}`);
        this.publish();
        return;
      }
      if (err.code) this.fail(`${err.code}: ${err.message}`);
      // else: the connection dropped; 'open' publishes again
    }
  }

  // The connection came back: publish again, from a keyframe.
  reconnected() {
    if (!this.active || this.state === 'error') return;
    this.channel = null;
    this.pending = [];
    this.forceKey = true;
    this.publish();
  }

  disconnected() {
    if (!this.active || this.state === 'error') return;
    this.channel = null;
    this.setState('reconnecting');
  }

  serverError(msg) {
    this.stats.errors++;
    this.say(`server: ${msg.code}: ${msg.message}`);
  }

  fail(why) {
    this.stats.errors++;
    this.say(why);
    this.stop('error');
  }

  stop(state = 'stopped') {
    const channel = this.channel;
    this.channel = null;
    this.publishing = null;
    if (channel !== null && this.conn.isOpen) this.conn.request('unpublish', { channel }).catch(() => {});
    if (this.reader) this.reader.cancel().catch(() => {});
    if (this.audioReader) this.audioReader.cancel().catch(() => {});
    if (this.audioEncoder && this.audioEncoder.state !== 'closed') {
      try { this.audioEncoder.close(); } catch { /* already closed */ }
    }
    this.audioEncoder = null;
    this.audioReader = null;
    clearInterval(this.timer);
    clearTimeout(this.audioTimer);
    if (this.encoder && this.encoder.state !== 'closed') {
      try { this.encoder.close(); } catch { /* already closed */ }
    }
    if (this.media) for (const t of this.media.getTracks()) t.stop();
    this.preview.srcObject = null;
    this.media = null;
    this.encoder = null;
    this.reader = null;
    this.setState(state);
  }

  setState(state) {
    this.state = state;
    this.render();
  }

  say(text) {
    this.message.textContent = text;
    this.message.hidden = !text;
  }

  // Once a second: rates, and the stats panel.
  tick() {
    const now = performance.now();
    const dt = (now - this.window.at) / 1000;
    if (dt > 0) {
      this.stats.fps = this.window.frames / dt;
      this.stats.bitrate = (this.window.bytes * 8) / dt;
    }
    this.window = { at: now, frames: 0, bytes: 0 };
    this.render();
  }

  render() {
    const st = this.stats;
    const d = this.el.dataset;
    d.state = this.state;
    d.channel = this.channel === null ? '' : String(this.channel);
    d.framesSent = String(st.frames);
    d.keyframes = String(st.keyframes);
    d.fps = st.fps.toFixed(1);
    d.bitrate = String(Math.round(st.bitrate));
    d.dropped = String(st.dropped);
    d.errors = String(st.errors);
    d.audio = this.audioState;
    d.audioFrames = String(st.audioFrames);
    d.audioDropped = String(st.audioDropped);
    const set = (k, v) => { this.el.querySelector(`[data-stat="${k}"]`).textContent = v; };
    set('state', this.state + (this.stream && this.state !== 'idle' ? ` · ${this.stream}` : ''));
    set('codec', this.config ? this.config.codec : '–');
    set('fps', st.fps.toFixed(1));
    set('bitrate', `${Math.round(st.bitrate / 1000)} kbit/s`);
    set('frames', String(st.frames));
    set('keyframes', String(st.keyframes));
    set('dropped', String(st.dropped));
    set('errors', String(st.errors));
    set('audio', this.audioState === 'off' ? 'off' : `${this.audioState} · ${st.audioFrames} frames`);
    document.getElementById('mic').disabled = this.active;
    document.getElementById('start').hidden = this.active;
    document.getElementById('stop').hidden = !this.active;
  }
}

// ---- the page ----------------------------------------------------------

if (typeof document !== 'undefined' && document.getElementById('publisher')) {
  const wanted = new URLSearchParams(location.hash.replace(/^#/, '')).get('stream');
  const auth = new Auth();
  auth.adoptFromLocation();
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const conn = new Connection(`${scheme}//${location.host}/ws`, { handshake: (request) => auth.handshake(request) });
  const pub = new Publisher(conn, document.getElementById('publisher'));
  const select = document.getElementById('stream');
  const startBtn = document.getElementById('start');
  const pill = document.getElementById('conn-status');
  const who = document.getElementById('who');

  conn.addEventListener('status', (ev) => {
    const { state } = ev.detail;
    pill.dataset.state = state === 'open' ? 'connected' : state === 'connecting' ? 'connecting' : 'disconnected';
    pill.textContent = state === 'open' ? 'connected' : state === 'connecting' ? 'connecting…' : 'disconnected';
    document.body.dataset.connection = pill.dataset.state;
    if (state !== 'open') pub.disconnected();
  });

  conn.addEventListener('unauthorized', (ev) => {
    pub.say(`The server refused the token: ${ev.detail.reason}. Open this page with a publisher token (…/publish.html#token=…).`);
    startBtn.disabled = true;
  });

  conn.addEventListener('message', (ev) => {
    const msg = ev.detail;
    if (msg.type === 'error') pub.serverError(msg);
  });

  conn.addEventListener('open', async () => {
    const access = auth.access;
    who.textContent = access ? `${access.anonymous ? 'anonymous' : access.sub} · ${access.role}` : '';
    if (!access || !PUBLISH_ROLES.has(access.role)) {
      pub.say('This token may not publish: ask for one with the publisher role (vigil token --role publisher --streams …).');
      startBtn.disabled = true;
      return;
    }
    let streams = [];
    try {
      const reply = await conn.request('list');
      streams = (reply.streams || []).filter((s) => s && s.source === 'publish://');
    } catch { /* the list comes again on the next connection */ }
    const current = select.value || wanted;
    select.replaceChildren(...streams.map((s) => {
      const o = document.createElement('option');
      o.value = s.id;
      o.textContent = s.id;
      return o;
    }));
    if (current && streams.some((s) => s.id === current)) select.value = current;
    select.disabled = pub.active || streams.length === 0;
    startBtn.disabled = streams.length === 0;
    if (!streams.length) pub.say('No publish:// stream for this token on this server.');
    pub.reconnected();
  });

  startBtn.addEventListener('click', () => {
    const [w, h] = document.getElementById('resolution').value.split('x').map(Number);
    select.disabled = true;
    pub.start(select.value, w, h, document.getElementById('mic').checked);
  });
  document.getElementById('stop').addEventListener('click', () => {
    pub.stop();
    select.disabled = false;
  });

  setInterval(() => pub.tick(), 1000);
  window.vigil = { conn, auth, publisher: pub };
  conn.start();
}

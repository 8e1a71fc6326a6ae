// A WebSocket publisher for the tests (PROTOCOL.md "Publishing"): a clip
// encoded and split into access units by GStreamer (build/tools/h264_aus,
// tests/tools/h264_aus.c), sent to vigil as binary frames in real time.
// Nothing here parses H.264: it only reads the length prefixes h264_aus wrote.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from '../lib/vigil.js';

export const KIND_VIDEO = 1;
export const KIND_AUDIO = 2;
export const FLAG_KEYFRAME = 1;

// Encodes a clip: {codec, description (Buffer, null for annexb), format,
// aus: [{key, ptsUs, data}]}.
export function makeClip({ frames = 150, fps = 30, width = 320, height = 240, keyInt = 30, annexb = false } = {}) {
  const out = path.join(tempDir('vigil-clip-'), annexb ? 'clip-annexb.vgau' : 'clip.vgau');
  const args = [out, '--frames', String(frames), '--fps', String(fps), '--width', String(width),
    '--height', String(height), '--key-int', String(keyInt)];
  if (annexb) args.push('--annexb');
  execFileSync(path.join(ROOT, 'build/tools/h264_aus'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const b = readFileSync(out);
  if (b.toString('latin1', 0, 4) !== 'VGAU' || b[4] !== 1) throw new Error('not a VGAU file');
  let o = 8;
  const take = () => {
    const n = b.readUInt32BE(o);
    const v = b.subarray(o + 4, o + 4 + n);
    o += 4 + n;
    return v;
  };
  const codec = take().toString('latin1');
  const desc = take();
  const aus = [];
  while (o < b.length) {
    const n = b.readUInt32BE(o);
    const key = (b[o + 4] & 1) === 1;
    const ptsUs = Number(b.readBigUInt64BE(o + 5));
    aus.push({ key, ptsUs, data: b.subarray(o + 13, o + 13 + n) });
    o += 13 + n;
  }
  return { codec, description: desc.length ? desc : null, format: annexb ? 'annexb' : 'avc', fps, aus };
}

// One client-to-server binary frame: the 16-byte header and the payload.
export function publishFrame(channel, kind, flags, timeUs, payload) {
  const h = Buffer.alloc(16);
  h[0] = 1;
  h[1] = kind;
  h[2] = flags;
  h.writeUInt32BE(channel, 4);
  h.writeBigUInt64BE(BigInt(timeUs), 8);
  return Buffer.concat([h, payload]);
}

// The publish request's fields for a clip.
export function publishRequest(stream, clip) {
  const video = { codec: clip.codec.startsWith('avc1.') ? clip.codec : 'avc1.42C01E' };
  if (clip.description) video.description = clip.description.toString('base64');
  return { type: 'publish', stream, video };
}

// Sends the clip's access units on `channel` of a vigil.v1 Client (tests/
// lib/vigil.js) at the clip's frame rate, looping with increasing
// timestamps, until stop(). `sent` counts frames; `firstSentAt` is the
// Date.now() of the first one.
export function streamClip(client, channel, clip, { loop = true } = {}) {
  const interval = 1000 / clip.fps;
  const span = clip.aus.length ? clip.aus[clip.aus.length - 1].ptsUs + interval * 1000 : 0;
  const state = { sent: 0, firstSentAt: null, stopped: false };
  let i = 0;
  let lap = 0;
  const start = Date.now();
  const tick = () => {
    if (state.stopped || client.ws.readyState !== 1) return;
    // Catch up to real time (timers are late on a busy machine).
    while (i < clip.aus.length && start + (lap * clip.aus.length + i) * interval <= Date.now()) {
      const au = clip.aus[i];
      client.ws.send(publishFrame(channel, KIND_VIDEO, au.key ? FLAG_KEYFRAME : 0,
        1_000_000 + lap * span + au.ptsUs, au.data));
      if (state.firstSentAt === null) state.firstSentAt = Date.now();
      state.sent++;
      i++;
      if (i === clip.aus.length && loop) { i = 0; lap++; }
    }
    if (i < clip.aus.length) state.timer = setTimeout(tick, interval / 2);
  };
  tick();
  state.stop = () => { state.stopped = true; clearTimeout(state.timer); };
  return state;
}

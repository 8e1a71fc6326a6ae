// A WebSocket publisher for the tests (PROTOCOL.md "Publishing"): a clip
// encoded and split into access units by GStreamer (build/tools/h264_aus,
// tests/tools/h264_aus.c), and optionally a tone encoded into Opus packets
// or raw AAC frames by GStreamer (build/tools/audio_frames), sent to vigil
// as binary frames in real time, both on one clock. Nothing here parses
// H.264 or audio: it only reads the length prefixes the tools wrote.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from '../lib/vigil.js';

export const KIND_VIDEO = 1;
export const KIND_AUDIO = 2;
export const FLAG_KEYFRAME = 1;

// Encodes a clip: {codec, description (Buffer, null for annexb), format,
// aus: [{key, ptsUs, data}]}.
// `bframes` > 0: Main profile with B-frames, units in decode order.
// `codec` 'h265': x265 (hvc1 codec string and hvcC description).
export function makeClip({ frames = 150, fps = 30, width = 320, height = 240, keyInt = 30, annexb = false,
  bframes = 0, codec = 'h264' } = {}) {
  const out = path.join(tempDir('vigil-clip-'), annexb ? 'clip-annexb.vgau' : 'clip.vgau');
  const args = [out, '--frames', String(frames), '--fps', String(fps), '--width', String(width),
    '--height', String(height), '--key-int', String(keyInt), '--bframes', String(bframes)];
  if (annexb) args.push('--annexb');
  if (codec === 'h265') args.push('--h265');
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
  const codecString = take().toString('latin1');
  const desc = take();
  const aus = [];
  while (o < b.length) {
    const n = b.readUInt32BE(o);
    const key = (b[o + 4] & 1) === 1;
    const ptsUs = Number(b.readBigUInt64BE(o + 5));
    aus.push({ key, ptsUs, data: b.subarray(o + 13, o + 13 + n) });
    o += 13 + n;
  }
  // From 0 at the first access unit (x264enc starts its timestamps an hour
  // in), so that a lap of the clip spans its own length.
  const t0 = aus.length ? aus[0].ptsUs : 0;
  for (const au of aus) au.ptsUs -= t0;
  return { codec: codecString, description: desc.length ? desc : null, format: annexb ? 'annexb' : 'avc', fps, aus };
}

// Encodes a tone: {codec ('opus'|'aac'), sampleRate, channels, description
// (Buffer: OpusHead or AudioSpecificConfig), frames: [{ptsUs, data}], spanUs
// (where a second lap starts)}.
export function makeAudio({ codec = 'opus', ms = 3000, channels = 2 } = {}) {
  const out = path.join(tempDir('vigil-audio-'), `tone.${codec}.vgaf`);
  execFileSync(path.join(ROOT, 'build/tools/audio_frames'),
    [out, '--codec', codec, '--ms', String(ms), '--channels', String(channels)],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const b = readFileSync(out);
  if (b.toString('latin1', 0, 4) !== 'VGAF' || b[4] !== 1) throw new Error('not a VGAF file');
  let o = 12;
  const take = () => {
    const n = b.readUInt32BE(o);
    const v = b.subarray(o + 4, o + 4 + n);
    o += 4 + n;
    return v;
  };
  const name = take().toString('latin1');
  const description = take();
  const frames = [];
  while (o < b.length) {
    const n = b.readUInt32BE(o);
    frames.push({ ptsUs: Number(b.readBigUInt64BE(o + 4)), data: b.subarray(o + 12, o + 12 + n) });
    o += 12 + n;
  }
  // One frame's duration after the last one: where the next lap starts.
  const n = frames.length;
  const spanUs = n > 1 ? 2 * frames[n - 1].ptsUs - frames[n - 2].ptsUs : ms * 1000;
  return { codec: name, sampleRate: b.readUInt32BE(8), channels: b[5], description, frames, spanUs };
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

// The publish request's fields for a clip (and audio from makeAudio(); with
// withDescription false, Opus goes without its OpusHead).
export function publishRequest(stream, clip, audio = null, { withDescription = true } = {}) {
  const video = { codec: /^(avc1|hvc1|hev1)\./.test(clip.codec) ? clip.codec : 'avc1.42C01E' };
  if (clip.description) video.description = clip.description.toString('base64');
  const req = { type: 'publish', stream, video };
  if (audio) {
    req.audio = { codec: audio.codec, sample_rate: audio.sampleRate, channels: audio.channels };
    if (withDescription && audio.description.length) req.audio.description = audio.description.toString('base64');
  }
  return req;
}

// Sends the clip's access units on `channel` of a vigil.v1 Client (tests/
// lib/vigil.js) at the clip's frame rate, looping with increasing
// timestamps, until stop(); with `audio` (makeAudio()), its frames too, on
// the same clock (time 0 of both is 1 s on the publisher's clock), each
// looping on its own. `sent` counts video frames, `audioSent` audio frames;
// `firstSentAt` is the Date.now() of the first video frame.
export function streamClip(client, channel, clip, { loop = true, audio = null } = {}) {
  const interval = 1000 / clip.fps;
  const state = { sent: 0, audioSent: 0, firstSentAt: null, stopped: false };
  const start = Date.now();
  const video = {
    items: clip.aus,
    // the latest presentation time, not the last unit's: with B-frames the
    // last unit sent need not be the last one shown
    span: clip.aus.length ? Math.round(Math.max(...clip.aus.map((a) => a.ptsUs)) + interval * 1000) : 0,
    dueMs: (lap, i, span) => lap * span / 1000 + i * interval,
    send: (au, t) => {
      client.ws.send(publishFrame(channel, KIND_VIDEO, au.key ? FLAG_KEYFRAME : 0, t, au.data));
      if (state.firstSentAt === null) state.firstSentAt = Date.now();
      state.sent++;
    },
    i: 0,
    lap: 0,
  };
  const tracks = [video];
  if (audio) {
    tracks.push({
      items: audio.frames,
      span: audio.spanUs,
      dueMs: (lap, i, span) => (lap * span + audio.frames[i].ptsUs) / 1000,
      send: (f, t) => {
        client.ws.send(publishFrame(channel, KIND_AUDIO, 0, t, f.data));
        state.audioSent++;
      },
      i: 0,
      lap: 0,
    });
  }
  const tick = () => {
    if (state.stopped || client.ws.readyState !== 1) return;
    // Catch up to real time (timers are late on a busy machine).
    for (const tr of tracks) {
      while (tr.i < tr.items.length && start + tr.dueMs(tr.lap, tr.i, tr.span) <= Date.now()) {
        const item = tr.items[tr.i];
        tr.send(item, 1_000_000 + tr.lap * tr.span + item.ptsUs);
        tr.i++;
        if (tr.i === tr.items.length && loop) { tr.i = 0; tr.lap++; }
      }
    }
    if (tracks.some((tr) => tr.i < tr.items.length)) state.timer = setTimeout(tick, Math.min(interval, 20) / 2);
  };
  tick();
  state.stop = () => { state.stopped = true; clearTimeout(state.timer); };
  return state;
}

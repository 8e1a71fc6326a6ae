// A camera that pushes RTP or SRTP to vigil, made of real GStreamer elements
// with gst-launch-1.0: videotestsrc, x264enc, rtph264pay and, for SRTP,
// GStreamer's own srtpenc (libsrtp underneath, independent of vigil's
// code). Used by tests/integration/srtp.test.js.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';

// Every camera started here, so a crashed test run does not leave encoders
// burning the shared machine's CPU.
const live = new Set();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

// srtpenc's names for vigil's profiles.
const CIPHERS = {
  AES_CM_128_HMAC_SHA1_80: { cipher: 'aes-128-icm', auth: 'hmac-sha1-80' },
  AEAD_AES_128_GCM: { cipher: 'aes-128-gcm', auth: 'null' },
};

// Sound a camera can add, payloaded for RTP with payload type `pt`.
const AUDIO = {
  opus: (pt) => ['audiotestsrc', 'is-live=true', 'wave=sine', 'freq=440', '!', 'audioconvert', '!',
    'audio/x-raw,rate=48000,channels=1', '!', 'opusenc', '!', 'rtpopuspay', `pt=${pt}`],
  pcmu: (pt) => ['audiotestsrc', 'is-live=true', 'wave=sine', 'freq=440', '!', 'audioconvert', '!',
    'audio/x-raw,rate=8000,channels=1', '!', 'mulawenc', '!', 'rtppcmupay', `pt=${pt}`],
};

// The gst-launch-1.0 arguments of a camera sending to host:port. `keyB64`
// (base64 master key + salt, as in vigil's config) makes it SRTP. A fixed
// `ssrc` lets a restarted camera reuse its SSRC, as some devices do.
// `audio` ('opus', 'pcmu') adds sound with payload type `audioPt`, sent to
// the same port as the video (its own SSRC, the same SRTP key).
// `bframes` > 0: Main profile H.264 with that many B-frames between references.
// `codec` 'h265': x265 (with B-frames) over rtph265pay.
export function cameraArgs({ host = '127.0.0.1', port, keyB64, profile = 'AES_CM_128_HMAC_SHA1_80',
  ssrc, pt = 96, width = 320, height = 240, fps = 25, audio, audioPt = 111, bframes = 0, codec = 'h264' }) {
  const pay = [codec === 'h265' ? 'rtph265pay' : 'rtph264pay', 'config-interval=1', `pt=${pt}`];
  if (ssrc !== undefined) pay.push(`ssrc=${ssrc}`);
  const tail = [];
  if (keyB64) {
    const c = CIPHERS[profile];
    if (!c) throw new Error(`unknown profile ${profile}`);
    const hex = Buffer.from(keyB64, 'base64').toString('hex');
    tail.push('srtpenc', `key=${hex}`, `rtp-cipher=${c.cipher}`, `rtp-auth=${c.auth}`,
      `rtcp-cipher=${c.cipher}`, `rtcp-auth=${c.auth}`, '!');
  }
  tail.push('udpsink', `host=${host}`, `port=${port}`, 'sync=false');
  const args = ['-q', 'videotestsrc', 'is-live=true', 'pattern=ball', '!',
    `video/x-raw,format=I420,width=${width},height=${height},framerate=${fps}/1`, '!',
    ...(codec === 'h265' ? ['x265enc', 'speed-preset=ultrafast', `key-int-max=${fps}`]
      : bframes
      ? ['x264enc', 'speed-preset=ultrafast', `bframes=${bframes}`, 'b-adapt=false',
        `key-int-max=${fps}`, '!', 'video/x-h264,profile=main']
      : ['x264enc', 'tune=zerolatency', 'speed-preset=ultrafast', `key-int-max=${fps}`]), '!',
    ...pay, '!', ...tail];
  if (audio) {
    if (!AUDIO[audio]) throw new Error(`unknown audio ${audio}`);
    args.push(...AUDIO[audio](audioPt), '!', ...tail);
  }
  return args;
}

// Starts gst-launch-1.0 with cameraArgs(opts). It prints nothing when all is
// well: callers watch vigil's counters for its packets.
export function startPushCamera(opts) {
  const proc = spawn('gst-launch-1.0', cameraArgs(opts), { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    live.delete(proc);
    resolve({ code, signal });
  }));
  return {
    proc,
    startedAt: Date.now(),
    log: () => log,
    async stop(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

// A UDP port free on 127.0.0.1 right now.
export { freeUdpPort } from '../lib/ports.js';

// A man in the middle on loopback: receives what a camera sends to
// 127.0.0.1:port, forwards every datagram to `target`, and keeps the last
// `keep` of them so a test can send them again (replays) or send its own
// (garbage) from the same socket.
export async function startTap({ target, keep = 400 }) {
  const sock = dgram.createSocket('udp4');
  const seen = [];
  let forwarded = 0;
  sock.on('message', (msg) => {
    seen.push(Buffer.from(msg));
    if (seen.length > keep) seen.shift();
    forwarded++;
    sock.send(msg, target, '127.0.0.1');
  });
  await new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', resolve);
  });
  return {
    port: sock.address().port,
    seen,
    forwarded: () => forwarded,
    send: (buf) => new Promise((resolve, reject) =>
      sock.send(buf, target, '127.0.0.1', (e) => (e ? reject(e) : resolve()))),
    close: () => new Promise((resolve) => sock.close(resolve)),
  };
}

// What a viewer received, read by ffprobe: the fragments of one MSE channel
// concatenated into a file, or the access units of one WebCodecs channel.
// Used to check that B-frames survive the relay with rising decode times.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const INIT = 1, MEDIA = 2, ACCESS_UNIT = 4;

// ffprobe's view of an fMP4 byte stream: { streams, packets } of the video.
export function probeFmp4(buf) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-probe-'));
  try {
    const file = path.join(dir, 'received.mp4');
    writeFileSync(file, buf);
    const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_streams',
      '-show_packets', '-of', 'json', file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ffprobe failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The init segment and every fragment after it, as one file's bytes. Starts
// at the first init segment of `frames` (parsed headers, tests/lib/vigil.js).
export function fmp4Of(frames) {
  const first = frames.findIndex((f) => f.kind === INIT);
  if (first < 0) throw new Error('no init segment received');
  return Buffer.concat(frames.slice(first).filter((f) => f.kind === INIT || f.kind === MEDIA)
    .map((f) => f.payload));
}

// A problem with the B-frames in a probe, or null: decode times must never
// go back (a browser drops such frames), and some frames must be presented
// out of decode order. A live RTP source's presentation times jitter, so a
// rebuilt decode time may repeat the one before now and then (MSE takes
// that); most must rise.
export function bframesProblem(probe, { profiles = /^(Main|High)/ } = {}) {
  const v = probe.streams[0];
  if (!v) return 'no video stream';
  if (!profiles.test(v.profile)) return `profile ${v.profile}`;
  const pk = probe.packets.filter((p) => p.dts !== undefined && p.dts !== 'N/A');
  if (pk.length < 20) return `only ${pk.length} packets`;
  let repeats = 0;
  for (let i = 1; i < pk.length; i++) {
    if (+pk[i].dts < +pk[i - 1].dts) {
      return `decode time goes back at packet ${i}: ${pk[i - 1].dts} then ${pk[i].dts}`;
    }
    if (+pk[i].dts === +pk[i - 1].dts) repeats++;
  }
  if (repeats > pk.length / 20) return `${repeats} of ${pk.length} decode times repeat the one before`;
  const reordered = pk.filter((p) => p.pts !== p.dts).length;
  if (!reordered) return 'every packet has pts == dts: the B-frames lost their order';
  return null;
}

// The presentation times (µs) of a WebCodecs channel's access units, in
// arrival (= decode) order.
export function accessUnitPts(frames) {
  return frames.filter((f) => f.kind === ACCESS_UNIT).map((f) => Number(f.payload.readBigUInt64BE(0)));
}

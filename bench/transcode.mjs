// transcode.mjs -- what a stream's transcode (media/variant.h) costs: the
// server's CPU with one viewer of an H.265 720p30 camera, then with one more
// viewer of its H.264 transcode (the difference is the transcode's), and
// the latency it adds: for each picture, when its transcoded access unit
// reached a viewer minus when the camera's own did.
//
// Used by bench/run.mjs (scenario "transcode"). Both viewers use WebCodecs
// mode, whose units leave the server as they come out of its parser.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

// The H.265 clip (720p30, a keyframe a second, B-frames as x265 makes
// them), made once beside the H.264 one.
export function h265Clip(dir) {
  const file = path.join(dir, 'clip_h265.mp4');
  if (existsSync(file)) return file;
  const r = spawnSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=600', 'pattern=smpte',
    'horizontal-speed=4', '!', 'video/x-raw,format=I420,width=1280,height=720,framerate=30/1', '!',
    'timeoverlay', 'font-desc=Sans 48', '!', 'x265enc', 'speed-preset=ultrafast', 'bitrate=2000',
    'key-int-max=30', '!', 'h265parse', '!', 'mp4mux', '!', 'filesink', `location=${file}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making the H.265 clip: ${r.stderr}`);
  return file;
}

// utime + stime of a process, in seconds.
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (+f[11] + +f[12]) / 100; // fields 14 and 15, clock ticks of 10 ms
}

// A WebCodecs viewer of `variant` that notes when each unit (by pts) came.
async function viewer(port, stream, variant, accept) {
  const WebSocket = require('../tests/node_modules/ws');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['vigil.v1']);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const v = { ws, arrivals: new Map(), keyframes: new Map(), replies: [], firstKeyAt: null };
  ws.on('message', (data, binary) => {
    if (!binary) { v.replies.push(JSON.parse(data)); return; }
    if (data[1] !== 4) return;
    const pts = data.readBigInt64BE(16);
    v.arrivals.set(pts, performance.now());
    if (data[2] & 1) v.keyframes.set(pts, { at: performance.now() });
    if (v.firstKeyAt === null && data[2] & 1) v.firstKeyAt = performance.now();
  });
  ws.send(JSON.stringify({ type: 'hello', id: 'h' }));
  v.subscribedAt = performance.now();
  ws.send(JSON.stringify({ type: 'subscribe', id: 's', stream, mode: 'webcodecs', variant, accept }));
  return v;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.floor(p * v.length))] : null;
};

// The transcode's timeline starts at the keyframe it started from: the
// newest one of the camera's when it was asked for (it starts from the
// main stream's GOP cache), so its pts are the camera's minus that
// keyframe's. (pts alone cannot say: on a steady 30 fps grid every shift by
// a frame matches as well.) Returns, per picture, the transcoded unit's
// delay behind the camera's own, in ms.
function addedLatency(main, trans) {
  let base = null;
  for (const [pts, k] of main.keyframes) if (k.at <= trans.subscribedAt) base = pts;
  if (base === null) return [];
  const delays = [];
  for (const [t, at] of trans.arrivals) {
    const m = main.arrivals.get(t + base);
    // Steady state only: not the GOP it started from (sent at once, late).
    if (m !== undefined && m > trans.subscribedAt + 1000) delays.push(at - m);
  }
  return delays;
}

// startServer(config) -> {port, proc, stop}: bench/run.mjs's, pinned.
export async function measureTranscode({ startServer, clip, warmupS, durationS }) {
  const srv = await startServer({
    server: { bind: '127.0.0.1', log_level: 'warn', max_transcodes: 1 },
    auth: { anonymous: { streams: ['cam'] } },
    streams: [{ id: 'cam', source: `file://${clip}`, transcode: { codec: 'h264', max_height: 720, bitrate_kbps: 1500 } }],
  });
  try {
    const main = await viewer(srv.port, 'cam', 'main', ['hvc1']);
    await sleep(warmupS * 1000);
    let c0 = cpuSeconds(srv.proc.pid), t0 = performance.now();
    await sleep(durationS * 1000);
    const alone = (cpuSeconds(srv.proc.pid) - c0) / ((performance.now() - t0) / 1000);

    const trans = await viewer(srv.port, 'cam', 'transcode', ['avc1']);
    await sleep(warmupS * 1000 + 1000);
    const firstPictureMs = trans.firstKeyAt === null ? null : trans.firstKeyAt - trans.subscribedAt;
    const framesBefore = trans.arrivals.size;
    c0 = cpuSeconds(srv.proc.pid);
    t0 = performance.now();
    await sleep(durationS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const both = (cpuSeconds(srv.proc.pid) - c0) / elapsed;
    const fps = (trans.arrivals.size - framesBefore) / elapsed;
    const delays = addedLatency(main, trans);
    const reply = trans.replies.find((m) => m.id === 's');
    main.ws.close();
    trans.ws.close();
    return {
      variant: reply?.variant ?? null,
      cpu_cores_main_only: alone,
      cpu_cores_with_transcode: both,
      cpu_cores_transcode: both - alone,
      transcode_fps: fps,
      first_picture_ms: firstPictureMs,
      added_latency_ms: { p50: pct(delays, 0.5), p95: pct(delays, 0.95), matched: delays.length },
    };
  } finally {
    await srv.stop();
  }
}

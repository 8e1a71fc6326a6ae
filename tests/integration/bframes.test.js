// Cameras that send H.264 with B-frames (Main profile, bframes=2, what NVRs
// and many cameras default to), through every source kind that can carry
// them: rtsp:// (gst-rtsp-server), file:// (an MP4 made by mp4mux), rtp:// and
// srtp:// (gst-launch rtph264pay, with srtpenc for SRTP) and publish:// (a
// device sending access units in decode order). RTP, RTSP and publishers give
// presentation times only; vigil must rebuild decode times, or mp4mux writes
// decode times that go backwards and browsers decode nothing.
//
// For each: an MSE viewer's init segment and fragments, concatenated, read
// by ffprobe: Main profile, decode times never going back, and frames shown
// out of decode order (the B-frames kept). A WebCodecs viewer of the same
// stream gets access units in decode order whose presentation times are not
// monotonic. The browser side is tests/browser/bframes.test.js.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startVigil, freePort, waitStreamState, Client, SLOW, until, mintToken, tempDir } from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';
import { startPushCamera, freeUdpPort } from '../tools/push_camera.js';
import { makeClip, publishRequest, streamClip } from '../tools/publisher.js';
import { probeFmp4, fmp4Of, bframesProblem, accessUnitPts } from '../lib/media_probe.js';

const KEY_B64 = Buffer.alloc(30, 7).toString('base64'); // SRTP master key + salt

// A B-frames MP4 file, as a camera's recording would be.
function makeFile() {
  const file = path.join(tempDir('vigil-bframes-'), 'bframes.mp4');
  const r = spawnSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=125', 'pattern=ball', '!',
    'video/x-raw,width=320,height=240,framerate=25/1', '!', 'x264enc', 'speed-preset=ultrafast',
    'bframes=2', 'b-adapt=false', 'key-int-max=25', '!', 'video/x-h264,profile=main', '!',
    'h264parse', '!', 'mp4mux', '!', 'filesink', `location=${file}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gst-launch: ${r.stderr}`);
  return file;
}

describe('H.264 with B-frames, every source kind', { timeout: 180000 * SLOW }, () => {
  let vigil;
  let camera;
  const pushers = [];
  let publisher;
  let feed;
  const clients = [];

  before(async () => {
    const rtspPort = await freePort();
    camera = await startCamera({ port: rtspPort, bframes: 2, profile: 'main' });
    const rtpPort = await freeUdpPort();
    const srtpPort = await freeUdpPort();
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1', log_level: 'info' },
        streams: [
          { id: 'rtsp', source: camera.url },
          { id: 'file', source: `file://${makeFile()}` },
          { id: 'rtp', source: `rtp://127.0.0.1:${rtpPort}`, options: { payload_type: 96 } },
          { id: 'srtp', source: `srtp://127.0.0.1:${srtpPort}`, options: { key: KEY_B64 } },
          { id: 'pub', source: 'publish://' },
        ],
      },
    });
    pushers.push(startPushCamera({ port: rtpPort, bframes: 2 }));
    pushers.push(startPushCamera({ port: srtpPort, keyB64: KEY_B64, bframes: 2 }));
    publisher = await new Client(vigil.wsUrl).open();
    clients.push(publisher);
    const token = mintToken({ sub: 'cam-device', role: 'publisher', streams: ['pub'], devices: [] });
    await publisher.request({ type: 'hello', token });
    const clip = makeClip({ frames: 90, fps: 30, bframes: 2 });
    const reply = await publisher.request(publishRequest('pub', clip));
    assert.equal(reply.type, 'publish', JSON.stringify(reply));
    feed = streamClip(publisher, reply.channel, clip);
  });

  after(async () => {
    if (feed) feed.stop();
    for (const c of clients) c.close();
    for (const p of pushers) await p.stop();
    if (vigil) await vigil.stop();
    if (camera) await camera.stop('SIGKILL');
  });

  // Subscribes in `mode` and resolves with the channel's frames once `enough`
  // says there are enough.
  async function receive(stream, mode, enough) {
    const c = await new Client(vigil.wsUrl).open();
    clients.push(c);
    const reply = await c.request({ type: 'subscribe', stream, mode });
    assert.equal(reply.type, 'subscribe', JSON.stringify(reply));
    const mine = () => c.frames.filter((f) => f.channel === reply.channel);
    await until(() => enough(mine()), 15000 * SLOW, () => `${stream} ${mode}: ${mine().length} frames`);
    c.close();
    return mine();
  }

  for (const stream of ['rtsp', 'file', 'rtp', 'srtp', 'pub']) {
    it(`${stream}: fragments keep the B-frames with rising decode times`, async () => {
      await waitStreamState(vigil, stream, 'live', 20000 * SLOW);
      const frames = await receive(stream, 'mse', (fs) => fs.filter((f) => f.kind === 2).length >= 40);
      const probe = probeFmp4(fmp4Of(frames));
      const problem = bframesProblem(probe);
      assert.equal(problem, null, `${stream}: ${problem}`);
    });

    it(`${stream}: access units come in decode order with their presentation times`, async () => {
      const frames = await receive(stream, 'webcodecs', (fs) => fs.filter((f) => f.kind === 4).length >= 40);
      assert.equal(frames[0].kind, 3, 'the decoder configuration comes first');
      const pts = accessUnitPts(frames);
      const backwards = pts.filter((p, i) => i > 0 && p < pts[i - 1]).length;
      assert.ok(backwards > 0, `${stream}: presentation times never go back: ${pts.slice(0, 12)}`);
      // Decode order: each unit's time is at most the reorder depth behind
      // the newest time before it, never a frame from further back.
      const sorted = [...pts].sort((a, b) => a - b);
      const gaps = sorted.slice(1).map((p, i) => p - sorted[i]).filter((d) => d > 0).sort((a, b) => a - b);
      const step = gaps[gaps.length >> 1]; // the frame interval
      let newest = -Infinity;
      for (const p of pts) {
        assert.ok(p > newest - 3 * step, `${stream}: unit at ${p} after ${newest}`);
        newest = Math.max(newest, p);
      }
    });
  }
});

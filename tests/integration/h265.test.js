// H.265 (HEVC) cameras relayed untouched, from the source kinds that carry
// it: rtsp:// (gst-rtsp-server with x265enc and rtph265pay), file:// (an MP4
// made by mp4mux), rtp:// / srtp:// (gst-launch rtph265pay; options
// "encoding": "H265") and publish:// (options "codec": "h265": a device
// sending hvc1 access units with their hvcC). x265 sends B-frames, so this
// is also B-frames and H.265 together.
//
// For each: the stream's codecs say hvc1; an MSE viewer's fragments read by
// ffprobe are hevc with rising decode times and reordered frames; a WebCodecs
// viewer gets a decoder configuration for an hvc1 codec with format "hevc"
// and its hvcC, then access units. A client that accepts only avc1 is told
// unsupported_codec; one that accepts hvc1 gets the stream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil, freePort, waitStreamState, Client, SLOW, until, mintToken } from '../lib/vigil.js';
import { makeClip, publishRequest, streamClip } from '../tools/publisher.js';
import { startCamera } from '../tools/camera.js';
import { startPushCamera, freeUdpPort } from '../tools/push_camera.js';
import { probeFmp4, fmp4Of, bframesProblem } from '../lib/media_probe.js';
import { makeH265Mp4 } from '../lib/media_files.js';

const KEY_B64 = Buffer.alloc(30, 9).toString('base64');

// The JSON of a kind 3 decoder configuration, and its codec data's length.
function decoderConfig(frame) {
  const j = frame.payload.readUInt16BE(0);
  return { json: JSON.parse(frame.payload.subarray(2, 2 + j).toString('utf8')), dataLen: frame.payload.length - 2 - j };
}

describe('H.265 cameras, relayed untouched', { timeout: 180000 * SLOW }, () => {
  let vigil;
  let camera;
  const pushers = [];
  const clients = [];
  let feed;

  before(async () => {
    camera = await startCamera({ port: await freePort(), codec: 'h265' });
    const rtpPort = await freeUdpPort();
    const srtpPort = await freeUdpPort();
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1', log_level: 'info' },
        streams: [
          { id: 'rtsp', source: camera.url },
          { id: 'file', source: `file://${makeH265Mp4()}` },
          { id: 'rtp', source: `rtp://127.0.0.1:${rtpPort}`, options: { payload_type: 96, encoding: 'H265' } },
          { id: 'srtp', source: `srtp://127.0.0.1:${srtpPort}`, options: { key: KEY_B64, encoding: 'h265' } },
          { id: 'pub', source: 'publish://', options: { codec: 'h265' } },
        ],
      },
    });
    pushers.push(startPushCamera({ port: rtpPort, codec: 'h265' }));
    pushers.push(startPushCamera({ port: srtpPort, keyB64: KEY_B64, codec: 'h265' }));
    const publisher = await new Client(vigil.wsUrl).open();
    clients.push(publisher);
    await publisher.request({ type: 'hello', token: mintToken({ sub: 'cam', role: 'publisher', streams: ['pub'], devices: [] }) });
    // An H.264 device on an H.265 stream is told what the stream takes.
    const wrong = await publisher.request(publishRequest('pub', makeClip({ frames: 10 })));
    assert.deepEqual([wrong.code, wrong.field], ['bad_field', 'video.codec'], JSON.stringify(wrong));
    const clip = makeClip({ frames: 75, fps: 25, keyInt: 25, codec: 'h265' });
    assert.match(clip.codec, /^(hvc1|hev1)\./, clip.codec);
    const reply = await publisher.request(publishRequest('pub', clip));
    assert.equal(reply.type, 'publish', JSON.stringify(reply));
    assert.equal(reply.format, 'hevc');
    feed = streamClip(publisher, reply.channel, clip);
  });

  after(async () => {
    if (feed) feed.stop();
    for (const c of clients) c.close();
    for (const p of pushers) await p.stop();
    if (vigil) {
      const st = await vigil.stop();
      assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
    }
    if (camera) await camera.stop('SIGKILL');
  });

  async function receive(stream, req, enough) {
    const c = await new Client(vigil.wsUrl).open();
    clients.push(c);
    const reply = await c.request({ type: 'subscribe', stream, ...req });
    if (reply.type !== 'subscribe') return { reply };
    const mine = () => c.frames.filter((f) => f.channel === reply.channel);
    await until(() => enough(mine()), 15000 * SLOW, () => `${stream}: ${mine().length} frames`);
    c.close();
    return { reply, frames: mine() };
  }

  for (const stream of ['rtsp', 'file', 'rtp', 'srtp', 'pub']) {
    it(`${stream}: live with an hvc1 codec string, fragments are hevc with rising decode times`, async () => {
      const s = await waitStreamState(vigil, stream, 'live', 20000 * SLOW);
      assert.match(String(s.codecs), /^(hvc1|hev1)\./, `codecs ${s.codecs}`);
      const { reply, frames } = await receive(stream, { mode: 'mse', accept: ['hvc1'] },
        (fs) => fs.filter((f) => f.kind === 2).length >= 40);
      assert.match(reply.mime, /^video\/mp4; codecs="(hvc1|hev1)\./, reply.mime);
      const probe = probeFmp4(fmp4Of(frames));
      assert.equal(probe.streams[0].codec_name, 'hevc');
      const problem = bframesProblem(probe, { profiles: /^Main/ });
      assert.equal(problem, null, `${stream}: ${problem}`);
    });

    it(`${stream}: WebCodecs gets an hvc1 configuration with its hvcC, then access units`, async () => {
      const { frames } = await receive(stream, { mode: 'webcodecs', accept: ['hvc1'] },
        (fs) => fs.filter((f) => f.kind === 4).length >= 20);
      assert.equal(frames[0].kind, 3);
      const cfg = decoderConfig(frames[0]);
      assert.match(cfg.json.codec, /^(hvc1|hev1)\./, JSON.stringify(cfg.json));
      assert.equal(cfg.json.format, 'hevc');
      assert.ok(cfg.dataLen > 22, `hvcC of ${cfg.dataLen} bytes`);
      assert.ok(frames.slice(1).some((f) => f.kind === 4 && f.flags & 1), 'a keyframe access unit');
    });

    it(`${stream}: a client that accepts only avc1 gets unsupported_codec`, async () => {
      const { reply } = await receive(stream, { mode: 'mse', accept: ['avc1'] }, () => true);
      assert.equal(reply.code, 'unsupported_codec', JSON.stringify(reply));
      assert.match(reply.message, /hvc1|hev1/);
    });
  }
});

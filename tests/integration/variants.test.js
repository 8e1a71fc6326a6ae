// Substreams and the transcode (media/variant.h, PROTOCOL.md "subscribe"):
// the other pictures of a stream, each run only while watched.
//
// A real H.265 camera (gst-rtsp-server, x265) is the main stream of "door",
// with a small H.264 substream and a transcode; a second H.265 camera has
// a transcode only; a third stream has a substream that cannot be reached.
// A client that accepts only avc1 gets the substream (picked, or named),
// then the transcode when it names it: both read by ffprobe as H.264 with
// rising decode times, the transcode scaled to its max_height. Variants run
// only while watched and stop after the last viewer leaves; a second
// transcode beyond server.max_transcodes is refused with transcode_limit;
// a variant that fails shows why in /api/streams while the main stream's
// viewer keeps receiving every frame.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil, freePort, waitStreamState, streamInfo, Client, SLOW, until, sleep } from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';
import { probeFmp4, fmp4Of } from '../lib/media_probe.js';

const LINGER_MS = 10000; // media/variant.h VG_VARIANT_LINGER_US

describe('substreams and the transcode', { timeout: 240000 * SLOW }, () => {
  let vigil;
  const cameras = [];
  const clients = [];

  before(async () => {
    const main = await startCamera({ port: await freePort(), codec: 'h265', width: 640, height: 360 });
    const other = await startCamera({ port: await freePort(), codec: 'h265', width: 320, height: 240 });
    cameras.push(main, other);
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1', max_transcodes: 1 },
        streams: [
          {
            id: 'door', source: main.url,
            variants: { sub: { source: 'test://', options: { width: 320, height: 180, fps: 25, bitrate_kbps: 300 } } },
            transcode: { codec: 'h264', max_height: 240, bitrate_kbps: 400 },
          },
          { id: 'yard', source: other.url, transcode: { max_height: 120 } },
          { id: 'gate', source: 'test://', options: { width: 320, height: 240, fps: 25 },
            variants: { broken: 'rtsp://127.0.0.1:1/nothing' } },
        ],
      },
    });
  });

  after(async () => {
    for (const c of clients) c.close();
    if (vigil) {
      const st = await vigil.stop();
      assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
    }
    for (const c of cameras) await c.stop('SIGKILL');
  });

  async function client() {
    const c = await new Client(vigil.wsUrl).open();
    clients.push(c);
    return c;
  }
  const variantOf = (s, name) => s.variants.find((v) => v.name === name);

  it('lists each variant, stopped until watched', async () => {
    const door = await waitStreamState(vigil, 'door', 'live', 20000 * SLOW);
    assert.match(door.codecs, /^(hvc1|hev1)\./);
    assert.deepEqual(door.variants.map((v) => [v.name, v.kind, v.state, v.codecs, v.viewers]),
      [['sub', 'substream', 'stopped', null, 0], ['transcode', 'transcode', 'stopped', null, 0]]);
    assert.equal(door.variants[0].source, 'test://');
    assert.equal((await streamInfo(vigil, 'gate')).variants.length, 1);
  });

  it('a client that decodes only H.264 is given the substream, which runs while watched', async () => {
    const c = await client();
    const r = await c.request({ type: 'subscribe', stream: 'door', mode: 'mse', accept: ['avc1'] });
    assert.equal(r.type, 'subscribe', JSON.stringify(r));
    assert.equal(r.variant, 'sub');
    const live = await c.waitFor((m) => m.type === 'stream.state' && m.channel === r.channel && m.state === 'live',
      15000 * SLOW, 'the substream live');
    assert.equal(live.variant, 'sub');
    assert.equal(live.stream, 'door');
    // The reply came first: the client knew the channel before its events.
    const first = c.messages.findIndex((m) => m.type === 'stream.state' && m.channel === r.channel);
    assert.ok(c.messages.indexOf(r) < first, JSON.stringify(c.messages.slice(0, 4)));
    assert.match(live.codecs, /^avc1\./);
    const mine = () => c.frames.filter((f) => f.channel === r.channel);
    await until(() => mine().filter((f) => f.kind === 2).length >= 30, 15000 * SLOW, () => `${mine().length} frames`);
    const probe = probeFmp4(fmp4Of(mine()));
    assert.equal(probe.streams[0].codec_name, 'h264');
    assert.deepEqual([probe.streams[0].width, probe.streams[0].height], [320, 180]);
    let sub = variantOf(await streamInfo(vigil, 'door'), 'sub');
    assert.deepEqual([sub.state, sub.viewers], ['live', 1]);
    assert.match(sub.codecs, /^avc1\./);
    // No one left: it stops after the linger time, and keeps its codecs.
    const leftAt = Date.now();
    assert.equal((await c.request({ type: 'unsubscribe', channel: r.channel })).type, 'unsubscribe');
    await sleep(LINGER_MS / 2);
    assert.equal(variantOf(await streamInfo(vigil, 'door'), 'sub').state, 'live', 'still running within the linger time');
    await until(async () => variantOf(await streamInfo(vigil, 'door'), 'sub').state === 'stopped',
      (LINGER_MS + 5000) * SLOW, 'the substream stopped');
    assert.ok(Date.now() - leftAt >= LINGER_MS - 500, `stopped after ${Date.now() - leftAt} ms`);
    sub = variantOf(await streamInfo(vigil, 'door'), 'sub');
    assert.match(sub.codecs, /^avc1\./, 'its codecs stay known');
  });

  it('the transcode: H.264 made from the H.265 camera, scaled, for MSE and WebCodecs', async () => {
    const c = await client();
    const r = await c.request({ type: 'subscribe', stream: 'door', mode: 'mse', accept: ['avc1'], variant: 'transcode' });
    assert.equal(r.type, 'subscribe', JSON.stringify(r));
    assert.equal(r.variant, 'transcode');
    const mine = () => c.frames.filter((f) => f.channel === r.channel);
    await until(() => mine().filter((f) => f.kind === 2).length >= 40, 20000 * SLOW,
      async () => `${mine().length} frames; ${JSON.stringify(variantOf(await streamInfo(vigil, 'door'), 'transcode'))}`);
    const probe = probeFmp4(fmp4Of(mine()));
    const v = probe.streams[0];
    assert.equal(v.codec_name, 'h264');
    assert.deepEqual([v.width, v.height], [426, 240], 'scaled to max_height, same shape');
    // x264 zerolatency sends no B-frames: decode times simply rise.
    const dts = probe.packets.map((p) => Number(p.dts));
    assert.ok(dts.length >= 40 && dts.every((d, i) => i === 0 || d > dts[i - 1]), `decode times ${dts.slice(0, 12)}`);
    const t = variantOf(await streamInfo(vigil, 'door'), 'transcode');
    assert.deepEqual([t.state, t.viewers], ['live', 1]);
    // It keeps up with the camera's 25 fps (its first second starts with a
    // burst: the main stream's GOP so far).
    await until(async () => variantOf(await streamInfo(vigil, 'door'), 'transcode').fps > 20, 5000 * SLOW,
      'the transcode at the camera\'s rate');

    // The same transcode, in WebCodecs mode: an avc1 configuration, units.
    const w = await client();
    const rw = await w.request({ type: 'subscribe', stream: 'door', mode: 'webcodecs', accept: ['avc1'], variant: 'transcode' });
    assert.equal(rw.variant, 'transcode');
    const wf = () => w.frames.filter((f) => f.channel === rw.channel);
    await until(() => wf().filter((f) => f.kind === 4).length >= 10, 10000 * SLOW, () => `${wf().length} units`);
    assert.equal(wf()[0].kind, 3);
    const j = wf()[0].payload.readUInt16BE(0);
    assert.match(JSON.parse(wf()[0].payload.subarray(2, 2 + j)).codec, /^avc1\./);
    assert.ok(wf()[1].flags & 1, 'the first unit is a keyframe');
    assert.equal(variantOf(await streamInfo(vigil, 'door'), 'transcode').viewers, 2);
    w.close();

    // A second transcode is beyond server.max_transcodes (1) while this one runs.
    const y = await client();
    const refused = await y.request({ type: 'subscribe', stream: 'yard', accept: ['avc1'] });
    assert.deepEqual([refused.code, refused.field], ['transcode_limit', 'variant'], JSON.stringify(refused));
    assert.equal(variantOf(await streamInfo(vigil, 'yard'), 'transcode').state, 'stopped');
    // Its viewer leaves: after the linger time the place is free again.
    c.close();
    await until(async () => variantOf(await streamInfo(vigil, 'door'), 'transcode').state === 'stopped',
      (LINGER_MS + 5000) * SLOW, 'the transcode stopped');
    const yr = await y.request({ type: 'subscribe', stream: 'yard', accept: ['avc1'] });
    assert.equal(yr.variant, 'transcode', JSON.stringify(yr));
    const yf = () => y.frames.filter((f) => f.channel === yr.channel);
    await until(() => yf().filter((f) => f.kind === 2).length >= 20, 20000 * SLOW, () => `${yf().length} frames`);
    const yp = probeFmp4(fmp4Of(yf())).streams[0];
    assert.deepEqual([yp.codec_name, yp.width, yp.height], ['h264', 160, 120]);

    // The transcode follows its main stream: the camera goes away, the
    // transcode waits for it; it comes back, so does the transcode, with a
    // new init segment first.
    const other = cameras[1];
    await other.stop('SIGKILL');
    const waiting = await y.waitFor((m) => m.type === 'stream.state' && m.channel === yr.channel && m.state === 'retrying',
      15000 * SLOW, 'the transcode waiting');
    assert.deepEqual([waiting.variant, waiting.reason], ['transcode', 'waiting for the main stream']);
    assert.equal(variantOf(await streamInfo(vigil, 'yard'), 'transcode').last_error, 'waiting for the main stream');
    const port = Number(new URL(other.url).port);
    cameras[1] = await startCamera({ port, codec: 'h265', width: 320, height: 240 });
    const inits = () => yf().filter((f) => f.kind === 1).length;
    const initsBefore = inits();
    await y.waitFor((m) => m.type === 'stream.state' && m.channel === yr.channel && m.state === 'live' &&
      y.messages.indexOf(m) > y.messages.indexOf(waiting), 30000 * SLOW, 'the transcode live again');
    await until(() => inits() > initsBefore && yf().at(-1).kind === 2, 10000 * SLOW, 'a new init segment, then fragments');
  });

  it('names and codecs that do not fit are refused clearly', async () => {
    const c = await client();
    const unknown = await c.request({ type: 'subscribe', stream: 'door', variant: 'hd' });
    assert.deepEqual([unknown.code, unknown.field], ['unknown_variant', 'variant'], JSON.stringify(unknown));
    const main = await c.request({ type: 'subscribe', stream: 'door', variant: 'main', accept: ['avc1'] });
    assert.deepEqual([main.code, main.field], ['unsupported_codec', 'accept'], JSON.stringify(main));
    const bad = await c.request({ type: 'subscribe', stream: 'door', variant: 7 });
    assert.deepEqual([bad.code, bad.field], ['bad_field', 'variant'], JSON.stringify(bad));
    // Neither yard's camera nor its transcode is VP9: nothing is subscribed.
    const none = await c.request({ type: 'subscribe', stream: 'yard', accept: ['vp09'] });
    assert.equal(none.code, 'unsupported_codec', JSON.stringify(none));
    // A client that takes H.265 gets the camera's own stream, untouched.
    const own = await c.request({ type: 'subscribe', stream: 'door', accept: ['hvc1'] });
    assert.equal(own.variant, 'main', JSON.stringify(own));
    assert.match(own.codecs, /^(hvc1|hev1)\./);
  });

  it('a variant that fails shows why, and the main stream\'s viewer sees nothing of it', async () => {
    const viewer = await client();
    const r = await viewer.request({ type: 'subscribe', stream: 'gate', mode: 'webcodecs' });
    assert.equal(r.variant, 'main');
    const units = () => viewer.frames.filter((f) => f.channel === r.channel && f.kind === 4);
    await until(() => units().length >= 10, 10000 * SLOW, 'main units');
    const c = await client();
    const rb = await c.request({ type: 'subscribe', stream: 'gate', variant: 'broken' });
    assert.equal(rb.variant, 'broken', JSON.stringify(rb));
    const retrying = await c.waitFor((m) => m.type === 'stream.state' && m.channel === rb.channel && m.state === 'retrying',
      15000 * SLOW, 'the broken variant retrying');
    assert.equal(retrying.variant, 'broken');
    assert.ok(retrying.reason, JSON.stringify(retrying));
    const gate = await streamInfo(vigil, 'gate');
    const broken = variantOf(gate, 'broken');
    assert.equal(broken.state, 'retrying');
    assert.ok(broken.last_error && broken.last_error.length > 5, JSON.stringify(broken));
    assert.deepEqual([gate.state, gate.last_error], ['live', null]);
    // The main viewer's units kept coming, numbered without a gap, and no
    // event about the variant reached its channel.
    const before = units().length;
    await until(() => units().length >= before + 20, 5000 * SLOW, 'main units go on');
    assert.equal(viewer.messages.filter((m) => m.type === 'stream.state').length, 0,
      JSON.stringify(viewer.messages.filter((m) => m.type === 'stream.state')));
    const stats = await viewer.request({ type: 'stats' });
    assert.deepEqual(stats.channels.map((ch) => [ch.variant, ch.frames_skipped]), [['main', 0]]);
  });
});

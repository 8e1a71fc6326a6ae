// End to end over a real socket: build/vigil with its embedded demo stream,
// clients speaking vigil.v1 (signaling/PROTOCOL.md). Run by `make test`
// against the release build and again against the ASan+UBSan build.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { startVigil, waitStreamState, Client, sleep, tempDir, VIGIL_BIN } from '../lib/vigil.js';

// Sanitizers slow everything down; timing bounds scale with this.
const SLOW = process.env.VIGIL_SANITIZED ? 2 : 1;

function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))];
}

async function subscribedClient(v, stream = 'demo') {
  const c = await new Client(v.wsUrl).open();
  const reply = await c.request({ type: 'subscribe', stream, mode: 'mse' });
  assert.equal(reply.type, 'subscribe', JSON.stringify(reply));
  return { c, reply };
}

describe('the demo stream over /ws', () => {
  let v;
  before(async () => {
    v = await startVigil();
    await waitStreamState(v, 'demo', 'live');
  });
  after(async () => {
    const st = await v.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${v.log()}`);
  });

  test('REST: health and streams', async () => {
    const h = await (await v.fetch(`/api/health`)).json();
    assert.equal(h.status, 'ok');
    assert.equal(h.streams, 1);
    // fps and bitrate are measured over one-second windows; the first can
    // still hold the start-up burst (a slow, sanitized server): wait for one
    // in range, up to a few seconds.
    let r;
    for (let i = 0; i < 50 * SLOW; i++) {
      r = await v.fetch(`/api/streams`);
      const fps = (await r.clone().json())[0].fps;
      if (fps > 20 && fps < 40) break;
      await sleep(100);
    }
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /application\/json/);
    const [s] = await r.json();
    assert.equal(s.id, 'demo');
    assert.equal(s.state, 'live');
    assert.equal(s.source, 'test://');
    assert.match(s.codecs, /^avc1\.[0-9A-F]{6}$/i);
    assert.equal(typeof s.viewers, 'number');
    assert.ok(s.fps > 20 && s.fps < 40, `ingest fps ${s.fps}`);
    assert.ok(s.bitrate_bps > 100_000, `bitrate ${s.bitrate_bps}`);
    const nf = await v.fetch(`/api/nope`);
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { error: 'not_found' });
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const m = await v.fetch(`/api/streams`, { method, body: method === 'DELETE' ? undefined : '{"x":1}' });
      assert.equal(m.status, 405, method);
      assert.deepEqual(await m.json(), { error: 'method_not_allowed' });
    }
    assert.equal((await v.fetch(`/api/health`)).status, 200, 'still serving after refusals');
  });

  test('the dashboard files are served', async () => {
    const r = await fetch(`${v.base}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/html/);
    assert.match(await r.text(), /<html/i);
  });

  test('hello and list', async () => {
    const c = await new Client(v.wsUrl).open();
    const h = await c.request({ type: 'hello', id: 1 });
    assert.equal(h.id, 1);
    assert.equal(h.protocol, 'vigil.v1');
    assert.equal(h.limits.max_text_bytes, 65536);
    const l = await c.request({ type: 'list', id: 'x' });
    assert.equal(l.id, 'x');
    assert.deepEqual(l.streams.map((s) => s.id), ['demo']);
    assert.equal(l.streams[0].state, 'live');
    c.close();
  });

  test('a subscriber gets the init segment, then keyframe-first fragments at >= 25 fps', async () => {
    const { c, reply } = await subscribedClient(v);
    assert.equal(typeof reply.channel, 'number');
    assert.match(reply.codecs, /^avc1\./);
    assert.equal(reply.mime, `video/mp4; codecs="${reply.codecs}"`);
    const t0 = Date.now();
    await sleep(1000); // GOP cache arrives at once; then measure the live rate
    const n1 = c.frames.length;
    await sleep(3000);
    const n2 = c.frames.length;
    const rate = (n2 - n1) / 3;
    c.close();

    const f = c.frames;
    assert.ok(f.length > 10, `only ${f.length} frames in ${Date.now() - t0} ms`);
    for (const h of f) {
      assert.equal(h.version, 1);
      assert.equal(h.reserved, 0);
      assert.equal(h.channel, reply.channel);
    }
    assert.equal(f[0].kind, 1, 'first binary frame is the init segment');
    assert.equal(f[0].payload.subarray(4, 8).toString(), 'ftyp');
    assert.equal(f[1].kind, 2);
    assert.equal(f[1].flags & 1, 1, 'first media fragment is a keyframe');
    assert.equal(f[1].flags & 2, 0, 'no skip before the first frame');
    for (let i = 1; i < f.length; i++) {
      assert.equal(f[i].kind, 2);
      assert.equal(f[i].payload.subarray(4, 8).toString(), 'moof');
      if (i > 1) assert.ok(f[i].timeUs > f[i - 1].timeUs, `timestamps rise at ${i}`);
    }
    assert.ok(rate >= 25, `live rate ${rate} fragments/s`);
    const keys = f.filter((h) => h.flags & 1).length;
    assert.ok(keys >= 3, `${keys} keyframes in ~4 s (one a second expected)`);
  });

  test('a viewer that never reads does not delay another', async () => {
    const stalled = await subscribedClient(v);
    stalled.c.ws._socket.pause(); // never reads again: its kernel buffers, then its queue fill
    const { c } = await subscribedClient(v);
    await sleep(1500);
    const from = c.frames.length;
    await sleep(8000);
    const window = c.frames.slice(from);
    const stats = await c.request({ type: 'stats' });
    c.close();
    stalled.c.ws.terminate();

    const rate = window.length / 8;
    assert.ok(rate >= 25, `reading viewer got ${rate} fragments/s next to a stalled one`);
    const lat = window.map((h) => Number(h.arrivalUs - h.timeUs) / 1000);
    const p99 = percentile(lat, 99);
    assert.ok(p99 < 250 * SLOW, `relay latency p99 ${p99} ms`);
    const gaps = window.slice(1).map((h, i) => Number(h.arrivalUs - window[i].arrivalUs) / 1000);
    assert.ok(Math.max(...gaps) < 300 * SLOW, `largest gap ${Math.max(...gaps)} ms`);
    assert.equal(window.filter((h) => h.flags & 2).length, 0, 'the reading viewer never skipped');
    assert.equal(stats.channels[0].frames_skipped, 0);
    assert.equal(stats.channels[0].skips, 0);
  });

  test('bad input gets error codes; the connection stays usable', async () => {
    const c = await new Client(v.wsUrl).open();
    const errors = [];
    const expect = async (raw, code, field) => {
      const before = c.messages.length;
      c.send(raw);
      const m = await c.waitFor((x, i) => c.messages.indexOf(x) >= before && x.type === 'error', 3000, code);
      c.messages.splice(c.messages.indexOf(m), 1);
      assert.equal(m.code, code, `${raw} -> ${JSON.stringify(m)}`);
      if (field) assert.equal(m.field, field);
      assert.equal(typeof m.message, 'string');
      errors.push(code);
    };
    await expect('{"type": "hello"', 'bad_json');
    await expect('not json at all', 'bad_json');
    await expect('[1,2,3]', 'bad_message');
    await expect('"a string"', 'bad_message');
    await expect('{"id": 5}', 'bad_message', 'type');
    await expect('{"type": "teleport"}', 'unknown_type', 'type');
    await expect('{"type": "subscribe"}', 'bad_field', 'stream');
    await expect('{"type": "subscribe", "stream": 42}', 'bad_field', 'stream');
    await expect('{"type": "subscribe", "stream": "nope"}', 'unknown_stream', 'stream');
    await expect('{"type": "subscribe", "stream": "demo", "mode": "hls"}', 'unsupported_mode', 'mode');
    await expect('{"type": "unsubscribe", "channel": "one"}', 'bad_field', 'channel');
    await expect('{"type": "unsubscribe", "channel": 77}', 'unknown_channel', 'channel');
    await expect('{"type": "list", "id": {"nested": true}}', 'bad_field', 'id');
    const ok = await c.request({ type: 'subscribe', stream: 'demo', id: 'first' });
    assert.equal(ok.type, 'subscribe');
    const dup = await c.request({ type: 'subscribe', stream: 'demo', id: 'second' });
    assert.equal(dup.type, 'error');
    assert.equal(dup.code, 'already_subscribed');
    assert.equal(dup.id, 'second');
    c.ws.send(Buffer.from([1, 2, 3, 4]));
    const bin = await c.waitFor((x) => x.code === 'unexpected_binary', 3000, 'unexpected_binary');
    assert.equal(bin.type, 'error');
    // still usable: a request gets its reply and media keeps flowing
    const st = await c.request({ type: 'stats', id: 's' });
    assert.equal(st.errors, errors.length + 2);
    const n = c.frames.length;
    await sleep(500);
    assert.ok(c.frames.length > n, 'media still flows after errors');
    c.close();
    const h = await (await v.fetch(`/api/health`)).json();
    assert.ok(h.counters.errors_sent >= errors.length + 2);
  });

  test('a text message over the limit closes with 1009, others unaffected', async () => {
    const { c: watcher } = await subscribedClient(v);
    const c = await new Client(v.wsUrl).open();
    c.send('x'.repeat(1024 * 1024));
    const closed = await c.waitClose(5000);
    assert.equal(closed.code, 1009);
    const n = watcher.frames.length;
    await sleep(500);
    assert.ok(watcher.frames.length > n + 5, 'the other viewer kept receiving');
    watcher.close();
    const h = await (await v.fetch(`/api/health`)).json();
    assert.ok(h.counters.text_too_large >= 1);
  });

  test('a text frame that is not UTF-8 closes with 1007, others unaffected', async () => {
    const { c: watcher } = await subscribedClient(v);
    const c = await new Client(v.wsUrl).open();
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    const closed = await c.waitClose(5000);
    assert.equal(closed.code, 1007);
    const n = watcher.frames.length;
    await sleep(500);
    assert.ok(watcher.frames.length > n + 5, 'the other viewer kept receiving');
    watcher.close();
  });

  test('upgrades without vigil.v1, or on another path, are refused', async () => {
    const tryOpen = (url, protocols) => new Promise((resolve) => {
      const ws = new WebSocket(url, protocols);
      ws.on('open', () => { ws.terminate(); resolve('open'); });
      ws.on('unexpected-response', (req, res) => resolve(`http ${res.statusCode}`));
      ws.on('error', () => resolve('error'));
    });
    assert.notEqual(await tryOpen(v.wsUrl, []), 'open');
    assert.notEqual(await tryOpen(v.wsUrl, ['chat']), 'open');
    assert.notEqual(await tryOpen(v.wsUrl.replace('/ws', '/other'), ['vigil.v1']), 'open');
    assert.equal(await tryOpen(v.wsUrl, ['vigil.v1']), 'open');
  });
});

test('a viewer that stays too slow is closed with 4001; memory for it stays bounded', async () => {
  const v = await startVigil({
    config: {
      server: { viewer_queue_frames: 16, slow_viewer_skips: 3, slow_viewer_window_s: 10 },
      streams: [{ id: 'demo', source: 'test://', options: { width: 640, height: 360, bitrate_kbps: 4000 } }],
    },
  });
  try {
    await waitStreamState(v, 'demo', 'live');
    const stalled = await subscribedClient(v);
    stalled.c.ws._socket.pause();
    const { c } = await subscribedClient(v);
    const deadline = Date.now() + 60000 * SLOW;
    let h;
    do {
      await sleep(500);
      h = await (await v.fetch(`/api/health`)).json();
    } while (h.counters.slow_viewers_closed < 1 && Date.now() < deadline);
    assert.equal(h.counters.slow_viewers_closed, 1, 'the stalled viewer was closed');
    assert.match(v.log(), /4001 viewer too slow/);
    const stats = await c.request({ type: 'stats' });
    assert.equal(stats.channels[0].skips, 0, 'the reading viewer never skipped');
    c.close();
    stalled.c.ws.terminate();
  } finally {
    const st = await v.stop();
    assert.equal(st.code, 0, v.log());
  }
});

test('SIGTERM closes viewers with 1001 and exits 0', async () => {
  const v = await startVigil();
  await waitStreamState(v, 'demo', 'live');
  const { c } = await subscribedClient(v);
  await sleep(300);
  const st = await v.stop();
  const closed = await c.waitClose(5000);
  assert.equal(closed.code, 1001);
  assert.equal(st.code, 0, v.log());
  assert.match(v.log(), /shutting down/);
});

test('an invalid config stops start-up with a message naming the field', () => {
  const dir = tempDir('vigil-cfg-');
  const cases = [
    [{ streams: [{ id: 'a', source: 'ftp://x' }] }, /streams\[0\]\.source/],
    [{ streams: [{ id: 'a', source: 'test://', options: { fps: 'fast' } }] }, /streams\[0\]\.options\.fps/],
    [{ server: { port: 'eighty' }, streams: [{ id: 'a', source: 'test://' }] }, /server\.port/],
    [{ streams: [] }, /streams/],
    [{ streams: [{ id: 'a', source: 'test://' }], devcies: [] }, /devcies: unknown section/],
    [{ streams: [{ id: 'a', source: 'test://' }], devices: [{ id: 'd1', transport: 'zigbee', commands: { reboot: {} } }] }, /d1.*transport.*zigbee/],
    [{ streams: [{ id: 'a', source: 'test://' }], devices: [{ id: 'd1', transport: 'coap', coap: { uri: 'coap://127.0.0.1:9/x' }, stream: 'nope', commands: { reboot: {} } }] }, /devices\[0\].*stream.*'nope'/],
    [{ streams: [{ id: 'a', source: 'test://' }], devices: [{ id: 'd1', transport: 'coap', coap: { uri: 'coap://127.0.0.1:9/x' } }] }, /d1.*commands/],
    [{ streams: [{ id: 'a', source: 'test://' }], devices: [{ id: 'd1', transport: 'coap', commands: { reboot: {} } }] }, /d1.*"coap" settings/],
  ];
  for (const [cfg, re] of cases) {
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify(cfg));
    const r = spawnSync(VIGIL_BIN, ['--config', file, '--port', '0'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 2, `${JSON.stringify(cfg)}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const bad = spawnSync(VIGIL_BIN, ['--port', 'x'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--port/);
});

test('file:// replays an H.264 MP4 in real time, in a loop, without re-encoding', async () => {
  const dir = tempDir('vigil-clip-');
  const clip = path.join(dir, 'clip.mp4');
  // A 2 s clip (60 frames, keyframe every 30), made once with GStreamer.
  const mk = spawnSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=60', 'pattern=ball', '!',
    'video/x-raw,format=I420,width=320,height=240,framerate=30/1', '!',
    'x264enc', 'tune=zerolatency', 'key-int-max=30', '!', 'h264parse', '!', 'mp4mux', '!',
    'filesink', `location=${clip}`], { encoding: 'utf8', timeout: 60000 });
  assert.equal(mk.status, 0, mk.stderr);
  const v = await startVigil({ config: { streams: [{ id: 'clip', source: `file://${clip}` }] } });
  try {
    await waitStreamState(v, 'clip', 'live');
    const { c, reply } = await subscribedClient(v, 'clip');
    assert.match(reply.codecs, /^avc1\.64/, 'High profile passes through untouched');
    const t0 = Date.now();
    await sleep(5000);
    const elapsed = (Date.now() - t0) / 1000;
    c.close();
    const media = c.frames.filter((h) => h.kind === 2);
    // Real time: ~30 fps, so about 150 frames in 5 s -- more than the clip holds.
    assert.ok(media.length >= 25 * elapsed, `${media.length} frames in ${elapsed} s`);
    assert.ok(media.length <= 35 * elapsed + 60, `${media.length} frames in ${elapsed} s: not paced`);
    assert.ok(media.filter((h) => h.flags & 1).length >= 4, 'keyframes from several loops');
    for (let i = 1; i < media.length; i++) assert.ok(media[i].timeUs >= media[i - 1].timeUs);
    const [s] = await (await v.fetch(`/api/streams`)).json();
    assert.equal(s.state, 'live');
    assert.equal(s.restarts, 0, 'looped without restarting');
  } finally {
    const st = await v.stop();
    assert.equal(st.code, 0, v.log());
  }
});

// End to end over a real socket: build/vigil with its embedded demo stream,
// clients speaking vigil.v1 (signaling/PROTOCOL.md). Run by `make test`
// against the release build and again against the ASan+UBSan build.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { startVigil, waitStreamState, Client, sleep, tempDir, until, SLOW, VIGIL_BIN } from '../lib/vigil.js';

function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))];
}

// A media fragment's moof sequence number (mfhd): vigil numbers the frames
// of a stream run one by one, so a gap means a frame this viewer never got.
function fragmentSeq(h) {
  assert.equal(h.payload.toString('latin1', 12, 16), 'mfhd', 'moof starts with mfhd');
  return h.payload.readUInt32BE(20);
}

// Checks that `frames` (kind 2, in arrival order) came at the source's rate
// with none missing: consecutive sequence numbers, and at least `minFps`
// measured on the server's own clock (the header's time: when each frame
// left the pipeline), so that a slow test client or a late timer cannot
// make up or hide a rate.
function assertFullRate(frames, minFps, what) {
  for (let i = 1; i < frames.length; i++) {
    assert.equal(fragmentSeq(frames[i]), fragmentSeq(frames[i - 1]) + 1, `${what}: frame ${i} follows ${i - 1}`);
  }
  const spanS = Number(frames[frames.length - 1].timeUs - frames[0].timeUs) / 1e6;
  const fps = (frames.length - 1) / spanS;
  assert.ok(fps >= minFps, `${what}: ${frames.length} frames in ${spanS.toFixed(2)} s of the server's clock: ${fps.toFixed(1)} fps`);
  return fps;
}

// The server's resident memory (VmRSS), in KiB.
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

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
    let fps;
    await until(async () => {
      r = await v.fetch(`/api/streams`);
      ({ fps } = (await r.clone().json())[0]);
      return fps > 20 && fps < 40;
    }, 5000, () => `ingest fps in 20..40, last ${fps}`);
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
    assert.equal((await nf.json()).error, 'not_found');
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const m = await v.fetch(`/api/streams`, { method, body: method === 'DELETE' ? undefined : '{"x":1}' });
      assert.equal(m.status, 405, method);
      assert.equal((await m.json()).error, 'method_not_allowed');
      assert.equal(m.headers.get('allow'), 'GET, HEAD', method);
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
    const t0us = BigInt(Date.now()) * 1000n;
    const { c, reply } = await subscribedClient(v);
    assert.equal(typeof reply.channel, 'number');
    assert.match(reply.codecs, /^avc1\./);
    assert.equal(reply.mime, `video/mp4; codecs="${reply.codecs}"`);
    // The GOP cache arrives at once, with times from before the subscribe;
    // then three seconds of live frames (90 at 30 fps), waited for.
    const live = () => c.frames.filter((h) => h.kind === 2 && h.timeUs >= t0us);
    await until(() => live().length >= 90, 4500, () => `90 live fragments, have ${live().length}`);
    c.close();

    const f = c.frames;
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
    // Every frame from the cached keyframe on, none missing, at the source's rate.
    assertFullRate(f.slice(1), 25, 'cache and live');
    assertFullRate(live(), 25, 'live');
    const keys = f.filter((h) => h.flags & 1).length;
    assert.ok(keys >= 3, `${keys} keyframes in > 3 s (one a second expected)`);
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
    const after = BigInt(Date.now()) * 1000n;
    await until(() => c.frames.some((h) => h.timeUs >= after), 1000, () => 'media still flows after errors');
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
    const after = BigInt(Date.now()) * 1000n;
    await until(() => watcher.frames.filter((h) => h.timeUs >= after).length > 5, 1000,
      () => 'the other viewer kept receiving: 6 frames made after the close');
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
    const after = BigInt(Date.now()) * 1000n;
    await until(() => watcher.frames.filter((h) => h.timeUs >= after).length > 5, 1000,
      () => 'the other viewer kept receiving: 6 frames made after the close');
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

// A stream that makes slow viewers back up fast: noise at 16 Mbit/s, about
// 70 KB a frame and 2 MB a second. A viewer that stops reading has vigil's
// socket send buffer (512 KiB, server/session.c) and its own receive window
// (which Linux grows while it reads: up to a second of this) to fill before
// its queue fills; these tests stop reading right after subscribing, while
// that window is still small.
// A stalled viewer reads again: what its kernel buffers held, then a frame
// flagged "first frame after a skip". Its index among the frames since.
async function resumeUntilSkip(c) {
  const mark = c.frames.length;
  c.ws._socket.resume();
  const resumed = () => c.frames.slice(mark);
  const skipAt = await until(() => {
    const i = resumed().findIndex((h) => h.flags & 2);
    return i >= 0 ? i + 1 : 0;
  }, 5000, () => `a frame flagged after-skip, among ${resumed().length} since resuming`) - 1;
  return { mark, resumed, skipAt };
}

const NOISE = { width: 320, height: 240, fps: 30, bitrate_kbps: 16000, pattern: 'snow' };

test('a viewer that never reads does not delay another; when it reads again it gets a keyframe after a skip', async () => {
  // slow_viewer_skips 0: the stalled viewer overflows its 16-frame queue
  // again and again but is never closed.
  const v = await startVigil({
    config: {
      server: { viewer_queue_frames: 16, slow_viewer_skips: 0 },
      streams: [{ id: 'demo', source: 'test://', options: NOISE }],
    },
  });
  try {
    await waitStreamState(v, 'demo', 'live');
    const stalled = await subscribedClient(v);
    stalled.c.ws._socket.pause(); // reads nothing more until resumed
    const t0us = BigInt(Date.now()) * 1000n;
    const { c } = await subscribedClient(v);
    // Four seconds of live frames for the reading viewer while the other
    // one stalls: time for the stalled queue to overflow several times.
    const live = () => c.frames.filter((h) => h.kind === 2 && h.timeUs >= t0us);
    await until(() => live().length >= 120, 6000, () => `120 live fragments, have ${live().length}`);
    const window = live().slice(0, 120);
    const stats = await c.request({ type: 'stats' });

    assertFullRate(window, 25, 'the reading viewer next to a stalled one');
    const lat = window.map((h) => Number(h.arrivalUs - h.timeUs) / 1000);
    const p99 = percentile(lat, 99);
    assert.ok(p99 < 250 * SLOW, `relay latency p99 ${p99} ms`);
    const gaps = window.slice(1).map((h, i) => Number(h.arrivalUs - window[i].arrivalUs) / 1000);
    assert.ok(Math.max(...gaps) < 300 * SLOW, `largest gap ${Math.max(...gaps)} ms`);
    assert.equal(c.frames.filter((h) => h.flags & 2).length, 0, 'the reading viewer never skipped');
    assert.equal(stats.channels[0].frames_skipped, 0);
    assert.equal(stats.channels[0].skips, 0);

    // The stalled viewer reads again: what its kernel buffers held, then,
    // after a gap in the numbering, a keyframe flagged "first frame after
    // a skip"; its stats count the overflows.
    const { mark, resumed, skipAt } = await resumeUntilSkip(stalled.c);
    const after = resumed()[skipAt];
    assert.equal(after.kind, 2);
    assert.equal(after.flags & 1, 1, 'the frame after a skip is a keyframe');
    const before = resumed()[skipAt - 1] || stalled.c.frames[mark - 1];
    assert.ok(fragmentSeq(after) > fragmentSeq(before) + 1,
      `frames were dropped before it: ${fragmentSeq(before)} then ${fragmentSeq(after)}`);
    const mine = (await stalled.c.request({ type: 'stats' }, 5000 * SLOW)).channels[0];
    assert.ok(mine.skips >= 1 && mine.frames_skipped > 0, `stalled viewer's stats ${JSON.stringify(mine)}`);
    // Media went straight to the sockets (server/media_write.h), and the
    // stalled one's full socket cut frames that lws finished: the stream the
    // client parsed above stayed whole across those cuts.
    const direct = {};
    for (const [, what, n] of (await (await v.fetch('/metrics')).text()).matchAll(/^vigil_media_direct_writes_total\{what="(\w+)"\} (\d+)$/gm))
      direct[what] = Number(n);
    assert.ok(direct.calls > 0 && direct.frames > 120 && direct.handed >= 1, `direct writes ${JSON.stringify(direct)}`);
    c.close();
    stalled.c.close();
  } finally {
    const st = await v.stop();
    assert.equal(st.code, 0, v.log());
  }
});

test('viewer_queue_ms: a viewer that falls behind skips for lateness long before its queue is full, and gets fresh frames again', async () => {
  // 128 frames would hold over 4 s of this stream; the 200 ms age bound
  // makes the stalled viewer skip as soon as a frame has waited that long.
  const v = await startVigil({
    config: {
      server: { viewer_queue_frames: 128, viewer_queue_ms: 200, slow_viewer_skips: 0 },
      streams: [{ id: 'demo', source: 'test://', options: { ...NOISE, keyframe_interval: 15 } }],
    },
  });
  try {
    await waitStreamState(v, 'demo', 'live');
    const stalled = await subscribedClient(v);
    stalled.c.ws._socket.pause();
    const lateSkips = async () => {
      const m = await (await v.fetch('/metrics')).text();
      return [...m.matchAll(/^vigil_stream_late_skips_total\{[^}]*stream="demo"[^}]*\} (\d+)$/gm)]
        .reduce((n, x) => n + Number(x[1]), 0);
    };
    await until(async () => (await lateSkips()) >= 1, 10000, () => 'a late skip in /metrics');
    // Reading again: what the kernel buffers held, then a keyframe flagged
    // "after a skip" that is fresh (it waited in no queue), and frames as fresh after it.
    const { resumed, skipAt } = await resumeUntilSkip(stalled.c);
    await until(() => resumed().length >= skipAt + 30, 5000, () => 'a second of frames after the skip');
    const after = resumed().slice(skipAt, skipAt + 30);
    assert.equal(after[0].flags & 1, 1, 'the frame after a skip is a keyframe');
    const lateness = after.map((h) => Number(h.arrivalUs - h.timeUs) / 1000);
    assert.ok(percentile(lateness, 99) < 250 * SLOW, `frames after the skip arrive ${lateness.join(', ')} ms after they left the pipeline`);
    const mine = (await stalled.c.request({ type: 'stats' }, 5000 * SLOW)).channels[0];
    assert.ok(mine.late_skips >= 1, `stalled viewer's stats ${JSON.stringify(mine)}`);
    assert.equal(mine.late_skips, mine.skips, 'every skip was for lateness: the queue never filled');
    stalled.c.close();
  } finally {
    const st = await v.stop();
    assert.equal(st.code, 0, v.log());
  }
});

test('a viewer that stays too slow is closed with 4001; memory for it stays bounded', async () => {
  const v = await startVigil({
    // ASan keeps freed memory in quarantine (256 MB by default), so the
    // sanitized server's RSS would grow with every frame it ever freed; with
    // 1 MB it tracks what is live, as the release build's does.
    env: process.env.VIGIL_SANITIZED ? { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:quarantine_size_mb=1` } : undefined,
    config: {
      server: { viewer_queue_frames: 16, slow_viewer_skips: 3, slow_viewer_window_s: 10 },
      streams: [{ id: 'demo', source: 'test://', options: NOISE }],
    },
  });
  try {
    await waitStreamState(v, 'demo', 'live');
    const t0us = BigInt(Date.now()) * 1000n;
    const { c } = await subscribedClient(v);
    const live = () => c.frames.filter((h) => h.kind === 2 && h.timeUs >= t0us);
    await until(() => live().length >= 30, 3000, () => 'a second of live frames');
    // The load: three stalled viewers in turn, each until vigil closes it.
    // Each may hold its 16-frame queue (~1.1 MB) and a partly written frame
    // while it lasts, and nothing once closed. A queue without its bound
    // grows by the stream's 2 MB/s, and frames a skip forgets to release
    // (about 30 a skip, 3 skips a viewer) by ~6 MB a viewer: both pass 8 MB
    // within the first viewer or two.
    const BOUND_KIB = 8 * 1024;
    const pid = v.proc.pid;
    const base = rssKiB(pid);
    let peak = base;
    const sample = () => {
      peak = Math.max(peak, rssKiB(pid));
      assert.ok(peak - base < BOUND_KIB, `vigil's RSS grew by ${peak - base} KiB (from ${base} KiB)`);
    };
    for (let round = 1; round <= 3; round++) {
      const stalled = await subscribedClient(v);
      stalled.c.ws._socket.pause();
      await until(async () => {
        sample();
        const h = await (await v.fetch(`/api/health`)).json();
        return h.counters.slow_viewers_closed >= round;
      }, 15000, () => `slow_viewers_closed ${round}`);
      // Reading again (before vigil gives up on sending its close frame,
      // 3 s): the buffered frames, then the close.
      stalled.c.ws._socket.resume();
      const closed = await stalled.c.waitClose(5000 * SLOW);
      assert.deepEqual(closed, { code: 4001, reason: 'viewer too slow' });
      sample();
    }
    await sleep(300);
    sample();
    const h = await (await v.fetch(`/api/health`)).json();
    assert.equal(h.counters.slow_viewers_closed, 3);
    const stats = await c.request({ type: 'stats' });
    assert.equal(stats.channels[0].skips, 0, 'the reading viewer never skipped');
    assert.equal(c.frames.filter((x) => x.flags & 2).length, 0);
    assertFullRate(live(), 25, 'the reading viewer');
    c.close();
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

// WebCodecs delivery (signaling/PROTOCOL.md, mode "webcodecs"): against a real
// build/vigil with its demo stream, over real sockets. A subscriber gets the
// decoder configuration first (codec string + avcC), then access units from a
// keyframe on, with rising timestamps; viewers joining late start at a
// keyframe; MSE and WebCodecs viewers of one stream coexist, and every
// WebCodecs viewer gets the same bytes; a restarted source sends a new
// configuration before its next keyframe.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startVigil, waitStreamState, Client, sleep, tempDir } from '../lib/vigil.js';

const KIND_INIT = 1;
const KIND_FRAGMENT = 2;
const KIND_CONFIG = 3;
const KIND_AU = 4;
const SLOW = process.env.VIGIL_SANITIZED ? 2 : 1;

// Kind 3 payload: u16 JSON length, JSON, then the avcC record.
function parseConfig(payload) {
  const jlen = payload.readUInt16BE(0);
  const json = JSON.parse(payload.subarray(2, 2 + jlen).toString('utf8'));
  return { ...json, avcc: payload.subarray(2 + jlen) };
}

// Kind 4 payload: i64 PTS in microseconds, then the access unit.
function parseAu(h) {
  return { ptsUs: h.payload.readBigInt64BE(0), au: h.payload.subarray(8), key: (h.flags & 1) === 1 };
}

// The NAL unit types of a length-prefixed (avc format) access unit; throws
// if the lengths do not tile the unit exactly.
function nalTypes(au, lengthSize) {
  const types = [];
  let i = 0;
  while (i < au.length) {
    assert.ok(i + lengthSize <= au.length, 'truncated NAL length');
    let n = 0;
    for (let k = 0; k < lengthSize; k++) n = n * 256 + au[i + k];
    i += lengthSize;
    assert.ok(n > 0 && i + n <= au.length, `NAL of ${n} bytes at ${i} overruns the ${au.length}-byte unit`);
    types.push(au[i] & 0x1f);
    i += n;
  }
  return types;
}

async function subscribed(v, mode, stream = 'demo') {
  const c = await new Client(v.wsUrl).open();
  const reply = await c.request({ type: 'subscribe', stream, mode });
  assert.equal(reply.type, 'subscribe', JSON.stringify(reply));
  return { c, reply };
}

describe('mode "webcodecs" on the demo stream', () => {
  let v;
  before(async () => {
    v = await startVigil();
    await waitStreamState(v, 'demo', 'live');
  });
  after(async () => {
    const st = await v.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${v.log()}`);
  });

  test('configuration first, then a keyframe, then units with rising timestamps', async () => {
    const { c, reply } = await subscribed(v, 'webcodecs');
    assert.equal(reply.mode, 'webcodecs');
    assert.match(reply.codecs, /^avc1\.[0-9A-F]{6}$/i);
    assert.equal(reply.mime, null, 'no MIME type in webcodecs mode');
    await sleep(1000);
    const n1 = c.frames.length;
    await sleep(3000);
    const rate = (c.frames.length - n1) / 3;
    c.close();

    const f = c.frames;
    for (const h of f) {
      assert.equal(h.version, 1);
      assert.equal(h.channel, reply.channel);
      assert.ok(h.kind === KIND_CONFIG || h.kind === KIND_AU, `kind ${h.kind} in webcodecs mode`);
    }
    assert.equal(f[0].kind, KIND_CONFIG, 'the decoder configuration comes first');
    const cfg = parseConfig(f[0].payload);
    assert.equal(cfg.codec.toLowerCase(), reply.codecs.toLowerCase());
    assert.equal(cfg.format, 'avc');
    assert.equal(cfg.coded_width, 1280);
    assert.equal(cfg.coded_height, 720);
    // AVCDecoderConfigurationRecord: version 1, then profile, compatibility
    // and level, the same three bytes the codec string spells in hex.
    const a = cfg.avcc;
    assert.equal(a[0], 1, 'avcC configurationVersion');
    const hex = Buffer.from([a[1], a[2], a[3]]).toString('hex');
    assert.equal(`avc1.${hex}`, cfg.codec.toLowerCase(), 'profile/level match the codec string');
    const lengthSize = (a[4] & 3) + 1;
    assert.ok((a[5] & 0x1f) >= 1, 'at least one SPS');

    const aus = f.slice(1).map((h) => {
      assert.equal(h.kind, KIND_AU);
      return { h, ...parseAu(h) };
    });
    assert.ok(aus.length > 50, `only ${aus.length} units`);
    assert.ok(aus[0].key, 'the first unit is a keyframe');
    assert.equal(aus[0].h.flags & 2, 0, 'no skip before the first unit');
    assert.ok(nalTypes(aus[0].au, lengthSize).includes(5), 'the keyframe holds an IDR slice');
    for (let i = 1; i < aus.length; i++) {
      assert.ok(aus[i].ptsUs > aus[i - 1].ptsUs, `PTS rises at ${i}: ${aus[i - 1].ptsUs} -> ${aus[i].ptsUs}`);
      assert.ok(aus[i].h.timeUs >= aus[i - 1].h.timeUs, `header time rises at ${i}`);
      const types = nalTypes(aus[i].au, lengthSize);
      assert.equal(types.includes(5), aus[i].key, `keyframe flag matches the IDR slice at ${i}`);
    }
    // 30 fps: PTS steps of ~33 ms.
    const step = Number(aus.at(-1).ptsUs - aus[1].ptsUs) / (aus.length - 2);
    assert.ok(step > 30000 && step < 36000, `mean PTS step ${step} us`);
    assert.ok(rate >= 25, `live rate ${rate} units/s`);
    assert.ok(aus.filter((x) => x.key).length >= 3, 'a keyframe a second');
  });

  test('a viewer joining mid-stream starts at a keyframe, after the configuration', async () => {
    for (const wait of [300, 700]) {
      await sleep(wait); // somewhere inside a GOP
      const { c } = await subscribed(v, 'webcodecs');
      await sleep(600);
      c.close();
      assert.equal(c.frames[0].kind, KIND_CONFIG);
      assert.equal(c.frames[1].kind, KIND_AU);
      assert.equal(c.frames[1].flags & 1, 1, 'first unit is a keyframe');
      // The GOP cache came at once: the unit times span back to the keyframe.
      assert.ok(c.frames.length > 3);
    }
  });

  test('MSE and WebCodecs viewers of one stream both receive; WebCodecs viewers get the same bytes', async () => {
    const mse = await subscribed(v, 'mse');
    const wc1 = await subscribed(v, 'webcodecs');
    const wc2 = await subscribed(v, 'webcodecs');
    assert.equal(mse.reply.mode, 'mse');
    assert.equal(mse.reply.mime, `video/mp4; codecs="${mse.reply.codecs}"`);
    await sleep(3000);
    for (const x of [mse, wc1, wc2]) x.c.close();

    const mf = mse.c.frames;
    assert.equal(mf[0].kind, KIND_INIT);
    assert.ok(mf.slice(1).every((h) => h.kind === KIND_FRAGMENT), 'MSE viewers get only kinds 1 and 2');
    assert.ok(mf.length > 60, `MSE viewer got ${mf.length}`);
    for (const w of [wc1, wc2]) assert.ok(w.c.frames.length > 60, `WebCodecs viewer got ${w.c.frames.length}`);

    // Same unit (same PTS) -> the same header and payload bytes.
    const byPts = new Map(wc1.c.frames.filter((h) => h.kind === KIND_AU).map((h) => [parseAu(h).ptsUs, h]));
    let compared = 0;
    for (const h of wc2.c.frames.filter((x) => x.kind === KIND_AU)) {
      const o = byPts.get(parseAu(h).ptsUs);
      if (!o) continue;
      assert.equal(o.timeUs, h.timeUs);
      assert.equal(o.flags, h.flags);
      assert.ok(o.payload.equals(h.payload), 'identical unit bytes');
      compared++;
    }
    assert.ok(compared > 50, `${compared} units compared`);
    assert.ok(wc1.c.frames[0].payload.equals(wc2.c.frames[0].payload), 'identical configurations');

    // mp4mux emits a frame's fragment when the next frame arrives; the
    // access unit leaves at once. Keyframes pair up across the two modes.
    const wcKeys = wc1.c.frames.filter((h) => h.kind === KIND_AU && (h.flags & 1)).map((h) => Number(h.timeUs));
    const mseKeys = mf.filter((h) => h.kind === KIND_FRAGMENT && (h.flags & 1)).map((h) => Number(h.timeUs));
    const leads = [];
    for (const t of wcKeys) {
      const m = mseKeys.find((x) => x >= t && x - t < 200000);
      if (m !== undefined) leads.push((m - t) / 1000);
    }
    assert.ok(leads.length >= 2, `paired ${leads.length} keyframes`);
    leads.sort((x, y) => x - y);
    const median = leads[Math.floor(leads.length / 2)];
    console.log(`access unit leaves ${median.toFixed(1)} ms before its fMP4 fragment (median of ${leads.length} keyframes: ${leads.map((x) => x.toFixed(1)).join(', ')})`);
    assert.ok(median > 10, `the access unit should lead its fragment by about a frame: ${median} ms`);

    const stats = await (async () => {
      const c = await new Client(v.wsUrl).open();
      await c.request({ type: 'subscribe', stream: 'demo', mode: 'webcodecs' });
      const s = await c.request({ type: 'stats' });
      c.close();
      return s;
    })();
    assert.equal(stats.channels[0].mode, 'webcodecs');
  });

  test('an unknown mode is unsupported_mode; the connection stays usable', async () => {
    const c = await new Client(v.wsUrl).open();
    for (const mode of ['hls', 'WebCodecs', 'webrtc']) {
      const r = await c.request({ type: 'subscribe', stream: 'demo', mode });
      assert.equal(r.type, 'error');
      assert.equal(r.code, 'unsupported_mode');
      assert.equal(r.field, 'mode');
    }
    const bad = await c.request({ type: 'subscribe', stream: 'demo', mode: 7 });
    assert.equal(bad.code, 'bad_field');
    const ok = await c.request({ type: 'subscribe', stream: 'demo', mode: 'webcodecs' });
    assert.equal(ok.type, 'subscribe');
    await sleep(300);
    assert.ok(c.frames.length > 1);
    c.close();
  });
});

test('a restarted source sends a new configuration before its next keyframe', { timeout: 60000 }, async () => {
  const clip = path.join(tempDir('vigil-wc-clip-'), 'clip.mp4');
  const mk = spawnSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=45', 'pattern=ball', '!',
    'video/x-raw,format=I420,width=320,height=240,framerate=30/1', '!',
    'x264enc', 'tune=zerolatency', 'key-int-max=15', '!', 'h264parse', '!', 'mp4mux', '!',
    'filesink', `location=${clip}`], { encoding: 'utf8', timeout: 60000 });
  assert.equal(mk.status, 0, mk.stderr);
  const v = await startVigil({ config: { streams: [{ id: 'clip', source: `file://${clip}`, options: { loop: false } }] } });
  try {
    await waitStreamState(v, 'clip', 'live');
    const { c } = await subscribed(v, 'webcodecs', 'clip');
    // The 1.5 s clip ends, the stream retries after 1 s and plays again.
    const deadline = Date.now() + 20000 * SLOW;
    while (c.frames.filter((h) => h.kind === KIND_CONFIG).length < 3 && Date.now() < deadline) await sleep(200);
    c.close();
    const f = c.frames;
    const configs = f.map((h, i) => (h.kind === KIND_CONFIG ? i : -1)).filter((i) => i >= 0);
    assert.ok(configs.length >= 3, `${configs.length} configurations over two restarts`);
    assert.ok(c.messages.some((m) => m.type === 'stream.state' && m.state === 'retrying'));
    for (const i of configs) {
      const cfg = parseConfig(f[i].payload);
      assert.equal(cfg.coded_width, 320);
      assert.equal(cfg.avcc[0], 1);
      if (i + 1 < f.length) {
        assert.equal(f[i + 1].kind, KIND_AU);
        assert.equal(f[i + 1].flags & 1, 1, `the unit after configuration ${i} is a keyframe`);
      }
    }
    // Within one run, timestamps rise.
    for (let i = 1; i < f.length; i++) {
      if (f[i].kind === KIND_AU && f[i - 1].kind === KIND_AU) {
        assert.ok(parseAu(f[i]).ptsUs > parseAu(f[i - 1]).ptsUs, `PTS rises at ${i}`);
      }
    }
  } finally {
    const st = await v.stop();
    assert.equal(st.code, 0, v.log());
  }
});

// publish:// streams end to end: a node publisher sends a clip encoded and
// split into access units by GStreamer (tests/tools/h264_aus.c) over /ws as
// binary frames (PROTOCOL.md "Publishing"); vigil.v1 viewers watch. One
// vigil runs:
//   door   publish://, AVCC access units with an avcC description
//   yard   publish://, Annex-B access units (no description)
//   porch  publish:// with Opus audio, shed with AAC audio, gate with Opus
//          audio announced but never sent
//   demo   test:// (not publishable)
// A publisher's audio (Opus packets or raw AAC frames that GStreamer
// encoded, tests/tools/audio_frames.c) goes into the same fMP4 as its video:
// the init segment and fragments, end to end in a file, must be an MP4 that
// gst-discoverer-1.0 (an independent reader) sees with both tracks.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, sleep, Client, mintToken, tempDir } from '../lib/vigil.js';
import { makeClip, makeAudio, publishFrame, publishRequest, streamClip, KIND_VIDEO, FLAG_KEYFRAME } from '../tools/publisher.js';

const SLOW = process.env.VIGIL_SANITIZED ? 2 : 1;
const KEYFRAME = 1;
const AUDIO = 4;
const MAX_PUBLISH = 256 * 1024;

// ISO BMFF boxes: the children of [start, end) of buf, as {type, start, end}
// (payload bounds).
function children(buf, start = 0, end = buf.length) {
  const out = [];
  for (let o = start; o + 8 <= end;) {
    const size = buf.readUInt32BE(o);
    if (size < 8 || o + size > end) break;
    out.push({ type: buf.toString('latin1', o + 4, o + 8), start: o + 8, end: o + size });
    o += size;
  }
  return out;
}
const child = (buf, box, type) => children(buf, box.start, box.end).find((b) => b.type === type);

// Track id -> timescale, from an init segment's moov.
function timescales(init) {
  const moov = children(init).find((b) => b.type === 'moov');
  const map = new Map();
  for (const trak of children(init, moov.start, moov.end).filter((b) => b.type === 'trak')) {
    const tkhd = child(init, trak, 'tkhd');
    const mdhd = child(init, child(init, trak, 'mdia'), 'mdhd');
    const v1 = (box) => init[box.start] === 1;
    map.set(init.readUInt32BE(tkhd.start + (v1(tkhd) ? 20 : 12)), init.readUInt32BE(mdhd.start + (v1(mdhd) ? 20 : 12)));
  }
  return map;
}

// A fragment's decode time in seconds (tfdt over its track's timescale).
function decodeTime(frag, scales) {
  const moof = children(frag).find((b) => b.type === 'moof');
  const traf = child(frag, moof, 'traf');
  const id = frag.readUInt32BE(child(frag, traf, 'tfhd').start + 4);
  const tfdt = child(frag, traf, 'tfdt');
  const t = frag[tfdt.start] === 1 ? Number(frag.readBigUInt64BE(tfdt.start + 4)) : frag.readUInt32BE(tfdt.start + 4);
  return t / scales.get(id);
}

async function until(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs * SLOW;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what()}`);
    await sleep(50);
  }
}

describe('publish:// streams fed over the WebSocket', { timeout: 120000 * SLOW }, () => {
  let vigil;
  let viewer;
  let clip;
  let annexb;
  const channels = {};
  const open = new Set();
  const running = new Set();

  const streamInfo = async (id) => (await (await vigil.fetch('/api/streams')).json()).find((s) => s.id === id);
  const media = (id) => viewer.frames.filter((f) => f.channel === channels[id] && f.kind === 2);
  const frames = (id) => viewer.frames.filter((f) => f.channel === channels[id]);
  // A signed-in client (token: a string; null for none).
  const connect = async (token) => {
    const c = await new Client(vigil.wsBase).open();
    open.add(c);
    if (token !== null) {
      const hello = await c.request({ type: 'hello', token });
      c.hello = hello;
    }
    return c;
  };
  const publisherToken = (streams = ['door', 'yard', 'porch', 'shed', 'gate']) => mintToken({ sub: 'cam-device', role: 'publisher', streams, devices: [] });
  const publish = async (stream, theClip, token = publisherToken()) => {
    const c = await connect(token);
    const reply = await c.request(publishRequest(stream, theClip));
    return { c, reply };
  };
  const send = (pub, theClip, opts) => {
    const s = streamClip(pub.c, pub.reply.channel, theClip, opts);
    running.add(s);
    return s;
  };
  const stateEvents = (id, state) => viewer.messages.filter((m) => m.type === 'stream.state' && m.stream === id && m.state === state);

  before(async () => {
    clip = makeClip({ frames: 90, fps: 30, keyInt: 30 });
    annexb = makeClip({ frames: 60, fps: 30, keyInt: 30, annexb: true });
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1', max_publish_frame_bytes: MAX_PUBLISH },
        streams: [
          { id: 'door', source: 'publish://', options: { codec: 'h264' } },
          { id: 'yard', source: 'publish://' },
          { id: 'porch', source: 'publish://', options: { audio: 'opus' } },
          { id: 'shed', source: 'publish://', options: { audio: 'aac' } },
          { id: 'gate', source: 'publish://', options: { audio: 'opus' } },
          { id: 'demo', source: 'test://', options: { width: 320, height: 240, fps: 15 } },
        ],
      },
    });
    viewer = await new Client(vigil.wsUrl).open();
    for (const id of ['door', 'yard']) {
      const r = await viewer.request({ type: 'subscribe', stream: id });
      assert.equal(r.type, 'subscribe', JSON.stringify(r));
      channels[id] = r.channel;
    }
  });

  after(async () => {
    for (const s of running) s.stop();
    for (const c of open) c.close();
    if (viewer) viewer.close();
    if (vigil) {
      const st = await vigil.stop();
      assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
    }
  });

  it('waits for a publisher: retrying, no pipeline, counters empty', async () => {
    const s = await streamInfo('door');
    assert.equal(s.source, 'publish://');
    assert.equal(s.state, 'retrying');
    assert.equal(s.last_error, 'waiting for a publisher');
    assert.equal(s.publish.publisher, null);
    assert.equal(s.publish.frames, 0);
  });

  it('refuses publishers without the right: viewer token, other streams, bad token, no hello', async () => {
    const asViewer = await connect(mintToken({ role: 'viewer', streams: ['door'] }));
    let r = await asViewer.request(publishRequest('door', clip));
    assert.equal(r.code, 'forbidden', JSON.stringify(r));
    const asOperator = await connect(mintToken({ role: 'operator', streams: ['*'] }));
    r = await asOperator.request(publishRequest('door', clip));
    assert.equal(r.code, 'forbidden', JSON.stringify(r));
    // A publisher of other streams does not see door at all.
    const other = await connect(publisherToken(['gate']));
    r = await other.request(publishRequest('door', clip));
    assert.equal(r.code, 'unknown_stream', JSON.stringify(r));
    // Publishing a stream that is not publish://, even as an admin.
    const admin = await connect(vigil.adminToken);
    r = await admin.request(publishRequest('demo', clip));
    assert.equal(r.code, 'bad_field', JSON.stringify(r));
    assert.equal(r.field, 'stream');
    // Before hello.
    const early = await connect(null);
    r = await early.request(publishRequest('door', clip));
    assert.equal(r.code, 'hello_required');
    // A forged token: unauthorized, closed with 4003.
    const forged = await new Client(vigil.wsBase).open();
    open.add(forged);
    const bad = mintToken({ role: 'publisher', streams: ['door'] }, 'not-the-server-secret-0123456789abcdef');
    r = await forged.request({ type: 'hello', token: bad });
    assert.equal(r.code, 'unauthorized');
    assert.equal((await forged.waitClose()).code, 4003);
    // Bad fields.
    const pub = await connect(publisherToken());
    r = await pub.request({ type: 'publish', stream: 'door', video: { codec: 'vp8' } });
    assert.deepEqual([r.code, r.field], ['bad_field', 'video.codec']);
    r = await pub.request({ type: 'publish', stream: 'door', video: { codec: 'avc1.42C01E', description: 'AAAA' } });
    assert.deepEqual([r.code, r.field], ['bad_field', 'video.description']);
    r = await pub.request({ type: 'publish', stream: 'door', video: { codec: 'avc1.42C01E' }, audio: { codec: 'opus', sample_rate: 48000, channels: 2 } });
    assert.deepEqual([r.code, r.field], ['bad_field', 'audio']);
    r = await pub.request({ type: 'publish', stream: 'door' });
    assert.deepEqual([r.code, r.field], ['bad_field', 'video']);
    const opus = { codec: 'opus', sample_rate: 48000, channels: 2 };
    r = await pub.request({ type: 'publish', stream: 'porch', video: { codec: 'avc1.42C01E' }, audio: { ...opus, description: 'AAAA' } });
    assert.deepEqual([r.code, r.field], ['bad_field', 'audio.description'], JSON.stringify(r));
    r = await pub.request({ type: 'publish', stream: 'porch', video: { codec: 'avc1.42C01E' }, audio: { ...opus, codec: 'aac' } });
    assert.deepEqual([r.code, r.field], ['bad_field', 'audio.codec'], JSON.stringify(r));
    // AAC needs its AudioSpecificConfig.
    r = await pub.request({ type: 'publish', stream: 'shed', video: { codec: 'avc1.42C01E' }, audio: { codec: 'aac', sample_rate: 48000, channels: 2 } });
    assert.deepEqual([r.code, r.field], ['bad_field', 'audio.description'], JSON.stringify(r));
    const s = await streamInfo('door');
    assert.equal(s.publish.publisher, null, 'nobody got to publish');
    for (const c of [asViewer, asOperator, other, admin, early, pub]) c.close();
    for (const id of ['porch', 'shed']) assert.equal((await streamInfo(id)).publish.publisher, null);
  });

  let door;
  it('a publisher\'s clip reaches viewers: init segment, then keyframe-first fragments', async (t) => {
    door = await publish('door', clip);
    assert.equal(door.reply.type, 'publish', JSON.stringify(door.reply));
    assert.equal(door.reply.stream, 'door');
    assert.equal(door.reply.format, 'avc');
    assert.equal(door.reply.max_frame_bytes, MAX_PUBLISH);
    assert.ok(Number.isInteger(door.reply.channel) && door.reply.channel > 0);
    door.sender = send(door, clip);
    await until(() => media('door').length >= 45, 20000,
      () => `45 fragments, have ${media('door').length}\n${vigil.log().slice(-2000)}`);
    const all = frames('door');
    assert.equal(all[0].kind, 1, 'the init segment comes first');
    assert.equal(all[0].payload.toString('latin1', 4, 8), 'ftyp');
    const m = media('door');
    assert.ok(m[0].flags & KEYFRAME, `first fragment flags ${m[0].flags}`);
    assert.equal(m[0].payload.toString('latin1', 4, 8), 'moof');
    const firstAt = Number(m[0].arrivalUs / 1000n);
    t.diagnostic(`time from the first publish frame to the first fragment at the viewer: ${firstAt - door.sender.firstSentAt} ms`);
    const live = stateEvents('door', 'live')[0];
    assert.ok(live, 'a stream.state live event');
    assert.match(String(live.codecs), /^avc1\.42/);
    const s = await streamInfo('door');
    assert.equal(s.state, 'live');
    assert.equal(s.publish.publisher, 'cam-device');
    assert.equal(s.publish.format, 'avc');
    assert.ok(s.publish.frames >= 45 && s.publish.keyframes >= 1, JSON.stringify(s.publish));
    assert.equal(s.publish.dropped, 0);
    assert.ok(s.fps > 20, `fps ${s.fps}`);
    t.diagnostic(`door: ${JSON.stringify(s)}`);
  });

  it('a second publisher of the same stream gets already_publishing', async () => {
    const second = await publish('door', clip);
    assert.equal(second.reply.code, 'already_publishing', JSON.stringify(second.reply));
    // The same connection cannot publish a second stream either.
    const r = await door.c.request(publishRequest('yard', annexb));
    assert.equal(r.code, 'already_publishing');
    second.c.close();
    assert.equal((await streamInfo('door')).publish.publisher, 'cam-device');
  });

  it('binary frames from non-publishers get unexpected_binary; bad frames get bad_frame', async () => {
    const c = await connect(vigil.adminToken);
    c.ws.send(publishFrame(channels.door, KIND_VIDEO, FLAG_KEYFRAME, 0, clip.aus[0].data));
    const e = await c.waitFor((m) => m.type === 'error');
    assert.equal(e.code, 'unexpected_binary');
    // A publisher's frame on a channel it did not get.
    door.c.ws.send(publishFrame(door.reply.channel + 100, KIND_VIDEO, 0, 0, Buffer.from([0, 0, 0, 1, 9])));
    const bad = await door.c.waitFor((m) => m.type === 'error' && m.code === 'bad_frame');
    assert.match(bad.message, /channel/);
    c.close();
    // The stream goes on.
    const mark = media('door').length;
    await until(() => media('door').length >= mark + 10, 5000, () => 'more fragments after the bad frame');
    assert.ok((await streamInfo('door')).publish.malformed >= 1);
  });

  it('publisher disconnect: the stream shows retrying (publisher gone), then live with the next publisher', async (t) => {
    door.sender.stop();
    door.c.ws.terminate(); // no goodbye
    open.delete(door.c);
    const gone = await viewer.waitFor((m) => m.type === 'stream.state' && m.stream === 'door' && m.state === 'retrying', 5000 * SLOW);
    assert.equal(gone.reason, 'publisher gone');
    let s = await streamInfo('door');
    assert.equal(s.state, 'retrying');
    assert.equal(s.last_error, 'publisher gone');
    assert.equal(s.publish.publisher, null);

    const livesBefore = stateEvents('door', 'live').length;
    const inits = frames('door').filter((f) => f.kind === 1).length;
    const mark = media('door').length;
    const back = await publish('door', clip);
    assert.equal(back.reply.type, 'publish', JSON.stringify(back.reply));
    const sender = send(back, clip);
    await until(() => media('door').length >= mark + 20, 15000, () => `fragments after the new publisher: ${media('door').length - mark}`);
    assert.equal(stateEvents('door', 'live').length, livesBefore + 1, 'live again');
    assert.equal(frames('door').filter((f) => f.kind === 1).length, inits + 1, 'a new init segment');
    const firstAfter = media('door')[mark];
    assert.ok(firstAfter.flags & KEYFRAME, 'fragments start at a keyframe');
    t.diagnostic(`reconnect to first fragment: ${Number(firstAfter.arrivalUs / 1000n) - sender.firstSentAt} ms`);
    s = await streamInfo('door');
    assert.equal(s.state, 'live');
    assert.ok(s.restarts >= 1);
    // unpublish: retrying with its own reason.
    sender.stop();
    const r = await back.c.request({ type: 'unpublish', channel: back.reply.channel });
    assert.equal(r.type, 'unpublish', JSON.stringify(r));
    const stopped = await viewer.waitFor((m) => m.type === 'stream.state' && m.stream === 'door' && m.reason === 'publisher stopped');
    assert.equal(stopped.state, 'retrying');
    back.c.close();
  });

  it('Annex-B access units (no description) work too', async () => {
    const yard = await publish('yard', annexb);
    assert.equal(yard.reply.type, 'publish', JSON.stringify(yard.reply));
    assert.equal(yard.reply.format, 'annexb');
    const sender = send(yard, annexb);
    await until(() => media('yard').length >= 30, 15000, () => `30 yard fragments, have ${media('yard').length}\n${vigil.log().slice(-2000)}`);
    assert.equal(frames('yard')[0].kind, 1);
    assert.ok(media('yard')[0].flags & KEYFRAME);
    assert.equal((await streamInfo('yard')).state, 'live');
    sender.stop();
    yard.c.close();
  });

  // A fresh viewer of `id`, its frames, and the stream's fragments by track.
  const watch = async (id) => {
    const c = await new Client(vigil.wsUrl).open();
    open.add(c);
    const reply = await c.request({ type: 'subscribe', stream: id });
    assert.equal(reply.type, 'subscribe', JSON.stringify(reply));
    const mine = () => c.frames.filter((f) => f.channel === reply.channel);
    const video = () => mine().filter((f) => f.kind === 2 && !(f.flags & AUDIO));
    const audio = () => mine().filter((f) => f.kind === 2 && f.flags & AUDIO);
    return { c, mine, video, audio };
  };
  // What gst-discoverer-1.0 makes of the init segment and fragments, end to end.
  const discover = (name, frames) => {
    const file = path.join(tempDir(), `${name}.mp4`);
    writeFileSync(file, Buffer.concat(frames.map((f) => f.payload)));
    const r = spawnSync('gst-discoverer-1.0', [file], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, `gst-discoverer-1.0: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  const AUDIO_CASES = [
    { id: 'porch', codec: 'opus', mime: 'opus', discovered: /audio #\d+: Opus/, withDescription: false },
    { id: 'shed', codec: 'aac', mime: 'mp4a.40.2', discovered: /audio #\d+: MPEG-4 AAC/, withDescription: true },
  ];
  for (const ac of AUDIO_CASES) {
    it(`a publisher's ${ac.codec} audio reaches viewers in the same fMP4 as its video`, async (t) => {
      const audio = makeAudio({ codec: ac.codec, ms: 3000 });
      const v = await watch(ac.id);
      const c = await connect(publisherToken());
      const reply = await c.request(publishRequest(ac.id, clip, audio, { withDescription: ac.withDescription }));
      assert.equal(reply.type, 'publish', JSON.stringify(reply));
      assert.equal(reply.audio_relayed, true);
      const sender = streamClip(c, reply.channel, clip, { audio });
      running.add(sender);
      await until(() => v.video().length >= 100 && v.audio().length >= 150, 20000,
        () => `100 video and 150 audio fragments (over a lap of each clip), have ${v.video().length} and ${v.audio().length}\n${vigil.log().slice(-2000)}`);
      const frames = v.mine();
      assert.equal(frames[0].kind, 1, 'the init segment first');
      assert.equal(frames.filter((f) => f.kind === 1).length, 1, 'one init segment');
      const m = frames.filter((f) => f.kind === 2);
      assert.ok(!(m[0].flags & AUDIO) && m[0].flags & KEYFRAME, `the first fragment is a video keyframe: flags ${m[0].flags}`);
      assert.ok(v.audio().every((f) => !(f.flags & KEYFRAME)), 'audio fragments are never keyframes');
      // Sound and picture on one clock: they start together, and after a
      // few seconds (and a lap of each clip) they are still together.
      const scales = timescales(frames[0].payload);
      const at = (f) => decodeTime(f.payload, scales);
      const [v0, a0] = [at(v.video()[0]), at(v.audio()[0])];
      const [vn, an] = [at(v.video().at(-1)), at(v.audio().at(-1))];
      assert.ok(Math.abs(a0 - v0) < 0.1, `first audio at ${a0} s, first video at ${v0} s`);
      assert.ok(Math.abs(an - vn) < 0.3, `last audio at ${an} s, last video at ${vn} s`);
      const found = discover(ac.id, frames);
      assert.match(found, /video #\d+: H\.264/, found);
      assert.match(found, ac.discovered, found);
      const s = await streamInfo(ac.id);
      assert.equal(s.state, 'live');
      assert.match(String(s.codecs), new RegExp(`^avc1\\.[0-9A-F]{6},${ac.mime.replace('.', '\\.')}$`, 'i'));
      assert.equal(s.publish.audio_codec, ac.codec);
      assert.equal(s.publish.audio_relayed, true);
      assert.ok(s.publish.audio_frames >= 40, JSON.stringify(s.publish));
      // Only what came before the first video keyframe may be dropped.
      assert.ok(s.publish.audio_dropped <= 5, JSON.stringify(s.publish));
      assert.ok(s.fps > 20 && s.fps < 40, `fps counts video frames: ${s.fps}`);
      t.diagnostic(`${ac.id}: ${JSON.stringify(s.publish)}; first video/audio at ${v0}/${a0} s, last ${vn}/${an} s`);
      sender.stop();
      c.close();
      v.c.close();
    });
  }

  it('a publisher that announces audio and sends none goes live as video only after 3 s', async (t) => {
    const audio = makeAudio({ codec: 'opus', ms: 1000 });
    const v = await watch('gate');
    const c = await connect(publisherToken());
    const reply = await c.request(publishRequest('gate', clip, audio));
    assert.equal(reply.type, 'publish', JSON.stringify(reply));
    assert.equal(reply.audio_relayed, true);
    const sender = streamClip(c, reply.channel, clip); // video only
    running.add(sender);
    await until(() => v.video().length >= 30, 20000,
      () => `30 video fragments, have ${v.video().length}\n${vigil.log().slice(-2000)}`);
    const firstAt = Number(v.video()[0].arrivalUs / 1000n) - sender.firstSentAt;
    t.diagnostic(`first fragment ${firstAt} ms after the first frame sent`);
    assert.ok(firstAt >= 2500, `mp4mux waited for the announced audio: ${firstAt} ms`);
    assert.equal(v.audio().length, 0);
    const found = discover('gate', v.mine());
    assert.match(found, /video #\d+: H\.264/, found);
    assert.doesNotMatch(found, /audio #/, found);
    const s = await streamInfo('gate');
    assert.equal(s.state, 'live');
    assert.match(String(s.codecs), /^avc1\.[0-9A-F]{6}$/i);
    assert.match(vigil.log(), /announced audio but none came/);
    sender.stop();
    c.close();
    v.c.close();
  });

  it('a binary message larger than max_publish_frame_bytes closes the publisher with 1009', async () => {
    const big = await publish('yard', annexb);
    assert.equal(big.reply.type, 'publish', JSON.stringify(big.reply));
    big.c.ws.send(publishFrame(big.reply.channel, KIND_VIDEO, FLAG_KEYFRAME, 0, Buffer.alloc(MAX_PUBLISH + 1)));
    const closed = await big.c.waitClose(5000 * SLOW);
    assert.equal(closed.code, 1009);
    const gone = await viewer.waitFor((m) => m.type === 'stream.state' && m.stream === 'yard' && m.reason === 'publisher gone', 5000 * SLOW);
    assert.equal(gone.state, 'retrying');
    // Just under the limit is fine (a garbage access unit, dropped by the parser, not a close).
    const ok = await publish('yard', annexb);
    assert.equal(ok.reply.type, 'publish', JSON.stringify(ok.reply));
    ok.c.ws.send(publishFrame(ok.reply.channel, KIND_VIDEO, 0, 0, Buffer.alloc(MAX_PUBLISH - 16)));
    // The server has read the whole message once it answers a request sent
    // after it (one connection, in order): still open, still publishing.
    const after = await ok.c.request({ type: 'stats' });
    assert.equal(after.type, 'stats', JSON.stringify(after));
    assert.equal(ok.c.closed, null);
    ok.c.close();
  });
});

// Behaviours at the edges of the contract (signaling/PROTOCOL.md), each over
// a real socket against build/vigil (and, in `make test`, the ASan+UBSan
// build): the limits (subscriptions, the reply queue, connections), the
// admin figures, tokens that expire while connected, a device whose broker
// is down, a slow WebCodecs viewer, unsubscribe, subscribing to a stream
// whose camera is gone, and publishers that stall, send garbage or send
// faster than the pipeline takes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startVigil, waitStreamState, Client, sleep, until, SLOW, mintToken, streamInfo, freePort,
} from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';
import { makeClip, publishFrame, publishRequest, streamClip, KIND_VIDEO, KIND_AUDIO, FLAG_KEYFRAME } from '../tools/publisher.js';

const KEYFRAME = 1;
const AFTER_SKIP = 2;
const nowS = () => Math.floor(Date.now() / 1000);
const nowUs = () => BigInt(Date.now()) * 1000n;

// Stops a server started in before() and asserts it exited cleanly (under
// ASan, a leak or a sanitizer report is a non-zero exit).
async function stopClean(v) {
  if (!v) return;
  const st = await v.stop();
  assert.deepEqual(st, { code: 0, signal: null }, `vigil exit; log tail:\n${v.log().slice(-3000)}`);
}

// A client signed in with a fresh token of these claims (mintToken's).
async function signedIn(v, claims, opts = {}) {
  const c = await new Client(v.wsBase, opts).open();
  const r = await c.request({ type: 'hello', token: mintToken(claims) });
  assert.equal(r.type, 'hello', JSON.stringify(r));
  c.hello = r;
  return c;
}

// Everything a client receives, text and binary, in arrival order.
function recordOrder(c) {
  const order = [];
  c.ws.on('message', (data, isBinary) => {
    order.push(isBinary ? { frame: c.frames[c.frames.length - 1] } : { msg: c.messages[c.messages.length - 1] });
  });
  return order;
}

// 320x240 noise at 16 Mbit/s (~70 KB a frame, 2 MB/s): a viewer that stops
// reading fills its socket buffers within a second or so (vigil's 512 KiB,
// its receive window: more the longer it has been reading), then its queue.
const NOISE = { width: 320, height: 240, fps: 30, bitrate_kbps: 16000, pattern: 'snow' };

// A publisher of `stream` with a token of its own: {c, channel}.
async function publishOn(v, stream, clip) {
  const c = await new Client(v.wsBase).open();
  const hello = await c.request({ type: 'hello', token: mintToken({ sub: 'cam-device', role: 'publisher', streams: ['*'], devices: [] }) });
  assert.equal(hello.type, 'hello', JSON.stringify(hello));
  const reply = await c.request(publishRequest(stream, clip));
  assert.equal(reply.type, 'publish', JSON.stringify(reply));
  return { c, channel: reply.channel };
}

const counters = async (v) => (await (await v.fetch('/api/health')).json()).counters;
const tiny = (fps = 10) => ({ width: 160, height: 120, fps, bitrate_kbps: 100 });

describe('limits, admin figures, expiring tokens, a device without its broker', { timeout: 90000 * SLOW }, () => {
  let v;
  before(async () => {
    // An MQTT broker on a port nobody listens on: the transport runs and
    // keeps retrying, QoS 1 commands are held, and with a history of 2 a
    // device takes at most 2 commands in flight. viewer_queue_ms 10 s: the
    // unsubscribe test needs frames to wait in a queue for a second without
    // a skip (the age bound has its own tests in stream.test.js).
    const deadPort = await freePort();
    v = await startVigil({
      config: {
        server: { bind: '127.0.0.1', max_subscriptions: 2, messages_per_s: 100000, viewer_queue_ms: 10000 },
        streams: [...['a', 'b', 'c'].map((id) => ({ id, source: 'test://', options: tiny() })),
          { id: 'noise', source: 'test://', options: NOISE }],
        mqtt: { host: '127.0.0.1', port: deadPort, reconnect_min_s: 1, reconnect_max_s: 2, connect_timeout_s: 1 },
        control: { history: 2, timeout_ms: 600000 },
        devices: [{ id: 'lamp', name: 'Lamp', transport: 'mqtt', mqtt: { qos: 1 }, commands: { light: { on: { type: 'bool' } } } }],
      },
    });
  });
  after(() => stopClean(v));

  test('a subscription beyond server.max_subscriptions gets too_many_subscriptions; a freed slot can be used', async () => {
    const c = await signedIn(v, { sub: 'many', role: 'viewer', streams: ['*'] });
    assert.equal(c.hello.limits.max_subscriptions, 2);
    const a = await c.request({ type: 'subscribe', stream: 'a' });
    const b = await c.request({ type: 'subscribe', stream: 'b', mode: 'webcodecs' });
    assert.equal(a.type, 'subscribe', JSON.stringify(a));
    assert.equal(b.type, 'subscribe', JSON.stringify(b));
    const third = await c.request({ type: 'subscribe', stream: 'c', id: 'third' });
    assert.equal(third.type, 'error', JSON.stringify(third));
    assert.equal(third.code, 'too_many_subscriptions');
    assert.equal(third.id, 'third');
    assert.match(third.message, /at most 2/);
    // Nothing was subscribed: two channels, and no frame of a third.
    const st = await c.request({ type: 'stats' });
    assert.deepEqual(st.channels.map((x) => x.stream).sort(), ['a', 'b']);
    assert.ok(c.frames.every((h) => h.channel === a.channel || h.channel === b.channel));
    // The limit counts channels held now, not subscriptions ever made.
    const un = await c.request({ type: 'unsubscribe', channel: a.channel });
    assert.equal(un.type, 'unsubscribe', JSON.stringify(un));
    const again = await c.request({ type: 'subscribe', stream: 'c' });
    assert.equal(again.type, 'subscribe', JSON.stringify(again));
    // And it is per connection.
    const other = await signedIn(v, { sub: 'other', role: 'viewer', streams: ['*'] });
    for (const id of ['a', 'b']) assert.equal((await other.request({ type: 'subscribe', stream: id })).type, 'subscribe');
    c.close();
    other.close();
  });

  test('a client that sends requests and never reads its replies is closed with 1008; one that reads is not', async () => {
    // Reading, 400 requests in batches of 20, each batch's replies awaited:
    // more replies in all than the queue holds (256), never many at once.
    const reader = await new Client(v.wsUrl).open();
    for (let n = 0; n < 400; n += 20) {
      const ids = [];
      for (let i = 0; i < 20; i++) { ids.push(`q${n + i}`); reader.send({ type: 'list', id: `q${n + i}` }); }
      await reader.waitFor((m) => m.id === ids[19], 5000 * SLOW, `reply ${ids[19]}`);
    }
    assert.equal(reader.messages.filter((m) => m.type === 'list').length, 400);
    assert.equal(reader.closed, null);

    // Not reading: its replies fill the socket buffers, then the reply queue
    // (at most 256 messages, server/session.h) overflows. It reads again
    // once vigil has decided (vigil drops a peer that has not taken its
    // close frame within 3 s), to see the close frame.
    const c = await new Client(v.wsUrl).open();
    c.ws._socket.pause();
    const overflowed = () => /closing a connection: 1008 reply queue overflow/.test(v.log());
    let sent = 0;
    const t0 = Date.now();
    while (!overflowed()) {
      assert.ok(Date.now() - t0 < 20000 * SLOW, `no overflow after ${sent} unread requests`);
      for (let i = 0; i < 50; i++) c.send({ type: 'hello', id: sent++ });
      await sleep(5);
    }
    c.ws._socket.resume();
    const closed = await c.waitClose(5000 * SLOW);
    assert.deepEqual(closed, { code: 1008, reason: 'reply queue overflow' });
    assert.ok(c.messages.length < sent, `${c.messages.length} replies to ${sent} requests`);
    assert.equal(reader.closed, null, 'the reading client is still connected');
    assert.equal((await reader.request({ type: 'list' })).type, 'list');
    reader.close();
  });

  test('unsubscribe: no binary frame of that channel follows the reply, frames queued for it are dropped', async () => {
    const c = await new Client(v.wsUrl).open();
    const order = recordOrder(c);
    const calm = await c.request({ type: 'subscribe', stream: 'a' });
    assert.equal(calm.type, 'subscribe', JSON.stringify(calm));
    // The channel to unsubscribe is the noisy one, with frames waiting in
    // vigil's queue for it: the client stops reading as soon as it has
    // subscribed, for a second (30 frames, 2 MB: less than the queue's 128
    // frames, more than the socket buffers usually hold). Should the
    // buffers have taken it all, the stats say so and it tries again.
    let queued = 0;
    for (let attempt = 1; queued === 0; attempt++) {
      assert.ok(attempt <= 3, 'frames queued for the channel in one of 3 attempts');
      const noise = await c.request({ type: 'subscribe', stream: 'noise' });
      assert.equal(noise.type, 'subscribe', JSON.stringify(noise));
      c.ws._socket.pause();
      await sleep(1000);
      c.send({ type: 'stats', id: `st${attempt}` });
      c.send({ type: 'unsubscribe', id: `un${attempt}`, channel: noise.channel });
      c.ws._socket.resume();
      const un = await c.waitFor((m) => m.id === `un${attempt}`, 5000 * SLOW, 'the unsubscribe reply');
      assert.deepEqual(un, { type: 'unsubscribe', id: `un${attempt}`, channel: noise.channel });
      const st = c.messages.find((m) => m.id === `st${attempt}`);
      const ch = st.channels.find((x) => x.channel === noise.channel);
      assert.equal(ch.skips, 0, 'the queue did not overflow');
      queued = ch.queue_frames;
      // The other channel goes on, so there is an "after" to look at.
      const at = order.findIndex((e) => e.msg === un);
      await until(() => order.slice(at).filter((e) => e.frame && e.frame.channel === calm.channel).length >= 5, 3000,
        () => '5 frames of the other channel after the reply');
      const after = order.slice(at + 1).filter((e) => e.frame && e.frame.channel === noise.channel);
      assert.equal(after.length, 0, `${after.length} frames of the unsubscribed channel after the reply (${queued} were queued)`);
      const st2 = await c.request({ type: 'stats' });
      assert.deepEqual(st2.channels.map((x) => x.channel), [calm.channel]);
    }
    const again = await c.request({ type: 'unsubscribe', channel: 999999, id: 'again' });
    assert.deepEqual([again.code, again.field], ['unknown_channel', 'channel']);
    c.close();
  });

  test('GET /api/admin/sessions lists every client for an admin, 403 for a viewer, 401 without a token', async () => {
    const alice = await signedIn(v, { sub: 'alice', role: 'viewer', streams: ['a', 'b'], devices: [] });
    assert.equal((await alice.request({ type: 'subscribe', stream: 'b' })).type, 'subscribe');
    alice.send({ type: 'teleport' });
    await alice.waitFor((m) => m.code === 'unknown_type', 3000, 'unknown_type');
    const r = await v.fetch('/api/admin/sessions');
    assert.equal(r.status, 200);
    const sessions = await r.json();
    const mine = sessions.filter((s) => s.sub === 'alice');
    assert.equal(mine.length, 1, JSON.stringify(sessions));
    // hello, subscribe and the unknown type: 3 messages, 1 error.
    assert.deepEqual(mine[0], { peer: '127.0.0.1', sub: 'alice', role: 'viewer', streams: ['b'], messages_in: 3, errors: 1 });
    const asViewer = await fetch(`${v.base}/api/admin/sessions`,
      { headers: { authorization: `Bearer ${mintToken({ role: 'viewer', streams: ['*'] })}` } });
    assert.equal(asViewer.status, 403);
    assert.equal((await asViewer.json()).error, 'forbidden');
    const anonymous = await fetch(`${v.base}/api/admin/sessions`);
    assert.equal(anonymous.status, 401);
    alice.close();
    await alice.waitClose();
    await until(async () => !(await (await v.fetch('/api/admin/sessions')).json()).some((s) => s.sub === 'alice'),
      3000, () => 'alice gone from the sessions');
  });

  test('a token that expires while connected closes the connection with 4003 and counts in tokens_expired', async () => {
    const before_ = (await counters(v)).tokens_expired;
    // Valid for 2 s more: one signs in with hello, one on the upgrade.
    const exp = nowS() + 2;
    const byHello = await signedIn(v, { sub: 'brief', role: 'viewer', streams: ['a'], exp });
    const byQuery = await new Client(`${v.wsBase}?access_token=${mintToken({ sub: 'brief2', role: 'viewer', streams: ['a'], exp })}`).open();
    const sub = await byQuery.request({ type: 'subscribe', stream: 'a' });
    assert.equal(sub.type, 'subscribe', JSON.stringify(sub));
    const keeps = await signedIn(v, { sub: 'stays', role: 'viewer', streams: ['a'] });
    for (const c of [byHello, byQuery]) {
      assert.deepEqual(await c.waitClose(5000 * SLOW), { code: 4003, reason: 'token expired' });
    }
    assert.ok(Date.now() / 1000 >= exp, 'not closed before the token expired');
    assert.equal((await counters(v)).tokens_expired, before_ + 2);
    assert.equal(keeps.closed, null);
    assert.equal((await keeps.request({ type: 'list' })).type, 'list');
    keeps.close();
  });

  test('device_unavailable: a device with its commands in flight (broker down), over the WebSocket and REST (503)', async () => {
    await until(async () => {
      const [d] = await (await v.fetch('/api/devices')).json();
      return d.transport_connected === false;
    }, 5000, () => 'the MQTT transport reported not connected');
    const op = await signedIn(v, { sub: 'op', role: 'operator', streams: [], devices: ['*'] });
    // QoS 0 is never held: it fails at once.
    const q0 = await op.request({ type: 'command', device: 'lamp', name: 'light', params: { on: true }, qos: 0 });
    assert.equal(q0.status, 'queued', JSON.stringify(q0));
    const failed = await op.waitFor((m) => m.type === 'command.status' && m.command_id === q0.command_id && m.status === 'failed',
      3000 * SLOW, 'QoS 0 failed');
    assert.match(failed.error, /not connected/);
    // QoS 1: held for the broker, in flight; two fill the device's history.
    for (const on of [true, false]) {
      const r = await op.request({ type: 'command', device: 'lamp', name: 'light', params: { on } });
      assert.equal(r.type, 'command', JSON.stringify(r));
      assert.equal(r.status, 'queued');
    }
    const r3 = await op.request({ type: 'command', device: 'lamp', name: 'light', params: { on: true }, id: 'third' });
    assert.equal(r3.type, 'error', JSON.stringify(r3));
    assert.equal(r3.code, 'device_unavailable');
    assert.equal(r3.id, 'third');
    assert.match(r3.message, /in flight/);
    const opToken = mintToken({ sub: 'op', role: 'operator', streams: [], devices: ['*'] });
    const rest = await fetch(`${v.base}/api/devices/lamp/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'light', params: { on: true } }),
    });
    assert.equal(rest.status, 503);
    const body = await rest.json();
    assert.equal(body.error, 'device_unavailable', JSON.stringify(body));
    assert.match(body.message, /in flight/);
    // What was refused was never issued.
    const dev = await (await v.fetch('/api/devices/lamp')).json();
    assert.equal(dev.issued, 3, JSON.stringify(dev));
    op.close();
  });
});

describe('server.max_connections: the limit over all addresses', { timeout: 30000 * SLOW }, () => {
  let v;
  before(async () => {
    v = await startVigil({
      config: {
        server: { bind: '127.0.0.1', max_connections: 3, max_connections_per_ip: 1000 },
        streams: [{ id: 'p', source: 'publish://' }],
      },
    });
  });
  after(() => stopClean(v));

  test('a WebSocket beyond max_connections is refused before the 101 and counted; REST still answers', async () => {
    // Two from 127.0.0.1 and one from 127.0.0.2 (loopback too): no address
    // is near its own limit, the server is at its global one.
    const cs = [];
    cs.push(await new Client(v.wsUrl).open());
    cs.push(await new Client(v.wsUrl).open());
    cs.push(await new Client(v.wsUrl, { localAddress: '127.0.0.2' }).open());
    const refusedFrom = async (localAddress) => {
      const c = new Client(v.wsUrl, { localAddress });
      await assert.rejects(c.open());   // refused before the 101: the socket is closed
      assert.equal(c.ws.readyState, c.ws.CLOSED);
    };
    await refusedFrom('127.0.0.2');
    await refusedFrom('127.0.0.1');
    const h = await (await v.fetch('/api/health')).json();
    assert.equal(h.connections, 3);
    assert.equal(h.counters.connections_refused, 2);
    const peers = (await (await v.fetch('/api/admin/sessions')).json()).map((s) => s.peer).sort();
    assert.deepEqual(peers, ['127.0.0.1', '127.0.0.1', '127.0.0.2']);
    // A slot freed is a slot for anyone.
    cs[0].close();
    await cs[0].waitClose();
    await until(async () => (await (await v.fetch('/api/health')).json()).connections === 2, 3000, () => '2 connections');
    cs[0] = await new Client(v.wsUrl, { localAddress: '127.0.0.2' }).open();
    assert.equal((await cs[0].request({ type: 'list' })).type, 'list');
    for (const c of cs) c.close();
  });
});


describe('a slow WebCodecs viewer', { timeout: 60000 * SLOW }, () => {
  let v;
  before(async () => {
    v = await startVigil({
      config: {
        server: { bind: '127.0.0.1', viewer_queue_frames: 16, slow_viewer_skips: 2, slow_viewer_window_s: 10 },
        streams: [{ id: 'noise', source: 'test://', options: NOISE }],
      },
    });
    await waitStreamState(v, 'noise', 'live');
  });
  after(() => stopClean(v));

  test('a WebCodecs viewer that stays too slow is closed with 4001; a reading one is not', async () => {
    const closedBefore = (await counters(v)).slow_viewers_closed;
    const reading = await new Client(v.wsUrl).open();
    const rr = await reading.request({ type: 'subscribe', stream: 'noise', mode: 'webcodecs' });
    const slow = await new Client(v.wsUrl).open();
    const sr = await slow.request({ type: 'subscribe', stream: 'noise', mode: 'webcodecs' });
    assert.equal(sr.type, 'subscribe', JSON.stringify(sr));
    assert.equal(sr.mode, 'webcodecs');
    await until(() => slow.frames.some((h) => h.kind === 4), 3000, () => 'a first access unit');
    slow.ws._socket.pause();
    await until(async () => (await counters(v)).slow_viewers_closed > closedBefore, 15000,
      () => 'the stalled WebCodecs viewer closed');
    slow.ws._socket.resume();
    assert.deepEqual(await slow.waitClose(5000 * SLOW), { code: 4001, reason: 'viewer too slow' });
    assert.equal((await counters(v)).slow_viewers_closed, closedBefore + 1);
    assert.ok(slow.frames.every((h) => h.kind === 3 || h.kind === 4), 'WebCodecs kinds only');
    assert.equal(slow.frames[0].kind, 3, 'the decoder configuration first');
    const st = await reading.request({ type: 'stats' });
    assert.equal(st.channels[0].mode, 'webcodecs');
    assert.equal(st.channels[0].skips, 0, JSON.stringify(st));
    assert.equal(reading.frames.filter((h) => h.channel === rr.channel && h.flags & AFTER_SKIP).length, 0);
    assert.equal(reading.closed, null);
    reading.close();
  });
});

describe('subscribing to a stream whose camera has gone (retrying after live)', { timeout: 60000 * SLOW }, () => {
  let port;
  let camera;
  let v;
  before(async () => {
    port = await freePort();
    camera = await startCamera({ port });
    v = await startVigil({ config: { server: { bind: '127.0.0.1' }, streams: [{ id: 'cam', source: camera.url }] } });
  });
  after(async () => {
    if (camera) await camera.stop('SIGKILL');
    await stopClean(v);
  });

  test('the reply has the last codecs, the last init segment (or decoder configuration) comes at once, no media until the camera is back', async () => {
    const live = await waitStreamState(v, 'cam', 'live', 20000);
    const codecs = live.codecs;
    assert.match(String(codecs), /^avc1\./);
    await camera.stop('SIGKILL');
    camera = null;
    const gone = await waitStreamState(v, 'cam', 'retrying', 20000);
    assert.equal(gone.codecs, codecs, 'the last codecs are kept');

    const clients = {};
    for (const mode of ['mse', 'webcodecs']) {
      const c = await new Client(v.wsUrl).open();
      const order = recordOrder(c);
      const r = await c.request({ type: 'subscribe', stream: 'cam', mode });
      assert.equal(r.type, 'subscribe', JSON.stringify(r));
      assert.equal(r.state, 'retrying');
      assert.equal(r.codecs, codecs);
      assert.equal(r.mime, mode === 'mse' ? `video/mp4; codecs="${codecs}"` : null);
      clients[mode] = { c, order, channel: r.channel, setup: mode === 'mse' ? 1 : 3, media: mode === 'mse' ? 2 : 4 };
    }
    for (const [mode, x] of Object.entries(clients)) {
      await until(() => x.c.frames.length >= 1, 2000, () => `the ${mode} setup frame`);
      assert.equal(x.c.frames[0].kind, x.setup, `${mode}: the last init segment / configuration`);
      if (mode === 'mse') assert.equal(x.c.frames[0].payload.toString('latin1', 4, 8), 'ftyp');
    }

    camera = await startCamera({ port });
    for (const [mode, x] of Object.entries(clients)) {
      const ev = await x.c.waitFor((m) => m.type === 'stream.state' && m.state === 'live', 25000 * SLOW, `${mode}: live again`);
      assert.equal(ev.channel, x.channel);
      const liveAt = x.order.findIndex((e) => e.msg === ev);
      const before_ = x.order.slice(0, liveAt).filter((e) => e.frame);
      assert.deepEqual(before_.map((e) => e.frame.kind), [x.setup], `${mode}: only the setup frame while retrying`);
      const media = () => x.order.slice(liveAt).filter((e) => e.frame && e.frame.kind === x.media);
      await until(() => media().length >= 5, 5000, () => `${mode}: media after the camera came back`);
      const afterLive = x.order.slice(liveAt).filter((e) => e.frame);
      assert.equal(afterLive[0].frame.kind, x.setup, `${mode}: a new setup frame first`);
      assert.equal(afterLive[1].frame.kind, x.media);
      assert.ok(afterLive[1].frame.flags & KEYFRAME, `${mode}: then a keyframe`);
      x.c.close();
    }
  });
});

describe('publishers: stall, bad frames', { timeout: 90000 * SLOW }, () => {
  let v;
  let clip;
  const publisher = (stream) => publishOn(v, stream, clip);
  const pubInfo = async (id) => (await streamInfo(v, id)).publish;

  before(async () => {
    clip = makeClip({ frames: 60, fps: 30, keyInt: 30 });
    v = await startVigil({
      config: {
        server: { bind: '127.0.0.1', stall_timeout_s: 1 },
        streams: ['door', 'yard', 'shed', 'idle'].map((id) => ({ id, source: 'publish://' })),
      },
    });
  });
  after(() => stopClean(v));

  test('a publisher that has sent nothing yet: the stream waits for its first keyframe, then goes live', async () => {
    const viewer = await new Client(v.wsUrl).open();
    const { channel } = await viewer.request({ type: 'subscribe', stream: 'idle' });
    const pub = await publisher('idle');
    try {
      // Longer than stall_timeout_s (1): time to go live, or to flap.
      await sleep(1500);
      const states = viewer.messages.filter((m) => m.type === 'stream.state').map((m) => m.state);
      assert.deepEqual(states, [], 'no state change without a frame');
      const s = await streamInfo(v, 'idle');
      assert.equal(s.state, 'retrying', JSON.stringify(s));
      assert.equal(s.restarts, 0);
      // Its first keyframe: live, the init segment, the keyframe.
      const sender = streamClip(pub.c, pub.channel, clip);
      const live = await viewer.waitFor((m) => m.type === 'stream.state' && m.state === 'live', 5000 * SLOW, 'live');
      assert.equal(live.channel, channel);
      await until(() => viewer.frames.length >= 2, 3000, () => 'init segment and a keyframe');
      sender.stop();
      assert.equal(viewer.frames[0].kind, 1);
      assert.ok(viewer.frames[1].flags & KEYFRAME);
    } finally {
      pub.c.close();
      viewer.close();
    }
  });

  test('a publisher that stops sending for stall_timeout_s: the stream goes retrying, and live again when it sends', async () => {
    const viewer = await new Client(v.wsUrl).open();
    const order = recordOrder(viewer);
    const { channel } = await viewer.request({ type: 'subscribe', stream: 'shed' });
    const pub = await publisher('shed');
    let sender = streamClip(pub.c, pub.channel, clip);
    await viewer.waitFor((m) => m.type === 'stream.state' && m.state === 'live', 10000 * SLOW, 'live');
    await until(() => viewer.frames.filter((h) => h.kind === 2).length >= 10, 3000, () => 'fragments');
    sender.stop();
    const stoppedAt = Date.now();
    const ev = await viewer.waitFor((m) => m.type === 'stream.state' && m.state === 'retrying', 5000 * SLOW, 'retrying');
    assert.ok(Date.now() - stoppedAt >= 900, `retrying after ${Date.now() - stoppedAt} ms, stall_timeout_s is 1`);
    assert.match(ev.reason, /^no frames for \d+ s$/);
    assert.equal(ev.channel, channel);
    const s = await streamInfo(v, 'shed');
    assert.equal(s.state, 'retrying');
    assert.match(s.last_error, /^no frames for/);
    assert.equal(s.publish.publisher, 'cam-device', 'the publisher is still connected');
    // It sends again: vigil restarts the pipeline (after its backoff) and
    // the stream comes back, new init segment then a keyframe.
    const mark = order.length;
    sender = streamClip(pub.c, pub.channel, clip);
    const back = await viewer.waitFor((m, i) => m.type === 'stream.state' && m.state === 'live' && viewer.messages.indexOf(m) > viewer.messages.indexOf(ev),
      10000 * SLOW, 'live again');
    const from = order.findIndex((e, i) => i >= mark && e.msg === back);
    await until(() => order.slice(from).filter((e) => e.frame && e.frame.kind === 2).length >= 3, 5000, () => 'fragments again');
    const frames = order.slice(from).filter((e) => e.frame).map((e) => e.frame);
    assert.equal(frames[0].kind, 1);
    assert.ok(frames[1].flags & KEYFRAME);
    assert.ok((await streamInfo(v, 'shed')).restarts >= 1);
    sender.stop();
    pub.c.close();
    viewer.close();
  });

  test('bad_frame names each cause; the frame is dropped and counted', async () => {
    const pub = await publisher('door');
    const payload = clip.aus[0].data;
    const cases = [
      ['a header and nothing else', (ch) => publishFrame(ch, KIND_VIDEO, FLAG_KEYFRAME, 0, Buffer.alloc(0)), /16-byte header and a payload/],
      ['shorter than a header', () => Buffer.from([1, 1, 0, 0, 0, 0, 0, 1, 0, 0]), /16-byte header and a payload/],
      ['version 2', (ch) => { const f = publishFrame(ch, KIND_VIDEO, FLAG_KEYFRAME, 0, payload); f[0] = 2; return f; }, /unknown publish frame version/],
      ['kind 9', (ch) => publishFrame(ch, 9, 0, 0, payload), /unknown publish frame kind/],
      ['another channel', (ch) => publishFrame(ch + 1, KIND_VIDEO, FLAG_KEYFRAME, 0, payload), /channel is not this connection's publish channel/],
      ['audio not announced', (ch) => publishFrame(ch, KIND_AUDIO, 0, 0, Buffer.from([0xfc, 0xff, 0xfe])), /announced no audio/],
    ];
    let channel = pub.channel;
    for (const [what, frame, re] of cases) {
      // A publisher of its own each time (unpublish, publish again): the
      // one-a-second limit is per publisher.
      const seen = pub.c.messages.length;
      pub.c.ws.send(frame(channel));
      const e = await pub.c.waitFor((m) => pub.c.messages.indexOf(m) >= seen && m.type === 'error', 3000 * SLOW, what);
      assert.equal(e.code, 'bad_frame', `${what}: ${JSON.stringify(e)}`);
      assert.match(e.message, re, what);
      assert.equal(e.id, undefined);
      const p = await pubInfo('door');
      assert.equal(p.malformed, 1, `${what}: ${JSON.stringify(p)}`);
      assert.equal(p.frames, 0, `${what}: nothing went into the stream`);
      assert.equal((await pub.c.request({ type: 'unpublish', channel })).type, 'unpublish');
      const again = await pub.c.request(publishRequest('door', clip));
      assert.equal(again.type, 'publish', JSON.stringify(again));
      channel = again.channel;
    }
    pub.c.close();
  });

  test('bad_frame goes out at most once a second while bad frames keep coming, all counted; good frames go on', async () => {
    const viewer = await new Client(v.wsUrl).open();
    const { channel: vch } = await viewer.request({ type: 'subscribe', stream: 'yard' });
    const pub = await publisher('yard');
    const sender = streamClip(pub.c, pub.channel, clip);
    await until(() => viewer.frames.filter((h) => h.kind === 2).length >= 5, 10000, () => 'yard live');
    const bad = () => publishFrame(pub.channel + 7, KIND_VIDEO, 0, 0, Buffer.from([0, 0, 0, 1, 9]));
    const errors = () => pub.c.messages.filter((m) => m.code === 'bad_frame');
    // A burst of 30: one error. The stats reply is queued after whatever
    // the 30 frames caused (requests are answered in order).
    for (let i = 0; i < 30; i++) pub.c.ws.send(bad());
    await pub.c.request({ type: 'stats' });
    assert.equal(errors().length, 1, 'one error for a burst');
    const firstAt = Date.now();
    // Then one bad frame every 100 ms for 2.5 s: an error each second.
    for (let i = 0; i < 25; i++) { pub.c.ws.send(bad()); await sleep(100); }
    await pub.c.request({ type: 'stats' });
    const elapsedS = (Date.now() - firstAt) / 1000;
    const n = errors().length - 1;
    assert.ok(n >= 2 && n <= Math.floor(elapsedS) + 1, `${n} more errors in ${elapsedS.toFixed(1)} s`);
    const p = await pubInfo('yard');
    assert.equal(p.malformed, 55, JSON.stringify(p));
    // The good frames went on all along.
    const mark = nowUs();
    await until(() => viewer.frames.filter((h) => h.channel === vch && h.kind === 2 && h.timeUs >= mark).length >= 5, 3000,
      () => 'fragments after the bad frames');
    assert.equal((await streamInfo(v, 'yard')).state, 'live');
    sender.stop();
    pub.c.close();
    viewer.close();
  });
});

describe('publisher back-pressure', { timeout: 60000 * SLOW }, () => {
  let v;
  let clip;
  const pubInfo = async (id) => (await streamInfo(v, id)).publish;
  before(async () => {
    clip = makeClip({ frames: 60, fps: 30, keyInt: 30 });
    // The default stall_timeout_s (5): the burst below may keep the
    // sanitized server's pipeline busy for a second or more.
    v = await startVigil({ config: { server: { bind: '127.0.0.1' }, streams: [{ id: 'bp', source: 'publish://' }] } });
  });
  after(() => stopClean(v));

  test('back-pressure: delta frames are dropped, and every one up to the next keyframe; keyframes go in', async () => {
    // Access units that are large and slow for the pipeline's parser: the
    // real unit, one 500 KB filler NAL unit and 40000 empty ones (6 bytes
    // each), 740 KB in all. vigil reads them off the socket far faster than
    // h264parse gets through them (some 30 ms each; 5 ms with the 40000
    // small ones left out, too fast to back up), so the queue into the
    // pipeline passes three quarters of its 4 MiB within the burst.
    const nal = (n) => { const b = Buffer.alloc(4 + n, 0xff); b.writeUInt32BE(n, 0); b[4] = 0x0c; b[3 + n] = 0x80; return b; };
    const SMALL = 40000;
    const small = Buffer.alloc(6 * SMALL);
    for (let i = 0; i < SMALL; i++) small.set(nal(2), 6 * i);
    const filler = Buffer.concat([nal(500000), small]);
    const heavy = (au) => Buffer.concat([au.data, filler]);
    const viewer = await new Client(v.wsUrl).open();
    const { channel: vch } = await viewer.request({ type: 'subscribe', stream: 'bp', mode: 'webcodecs' });
    const units = () => viewer.frames.filter((h) => h.channel === vch && h.kind === 4);
    const pub = await publishOn(v, 'bp', clip);
    let t = 1_000_000;
    const send = (au, data = au.data) => { pub.c.ws.send(publishFrame(pub.channel, KIND_VIDEO, au.key ? FLAG_KEYFRAME : 0, t, data)); t += 33333; };
    // A keyframe and 14 delta frames at once.
    const burst = clip.aus.slice(0, 15);
    assert.ok(burst[0].key && burst.slice(1).every((a) => !a.key));
    for (const au of burst) send(au, heavy(au));
    await until(async () => (await pubInfo('bp')).frames === 15, 10000, () => 'the burst received');
    const dropped = (await pubInfo('bp')).dropped;
    assert.ok(dropped >= 1 && dropped <= 13, `${dropped} of 14 delta frames dropped`);
    const kept = 15 - dropped;
    // What went in reaches the viewer: the keyframe and the deltas before
    // the first drop (none after it).
    await until(() => units().length >= kept, 15000, () => `${kept} access units, have ${units().length}`);
    // The queue has drained; a light delta frame still goes, being before
    // the next keyframe.
    send(clip.aus[15]);
    await until(async () => (await pubInfo('bp')).frames === 16, 3000, () => 'the 16th frame received');
    assert.equal((await pubInfo('bp')).dropped, dropped + 1, 'a delta after a drop is dropped until the next keyframe');
    // The next keyframe goes in, and the frames after it.
    for (const au of clip.aus.slice(30, 36)) send(au);
    await until(() => units().length >= kept + 6, 5000, () => `${kept + 6} access units, have ${units().length}`);
    const u = units();
    assert.equal(u.length, kept + 6, 'nothing else reached the viewer');
    assert.ok(u[0].flags & KEYFRAME);
    assert.ok(u.slice(1, kept).every((h) => !(h.flags & KEYFRAME)));
    assert.ok(u[kept].flags & KEYFRAME, 'the keyframe after the drops');
    assert.equal((await pubInfo('bp')).dropped, dropped + 1, 'keyframes and what follows them go in');
    pub.c.close();
    viewer.close();
  });
});

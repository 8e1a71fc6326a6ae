// Node tests of the dashboard modules that need no DOM: the binary header
// parser, the rate meter, the subscription bookkeeping (channel routing,
// re-subscribing after a reconnect) against a fake connection, the offline
// clock of a tile, and the look-up of the browser's media APIs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFrameHeader, KIND_INIT, KIND_FRAGMENT } from '../../web/js/frame_header.js';
import { RateMeter, Smoothed } from '../../web/js/meters.js';
import { Subscriptions } from '../../web/js/subscriptions.js';
import { OfflineClock } from '../../web/js/offline.js';
import { canPlayLive, mediaSourceType } from '../../web/js/media_support.js';

function binaryFrame({ version = 1, kind = KIND_FRAGMENT, flags = 0, channel = 1, timeUs = 1700000000123456n, payload = [9, 8, 7] } = {}) {
  const buf = new ArrayBuffer(16 + payload.length);
  const v = new DataView(buf);
  v.setUint8(0, version);
  v.setUint8(1, kind);
  v.setUint8(2, flags);
  v.setUint32(4, channel);
  v.setBigUint64(8, timeUs);
  new Uint8Array(buf, 16).set(payload);
  return buf;
}

test('parseFrameHeader reads the big-endian fields and the payload', () => {
  const h = parseFrameHeader(binaryFrame({ kind: KIND_INIT, flags: 3, channel: 0x01020304 }));
  assert.equal(h.kind, KIND_INIT);
  assert.equal(h.channel, 0x01020304);
  assert.equal(h.timeUs, 1700000000123456);
  assert.equal(h.keyframe, true);
  assert.equal(h.afterSkip, true);
  assert.deepEqual([...h.payload], [9, 8, 7]);
});

test('parseFrameHeader rejects short frames and unknown versions', () => {
  assert.equal(parseFrameHeader(new ArrayBuffer(15)), null);
  assert.equal(parseFrameHeader(binaryFrame({ version: 2 })), null);
  assert.equal(parseFrameHeader('text'), null);
  // A header alone is a valid, empty frame.
  assert.equal(parseFrameHeader(binaryFrame({ payload: [] })).payload.byteLength, 0);
});

test('RateMeter measures per second and decays when input stops', () => {
  const m = new RateMeter(2000);
  for (let t = 0; t <= 2000; t += 100) m.add(1, t); // 10 per second
  assert.ok(Math.abs(m.perSecond(2000) - 10) < 1, String(m.perSecond(2000)));
  assert.equal(m.perSecond(5000), 0);
  const s = new Smoothed(0.5);
  s.add(10);
  assert.equal(s.add(20), 15);
});

// A connection that answers subscribe/unsubscribe itself.
class FakeConnection extends EventTarget {
  constructor() {
    super();
    this.isOpen = false;
    this.sent = [];
    this.nextChannel = 7;
    this.hold = false; // keep replies until release()
    this.held = [];
  }
  open() {
    this.isOpen = true;
    this.dispatchEvent(new CustomEvent('status', { detail: { state: 'open' } }));
    this.dispatchEvent(new Event('open'));
  }
  drop() {
    this.isOpen = false;
    this.dispatchEvent(new CustomEvent('status', { detail: { state: 'closed', retryInMs: 500 } }));
  }
  request(type, fields) {
    this.sent.push({ type, ...fields });
    const reply = type === 'subscribe'
      ? (fields.stream === 'nope'
        ? Promise.reject(Object.assign(new Error('no stream'), { code: 'unknown_stream' }))
        : Promise.resolve({ type, stream: fields.stream, channel: this.nextChannel++, state: 'live', mime: 'video/mp4; codecs="avc1.64001f"' }))
      : Promise.resolve({ type, ...fields });
    if (!this.hold) return reply;
    return new Promise((resolve, reject) => this.held.push(() => reply.then(resolve, reject)));
  }
  release() { for (const f of this.held.splice(0)) f(); }
  binary(buf) { this.dispatchEvent(new CustomEvent('binary', { detail: buf })); }
  event(msg) { this.dispatchEvent(new CustomEvent('message', { detail: msg })); }
}

function recorder() {
  const calls = [];
  const handler = {};
  for (const m of ['onSubscribed', 'onFrame', 'onStreamState', 'onLost', 'onFailed']) handler[m] = (arg) => calls.push([m, arg]);
  return { calls, handler };
}

const tick = () => new Promise((r) => setImmediate(r));

test('Subscriptions routes frames and events by channel and resubscribes after a reconnect', async () => {
  const conn = new FakeConnection();
  const subs = new Subscriptions(conn);
  const a = recorder();
  subs.add('demo', a.handler); // before the connection is up: waits for 'open'
  assert.equal(conn.sent.length, 0);
  conn.open();
  await tick();
  assert.deepEqual(a.calls.map((c) => c[0]), ['onSubscribed']);
  const channel = a.calls[0][1].channel;

  conn.binary(binaryFrame({ channel }));
  conn.binary(binaryFrame({ channel: 999 })); // not ours: ignored
  conn.binary(binaryFrame({ channel, kind: 77 })); // reserved kind: passed on, the tile skips it
  assert.equal(a.calls.filter((c) => c[0] === 'onFrame').length, 2);
  assert.equal(subs.ignoredFrames, 1);

  conn.event({ type: 'stream.state', stream: 'demo', channel, state: 'retrying' });
  conn.event({ type: 'stream.state', stream: 'demo', channel: channel + 100, state: 'failed' }); // another channel
  assert.deepEqual(a.calls.filter((c) => c[0] === 'onStreamState').map((c) => c[1].state), ['retrying']);

  conn.drop();
  assert.equal(a.calls.at(-1)[0], 'onLost');
  conn.binary(binaryFrame({ channel })); // stale channel after the drop
  assert.equal(a.calls.filter((c) => c[0] === 'onFrame').length, 2);

  conn.open();
  await tick();
  const again = a.calls.filter((c) => c[0] === 'onSubscribed');
  assert.equal(again.length, 2);
  assert.notEqual(again[1][1].channel, channel);
  conn.binary(binaryFrame({ channel: again[1][1].channel }));
  assert.equal(a.calls.filter((c) => c[0] === 'onFrame').length, 3);
});

test('Subscriptions reports refusals and undoes a subscribe removed in flight', async () => {
  const conn = new FakeConnection();
  const subs = new Subscriptions(conn);
  conn.open();
  const bad = recorder();
  subs.add('nope', bad.handler);
  await tick();
  assert.equal(bad.calls[0][0], 'onFailed');
  assert.equal(bad.calls[0][1].code, 'unknown_stream');

  conn.hold = true;
  const gone = recorder();
  subs.add('cam', gone.handler);
  subs.remove('cam');
  conn.hold = false;
  conn.release();
  await tick();
  await tick();
  assert.equal(gone.calls.length, 0);
  const unsub = conn.sent.find((m) => m.type === 'unsubscribe');
  assert.ok(unsub && Number.isInteger(unsub.channel), JSON.stringify(conn.sent));
});

test('publishFrame builds the client-to-server header of PROTOCOL.md "Publishing"', async () => {
  const { publishFrame, bytesToBase64, KIND_VIDEO, FLAG_KEYFRAME } = await import('../../web/js/publisher.js');
  const f = publishFrame(7, KIND_VIDEO, FLAG_KEYFRAME, 1700000000123456, new Uint8Array([0, 0, 0, 2, 0x65, 0x88]));
  const v = new DataView(f.buffer);
  assert.equal(f.byteLength, 22);
  assert.deepEqual([v.getUint8(0), v.getUint8(1), v.getUint8(2), v.getUint8(3)], [1, 1, 1, 0]);
  assert.equal(v.getUint32(4), 7);
  assert.equal(v.getBigUint64(8), 1700000000123456n);
  assert.deepEqual([...f.subarray(16)], [0, 0, 0, 2, 0x65, 0x88]);
  // Negative or fractional WebCodecs timestamps never make a bad header.
  assert.equal(new DataView(publishFrame(1, KIND_VIDEO, 0, -5, new Uint8Array(1)).buffer).getBigUint64(8), 0n);
  assert.equal(bytesToBase64(new Uint8Array([1, 0x42, 0xc0, 0x15, 0xff])), Buffer.from([1, 0x42, 0xc0, 0x15, 0xff]).toString('base64'));
  assert.equal(bytesToBase64(new Uint8Array([1, 2, 3]).buffer), 'AQID');
});

test('OfflineClock: since when a stream is offline, exact or only noticed', () => {
  let now = Date.UTC(2026, 0, 1, 14, 2, 31);
  const c = new OfflineClock(() => now);
  c.update('live');
  assert.equal(c.offline, false);
  assert.equal(c.label(), '');
  c.update('retrying', { exact: true });
  const since = now;
  assert.equal(c.since, since);
  assert.match(c.label(), /^Offline since \d\d:\d\d:\d\d$/);
  now += 5000;
  c.update('retrying', { exact: true }); // told again: the same moment
  c.update('starting'); // a retry under way: still offline
  c.update('failed');
  assert.equal(c.since, since);
  c.update('live');
  assert.equal(c.offline, false);
  // A page opened on a stream already down knows only when it noticed.
  c.update('failed');
  assert.equal(c.since, now);
  assert.match(c.label(), /^Offline, noticed at \d\d:\d\d:\d\d$/);
  c.update('stopped');
  assert.equal(c.offline, false);
});

test('mediaSourceType: MediaSource first, else ManagedMediaSource, else none', () => {
  const saved = { MediaSource: globalThis.MediaSource, ManagedMediaSource: globalThis.ManagedMediaSource };
  class FakeMSE {}
  class FakeManaged {}
  try {
    delete globalThis.MediaSource;
    delete globalThis.ManagedMediaSource;
    assert.equal(mediaSourceType(), null);
    assert.equal(canPlayLive(), typeof globalThis.VideoDecoder === 'function' && typeof globalThis.EncodedVideoChunk === 'function');
    globalThis.ManagedMediaSource = FakeManaged;
    assert.deepEqual(mediaSourceType(), { type: FakeManaged, managed: true });
    assert.equal(canPlayLive(), true);
    globalThis.MediaSource = FakeMSE;
    assert.deepEqual(mediaSourceType(), { type: FakeMSE, managed: false });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete globalThis[k];
      else globalThis[k] = v;
    }
  }
});

// Node tests of the dashboard modules that need no DOM: the binary header
// parser, the rate meter, the subscription bookkeeping (channel routing,
// re-subscribing after a reconnect, a second channel beside the first while
// a tile switches pictures) against a fake connection, the offline clock of
// a tile, the look-up of the browser's media APIs, the choice of a stream's
// variant, and a switch of variant (given a fake feed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFrameHeader, KIND_INIT, KIND_FRAGMENT } from '../../web/js/frame_header.js';
import { RateMeter, Smoothed } from '../../web/js/meters.js';
import { Subscriptions } from '../../web/js/subscriptions.js';
import { OfflineClock } from '../../web/js/offline.js';
import { canPlayLive, mediaSourceType } from '../../web/js/media_support.js';
import { chooseVariant, familyOf, mayDecode, VariantPicker } from '../../web/js/variant_choice.js';
import { VariantSwitch } from '../../web/js/variant_switch.js';

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
      ? (fields.stream === 'nope' || this.refuse
        ? Promise.reject(Object.assign(new Error('refused'), { code: this.refuse || 'unknown_stream' }))
        : Promise.resolve({ type, stream: fields.stream, channel: this.nextChannel++, state: 'live',
          mime: 'video/mp4; codecs="avc1.64001f"', ...(fields.variant ? { variant: fields.variant } : {}) }))
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

// A stream as `list` describes it: main H.265, two substreams (lightest
// first) and a transcode.
const DOOR = {
  id: 'door', codecs: 'hvc1.1.6.L120.90', state: 'live',
  variants: [
    { name: 'sub', kind: 'substream', codecs: null, state: 'stopped' },
    { name: 'mid', kind: 'substream', codecs: 'avc1.4d001f', state: 'stopped' },
    { name: 'transcode', kind: 'transcode', codecs: null, state: 'stopped' },
  ],
};

test('familyOf and mayDecode read a codecs string\'s video family', () => {
  assert.equal(familyOf('avc1.64001f,opus'), 'avc1');
  assert.equal(familyOf('AVC3.42E01E'), 'avc1');
  assert.equal(familyOf('hev1.1.6.L93.B0'), 'hvc1');
  assert.equal(familyOf(' vp09.00.10.08'), 'vp09');
  assert.equal(familyOf(null), null);
  assert.equal(familyOf(''), null);
  assert.equal(mayDecode(null, ['avc1']), true, 'not known yet: worth a try');
  assert.equal(mayDecode('hvc1.1.6.L120.90', ['avc1']), false);
  assert.equal(mayDecode('hvc1.1.6.L120.90', ['avc1', 'hvc1']), true);
});

test('chooseVariant: no variants, no variant field, as before', () => {
  const plain = { id: 'demo', codecs: 'avc1.64001f' };
  for (const focused of [false, true]) {
    assert.equal(chooseVariant(plain, { accept: ['avc1'], focused }), null);
    assert.equal(chooseVariant({ ...plain, variants: [] }, { accept: ['avc1'], focused }), null);
  }
  assert.equal(chooseVariant(null, { accept: ['avc1'] }), null);
});

test('chooseVariant: a grid tile asks for the lightest substream it may decode', () => {
  // Unknown codecs count as decodable: the first substream, in config order.
  assert.equal(chooseVariant(DOOR, { accept: ['avc1'] }), 'sub');
  // Once known as H.265, this browser skips it for the next one.
  assert.equal(chooseVariant(DOOR, { accept: ['avc1'], known: { sub: 'hvc1.1.6.L93.B0' } }), 'mid');
  const listedHevc = { ...DOOR, variants: DOOR.variants.map((v) => (v.name === 'sub' ? { ...v, codecs: 'hev1.1.6.L93.B0' } : v)) };
  assert.equal(chooseVariant(listedHevc, { accept: ['avc1'] }), 'mid');
  assert.equal(chooseVariant(listedHevc, { accept: ['avc1', 'hvc1'] }), 'sub');
  // What the page learnt wins over the list it chose from.
  assert.equal(chooseVariant(listedHevc, { accept: ['avc1'], known: { sub: 'avc1.42c01e' } }), 'sub');
  // Avoided names are passed over; none left: the server picks (never the
  // transcode by name).
  assert.equal(chooseVariant(DOOR, { accept: ['avc1'], avoid: ['sub'] }), 'mid');
  assert.equal(chooseVariant(DOOR, { accept: ['avc1'], avoid: ['sub', 'mid'] }), null);
  const transcodeOnly = { ...DOOR, variants: [DOOR.variants[2]] };
  assert.equal(chooseVariant(transcodeOnly, { accept: ['avc1'] }), null);
  // A substream whose camera is down is passed over; none left, the main
  // picture when it decodes.
  const subDown = { ...DOOR, variants: DOOR.variants.map((v) => (v.name === 'sub' ? { ...v, state: 'retrying' } : v)) };
  assert.equal(chooseVariant(subDown, { accept: ['avc1'] }), 'mid');
  const h264 = { ...DOOR, codecs: 'avc1.640028' };
  assert.equal(chooseVariant({ ...h264, variants: [{ ...DOOR.variants[0], state: 'failed' }] }, { accept: ['avc1'] }), 'main');
  assert.equal(chooseVariant(h264, { accept: ['avc1'], known: { sub: 'hvc1.1', mid: 'hvc1.2' } }), 'main');
});

test('chooseVariant: an enlarged tile asks for the main picture only when it decodes it', () => {
  assert.equal(chooseVariant(DOOR, { accept: ['avc1'], focused: true }), null, 'H.265 main: the server falls back');
  assert.equal(chooseVariant(DOOR, { accept: ['avc1', 'hvc1'], focused: true }), 'main');
  const h264 = { ...DOOR, codecs: 'avc1.640028,opus' };
  assert.equal(chooseVariant(h264, { accept: ['avc1'], focused: true }), 'main');
  assert.equal(chooseVariant(h264, { accept: ['avc1'], focused: true, avoid: ['main'] }), null);
  assert.equal(chooseVariant(h264, { accept: ['avc1'], focused: true, known: { main: 'hvc1.1.6.L120.90' } }), null);
  // Not live yet: its codec is not known, and without a variant the server
  // picks main anyway.
  assert.equal(chooseVariant({ ...DOOR, codecs: null }, { accept: ['avc1'], focused: true }), null);
});

test('VariantPicker: learns codecs until the next list, avoids names for a while', () => {
  let now = 1000;
  const p = new VariantPicker({ now: () => now, avoidMs: 30000 });
  p.listed(DOOR);
  assert.equal(p.choose(['avc1']), 'sub');
  p.learn('sub', 'hvc1.1.6.L93.B0');
  assert.equal(p.choose(['avc1']), 'mid');
  p.listed(DOOR); // a fresh list holds what the server knows: what was learnt goes
  assert.equal(p.choose(['avc1']), 'sub');
  p.avoid('sub');
  assert.equal(p.choose(['avc1']), 'mid');
  now += 30001;
  assert.equal(p.choose(['avc1']), 'sub', 'avoided for a while only');
  p.avoid('sub');
  p.setFocused(true);
  assert.equal(p.choose(['avc1']), null);
  p.setFocused(false); // a new choice starts with a clean slate
  assert.equal(p.choose(['avc1']), 'sub');
});

test('Subscriptions: variantFor names the variant; refusals carry the request', async () => {
  const conn = new FakeConnection();
  const subs = new Subscriptions(conn);
  conn.open();
  const a = recorder();
  a.handler.variantFor = (accept) => (Array.isArray(accept) ? 'sub' : null);
  subs.add('door', a.handler);
  await tick();
  assert.equal(conn.sent[0].variant, 'sub', JSON.stringify(conn.sent));
  assert.equal(a.calls[0][1].variant, 'sub');
  const b = recorder();
  b.handler.variantFor = () => null;
  subs.add('yard', b.handler);
  await tick();
  assert.equal('variant' in conn.sent[1], false, 'no variant: the field is left out');
  conn.refuse = 'transcode_limit';
  const c = recorder();
  c.handler.onFailed = (err, req) => c.calls.push(['onFailed', err, req]);
  c.handler.variantFor = () => 'mid';
  subs.add('gate', c.handler);
  await tick();
  assert.equal(c.calls[0][1].code, 'transcode_limit');
  assert.equal(c.calls[0][2].variant, 'mid');
});

test('Subscriptions: a channel beside the first, adopted in its place or dropped', async () => {
  const conn = new FakeConnection();
  const subs = new Subscriptions(conn);
  conn.open();
  const a = recorder();
  subs.add('door', a.handler);
  await tick();
  const first = a.calls[0][1].channel;
  const reply = await subs.subscribeBeside('door', { variant: 'main' });
  assert.equal(conn.sent.at(-1).variant, 'main');
  const second = reply.channel;
  assert.notEqual(second, first);
  // Frames and events of both channels reach the handler.
  conn.binary(binaryFrame({ channel: first }));
  conn.binary(binaryFrame({ channel: second }));
  conn.event({ type: 'stream.state', stream: 'door', channel: second, variant: 'main', state: 'live' });
  assert.deepEqual(a.calls.filter((c) => c[0] === 'onFrame').map((c) => c[1].channel), [first, second]);
  assert.equal(a.calls.filter((c) => c[0] === 'onStreamState')[0][1].channel, second);

  assert.equal(subs.adopt('door', second), true);
  assert.deepEqual(conn.sent.at(-1), { type: 'unsubscribe', channel: first });
  conn.binary(binaryFrame({ channel: first })); // the old channel: no longer ours
  assert.equal(a.calls.filter((c) => c[0] === 'onFrame').length, 2);
  assert.equal(subs.adopt('door', second), false, 'adopted once');

  const third = (await subs.subscribeBeside('door', { variant: 'sub' })).channel;
  subs.dropBeside('door', third);
  assert.deepEqual(conn.sent.at(-1), { type: 'unsubscribe', channel: third });
  assert.equal(subs.adopt('door', third), false);
  conn.binary(binaryFrame({ channel: third }));
  assert.equal(a.calls.filter((c) => c[0] === 'onFrame').length, 2);

  // Removing the stream unsubscribes every channel it has.
  const fourth = (await subs.subscribeBeside('door', { variant: 'sub' })).channel;
  const before = conn.sent.length;
  subs.remove('door');
  assert.deepEqual(conn.sent.slice(before).map((m) => m.channel).sort(), [second, fourth].sort());
  await assert.rejects(subs.subscribeBeside('door', {}), /no channel/);
});

test('Subscriptions: a reconnect forgets the channel beside; one removed in flight is undone', async () => {
  const conn = new FakeConnection();
  const subs = new Subscriptions(conn);
  conn.open();
  const a = recorder();
  subs.add('door', a.handler);
  await tick();
  const beside = (await subs.subscribeBeside('door', { variant: 'main' })).channel;
  conn.drop();
  assert.equal(subs.adopt('door', beside), false);
  conn.open();
  await tick();
  conn.hold = true;
  const pending = subs.subscribeBeside('door', { variant: 'main' });
  await tick();
  subs.remove('door');
  conn.hold = false;
  conn.release();
  await assert.rejects(pending, /no longer watched/);
  const last = conn.sent.at(-1);
  assert.equal(last.type, 'unsubscribe', JSON.stringify(conn.sent));
});

test('Subscriptions: stream.removed ends a channel without an unsubscribe; retry subscribes again', async () => {
  const conn = new FakeConnection();
  const subs = new Subscriptions(conn);
  conn.open();
  const a = recorder();
  a.handler.onStreamRemoved = (ev) => a.calls.push(['onStreamRemoved', ev]);
  subs.add('door', a.handler);
  await tick();
  const first = a.calls[0][1].channel;
  const beside = (await subs.subscribeBeside('door', { variant: 'main' })).channel;
  const sent = conn.sent.length;

  // A variant being switched to goes: only that channel.
  conn.event({ type: 'stream.removed', stream: 'door', channel: beside, variant: 'main', reason: 'variant removed from the configuration' });
  assert.deepEqual(a.calls.at(-1), ['onStreamRemoved', { type: 'stream.removed', stream: 'door', channel: beside, variant: 'main', reason: 'variant removed from the configuration' }]);
  assert.equal(subs.adopt('door', beside), false);
  conn.binary(binaryFrame({ channel: beside }));
  conn.binary(binaryFrame({ channel: first }));
  assert.deepEqual(a.calls.filter((c) => c[0] === 'onFrame').map((c) => c[1].channel), [first]);

  // Not ours, or by name alone: nothing happens.
  conn.event({ type: 'stream.removed', stream: 'door', channel: first + 100, reason: 'x' });
  conn.event({ type: 'stream.removed', stream: 'door', reason: 'x' });
  assert.equal(a.calls.filter((c) => c[0] === 'onStreamRemoved').length, 1);

  // The stream's own channel: forgotten, still wanted, no frames any more.
  conn.event({ type: 'stream.removed', stream: 'door', channel: first, reason: 'stream removed from the configuration' });
  assert.equal(a.calls.filter((c) => c[0] === 'onStreamRemoved').length, 2);
  assert.equal(subs.has('door'), true);
  conn.binary(binaryFrame({ channel: first }));
  assert.equal(a.calls.filter((c) => c[0] === 'onFrame').length, 1);
  assert.equal(conn.sent.length, sent, 'the server dropped them: no unsubscribe');

  // Taken away: still nothing to unsubscribe.
  const b = recorder();
  subs.add('yard', b.handler);
  await tick();
  subs.remove('door');
  assert.equal(conn.sent.filter((m) => m.type === 'unsubscribe').length, 0, JSON.stringify(conn.sent));
  // Still listed after all: retry() subscribes it again.
  conn.event({ type: 'stream.removed', stream: 'yard', channel: b.calls[0][1].channel, variant: 'sub', reason: 'variant removed from the configuration' });
  subs.retry();
  await tick();
  const again = b.calls.filter((c) => c[0] === 'onSubscribed');
  assert.equal(again.length, 2);
  assert.notEqual(again[1][1].channel, again[0][1].channel);
});

// A feed that shows a picture when told to.
class FakeFeed extends EventTarget {
  constructor() {
    super();
    this.shown = false;
    this.frames = [];
    this.states = [];
    this.destroyed = false;
  }
  onReply(reply) { this.reply = reply; }
  onState(ev) { this.states.push(ev.state); }
  push(h) { this.frames.push(h); return 'video'; }
  destroy() { this.destroyed = true; }
}

// A VariantSwitch on a fresh Subscriptions with one channel of 'door'.
async function switchRig({ refuse = null, timeoutMs = 5000 } = {}) {
  const conn = new FakeConnection();
  const subs = new Subscriptions(conn);
  conn.open();
  subs.add('door', recorder().handler);
  await tick();
  conn.refuse = refuse;
  const feed = new FakeFeed();
  const outcome = [];
  const sw = new VariantSwitch({
    subs, stream: 'door', variant: 'main', feed, accept: ['avc1'], timeoutMs,
    onReady: (s) => outcome.push(['ready', s]),
    onGiveUp: (s, why) => outcome.push(['gave up', why]),
  });
  await sw.start();
  return { conn, subs, feed, sw, outcome };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('VariantSwitch: ready once the new feed shows a frame, not before', async () => {
  const { feed, sw, outcome } = await switchRig();
  assert.equal(feed.reply.variant, 'main');
  sw.onFrame({ channel: sw.channel, kind: 4 }, 0);
  assert.equal(feed.frames.length, 1);
  await sleep(80);
  assert.deepEqual(outcome, [], 'nothing shown yet');
  feed.shown = true;
  await sleep(80);
  assert.equal(outcome.length, 1);
  assert.equal(outcome[0][0], 'ready');
  assert.equal(feed.destroyed, false, 'the tile takes the feed over');
});

test('VariantSwitch: gives up on a refusal, an undecodable codec, a source down, a decoder error, a removal, time', async () => {
  const refused = await switchRig({ refuse: 'transcode_limit' });
  assert.deepEqual(refused.outcome, [['gave up', 'transcode_limit']]);
  assert.equal(refused.feed.destroyed, true);

  const hevc = await switchRig();
  hevc.sw.onState({ channel: hevc.sw.channel, state: 'live', codecs: 'hvc1.1.6.L93.B0' });
  assert.match(hevc.outcome[0][1], /cannot decode hvc1/);
  assert.equal(hevc.sw.undecodable, true);
  assert.deepEqual(hevc.conn.sent.at(-1), { type: 'unsubscribe', channel: hevc.sw.channel });

  const down = await switchRig();
  down.sw.onState({ channel: down.sw.channel, state: 'retrying', reason: 'connection refused' });
  assert.deepEqual(down.outcome, [['gave up', 'retrying: connection refused']]);

  const broken = await switchRig();
  broken.feed.dispatchEvent(new CustomEvent('error', { detail: 'decoder: bad data' }));
  assert.deepEqual(broken.outcome, [['gave up', 'player: decoder: bad data']]);
  broken.feed.shown = true;
  await sleep(80);
  assert.equal(broken.outcome.length, 1, 'nothing after giving up');

  // A reload took the new picture away: the server dropped the channel, so
  // nothing is unsubscribed.
  const removed = await switchRig();
  const ev = { type: 'stream.removed', stream: 'door', channel: removed.sw.channel, variant: 'main', reason: 'variant removed from the configuration' };
  removed.conn.event(ev);
  const sent = removed.conn.sent.length;
  removed.sw.onRemoved(ev);
  assert.deepEqual(removed.outcome, [['gave up', 'removed: variant removed from the configuration']]);
  assert.equal(removed.conn.sent.length, sent);
  assert.equal(removed.feed.destroyed, true);

  const slow = await switchRig({ timeoutMs: 60 });
  await sleep(150);
  assert.deepEqual(slow.outcome, [['gave up', 'no picture in time']]);
});

test('VariantSwitch: cancelled, in flight or under way, it says nothing and leaves no channel', async () => {
  const { sw, conn, feed, outcome } = await switchRig();
  sw.cancel();
  assert.deepEqual(conn.sent.at(-1), { type: 'unsubscribe', channel: sw.channel });
  feed.shown = true;
  await sleep(80);
  assert.deepEqual(outcome, []);

  const conn2 = new FakeConnection();
  const subs = new Subscriptions(conn2);
  conn2.open();
  subs.add('door', recorder().handler);
  await tick();
  conn2.hold = true;
  const said = [];
  const inFlight = new VariantSwitch({
    subs, stream: 'door', variant: 'sub', feed: new FakeFeed(), accept: ['avc1'],
    onReady: () => said.push('ready'), onGiveUp: () => said.push('gave up'),
  });
  const started = inFlight.start();
  await tick();
  inFlight.cancel();
  conn2.hold = false;
  conn2.release();
  await started;
  const last = conn2.sent.at(-1);
  assert.equal(last.type, 'unsubscribe', 'the late reply\'s channel is given back');
  assert.deepEqual(said, []);
});

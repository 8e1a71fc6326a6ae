// GET /api/streams/{id}/snapshot.jpg (PROTOCOL.md "Snapshots") against a real
// build/vigil: the newest keyframe as a JPEG that ffprobe reads (mjpeg, the
// stream's size), ?width= scaling with the picture's shape, a second request
// within the same keyframe served from the cache and a burst of requests
// making one JPEG (vigil_snapshots_total proves both), X-Vigil-Frame-Time
// recent, an H.265 stream, 400 for nonsense widths, 404 for unknown streams
// and variants, 503 before the first keyframe (a publish:// stream without
// a publisher), tokens as for the live stream (a viewer of `gate` gets
// `gate` only), a substream's own picture (?variant=, 503 while nobody
// watches it), 503 busy past the makes in flight, and a snapshot being made not breaking a pipelined request
// behind it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, waitStreamState, tempDir, mintToken, until, Client, SLOW } from '../lib/vigil.js';
import { rawPipeline } from '../lib/raw_http.js';
import { makeH265Mp4 } from '../lib/media_files.js';

// ffprobe's view of a JPEG: {codec_name, width, height}.
function probeJpeg(bytes) {
  const file = path.join(tempDir('vigil-snap-'), 'snap.jpg');
  writeFileSync(file, bytes);
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [s] = JSON.parse(r.stdout).streams;
  return { codec: s.codec_name, width: s.width, height: s.height };
}

// vigil_snapshots_total by result.
async function snapshotCounts(vigil) {
  const text = await (await vigil.fetch('/metrics')).text();
  const counts = {};
  for (const m of text.matchAll(/^vigil_snapshots_total\{result="(\w+)"\} (\d+)$/gm)) counts[m[1]] = Number(m[2]);
  assert.deepEqual(Object.keys(counts).sort(), ['busy', 'cached', 'failed', 'made']);
  return counts;
}

describe('snapshots', { timeout: 180000 * SLOW }, () => {
  let vigil;
  const viewerOfGate = mintToken({ sub: 'gate-viewer', role: 'viewer', streams: ['gate'], devices: [] });
  const snap = (id, query = '', token) => vigil.fetch(`/api/streams/${id}/snapshot.jpg${query}`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {});

  before(async () => {
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1' },
        streams: [
          // A keyframe every 10 s: requests a moment apart share one.
          { id: 'cam', source: 'test://', options: { width: 640, height: 480, fps: 10, keyframe_interval: 100, bitrate_kbps: 500 } },
          { id: 'gate', source: 'test://', options: { width: 320, height: 240, fps: 10, bitrate_kbps: 300 },
            variants: { sub: { source: 'test://', options: { width: 160, height: 120, fps: 10, bitrate_kbps: 100 } } } },
          // 640x360, a keyframe a second.
          { id: 'h265', source: `file://${makeH265Mp4({ width: 640, height: 360, frames: 50, pattern: 'smpte' })}` },
          { id: 'pub', source: 'publish://' },
        ],
      },
    });
    for (const id of ['cam', 'gate', 'h265']) await waitStreamState(vigil, id, 'live', 30000);
    // Live comes with the decoder configuration; its keyframe follows up to a
    // frame later (10 fps here), and until then the answer is 503.
    for (const id of ['cam', 'gate', 'h265']) {
      await until(async () => (await snap(id, '?width=16')).status === 200, 5000, () => `a keyframe of ${id}`);
    }
  });

  after(async () => {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
  });

  it('is the newest keyframe as a JPEG ffprobe reads, with its capture time', async () => {
    const before = Date.now();
    const r = await snap('cam');
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('content-type'), 'image/jpeg');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const bytes = Buffer.from(await r.arrayBuffer());
    assert.deepEqual([bytes[0], bytes[1]], [0xff, 0xd8], 'a JPEG starts with SOI');
    assert.deepEqual(probeJpeg(bytes), { codec: 'mjpeg', width: 640, height: 480 });
    // When the keyframe left the pipeline: within one GOP (10 s) before the
    // request, never after the answer.
    const t = Number(r.headers.get('x-vigil-frame-time'));
    assert.ok(Number.isInteger(t), r.headers.get('x-vigil-frame-time'));
    assert.ok(t > before - 12000 && t <= Date.now() + 1000, `frame time ${t}, asked at ${before}`);
  });

  it('?width= scales with the picture\'s shape, and never up', async () => {
    const r = await snap('cam', '?width=320');
    assert.equal(r.status, 200);
    assert.deepEqual(probeJpeg(Buffer.from(await r.arrayBuffer())), { codec: 'mjpeg', width: 320, height: 240 });
    const wide = await snap('gate', '?width=1920');
    assert.equal(wide.status, 200);
    assert.deepEqual(probeJpeg(Buffer.from(await wide.arrayBuffer())), { codec: 'mjpeg', width: 320, height: 240 });
  });

  it('is made once per keyframe: a second request and a burst come from the cache', async () => {
    // Two requests a moment apart within one keyframe (10 s apart): the
    // second made nothing. Should a keyframe fall between them, try again.
    let first, second, counts0, counts1;
    for (let i = 0; i < 3; i++) {
      counts0 = await snapshotCounts(vigil);
      first = await snap('cam', '?width=480');
      const firstBytes = Buffer.from(await first.arrayBuffer());
      const mid = await snapshotCounts(vigil);
      second = await snap('cam', '?width=480');
      const secondBytes = Buffer.from(await second.arrayBuffer());
      counts1 = await snapshotCounts(vigil);
      if (first.headers.get('x-vigil-frame-time') !== second.headers.get('x-vigil-frame-time')) continue;
      assert.equal(mid.made, counts0.made + 1, 'the first request made one');
      assert.equal(counts1.made, mid.made, 'the second made none');
      assert.equal(counts1.cached, mid.cached + 1, 'the second came from the cache');
      assert.ok(secondBytes.equals(firstBytes), 'the very same JPEG');
      break;
    }
    assert.equal(first.headers.get('x-vigil-frame-time'), second.headers.get('x-vigil-frame-time'), 'one keyframe in three tries');
    // Eight at once at a width nobody asked for yet: one JPEG made, the
    // others wait for it rather than making their own.
    const burst = await Promise.all(Array.from({ length: 8 }, () => snap('cam', '?width=200')));
    const counts2 = await snapshotCounts(vigil);
    for (const r of burst) assert.equal(r.status, 200);
    const times = new Set(burst.map((r) => r.headers.get('x-vigil-frame-time')));
    if (times.size === 1) {
      assert.equal(counts2.made, counts1.made + 1, JSON.stringify([counts1, counts2]));
      assert.equal(counts2.cached, counts1.cached + 7, JSON.stringify([counts1, counts2]));
    }
    assert.equal(counts2.failed, 0);
    assert.equal(counts2.busy, 0);
  });

  it('of an H.265 stream', async () => {
    const r = await snap('h265');
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(probeJpeg(Buffer.from(await r.arrayBuffer())), { codec: 'mjpeg', width: 640, height: 360 });
    const small = await snap('h265', '?width=160');
    assert.deepEqual(probeJpeg(Buffer.from(await small.arrayBuffer())), { codec: 'mjpeg', width: 160, height: 90 });
  });

  it('refuses nonsense widths with 400 and says what a width is', async () => {
    for (const w of ['abc', '0', '15', '3841', '99999999999', '-320', '320px', '32.5', '']) {
      const r = await snap('cam', `?width=${encodeURIComponent(w)}`);
      assert.equal(r.status, 400, `width=${w}`);
      const body = await r.json();
      assert.equal(body.error, 'bad_field', `width=${w}`);
      assert.equal(body.field, 'width');
      assert.match(body.message, /16 to 3840/);
    }
  });

  it('404 for an unknown stream or variant, 503 with Retry-After before the first keyframe', async () => {
    const none = await snap('nope');
    assert.equal(none.status, 404);
    assert.equal((await none.json()).error, 'unknown_stream');
    const variant = await snap('cam', '?variant=nope');
    assert.equal(variant.status, 404);
    const v = await variant.json();
    assert.deepEqual([v.error, v.field], ['unknown_variant', 'variant']);
    // A publish:// stream nobody publishes to has no picture at all.
    const r = await snap('pub');
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) > 0, r.headers.get('retry-after'));
    const body = await r.json();
    assert.equal(body.error, 'no_keyframe');
    assert.match(body.message, /no keyframe yet/);
  });

  it('?variant=: 503 while a substream does not run, its own picture once someone watches it', async () => {
    const idle = await snap('gate', '?variant=sub');
    assert.equal(idle.status, 503);
    const why = await idle.json();
    assert.equal(why.error, 'no_keyframe');
    assert.match(why.message, /not running/);
    const c = await new Client(vigil.wsUrl).open();
    try {
      await c.request({ type: 'hello' });
      const r = await c.request({ type: 'subscribe', stream: 'gate', variant: 'sub', mode: 'mse', accept: ['avc1'] });
      assert.equal(r.type, 'subscribe', JSON.stringify(r));
      let res;
      await until(async () => (res = await snap('gate', '?variant=sub')).status === 200, 15000 * SLOW,
        () => `the substream's snapshot: ${res?.status}`);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual(probeJpeg(Buffer.from(await res.arrayBuffer())), { codec: 'mjpeg', width: 160, height: 120 });
      // The main picture is the main stream's, not the substream's.
      const main = await snap('gate');
      assert.deepEqual(probeJpeg(Buffer.from(await main.arrayBuffer())), { codec: 'mjpeg', width: 320, height: 240 });
    } finally {
      c.close();
    }
  });

  it('past 4 makes in flight, 503 busy with Retry-After; every other request gets its JPEG', async () => {
    const before = await snapshotCounts(vigil);
    // 24 widths nobody asked for, all at once, each on its own connection:
    // each needs a make of its own, and at most 4 run at a time.
    const widths = Array.from({ length: 24 }, (_, i) => 200 + 8 * i);
    const rs = await Promise.all(widths.map((w) => snap('cam', `?width=${w}`)));
    const busy = rs.filter((r) => r.status === 503);
    assert.ok(busy.length > 0, `no request was refused: ${rs.map((r) => r.status)}`);
    assert.ok(rs.every((r) => r.status === 200 || r.status === 503), rs.map((r) => r.status).join());
    for (const r of busy) {
      assert.equal(r.headers.get('retry-after'), '1');
      assert.equal((await r.json()).error, 'busy');
    }
    for (const r of rs.filter((x) => x.status === 200)) assert.equal(r.headers.get('content-type'), 'image/jpeg');
    const after = await snapshotCounts(vigil);
    assert.equal(after.busy - before.busy, busy.length);
    const made = after.made - before.made, answered = rs.length - busy.length;
    // Widths a few pixels apart may come out the same size and share a make.
    assert.ok(made >= 1 && made <= answered, `made ${made}, answered ${answered}`);
    // Asked again a moment later, each is answered.
    const retry = await snap('cam', `?width=${widths[rs.indexOf(busy[0])]}`);
    assert.equal(retry.status, 200);
  });

  it('takes tokens as the live stream does: a viewer of gate gets gate only', async () => {
    const own = await snap('gate', '', viewerOfGate);
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('content-type'), 'image/jpeg');
    // Another stream does not exist for it, as for subscribe.
    const other = await snap('cam', '', viewerOfGate);
    assert.equal(other.status, 404);
    assert.equal((await other.json()).error, 'unknown_stream');
    // No token, no anonymous access configured.
    const anon = await fetch(`${vigil.base}/api/streams/gate/snapshot.jpg`);
    assert.equal(anon.status, 401);
    const forged = await snap('gate', '', mintToken({ role: 'viewer', streams: ['gate'] }, 'another-secret-another-secret-0123'));
    assert.equal(forged.status, 401);
  });

  it('a snapshot being made keeps its place in a pipeline: the request behind it is answered after it', async () => {
    const get = (p) => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${vigil.adminToken}\r\n\r\n`;
    // A width nobody asked for: made while the health request waits behind it.
    const rs = await rawPipeline(vigil.port, get('/api/streams/cam/snapshot.jpg?width=240') + get('/api/health')
      + get('/api/streams/cam/snapshot.jpg?width=240'), 3);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
    assert.equal(rs[0].headers['content-type'], 'image/jpeg');
    assert.deepEqual(probeJpeg(rs[0].bytes), { codec: 'mjpeg', width: 240, height: 180 });
    assert.equal(JSON.parse(rs[1].body).status, 'ok');
    assert.equal(rs[2].headers['content-type'], 'image/jpeg');
    // HEAD: GET's headers, no body.
    const head = await vigil.fetch('/api/streams/cam/snapshot.jpg?width=240', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'image/jpeg');
    assert.ok(Number(head.headers.get('content-length')) > 100);
  });
});

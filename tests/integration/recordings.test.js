// The recordings REST API (server/http_recordings.h) against a real
// build/vigil recording a test camera in 2 s segments: the listing with
// from/to (and 400 for bad times), a clip made by hand in the shared layout
// (clips/<stream>-clip-<UTC>.mp4 and its .json sidecar) listed with its
// sidecar's fields, Range requests returning exactly the bytes on disk (206,
// 416, Accept-Ranges), HEAD, ffprobe reading a served file, a keep-alive
// connection answering pipelined requests after a file, tokens as for the
// live stream (a viewer of another stream gets 404 on list, file and
// delete; anonymous clients get the streams of auth.anonymous.streams), DELETE (a viewer 403, an operator 204 with the file gone, listed
// no more, logged and counted; 409 on the segment being written), and bad
// names and traversal attempts refused with the server fine after.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, waitStreamState, tempDir, mintToken, until, SLOW } from '../lib/vigil.js';
import { rawPipeline } from '../lib/raw_http.js';

const camera = { source: 'test://', options: { width: 320, height: 240, fps: 15, keyframe_interval: 15, bitrate_kbps: 300, audio: true } };
const stamp = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

describe('recordings API', { timeout: 120000 * SLOW }, () => {
  let vigil, root;
  const viewerOfGate = mintToken({ sub: 'gate-viewer', role: 'viewer', streams: ['gate'], devices: [] });
  const viewerOfCam = mintToken({ sub: 'cam-viewer', role: 'viewer', streams: ['cam'], devices: [] });
  const operator = mintToken({ sub: 'op-alice', role: 'operator', streams: ['*'], devices: [] });
  const as = (token, p, opts = {}) => fetch(`${vigil.base}${p}`, { ...opts, headers: { authorization: `Bearer ${token}`, ...(opts.headers || {}) } });
  const list = async (query = '', token) => {
    const r = token ? await as(token, `/api/streams/cam/recordings${query}`) : await vigil.fetch(`/api/streams/cam/recordings${query}`);
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()).recordings;
  };
  const dir = () => path.join(root, 'cam');
  const closedSegments = (items) => items.filter((x) => x.kind === 'segment' && !x.recording);

  before(async () => {
    root = tempDir('vigil-recs-');
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1', record_path: root },
        auth: { anonymous: { streams: ['gate'] } },
        streams: [{ id: 'cam', ...camera, record: { mode: 'continuous', segment_s: 2 } },
          { id: 'gate', ...camera, record: { mode: 'continuous', segment_s: 2 } }],
      },
    });
    await waitStreamState(vigil, 'cam', 'live');
    // three segments closed
    await until(async () => closedSegments(await list()).length >= 3, 20000 * SLOW, 'three closed segments');
  });
  after(async () => {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log()}`);
  });

  it('lists segments by start with sizes, times and urls; one is being written', async () => {
    const items = await list();
    const files = readdirSync(dir()).filter((f) => /^cam-\d{8}T\d{6}Z(-\d+)?\.mp4$/.test(f));
    assert.deepEqual(items.filter((x) => x.kind === 'segment').map((x) => `${x.id}.mp4`).sort(), files.sort());
    for (let i = 1; i < items.length; i++) assert.ok(items[i].start >= items[i - 1].start, 'sorted by start');
    const writing = items.filter((x) => x.recording);
    assert.equal(writing.length, 1, JSON.stringify(items));
    assert.equal(writing[0], items[items.length - 1], 'the newest is being written');
    for (const x of closedSegments(items)) {
      assert.match(x.id, /^cam-\d{8}T\d{6}Z(-\d+)?$/);
      assert.equal(x.url, `/api/streams/cam/recordings/${x.id}.mp4`);
      assert.ok(Date.parse(x.end) - Date.parse(x.start) > 1000 && Date.parse(x.end) - Date.parse(x.start) < 5000, `${x.start}..${x.end}`);
      // bytes as on disk (closed: no longer growing)
      assert.equal(x.bytes, readFileSync(path.join(dir(), `${x.id}.mp4`)).length);
    }
  });

  it('from/to select the recordings overlapping the range; bad times are 400', async () => {
    const all = closedSegments(await list());
    const second = all[1];
    const mid = new Date((Date.parse(second.start) + Date.parse(second.end)) / 2).toISOString();
    const just = await list(`?from=${mid}&to=${mid}`);
    assert.deepEqual(just.map((x) => x.id), [second.id]);
    const after = await list(`?from=${encodeURIComponent(second.end)}`);
    assert.ok(!after.some((x) => x.id === all[0].id) && after.some((x) => x.id === all[2].id));
    const before = await list(`?to=${new Date(Date.parse(all[0].start) - 1000).toISOString().replace(/\.\d+/, '')}`);
    assert.deepEqual(before, []);
    for (const q of ['?from=yesterday', '?to=2026-13-45T99:00:00Z', '?from=2026-12-05T12:00:00', `?from=${mid}&to=2000-01-01T00:00:00Z`]) {
      const r = await vigil.fetch(`/api/streams/cam/recordings${q}`);
      assert.equal(r.status, 400, q);
      const e = await r.json();
      assert.equal(e.error, 'bad_field', q);
      assert.match(e.message, /ISO 8601|before/, q);
    }
  });

  it('a clip in the shared layout is listed with its sidecar', async () => {
    const seg = closedSegments(await list())[0];
    mkdirSync(path.join(dir(), 'clips'), { recursive: true });
    const id = `cam-clip-${stamp(Date.parse(seg.start))}`;
    copyFileSync(path.join(dir(), `${seg.id}.mp4`), path.join(dir(), 'clips', `${id}.mp4`));
    const side = { id, stream: 'cam', kind: 'clip', label: 'doorbell', subject: 'op-alice', reason: 'request', device: null,
      requested_at: seg.end, pre_s: 1, post_s: 1, start: seg.start, end: seg.end, complete: true };
    writeFileSync(path.join(dir(), 'clips', `${id}.json`), JSON.stringify(side));
    const clip = (await list()).find((x) => x.id === id);
    assert.ok(clip, 'listed');
    assert.equal(clip.kind, 'clip');
    assert.equal(clip.label, 'doorbell');
    assert.equal(clip.subject, 'op-alice');
    assert.equal(clip.reason, 'request');
    assert.equal(clip.complete, true);
    assert.equal(clip.recording, false);
    assert.equal(clip.url, `/api/streams/cam/recordings/${id}.mp4`);
    const r = await vigil.fetch(clip.url, { headers: { range: 'bytes=0-99' } });
    assert.equal(r.status, 206);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), readFileSync(path.join(dir(), 'clips', `${id}.mp4`)).subarray(0, 100));
  });

  it('serves files: whole, ranges exactly as on disk, 416, HEAD; ffprobe reads one', async () => {
    const seg = closedSegments(await list())[0];
    const disk = readFileSync(path.join(dir(), `${seg.id}.mp4`));
    const whole = await vigil.fetch(seg.url);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-type'), 'video/mp4');
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    const body = Buffer.from(await whole.arrayBuffer());
    assert.ok(body.equals(disk), `whole file: ${body.length} vs ${disk.length} bytes`);
    const cases = [
      ['bytes=100-199', 100, 199], ['bytes=1000-', 1000, disk.length - 1], ['bytes=-500', disk.length - 500, disk.length - 1],
      [`bytes=10-${disk.length + 5000}`, 10, disk.length - 1], ['bytes=0-0', 0, 0],
      // larger than one chunk of the server's
      [`bytes=7-${Math.min(disk.length - 1, 200000)}`, 7, Math.min(disk.length - 1, 200000)],
    ];
    for (const [range, a, b] of cases) {
      const r = await vigil.fetch(seg.url, { headers: { range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get('content-range'), `bytes ${a}-${b}/${disk.length}`, range);
      assert.equal(r.headers.get('content-length'), String(b - a + 1), range);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(disk.subarray(a, b + 1)), range);
    }
    const r416 = await vigil.fetch(seg.url, { headers: { range: `bytes=${disk.length}-` } });
    assert.equal(r416.status, 416);
    assert.equal(r416.headers.get('content-range'), `bytes */${disk.length}`);
    await r416.arrayBuffer();
    const head = await vigil.fetch(seg.url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(disk.length));
    assert.equal(head.headers.get('accept-ranges'), 'bytes');
    const file = path.join(tempDir('vigil-recs-probe-'), 'served.mp4');
    writeFileSync(file, body);
    const p = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', file], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const j = JSON.parse(p.stdout);
    assert.deepEqual(j.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
    assert.ok(+j.format.duration > 1, `duration ${j.format.duration}`);
  });

  it('a kept-alive connection answers pipelined requests behind a file', async () => {
    const seg = closedSegments(await list())[0];
    const auth = `Authorization: Bearer ${vigil.adminToken}\r\n`;
    const req = (extra = '') => `GET ${seg.url} HTTP/1.1\r\nHost: x\r\n${auth}${extra}\r\n`;
    const res = await rawPipeline(vigil.port, req('Range: bytes=0-70000\r\n') + req() + `GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n`, 3);
    assert.deepEqual(res.map((r) => r.status), [206, 200, 200]);
    assert.equal(res[0].bytes.length, 70001);
    assert.equal(res[1].bytes.length, seg.bytes);
    assert.equal(JSON.parse(res[2].body).status, 'ok');
  });

  it('tokens apply as to the live stream: a viewer of another stream sees nothing', async () => {
    const seg = closedSegments(await list())[0];
    for (const [method, p] of [['GET', '/api/streams/cam/recordings'], ['GET', seg.url], ['HEAD', seg.url], ['DELETE', seg.url]]) {
      const r = await as(viewerOfGate, p, { method });
      assert.equal(r.status, 404, `${method} ${p}`);
      if (method !== 'HEAD') assert.equal((await r.json()).error, 'unknown_stream');
    }
    // the same answer as the snapshot's for a stream the token does not cover
    assert.equal((await as(viewerOfGate, '/api/streams/cam/snapshot.jpg')).status, 404);
    // gate's own recordings are there for it
    const gate = await as(viewerOfGate, '/api/streams/gate/recordings');
    assert.equal(gate.status, 200);
    assert.ok((await gate.json()).recordings.every((x) => x.id.startsWith('gate-')));
    // anonymous clients: gate's recordings (auth.anonymous.streams), not cam's, and no deleting
    const anon = (p, opts) => fetch(`${vigil.base}${p}`, opts);
    const anonList = await anon('/api/streams/gate/recordings');
    assert.equal(anonList.status, 200);
    const gateSeg = (await anonList.json()).recordings.find((x) => !x.recording);
    assert.ok(gateSeg, 'gate has a closed segment');
    assert.equal((await anon(gateSeg.url, { headers: { range: 'bytes=0-9' } })).status, 206);
    assert.equal((await anon(gateSeg.url, { method: 'DELETE' })).status, 403);
    assert.equal((await anon('/api/streams/cam/recordings')).status, 404);
    assert.equal((await anon(seg.url)).status, 404);
    // cam's viewer lists and fetches, but cannot delete
    assert.ok((await list('', viewerOfCam)).length > 0);
    assert.equal((await as(viewerOfCam, seg.url, { headers: { range: 'bytes=0-9' } })).status, 206);
    const del = await as(viewerOfCam, seg.url, { method: 'DELETE' });
    assert.equal(del.status, 403);
    assert.equal((await del.json()).error, 'forbidden');
    assert.ok(existsSync(path.join(dir(), `${seg.id}.mp4`)));
  });

  it('an operator deletes a segment and a clip (logged, counted); not the one being written', async () => {
    const items = await list();
    const seg = closedSegments(items)[0];
    const r = await as(operator, seg.url, { method: 'DELETE' });
    assert.equal(r.status, 204, await r.clone().text());
    assert.ok(!existsSync(path.join(dir(), `${seg.id}.mp4`)), 'file gone');
    assert.ok(!(await list()).some((x) => x.id === seg.id), 'listed no more');
    assert.match(vigil.log(), new RegExp(`recording ${seg.id}\\.mp4 deleted by op-alice \\(operator\\)`));
    assert.equal((await as(operator, seg.url, { method: 'DELETE' })).status, 404);
    assert.equal((await vigil.fetch(seg.url)).status, 404);
    const clip = items.find((x) => x.kind === 'clip');
    assert.equal((await as(operator, clip.url, { method: 'DELETE' })).status, 204);
    assert.ok(!existsSync(path.join(dir(), 'clips', `${clip.id}.mp4`)) && !existsSync(path.join(dir(), 'clips', `${clip.id}.json`)), 'clip and sidecar gone');
    const metrics = await (await vigil.fetch('/metrics')).text();
    assert.match(metrics, /^vigil_recordings_deleted_total 2$/m);
    // the segment being written now: 409 (retried: it may just have ended)
    await until(async () => {
      const now = (await list()).find((x) => x.recording);
      const d = await as(operator, now.url, { method: 'DELETE' });
      if (d.status !== 409) return false;
      assert.equal((await d.json()).error, 'recording_in_progress');
      return existsSync(path.join(dir(), `${now.id}.mp4`));
    }, 10000 * SLOW, '409 for the segment being written');
  });

  it('bad names and traversal attempts are 400 or 404, and the server carries on', async () => {
    const seg = closedSegments(await list())[0];
    const bad400 = ['gate-20261205T120000Z.mp4', 'cam-2026.mp4', 'cam-20261205T120000Z-0.mp4', 'cam-20261205T120000Zx.mp4',
      'cam-clip-20261205T1200Z.mp4', 'cam-20261305T120000Z.mp4x.mp4'];
    for (const name of bad400) {
      const r = await vigil.fetch(`/api/streams/cam/recordings/${name}`);
      assert.equal(r.status, 400, name);
      assert.equal((await r.json()).error, 'bad_name', name);
    }
    for (const p of ['/api/streams/cam/recordings/../../../etc/passwd', '/api/streams/cam/recordings/cam-%2e%2e%2fgate%2fgate-20261205T120000Z.mp4', '/api/streams/cam/recordings/..%2f..%2fetc%2fpasswd',
      '/api/streams/cam/recordings/cam-20200101T000000Z.mp4', '/api/streams/cam/recordings/x/cam.mp4', '/api/streams/nope/recordings']) {
      const r = await vigil.fetch(p);
      assert.ok([400, 404].includes(r.status), `${p}: ${r.status}`);
      assert.ok(!(await r.text()).includes('root:'), p);
    }
    // raw, without a client's path normalising
    const res = await rawPipeline(vigil.port, `GET /api/streams/cam/recordings/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${vigil.adminToken}\r\n\r\n`, 1);
    assert.ok(res.length === 0 || [400, 404].includes(res[0].status), JSON.stringify(res.map((x) => x.status)));
    assert.equal((await vigil.fetch('/api/streams/cam/recordings', { method: 'POST', headers: { 'content-length': '0' } })).status, 405);
    assert.equal((await vigil.fetch(seg.url, { headers: { range: 'bytes=0-3' } })).status, 206);
    assert.equal((await vigil.fetch('/api/health')).status, 200);
  });
});

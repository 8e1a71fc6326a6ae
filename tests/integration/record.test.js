// Continuous recording (media/recorder.h): a real build/vigil records a
// test camera with sound to fragmented MP4 segments, and ffprobe reads what
// it wrote. Also: kill -9 mid-segment, a full disk (a 2 MiB tmpfs) while a
// live viewer keeps its frames, a read-only and an uncreatable directory,
// retention oldest first, and a reload that changes only the recording.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, waitStreamState, streamInfo, Client, sleep, tempDir, until, SLOW } from '../lib/vigil.js';

const camera = (opts = {}) => ({
  source: 'test://',
  options: { width: 320, height: 240, fps: 15, keyframe_interval: 15, bitrate_kbps: 300, audio: true, ...opts },
});

const segmentsIn = (dir, id) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`${id}-`) && f.endsWith('.mp4')).sort() : []);

// ffprobe's packets of one file: {video, audio} (pts in seconds), or throws.
function probe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts_time,dts_time:stream=index,codec_type',
    '-of', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  const j = JSON.parse(r.stdout);
  const kind = new Map(j.streams.map((s) => [s.index, s.codec_type]));
  const of = (t) => j.packets.filter((p) => kind.get(p.stream_index) === t);
  return { video: of('video'), audio: of('audio'), stderr: r.stderr };
}

// Decode times never go back within a track.
function assertMonotonic(packets, what) {
  for (let i = 1; i < packets.length; i++) {
    assert.ok(+packets[i].dts_time > +packets[i - 1].dts_time, `${what}: dts ${packets[i - 1].dts_time} then ${packets[i].dts_time}`);
  }
}

// The top-level boxes of a file (size and type only, no parsing of their
// contents): what the recorder promises is whole boxes, ending with a
// fragment's mdat. A box cut short shows as a size past the end.
function topLevelBoxes(file) {
  const buf = readFileSync(file);
  const boxes = [];
  for (let off = 0; off < buf.length;) {
    if (buf.length - off < 8) return { boxes, cut: `${buf.length - off} stray bytes at the end` };
    const size = buf.readUInt32BE(off), type = buf.toString('latin1', off + 4, off + 8);
    if (size < 8 || off + size > buf.length) return { boxes, cut: `${type} of ${size} bytes at ${off}, file ${buf.length}` };
    boxes.push(type);
    off += size;
  }
  return { boxes, cut: null };
}

const spanS = (packets) => +packets[packets.length - 1].pts_time - +packets[0].pts_time;

function mountTmpfs(dir, opts) {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount tmpfs ${opts} on ${dir} (tests run as root): ${r.stderr}`);
  return () => spawnSync('umount', ['-l', dir]);
}

// Runs fn(vigil) against a vigil started with `config`; stops it after,
// then `cleanup` (an unmount), and checks that vigil exited cleanly.
async function withVigil(config, fn, cleanup = () => {}) {
  let v;
  try {
    v = await startVigil({ config });
    await fn(v);
  } finally {
    const st = v && (await v.stop());
    cleanup();
    if (st) assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${v.log()}`);
  }
}

// Waits for stream `id`'s recording to be in the error state; its entry.
const recordError = (v, id, timeoutMs) => until(async () => {
  const s = await streamInfo(v, id);
  return s.record.state === 'error' && s;
}, timeoutMs, () => `${id}: the recording in the error state`);

describe('continuous recording', () => {
  let v, root;
  before(async () => {
    root = tempDir('vigil-rec-');
    v = await startVigil({
      config: {
        server: { record_path: root },
        streams: [{ id: 'cam', ...camera(), record: { mode: 'continuous', segment_s: 2 } },
          { id: 'quiet', ...camera({ audio: false }), record: { mode: 'events' } },
          { id: 'plain', ...camera({ audio: false }) }],
      },
    });
    await waitStreamState(v, 'cam', 'live');
  });
  after(async () => {
    const st = await v.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${v.log()}`);
  });

  test('segments of segment_s, both tracks, timestamps rising, named by stream and UTC start', async () => {
    const dir = path.join(root, 'cam');
    // three segments closed: the fourth has started
    await until(() => segmentsIn(dir, 'cam').length >= 4, 20000, () => `segments: ${segmentsIn(dir, 'cam')}`);
    const files = segmentsIn(dir, 'cam');
    for (const f of files) assert.match(f, /^cam-\d{8}T\d{6}Z(-\d+)?\.mp4$/);
    const stamp = /^cam-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/.exec(files[0]);
    const started = Date.UTC(+stamp[1], +stamp[2] - 1, +stamp[3], +stamp[4], +stamp[5], +stamp[6]);
    assert.ok(Math.abs(Date.now() - started) < 60000, `${files[0]} is named for now (UTC)`);
    let lastEnd = -Infinity;
    for (const f of files.slice(0, 3)) {
      const p = probe(path.join(dir, f));
      assert.ok(p.video.length > 0 && p.audio.length > 0, `${f}: video ${p.video.length}, audio ${p.audio.length} packets`);
      assertMonotonic(p.video, `${f} video`);
      assertMonotonic(p.audio, `${f} audio`);
      // 2 s at keyframes every second: 2 s of video (15 fps), give or take a frame
      const span = spanS(p.video);
      assert.ok(span > 1.6 && span < 3.2, `${f}: ${p.video.length} video packets over ${span.toFixed(2)} s`);
      assert.ok(spanS(p.audio) > 1.5, `${f}: audio over ${spanS(p.audio).toFixed(2)} s`);
      // the next segment goes on where this one ended: nothing lost between
      assert.ok(+p.video[0].pts_time >= lastEnd, `${f} starts after the one before`);
      lastEnd = +p.video[p.video.length - 1].pts_time;
    }
    const cam = await streamInfo(v, 'cam');
    assert.equal(cam.state, 'live');
    assert.equal(cam.record.mode, 'continuous');
    assert.equal(cam.record.state, 'recording');
    assert.equal(cam.record.reason, null);
    assert.ok(cam.record.segments >= 4, JSON.stringify(cam.record));
    assert.ok(cam.record.bytes > 10000, JSON.stringify(cam.record));
    assert.equal(cam.record.frames_dropped, 0);
    assert.ok(cam.record.file.startsWith(path.join(dir, 'cam-')), cam.record.file);
  });

  test('events mode records nothing continuously; a stream without record says null', async () => {
    const quiet = await streamInfo(v, 'quiet');
    assert.equal(quiet.record.mode, 'events');
    assert.equal(quiet.record.state, 'stopped');
    assert.equal(quiet.record.segments, 0);
    assert.ok(!existsSync(path.join(root, 'quiet')), 'no directory for an events-mode stream');
    assert.equal((await streamInfo(v, 'plain')).record, null);
  });

  test('/metrics counts bytes, segments, drops and errors per recording stream', async () => {
    const text = await (await v.fetch('/metrics')).text();
    const val = (name) => Number(new RegExp(`^${name}\\{stream="cam"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    assert.ok(val('vigil_record_bytes_total') > 10000, text);
    assert.ok(val('vigil_record_segments_total') >= 4);
    assert.equal(val('vigil_record_frames_dropped_total'), 0);
    assert.equal(val('vigil_record_errors_total'), 0);
    assert.ok(!/vigil_record_bytes_total\{stream="plain"\}/.test(text), 'no sample for a stream that does not record');
  });
});

test('kill -9 mid-segment leaves a file readable up to its last fragment', async () => {
  const root = tempDir('vigil-rec-kill-');
  const v = await startVigil({ config: { streams: [{ id: 'cam', ...camera(), record: { mode: 'continuous', path: root, segment_s: 600 } }] } });
  await waitStreamState(v, 'cam', 'live');
  const dir = path.join(root, 'cam');
  await until(() => segmentsIn(dir, 'cam').length === 1 && statSync(path.join(dir, segmentsIn(dir, 'cam')[0])).size > 60000, 20000, () => 'a segment of some size');
  await sleep(1000);
  v.proc.kill('SIGKILL');
  await new Promise((r) => (v.proc.exitCode !== null || v.proc.signalCode ? r() : v.proc.on('exit', r)));
  const [f] = segmentsIn(dir, 'cam');
  const p = probe(path.join(dir, f));
  assert.equal(p.stderr, '', `ffprobe complains about ${f}: ${p.stderr}`);
  assert.ok(p.video.length >= 30 && p.audio.length >= 50, `video ${p.video.length}, audio ${p.audio.length} packets`);
  assertMonotonic(p.video, 'video');
  assertMonotonic(p.audio, 'audio');
});

test('a full disk stops the recording with a reason, the live viewer keeps its frames', async () => {
  const root = tempDir('vigil-rec-full-');
  const umount = mountTmpfs(root, 'size=2m');
  const config = { streams: [{ id: 'cam', ...camera({ bitrate_kbps: 2000, width: 640, height: 480 }), record: { mode: 'continuous', path: root, segment_s: 3 } }] };
  await withVigil(config, async (v) => {
    await waitStreamState(v, 'cam', 'live');
    const c = await new Client(v.wsUrl).open();
    const reply = await c.request({ type: 'subscribe', stream: 'cam', mode: 'mse' });
    assert.equal(reply.type, 'subscribe', JSON.stringify(reply));
    const rec = await recordError(v, 'cam', 30000);
    assert.match(rec.record.reason, /No space left on device/);
    assert.ok(rec.record.errors >= 1);
    assert.equal(rec.state, 'live', 'the stream itself stays live');
    assert.match(v.log(), /recording cam stopped: .*No space left on device/);
    // The viewer's frame rate after the disk filled: the source's 15 fps.
    const n0 = c.frames.filter((f) => f.kind === 2 && !(f.flags & 4)).length;
    await sleep(3000);
    const video = c.frames.filter((f) => f.kind === 2 && !(f.flags & 4));
    const fps = (video.length - n0) / 3;
    assert.ok(fps >= 12, `the viewer got ${fps.toFixed(1)} video frames/s after the disk filled`);
    // What was written is still readable: the failed write was cut back.
    for (const f of segmentsIn(path.join(root, 'cam'), 'cam')) {
      const p = probe(path.join(root, 'cam', f));
      assert.ok(p.video.length > 0, `${f} readable`);
      assert.equal(p.stderr, '', `${f}: ${p.stderr}`);
      const { boxes, cut } = topLevelBoxes(path.join(root, 'cam', f));
      assert.equal(cut, null, `${f}: the failed write was not cut back`);
      assert.deepEqual(boxes.slice(0, 2), ['ftyp', 'moov']);
      assert.equal(boxes[boxes.length - 1], 'mdat', `${f} ends with a whole fragment`);
    }
    c.close();
    // Retries later (every 10 s), and stays stopped while the disk is full.
    await sleep(11000 * SLOW);
    const later = await streamInfo(v, 'cam');
    assert.equal(later.state, 'live');
    assert.equal(later.record.state, 'error');
    assert.ok(later.record.errors > rec.record.errors, `retried: ${rec.record.errors} then ${later.record.errors} errors`);
  }, umount);
});

// The names of a process's threads.
const threadNames = (pid) => readdirSync(`/proc/${pid}/task`)
  .map((t) => { try { return readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim(); } catch { return ''; } });

test('one recording thread per disk, none before a recording asks for one', async () => {
  const onTmp = tempDir('vigil-rec-disk-');
  const other = tempDir('vigil-rec-disk2-');
  const umount = mountTmpfs(other, 'size=64m');
  const config = {
    streams: [
      { id: 'a', ...camera(), record: { mode: 'continuous', path: onTmp, segment_s: 60 } },
      { id: 'b', ...camera(), record: { mode: 'continuous', path: path.join(onTmp, 'more'), segment_s: 60 } },
      { id: 'c', ...camera(), record: { mode: 'continuous', path: other, segment_s: 60 } },
    ],
  };
  await withVigil(config, async (v) => {
    for (const id of ['a', 'b', 'c']) await waitStreamState(v, id, 'live');
    await until(() => segmentsIn(path.join(other, 'c'), 'c').length === 1 && segmentsIn(path.join(onTmp, 'a'), 'a').length === 1,
      20000 * SLOW, () => 'segments on both disks');
    const writers = threadNames(v.proc.pid).filter((n) => n === 'vg-record');
    assert.equal(writers.length, 2, `threads: ${threadNames(v.proc.pid).join(', ')}`);
  }, umount);
  await withVigil({ streams: [{ id: 'cam', ...camera() }] }, async (v) => {
    await waitStreamState(v, 'cam', 'live');
    assert.equal(threadNames(v.proc.pid).filter((n) => n === 'vg-record').length, 0, 'nothing records: no writer');
  });
});

test('a read-only or uncreatable directory is an error state; the stream stays live', async () => {
  const root = tempDir('vigil-rec-ro-');
  const ro = path.join(root, 'ro');
  const umount = mountTmpfs(ro, 'ro,size=1m');
  writeFileSync(path.join(root, 'file'), 'not a directory');
  const config = {
    streams: [{ id: 'a', ...camera({ audio: false }), record: { mode: 'continuous', path: ro } },
      { id: 'b', ...camera({ audio: false }), record: { mode: 'continuous', path: path.join(root, 'file', 'sub') } }],
  };
  await withVigil(config, async (v) => {
    for (const [id, why] of [['a', /Read-only file system/], ['b', /Not a directory/]]) {
      const s = await recordError(v, id, 15000);
      assert.match(s.record.reason, why, `${id}: ${s.record.reason}`);
      assert.equal(s.state, 'live');
    }
  }, umount);
});

test('retention removes the oldest segments first, by age and by size, and nothing else', async () => {
  const root = tempDir('vigil-rec-ret-');
  const dir = path.join(root, 'cam');
  mkdirSync(dir, { recursive: true });
  const old = path.join(dir, 'cam-20200101T000000Z.mp4');
  writeFileSync(old, Buffer.alloc(1000));
  const tenDaysAgo = Date.now() / 1000 - 10 * 86400;
  utimesSync(old, tenDaysAgo, tenDaysAgo);
  writeFileSync(path.join(dir, 'notes.txt'), 'kept');
  const other = path.join(dir, 'door-20200101T000000Z.mp4');
  writeFileSync(other, 'another stream');
  utimesSync(other, tenDaysAgo, tenDaysAgo);
  // ~40 KB a second, 1 s segments, 200 KB kept: a handful at a time
  const config = { streams: [{ id: 'cam', ...camera(), record: { mode: 'continuous', path: root, segment_s: 1, retain_days: 1, max_gb: 0.0002 } }] };
  await withVigil(config, async (v) => {
    await waitStreamState(v, 'cam', 'live');
    const seen = new Set();
    await until(async () => {
      for (const f of segmentsIn(dir, 'cam')) seen.add(f);
      const s = await streamInfo(v, 'cam');
      return s.record.segments_deleted >= 4 && s;
    }, 30000, () => `deletions; seen ${[...seen]}`);
    assert.ok(!existsSync(old), 'the 10-day-old segment went (retain_days 1)');
    assert.ok(existsSync(path.join(dir, 'notes.txt')), 'a file that is not a recording stays');
    assert.ok(existsSync(other), "another stream's file stays");
    const left = segmentsIn(dir, 'cam');
    const gone = [...seen].filter((f) => !left.includes(f));
    assert.ok(gone.length >= 2, `gone: ${gone}`);
    // Oldest first: every segment removed is older than every one kept.
    assert.ok(gone.every((g) => left.every((k) => g < k)), `gone ${gone} / left ${left}`);
    const total = left.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
    const newest = statSync(path.join(dir, left[left.length - 1])).size;
    assert.ok(total - newest <= 200000, `closed segments hold ${total - newest} bytes, limit 200000`);
  });
});

test('a reload that changes only the recording keeps the stream and its viewers', async () => {
  const root = tempDir('vigil-rec-reload-');
  const config = {
    streams: [{ id: 'cam', ...camera({ audio: false }), record: { mode: 'continuous', path: path.join(root, 'one'), segment_s: 60 } },
      { id: 'same', ...camera({ audio: false }), record: { mode: 'continuous', path: path.join(root, 'same'), segment_s: 60 } }],
  };
  await withVigil(config, async (v) => {
    await waitStreamState(v, 'cam', 'live');
    await until(() => segmentsIn(path.join(root, 'one', 'cam'), 'cam').length === 1 && segmentsIn(path.join(root, 'same', 'same'), 'same').length === 1, 15000, () => 'first segments');
    config.streams[0].record.path = path.join(root, 'two');
    writeFileSync(v.configFile, JSON.stringify(config));
    const r = await v.fetch('/api/admin/reload', { method: 'POST' });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.deepEqual(body.streams.recording_changed, ['cam']);
    assert.deepEqual(body.streams.restarted, []);
    await until(() => segmentsIn(path.join(root, 'two', 'cam'), 'cam').length === 1, 15000, () => 'a segment in the new path');
    const s = await streamInfo(v, 'cam');
    assert.equal(s.restarts, 0, 'the stream did not restart');
    assert.ok(s.record.file.startsWith(path.join(root, 'two')), s.record.file);
    // the unchanged stream kept its one segment going
    assert.equal((await streamInfo(v, 'same')).record.segments, 1);
    assert.equal(segmentsIn(path.join(root, 'same', 'same'), 'same').length, 1);
    // the segment the reload ended is readable
    const [f] = segmentsIn(path.join(root, 'one', 'cam'), 'cam');
    assert.ok(probe(path.join(root, 'one', 'cam', f)).video.length > 0);
  });
});


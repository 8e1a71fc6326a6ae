// Clips with pre-roll (media/clip.h, server/http_clips.h, server/clip_rules.h)
// against a real build/vigil, a real mosquitto broker and ffmpeg:
//   - POST /api/streams/cam/clips with pre_s 5 answers at once with the
//     clip's id and URL; once post_s have passed the file is complete, and
//     the capture times burnt into its frames by the test camera
//     ("latency_mark", read back with the dashboard's own decoder) prove it
//     starts about 5 s before the request and runs to post_s after it;
//     ffprobe reads both tracks; the listing carries who asked and why;
//   - a doorbell's MQTT telemetry {"button": "pressed"} makes a clip of its
//     camera, marked with the device; a second press while it is being made
//     adds none (counted); other telemetry makes none;
//   - refusals: a viewer 403, a stream the token does not cover 404, a
//     stream that does not record 409, bad fields 400 by name, too many at
//     once 429 with Retry-After; deleting a clip being made 409, then 204;
//   - a clip_on rule on a device whose stream does not record is a config
//     error naming the field.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, waitStreamState, streamInfo, tempDir, mintToken, until, sleep, SLOW } from '../lib/vigil.js';
import { Procs, startBroker, freeTcpPort, CAMERA_COMMANDS } from './control_peers.js';
import { decodeMark, markStrip } from '../../web/js/latency_mark.js';

const W = 320;
const H = 240;
const camera = {
  source: 'test://',
  options: { width: W, height: H, fps: 15, keyframe_interval: 15, bitrate_kbps: 1500, audio: true, latency_mark: true },
};
const PREFIX = 'vc';

// The capture time of every video frame of an MP4, read from its mark.
function frameMarks(file) {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-'],
    { maxBuffer: 512 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr.toString());
  const frame = W * H * 4;
  const s = markStrip(W, H);
  const marks = [];
  for (let off = 0; off + frame <= r.stdout.length; off += frame) {
    const row = r.stdout.subarray(off + s.y * W * 4, off + (s.y + 1) * W * 4);
    marks.push(decodeMark(row, s.block, Date.now()));
  }
  return marks;
}

function probe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]);
  assert.equal(r.status, 0, r.stderr.toString());
  return JSON.parse(r.stdout.toString());
}

describe('clips', { timeout: 180000 * SLOW }, () => {
  const procs = new Procs();
  let vigil, root, mqttPort;
  const operator = mintToken({ sub: 'op-alice', role: 'operator', streams: ['*'], devices: ['*'] });
  const viewer = mintToken({ sub: 'v-bob', role: 'viewer', streams: ['*'], devices: [] });
  const gateOnly = mintToken({ sub: 'op-gate', role: 'operator', streams: ['gate'], devices: [] });
  const post = (token, stream, body, headers = {}) => fetch(`${vigil.base}/api/streams/${stream}/clips`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const clips = async () => {
    const r = await vigil.fetch('/api/streams/cam/recordings');
    assert.equal(r.status, 200);
    return (await r.json()).recordings.filter((x) => x.kind === 'clip');
  };
  const clip = async (id) => (await clips()).find((x) => x.id === id);
  const metric = async (name) => {
    const text = await (await vigil.fetch('/metrics')).text();
    const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm'));
    return m ? Number(m[1]) : null;
  };
  const telemetry = (data) => {
    const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-q', '1',
      '-t', `${PREFIX}/bell/telemetry`, '-m', JSON.stringify(data)]);
    assert.equal(r.status, 0, r.stderr.toString());
  };

  before(async () => {
    root = tempDir('vigil-clips-');
    mqttPort = await freeTcpPort();
    procs.add(await startBroker(mqttPort));
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1', record_path: root },
        streams: [
          { id: 'cam', ...camera, record: { mode: 'events', preroll_s: 6 } },
          { id: 'gate', source: 'test://', options: { width: 160, height: 120, fps: 10 } },
        ],
        mqtt: { host: '127.0.0.1', port: mqttPort, prefix: PREFIX, keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2, client_id: `vc-relay-${mqttPort}` },
        devices: [{
          id: 'bell', name: 'Doorbell', transport: 'mqtt', stream: 'cam', commands: CAMERA_COMMANDS,
          clip_on: [{ match: { button: 'pressed' }, pre_s: 2, post_s: 2, label: 'doorbell' }],
        }],
      },
    });
    await waitStreamState(vigil, 'cam', 'live');
    await waitStreamState(vigil, 'gate', 'live');
    // the ring holds its pre-roll
    await until(async () => {
      const s = await streamInfo(vigil, 'cam');
      return s.record.clips.buffered_s >= 5.5;
    }, 20000 * SLOW, 'six seconds of pre-roll');
  });
  after(async () => {
    const st = await vigil.stop();
    await procs.killAll();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log()}`);
  });

  it('a clip with 5 s of pre-roll holds frames captured before the request', async (t) => {
    const asked = Date.now();
    const r = await post(operator, 'cam', { pre_s: 5, post_s: 2, label: 'gate opened' });
    assert.equal(r.status, 201, await r.clone().text());
    const c = await r.json();
    assert.match(c.id, /^cam-clip-\d{8}T\d{6}Z(-\d+)?$/);
    assert.equal(c.url, `/api/streams/cam/recordings/${c.id}.mp4`);
    assert.equal(r.headers.get('location'), c.url);
    assert.equal(c.complete, false);
    assert.equal(c.label, 'gate opened');
    assert.equal(c.subject, 'op-alice');
    assert.equal(c.reason, 'request');
    // from the last keyframe at or before 5 s back: within a GOP (1 s) of it
    assert.ok(c.pre_s >= 5 && c.pre_s < 6.2, `pre_s ${c.pre_s}`);
    const requested = Date.parse(c.requested_at);
    assert.ok(Math.abs(requested - asked) < 1000, c.requested_at);
    assert.equal(Date.parse(c.end) - requested, 2000);

    // listed at once, being made
    const listed = await clip(c.id);
    assert.ok(listed, 'listed while being made');
    assert.equal(listed.recording, true);
    assert.equal(listed.complete, false);
    // complete once post_s have passed
    await until(async () => (await clip(c.id))?.complete === true, 10000 * SLOW, 'the clip complete');
    const done = await clip(c.id);
    assert.equal(done.recording, false);
    assert.equal(done.label, 'gate opened');
    assert.equal(done.subject, 'op-alice');
    assert.equal(done.reason, 'request');

    const file = path.join(root, 'cam', 'clips', `${c.id}.mp4`);
    const served = Buffer.from(await (await vigil.fetch(c.url)).arrayBuffer());
    assert.deepEqual(served, readFileSync(file), 'served as on disk');
    const p = probe(file);
    assert.deepEqual(p.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
    const dur = Number(p.format.duration);
    assert.ok(dur > 6 && dur < 8.5, `duration ${dur}`);

    // The burnt-in clock: the first frame was captured 5-6.2 s before the
    // request, the last one up to post_s after it.
    const marks = frameMarks(file);
    const read = marks.filter((m) => m !== null);
    assert.ok(read.length >= marks.length * 0.9, `marks read from ${read.length} of ${marks.length} frames`);
    const first = read[0];
    const last = read[read.length - 1];
    t.diagnostic(`clip ${c.id}: ${marks.length} frames (marks read from ${read.length}), first captured `
      + `${requested - first} ms before the request, last ${last - requested} ms after; ${dur.toFixed(2)} s`);
    assert.ok(requested - first >= 4900 && requested - first < 6400,
      `first frame captured ${requested - first} ms before the request`);
    assert.ok(last - requested > 1000 && last - requested <= 2100, `last frame ${last - requested} ms after it`);
    for (let i = 1; i < read.length; i++) assert.ok(read[i] > read[i - 1], 'frames in capture order');
    // the sidecar's start and end are those frames' times as they left the
    // pipeline: their capture plus the encoder's latency
    const lag = (t, mark) => Date.parse(t) - mark;
    assert.ok(lag(done.start, first) >= 0 && lag(done.start, first) < 1000, `${done.start} vs ${new Date(first).toISOString()}`);
    assert.ok(lag(done.end, last) >= 0 && lag(done.end, last) < 1000, `${done.end} vs ${new Date(last).toISOString()}`);
  });

  it('a doorbell press over MQTT makes one clip of its camera, marked with the device', async () => {
    const before = (await clips()).length;
    const ignoredBefore = await metric('vigil_clip_events_ignored_total');
    telemetry({ button: 'released', battery: 80 }); // no rule matches
    telemetry({ button: 'pressed', battery: 80 });
    await until(async () => (await clips()).length > before, 5000 * SLOW, 'a clip from the press');
    telemetry({ button: 'pressed', battery: 80 }); // while it is being made: no second clip
    await until(async () => (await metric('vigil_clip_events_ignored_total')) === ignoredBefore + 1, 5000 * SLOW,
      'the second press counted');
    const made = (await clips()).filter((x) => x.device === 'bell');
    assert.equal(made.length, 1, JSON.stringify(made));
    assert.equal(made[0].reason, 'device event');
    assert.equal(made[0].label, 'doorbell');
    await until(async () => (await clip(made[0].id))?.complete === true, 10000 * SLOW, 'the doorbell clip complete');
    const done = await clip(made[0].id);
    const span = Date.parse(done.end) - Date.parse(done.start);
    assert.ok(span > 3000 && span < 5500, `doorbell clip spans ${span} ms (pre 2 s, post 2 s)`);
    assert.equal((await clips()).length, before + 1, 'the released button made none');
    assert.ok((await metric('vigil_clips_total{stream="cam"}')) >= 2);
  });

  it('refuses whom it must, and says why', async () => {
    let r = await post(viewer, 'cam', {});
    assert.equal(r.status, 403);
    assert.equal((await r.json()).error, 'forbidden');
    r = await post(gateOnly, 'cam', {});
    assert.equal(r.status, 404, 'a stream the token does not cover does not exist');
    assert.equal((await r.json()).error, 'unknown_stream');
    r = await post(operator, 'nope', {});
    assert.equal(r.status, 404);
    r = await post(operator, 'gate', {});
    assert.equal(r.status, 409);
    assert.equal((await r.json()).error, 'not_recorded');
    for (const [body, field] of [[{ pre_s: 7 }, 'pre_s'], [{ pre_s: -1 }, 'pre_s'], [{ post_s: 4000 }, 'post_s'],
      [{ post_s: '2' }, 'post_s'], [{ label: 5 }, 'label'], [{ label: '' }, 'label'], [{ label: 'x'.repeat(65) }, 'label'],
      [{ label: 'a\nb' }, 'label'], [{ when: 'now' }, 'when']]) {
      r = await post(operator, 'cam', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      const e = await r.json();
      assert.equal(e.error, 'bad_field');
      assert.equal(e.field, field, JSON.stringify(e));
    }
    r = await post(operator, 'cam', '{"pre_s":');
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error, 'bad_json');
    r = await post(operator, 'cam', '[]');
    assert.equal(r.status, 400);
    const refused = await metric('vigil_clips_refused_total{stream="cam"}');
    // no body at all: the defaults (pre_s the stream's preroll_s, post_s 20)
    r = await post(operator, 'cam');
    assert.equal(r.status, 201, await r.clone().text());
    const first = await r.json();
    assert.equal(first.post_s, 20);
    assert.ok(first.pre_s >= 5.5, `pre_s ${first.pre_s}`);
    // deleting it while it is being made: 409
    const del = () => fetch(`${vigil.base}${first.url}`, { method: 'DELETE', headers: { authorization: `Bearer ${operator}` } });
    r = await del();
    assert.equal(r.status, 409);
    assert.equal((await r.json()).error, 'recording_in_progress');
    // 8 at once at most
    const made = [first];
    for (let i = 1; i < 8; i++) {
      r = await post(operator, 'cam', { post_s: 20 });
      assert.equal(r.status, 201, await r.clone().text());
      made.push(await r.json());
    }
    assert.equal(new Set(made.map((x) => x.id)).size, 8, 'eight different names');
    r = await post(operator, 'cam', { post_s: 1 });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '5');
    assert.equal((await r.json()).error, 'too_many_clips');
    assert.equal(await metric('vigil_clips_refused_total{stream="cam"}'), refused + 1);
    const s = await streamInfo(vigil, 'cam');
    assert.equal(s.record.clips.active, 8);
    assert.equal(s.record.mode, 'events');
    // live viewers are untouched throughout: the stream is live
    assert.equal(s.state, 'live');
    // once complete, deleted: 204, file and sidecar gone
    await until(async () => (await clip(first.id))?.complete === true, 30000 * SLOW, 'the default clip complete');
    r = await del();
    assert.equal(r.status, 204);
    assert.equal(await clip(first.id), undefined);
  });

  it('a clip_on rule for a stream that does not record is a config error', async () => {
    const dir = tempDir('vigil-clips-bad-');
    await assert.rejects(startVigil({
      config: {
        server: { bind: '127.0.0.1', record_path: dir },
        streams: [{ id: 'gate', source: 'test://' }],
        mqtt: { host: '127.0.0.1', port: mqttPort, prefix: 'bad' },
        devices: [{ id: 'bell', transport: 'mqtt', stream: 'gate', commands: CAMERA_COMMANDS, clip_on: [{ match: { button: 'pressed' } }] }],
      },
    }), /device 'bell': clip_on: the device's "stream" must name a stream with a "record" section/);
    await assert.rejects(startVigil({
      config: {
        server: { bind: '127.0.0.1', record_path: dir },
        streams: [{ id: 'cam', source: 'test://', record: { mode: 'events' } }],
        mqtt: { host: '127.0.0.1', port: mqttPort, prefix: 'bad' },
        devices: [{ id: 'bell', transport: 'mqtt', stream: 'cam', commands: CAMERA_COMMANDS, clip_on: [{ match: {} }] }],
      },
    }), /device 'bell': clip_on\[0\]\.match/);
    await assert.rejects(startVigil({
      config: {
        server: { bind: '127.0.0.1', record_path: dir },
        streams: [{ id: 'cam', source: 'test://', record: { mode: 'events', preroll_s: 4 } }],
        mqtt: { host: '127.0.0.1', port: mqttPort, prefix: 'bad' },
        devices: [{ id: 'bell', transport: 'mqtt', stream: 'cam', commands: CAMERA_COMMANDS,
          clip_on: [{ match: { button: 'pressed' }, pre_s: 5 }] }],
      },
    }), /device 'bell': clip_on\[0\]\.pre_s: seconds from 0 to 4/);
    await sleep(10);
  });
});

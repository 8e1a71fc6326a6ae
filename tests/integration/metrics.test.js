// GET /metrics (server/metrics.h): the Prometheus exposition, checked by
// Prometheus' own `promtool check metrics`, scraped while the server works:
// a viewer per mode on a stream, a substream watched, a device whose MQTT
// broker is not there, a refused token. Each figure must follow what was
// done; access needs the metrics token or an admin token.
// Then a second server scraped on its server.metrics_bind listener (no
// token there, nothing but /metrics) during a real run: a stream with a
// 2-second GOP watched in both modes, a command to a simulated device
// through a real mosquitto broker, junk sent to a push source's UDP port,
// and the service tick's lag.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, freePort, Client, SLOW, until, mintToken, tempDir, VIGIL_BIN, ROOT } from '../lib/vigil.js';
import { Procs, startBroker, startSim, freeUdpPort, CAMERA_COMMANDS } from './control_peers.js';

const METRICS_TOKEN = 'scrape-me-0123456789abcdef';
let v;

before(async () => {
  v = await startVigil({
    config: {
      server: { bind: '127.0.0.1', metrics_token: METRICS_TOKEN },
      streams: [
        { id: 'door', source: 'test://', options: { width: 160, height: 120, fps: 15, bitrate_kbps: 100 },
          variants: { sub: { source: 'test://', options: { width: 96, height: 64, fps: 15, bitrate_kbps: 50 } } } },
        { id: 'yard', source: 'rtsp://127.0.0.1:1/nothing' },
      ],
      mqtt: { host: '127.0.0.1', port: await freePort(), reconnect_min_s: 1, reconnect_max_s: 2, connect_timeout_s: 1 },
      devices: [{ id: 'lamp', transport: 'mqtt', commands: { light: { on: { type: 'bool' } } } }],
    },
  });
});

after(async () => {
  const st = await v.stop();
  assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${v.log().slice(-2000)}`);
});

async function scrape(token = METRICS_TOKEN) {
  const r = await fetch(`${v.base}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
}

// The samples of a scrape: "name{labels}" -> value.
function samples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

test('the exposition passes promtool and names every stream, variant, device and mode', async () => {
  const m = await scrape();
  assert.equal(m.status, 200);
  assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
  const check = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  const s = samples(m.text);
  assert.equal(s.get('vigil_build_info{version="0.1.0"}'), 1);
  assert.ok(s.get('vigil_process_resident_memory_bytes') > 1e6);
  assert.ok(s.get('vigil_process_open_fds') > 3);
  // glibc malloc's own count: some MiB held (under ASan its allocator
  // stands in for malloc and glibc's arenas stay nearly empty)
  const heap = s.get('vigil_process_heap_allocated_bytes');
  assert.ok(process.env.VIGIL_SANITIZED ? heap >= 0 : heap > 1e6, `heap ${heap}`);
  assert.ok(s.get('vigil_process_heap_free_bytes') >= 0);
  for (const variant of ['main', 'sub'])
    for (const mode of ['mse', 'webcodecs'])
      assert.equal(s.get(`vigil_stream_viewers{stream="door",variant="${variant}",mode="${mode}"}`), 0);
  assert.equal(s.get('vigil_stream_state{stream="door",variant="sub",state="stopped"}'), 1);
  assert.equal(s.get('vigil_transport_connected{transport="mqtt"}'), 0);
  assert.equal(s.get('vigil_device_commands_issued_total{device="lamp"}'), 0);
  for (const status of ['acknowledged', 'rejected', 'failed', 'timeout'])
    assert.equal(s.get(`vigil_device_commands_total{device="lamp",status="${status}"}`), 0, status);
  assert.equal(s.get('vigil_device_command_latency_seconds_count{device="lamp"}'), 0);
  assert.equal(s.get('vigil_device_command_latency_seconds_bucket{device="lamp",le="+Inf"}'), 0);
  // No push source here: no RTP receiver families.
  assert.ok(![...s.keys()].some((k) => k.startsWith('vigil_stream_rtp_')));
});

test('figures follow what happens: viewers by mode, a watched substream, frames in, a failing source, refusals', async () => {
  const a = await new Client(v.wsUrl).open();
  const b = await new Client(v.wsUrl).open();
  try {
    await a.request({ type: 'hello', token: mintToken({ role: 'viewer' }) });
    await b.request({ type: 'hello', token: mintToken({ role: 'operator' }) });
    const mseChannel = (await a.request({ type: 'subscribe', stream: 'door', mode: 'mse' })).channel;
    const wcChannel = (await b.request({ type: 'subscribe', stream: 'door', mode: 'webcodecs' })).channel;
    assert.ok(mseChannel && wcChannel);
    assert.equal((await b.request({ type: 'subscribe', stream: 'door', variant: 'sub' })).variant, 'sub');
    await b.request({ type: 'command', device: 'lamp', name: 'light', params: { on: true }, qos: 0 });
    const bad = await fetch(`${v.base}/api/streams`, { headers: { authorization: 'Bearer nonsense' } });
    assert.equal(bad.status, 401);

    let s;
    await until(async () => {
      s = samples((await scrape()).text);
      // The rates are over the last second and 0 once frames stop for 2 s: a
      // loaded machine (the ASan lane beside others) can stall main's source
      // for that long, so wait for both rather than read one scrape.
      return s.get('vigil_stream_state{stream="door",variant="sub",state="live"}') === 1
        && s.get('vigil_stream_frames_per_second{stream="door",variant="sub"}') > 5
        && s.get('vigil_stream_in_bytes_per_second{stream="door",variant="main"}') > 0;
    }, 10000 * SLOW, () => `the substream live and main's rate in the metrics: ${[...(s || [])].filter(([k]) => k.includes('door')).map((e) => e.join(' ')).join(', ')}`);
    assert.equal(s.get('vigil_connections'), 2);
    assert.equal(s.get('vigil_sessions{role="viewer"}'), 1);
    assert.equal(s.get('vigil_sessions{role="operator"}'), 1);
    assert.equal(s.get('vigil_stream_viewers{stream="door",variant="main",mode="mse"}'), 1);
    assert.equal(s.get('vigil_stream_viewers{stream="door",variant="main",mode="webcodecs"}'), 1);
    assert.equal(s.get('vigil_stream_viewers{stream="door",variant="sub",mode="mse"}'), 1);
    assert.ok(s.get('vigil_stream_frames_in_total{stream="door",variant="main"}') > 10);
    // Written out, per mode: at least what each viewer has received by now
    // (the server counts a frame when it writes it), bytes with their
    // 16-byte headers; neither reading viewer skipped.
    const received = {
      mse: a.frames.filter((f) => f.channel === mseChannel).length,
      webcodecs: b.frames.filter((f) => f.channel === wcChannel).length,
    };
    const out = samples((await scrape()).text);
    for (const mode of ['mse', 'webcodecs']) {
      const frames = out.get(`vigil_stream_frames_out_total{stream="door",variant="main",mode="${mode}"}`);
      assert.ok(received[mode] >= 10 && frames >= received[mode], `${mode}: ${frames} written, ${received[mode]} received`);
      assert.ok(out.get(`vigil_stream_bytes_out_total{stream="door",variant="main",mode="${mode}"}`) > 16 * frames, mode);
      assert.equal(out.get(`vigil_stream_skips_total{stream="door",variant="main",mode="${mode}"}`), 0, mode);
    }
    assert.ok(s.get('vigil_stream_bytes_in_total{stream="door",variant="sub"}') > 0);
    assert.equal(s.get('vigil_stream_state{stream="yard",variant="main",state="retrying"}'), 1);
    assert.ok(s.get('vigil_stream_restarts_total{stream="yard",variant="main"}') >= 1);
    assert.equal(s.get('vigil_device_commands_issued_total{device="lamp"}'), 1);
    assert.ok(s.get('vigil_auth_failed_total') >= 1);
    assert.ok(s.get('vigil_connections_total') >= 2);
    // Counters only go up between scrapes.
    const later = samples((await scrape()).text);
    for (const [k, n] of s) if (k.includes('_total')) assert.ok(later.get(k) >= n, `${k}: ${n} then ${later.get(k)}`);
  } finally {
    a.close();
    b.close();
  }
});

test('access: the metrics token or an admin token; nothing else', async () => {
  assert.equal((await scrape(null)).status, 401);
  assert.equal((await scrape('not-the-metrics-token-at-all')).status, 401);
  assert.equal((await scrape(mintToken({ role: 'viewer' }))).status, 403);
  const admin = await scrape(mintToken({ role: 'admin' }));
  assert.equal(admin.status, 200);
  assert.match(admin.text, /^# HELP vigil_build_info /);
  // The metrics token opens nothing else.
  const api = await fetch(`${v.base}/api/streams`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(api.status, 401);
  // Only GET.
  const post = await fetch(`${v.base}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${METRICS_TOKEN}` }, body: '{}' });
  assert.equal(post.status, 405);
});

describe('a real run, scraped on server.metrics_bind', () => {
  const procs = new Procs();
  let w, mport, rtpPort, broker;
  const PREFIX = 'vm';
  const GOP_S = 2; // keyframe_interval 30 at 15 fps

  before(async () => {
    const port = await freePort();
    mport = await freePort();
    rtpPort = await freeUdpPort();
    broker = procs.add(await startBroker(port));
    procs.add(await startSim(['--id', 'cam', '--mqtt-port', String(port), '--prefix', PREFIX, '--telemetry-ms', '500']));
    w = await startVigil({
      config: {
        server: { bind: '127.0.0.1', metrics_bind: `127.0.0.1:${mport}`, metrics_token: METRICS_TOKEN },
        streams: [
          { id: 'gate', source: 'test://', options: { width: 160, height: 120, fps: 15, bitrate_kbps: 100, keyframe_interval: 15 * GOP_S } },
          { id: 'push', source: `rtp://127.0.0.1:${rtpPort}`, options: { payload_type: 96 } },
        ],
        mqtt: { host: '127.0.0.1', port, prefix: PREFIX, reconnect_min_s: 1, reconnect_max_s: 2, client_id: `vm-relay-${port}` },
        devices: [{ id: 'cam', transport: 'mqtt', commands: CAMERA_COMMANDS }],
      },
    });
  }, { timeout: 30000 });

  after(async () => {
    if (w) {
      const st = await w.stop();
      assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${w.log().slice(-2000)}`);
    }
    await procs.killAll();
  });

  const scrapeBind = async (p = '/metrics', opts = {}) => {
    const r = await fetch(`http://127.0.0.1:${mport}${p}`, opts);
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
  };

  test('the listener serves /metrics without a token, and nothing else; the public port still wants one', async () => {
    const m = await scrapeBind();
    assert.equal(m.status, 200);
    assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(m.text, /^# HELP vigil_build_info /);
    assert.equal((await scrapeBind('/api/streams')).status, 404);
    assert.equal((await scrapeBind('/api/health')).status, 404);
    assert.equal((await scrapeBind('/')).status, 404);
    assert.equal((await scrapeBind('/index.html')).status, 404);
    assert.equal((await scrapeBind('/metrics', { method: 'POST', body: '{}' })).status, 405);
    // No vigil.v1 on it either.
    const c = new Client(`ws://127.0.0.1:${mport}/ws?access_token=${w.adminToken}`);
    await assert.rejects(c.open());
    c.close();
    // The public port: as before.
    assert.equal((await fetch(`${w.base}/metrics`)).status, 401);
    const tok = await fetch(`${w.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(tok.status, 200);
    await tok.text();
  });

  test('keyframe interval, loop lag, command outcomes and RTP drops follow the run; promtool passes', async () => {
    const a = await new Client(w.wsUrl).open();
    const b = await new Client(w.wsUrl).open();
    try {
      await a.request({ type: 'hello', token: mintToken({ role: 'viewer' }) });
      await b.request({ type: 'hello', token: mintToken({ role: 'operator' }) });
      assert.ok((await a.request({ type: 'subscribe', stream: 'gate', mode: 'mse' })).channel);
      assert.ok((await b.request({ type: 'subscribe', stream: 'gate', mode: 'webcodecs' })).channel);
      const lag0 = samples((await scrapeBind()).text).get('vigil_service_loop_lag_seconds_count');

      // A command through the broker to the simulated device.
      await until(async () => samples((await scrapeBind()).text).get('vigil_transport_connected{transport="mqtt"}') === 1,
        10000, () => 'the relay connected to the broker');
      const cmd = await b.request({ type: 'command', device: 'cam', name: 'ptz', params: { pan: 0.5, tilt: 0 }, qos: 1 });
      assert.equal(cmd.status, 'queued', JSON.stringify(cmd));
      const done = await b.waitFor((m) => m.type === 'command.status' && m.command_id === cmd.command_id
        && ['acknowledged', 'rejected', 'failed', 'timeout'].includes(m.status), 10000 * SLOW, 'final status');
      assert.equal(done.status, 'acknowledged', JSON.stringify(done));

      // Junk to the push source's port: dropped as malformed, and counted.
      const sock = dgram.createSocket('udp4');
      await new Promise((resolve, reject) => sock.send(Buffer.from('not rtp'), rtpPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      sock.close();

      // Two keyframes are needed for an interval. It is the spacing of the
      // last two as they left the pipeline (wall clock): on a loaded machine
      // one keyframe can leave late and the next on time, so one sample may
      // be short; the GOP shows within a few.
      let s;
      const inBand = (gop) => gop > GOP_S * 0.7 && gop < GOP_S * 1.3 * SLOW;
      await until(async () => {
        s = samples((await scrapeBind()).text);
        return inBand(s.get('vigil_stream_keyframe_interval_seconds{stream="gate",variant="main"}'))
          && s.get('vigil_stream_rtp_packets_dropped_total{stream="push",variant="main",reason="malformed"}') === 1;
      }, 15000, () => `a keyframe interval near ${GOP_S} s and the dropped datagram: ${s && JSON.stringify([...s].filter(([k]) => /keyframe|rtp_/.test(k)))}`);

      const m = await scrapeBind();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
      assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
      s = samples(m.text);

      // The push source has had no video: not live, no interval.
      assert.equal(s.get('vigil_stream_keyframe_interval_seconds{stream="push",variant="main"}'), 0);

      // The command: issued once, acknowledged once, its latency counted.
      assert.equal(s.get('vigil_device_commands_issued_total{device="cam"}'), 1);
      assert.equal(s.get('vigil_device_commands_total{device="cam",status="acknowledged"}'), 1);
      for (const status of ['rejected', 'failed', 'timeout'])
        assert.equal(s.get(`vigil_device_commands_total{device="cam",status="${status}"}`), 0, status);
      const count = s.get('vigil_device_command_latency_seconds_count{device="cam"}');
      assert.equal(count, 1);
      assert.equal(s.get('vigil_device_command_latency_seconds_bucket{device="cam",le="+Inf"}'), 1);
      assert.equal(s.get('vigil_device_command_latency_seconds_bucket{device="cam",le="10"}'), 1);
      const sum = s.get('vigil_device_command_latency_seconds_sum{device="cam"}');
      assert.ok(sum >= 0 && sum <= 10, `latency ${sum} s`);

      // RTP receiver: nothing accepted, one junk datagram, nothing else dropped.
      assert.equal(s.get('vigil_stream_rtp_packets_total{stream="push",variant="main"}'), 0);
      assert.equal(s.get('vigil_stream_rtp_bytes_total{stream="push",variant="main"}'), 0);
      for (const reason of ['auth_failed', 'replayed', 'ignored'])
        assert.equal(s.get(`vigil_stream_rtp_packets_dropped_total{stream="push",variant="main",reason="${reason}"}`), 0, reason);
      assert.equal(s.get('vigil_stream_rtp_packets_total{stream="gate",variant="main"}'), undefined);

      // The tick ran (four times a second) and each run is in the histogram.
      const lag = s.get('vigil_service_loop_lag_seconds_count');
      assert.ok(lag >= lag0 + 2, `loop lag count ${lag0} then ${lag}`);
      assert.equal(s.get('vigil_service_loop_lag_seconds_bucket{le="+Inf"}'), lag);
      let prev = 0;
      for (const le of ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '1', '+Inf']) {
        const n = s.get(`vigil_service_loop_lag_seconds_bucket{le="${le}"}`);
        assert.ok(n >= prev, `bucket ${le}: ${n} after ${prev}`);
        prev = n;
      }
      // An idle loop on a loaded machine still runs its tick within a second.
      assert.ok(s.get('vigil_service_loop_lag_seconds_bucket{le="1"}') >= lag * 0.9, m.text.match(/^vigil_service_loop_lag.*$/gm).join('\n'));
      assert.ok(s.get('vigil_service_loop_lag_seconds_sum') >= 0);
    } finally {
      a.close();
      b.close();
    }
  });
});

test('server.metrics_bind: the port of --port is refused, naming the field', async () => {
  const port = await freePort();
  const file = path.join(tempDir(), 'config.json');
  writeFileSync(file, JSON.stringify({
    server: { bind: '127.0.0.1', metrics_bind: `127.0.0.1:${port}` },
    streams: [{ id: 'a', source: 'test://' }],
  }));
  const r = spawnSync(VIGIL_BIN, ['--config', file, '--port', String(port), '--web-root', path.join(ROOT, 'web')],
    { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`server\\.metrics_bind: port ${port} is server\\.port itself`));
});

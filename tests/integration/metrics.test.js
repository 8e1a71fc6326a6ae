// GET /metrics (server/metrics.h): the Prometheus exposition, checked by
// Prometheus' own `promtool check metrics`, scraped while the server works:
// a viewer per mode on a stream, a substream watched, a device whose MQTT
// broker is not there, a refused token. Each figure must follow what was
// done; access needs the metrics token or an admin token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startVigil, freePort, Client, SLOW, until, mintToken } from '../lib/vigil.js';

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
  for (const variant of ['main', 'sub'])
    for (const mode of ['mse', 'webcodecs'])
      assert.equal(s.get(`vigil_stream_viewers{stream="door",variant="${variant}",mode="${mode}"}`), 0);
  assert.equal(s.get('vigil_stream_state{stream="door",variant="sub",state="stopped"}'), 1);
  assert.equal(s.get('vigil_transport_connected{transport="mqtt"}'), 0);
  assert.equal(s.get('vigil_device_commands_total{device="lamp"}'), 0);
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
      return s.get('vigil_stream_state{stream="door",variant="sub",state="live"}') === 1
        && s.get('vigil_stream_frames_per_second{stream="door",variant="sub"}') > 5;
    }, 10000 * SLOW, () => 'the substream live in the metrics');
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
    assert.ok(s.get('vigil_stream_in_bytes_per_second{stream="door",variant="main"}') > 0);
    assert.equal(s.get('vigil_stream_state{stream="yard",variant="main",state="retrying"}'), 1);
    assert.ok(s.get('vigil_stream_restarts_total{stream="yard",variant="main"}') >= 1);
    assert.equal(s.get('vigil_device_commands_total{device="lamp"}'), 1);
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

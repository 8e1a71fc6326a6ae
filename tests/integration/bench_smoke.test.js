// The benchmark's instruments, run small so that they cannot rot (`make bench`
// itself is not a test: it is timed and long). The load client (build/bench/
// vigil-load) must measure a real vigil playing a file:// clip and the floor
// (build/bench/vigil-floor) playing the same clip's fragments: frames, bytes,
// latencies, subscribe-to-keyframe times and the server's CPU and RSS from
// /proc. And it must notice viewers that fail. Over wss too: vigil with TLS
// and the floor with TLS must negotiate the very same version and suite (the
// load client picks them), or the bench would compare different ciphers.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, freePort, sleep, startVigil, tempDir, until, waitStreamState } from '../lib/vigil.js';

const LOAD = path.join(ROOT, 'build/bench/vigil-load');
const FLOOR = path.join(ROOT, 'build/bench/vigil-floor');
const SECONDS = 3;
const VIEWERS = 20;

let dir, clip, tls;
before(() => {
  dir = tempDir('vigil-bench-');
  clip = path.join(dir, 'clip.mp4');
  // 6 s of 320x240 at 300 kbit/s: small and quick to make, but more
  // fragments than the floor's per-client backlog, as it requires.
  const mk = spawnSync('bash', [path.join(ROOT, 'bench/make_clip.sh'), clip, '6', '320', '240', '300'],
    { encoding: 'utf8', timeout: 120000 });
  assert.equal(mk.status, 0, mk.stderr);
  // A self-signed certificate for 127.0.0.1, as bench/run.mjs makes one.
  tls = { cert: path.join(dir, 'tls.pem'), key: path.join(dir, 'tls.key') };
  const req = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', tls.key, '-out', tls.cert, '-days', '30', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8', timeout: 30000 });
  assert.equal(req.status, 0, req.stderr);
});

// Starts the floor on the test clip's fragments; resolves once it listens.
async function startFloor(extra = []) {
  const port = await freePort();
  const fmp4 = clip.replace(/\.mp4$/, '.fmp4');
  const proc = spawn(FLOOR, ['--clip', fmp4, '--port', String(port), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  for (let i = 0; ; i++) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (i >= 100 || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      assert.fail(`floor did not start: ${log}`);
    }
    await sleep(50);
  }
  return {
    port, proc, log: () => log,
    async stop() {
      proc.kill('SIGTERM');
      const st = await exited;
      assert.equal(st.code, 0, log);
    },
  };
}

// Runs the load client; resolves with its JSON report (also written to a file).
function runLoad(port, pid, stream, extra = []) {
  const json = path.join(dir, `load-${port}-${stream}.json`);
  const args = ['--port', String(port), '--pid', String(pid), '--stream', stream,
    '--viewers', String(VIEWERS), '--ramp', '0.2', '--warmup', '0.5', '--duration', String(SECONDS),
    '--json', json, ...extra];
  return new Promise((resolve, reject) => {
    const p = spawn(LOAD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 40000);
    p.on('exit', (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`vigil-load exited ${code}: ${err}`));
      const r = JSON.parse(out);
      assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), r, '--json writes the same report');
      resolve(r);
    });
  });
}

// What every healthy run must show, whoever the server is.
function assertHealthy(r, pid) {
  const g = r.groups.normal;
  assert.equal(r.viewers, VIEWERS);
  assert.equal(r.failed, 0, JSON.stringify(r.fail_reasons));
  assert.equal(r.got_keyframe, VIEWERS);
  assert.ok(r.window_s >= SECONDS - 0.1 && r.window_s < SECONDS + 1, `window ${r.window_s}`);
  // ~30 fps each; a loaded test machine may lag, but not halve it.
  assert.ok(g.frames >= VIEWERS * SECONDS * 30 * 0.5, `${g.frames} frames`);
  assert.ok(g.frames <= VIEWERS * (SECONDS + 1) * 30 * 1.5, `${g.frames} frames: not real time`);
  assert.ok(r.bytes > g.frames * 100, 'bytes counted');
  assert.ok(g.delivered_ratio > 0.9, `delivered ${g.delivered_ratio}`);
  assert.equal(g.latency_ms.samples, g.frames);
  assert.ok(g.latency_ms.p50 >= 0 && g.latency_ms.p50 <= g.latency_ms.p99, JSON.stringify(g.latency_ms));
  assert.ok(g.latency_ms.p99 < 2000, `latency p99 ${g.latency_ms.p99} ms`);
  assert.equal(g.first_keyframe_ms.samples, VIEWERS);
  assert.ok(g.first_keyframe_ms.p50 >= 0 && g.first_keyframe_ms.p99 < 5000, JSON.stringify(g.first_keyframe_ms));
  assert.equal(r.server.pid, pid);
  assert.ok(r.server.cpu_s > 0, 'the server used some CPU');
  assert.ok(r.server.cpu_s_per_gb > 0);
  assert.ok(r.server.rss_peak_kb > 1000 && r.server.rss_peak_kb >= r.server.rss_start_kb * 0.5,
    JSON.stringify(r.server));
  assert.ok(Array.isArray(r.cpu_busy) && r.cpu_busy.length >= 1);
}

test('vigil-load measures vigil playing a file:// clip', { timeout: 90000 }, async () => {
  // Anonymous viewers, as the bench runs them (they say hello without a token).
  const v = await startVigil({ config: { auth: { anonymous: { streams: ['clip'] } },
    streams: [{ id: 'clip', source: `file://${clip}` }] } });
  try {
    await waitStreamState(v, 'clip', 'live');
    const r = await runLoad(v.port, v.proc.pid, 'clip');
    assertHealthy(r, v.proc.pid);
    assert.equal(r.subscribed, VIEWERS, 'every viewer got its subscribe reply');

    // With a token in hello instead.
    const tok = await runLoad(v.port, v.proc.pid, 'clip', ['--token', v.adminToken, '--duration', '1']);
    assert.equal(tok.failed, 0, JSON.stringify(tok.fail_reasons));
    assert.equal(tok.subscribed, VIEWERS);

    // A stream that does not exist: every viewer fails, and the report says why.
    const bad = await runLoad(v.port, v.proc.pid, 'nope', ['--duration', '0.5']);
    assert.equal(bad.failed, VIEWERS);
    assert.equal(bad.fail_reasons['error reply'], VIEWERS);
    assert.equal(bad.groups.normal.frames, 0);
  } finally {
    const st = await v.stop();
    assert.equal(st.code, 0, v.log());
  }
});

test('vigil-load measures vigil-floor playing the same clip', { timeout: 90000 }, async () => {
  const floor = await startFloor();
  try {
    assert.match(floor.log(), /1 stream\(s\) of 1[0-9]{2} fragments at 30\.00 fps/);
    const r = await runLoad(floor.port, floor.proc.pid, 'floor');
    assertHealthy(r, floor.proc.pid);
    assert.equal(r.groups.normal.frames_missing, 0);
    assert.equal(r.tls, null);

    // Throttled viewers are counted apart.
    const t = await runLoad(floor.port, floor.proc.pid, 'floor', ['--throttle-fraction', '0.25', '--throttle-bps', '100000']);
    assert.equal(t.groups.throttled.viewers, 5);
    assert.equal(t.groups.normal.viewers, 15);
    assert.ok(t.groups.throttled.bytes < t.groups.normal.bytes / 15 * 5, 'throttled viewers read less');
  } finally {
    await floor.stop();
  }
});

test('vigil-load measures vigil and vigil-floor over wss, with the same cipher', { timeout: 90000 }, async () => {
  const v = await startVigil({ ca: readFileSync(tls.cert), config: {
    server: { tls_cert: tls.cert, tls_key: tls.key },
    auth: { anonymous: { streams: ['clip'] } },
    streams: [{ id: 'clip', source: `file://${clip}` }] } });
  let rv;
  try {
    await until(async () => (await v.get('/api/streams')).body.includes('"live"'), 15000, () => 'clip live');
    rv = await runLoad(v.port, v.proc.pid, 'clip', ['--tls']);
    assertHealthy(rv, v.proc.pid);
  } finally {
    const st = await v.stop();
    assert.equal(st.code, 0, v.log());
  }
  const floor = await startFloor(['--tls-cert', tls.cert, '--tls-key', tls.key]);
  let rf;
  try {
    assert.match(floor.log(), /fragments at 30\.00 fps on .*, wss/);
    rf = await runLoad(floor.port, floor.proc.pid, 'floor', ['--tls']);
    assertHealthy(rf, floor.proc.pid);
    assert.equal(rf.groups.normal.frames_missing, 0);
    // The floor says what its first client negotiated (and, with --ktls,
    // whether the kernel does the sending: bench/run.mjs asks).
    assert.match(floor.log(), /first TLS handshake: TLSv1\.3 TLS_AES_128_GCM_SHA256, ktls send: off/);
  } finally {
    await floor.stop();
  }
  for (const r of [rv, rf]) {
    assert.deepEqual(r.tls, { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', handshakes: VIEWERS, differing: 0 });
  }
  assert.deepEqual(rv.tls, rf.tls, 'vigil and the floor negotiated the same');
});

// run.mjs -- `make bench`: vigil against the floor, scenario by scenario.
//
//   node bench/run.mjs              full run (about 10 minutes)
//   BENCH_QUICK=1 node bench/run.mjs   short run (about 3 minutes), same table
//   BENCH_ONLY=one,4000,max,wss,streams,syscalls,throttled,transcode,record   only these scenarios
//   BENCH_DURATION=S                the measured window, in seconds
//   BENCH_REPEAT=N                  1000-viewer pairs (vigil, floor) to take
//                                   the median of (default 3; 1 when quick)
//
// Each scenario starts a fresh server pinned to one core (taskset -c
// $BENCH_SERVER_CPU, default 0) -- vigil with a config whose streams play
// build/bench/clip.mp4 through file://, or vigil-floor replaying the same
// clip's fragments -- then runs build/bench/vigil-load on the other core
// ($BENCH_CLIENT_CPU, default 1), bounded in time and connections, on
// 127.0.0.1 only. The load client's JSON reports are collected; the table of
// figures goes to stdout and everything to build/bench/results.json.
//
// The `wss` scenario measures both servers over TLS (what real deployments
// serve): vigil with server.tls_cert/tls_key, the floor with --tls-cert/
// --tls-key, both with a self-signed P-256 certificate made once with the
// openssl CLI (build/bench/tls.pem, tls.key), the load client with --tls
// choosing TLS 1.3 and TLS_AES_128_GCM_SHA256 for both.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { h265Clip, measureTranscode } from './transcode.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const B = path.join(ROOT, 'build');
const VIGIL = process.env.VIGIL_BIN || path.join(B, 'vigil');
const LOAD = path.join(B, 'bench/vigil-load');
const FLOOR = path.join(B, 'bench/vigil-floor');
const CLIP = path.join(B, 'bench/clip.mp4');
const FRAGS = path.join(B, 'bench/clip.fmp4');
const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : null;
const SERVER_CPU = process.env.BENCH_SERVER_CPU ?? '0';
const CLIENT_CPU = process.env.BENCH_CLIENT_CPU ?? '1';
const PIN = os.cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;

// Window lengths: long enough that one frame more or less is noise.
const T = QUICK ? { warmup: 1, duration: 4 } : { warmup: 2, duration: 10 };
if (process.env.BENCH_DURATION) T.duration = +process.env.BENCH_DURATION;
// The 1000-viewer figures vary by 10-20 % from one fresh server to the next on
// a VM; they come from REPEAT back-to-back (vigil, floor) pairs: medians, and
// the median of the per-pair ratios.
const REPEAT = Math.max(1, +(process.env.BENCH_REPEAT ?? (QUICK ? 1 : 3)));
const MIB = 1024;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function pinned(cpu, argv) {
  return PIN ? ['taskset', ['-c', cpu, ...argv]] : [argv[0], argv.slice(1)];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// A server process on the server core; stop() ends it (SIGTERM, then SIGKILL).
function startProc(argv, name) {
  const [cmd, args] = pinned(SERVER_CPU, argv);
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log = (log + d).slice(-4000); });
  const exited = new Promise((r) => proc.on('exit', r));
  return {
    proc, name, log: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

// The certificate and key both servers serve wss with: self-signed, EC
// P-256, made once (the load client checks nothing; 127.0.0.1 only).
function tlsFiles() {
  const cert = path.join(B, 'bench/tls.pem'), key = path.join(B, 'bench/tls.key');
  if (!existsSync(cert) || !existsSync(key)) {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', key, '-out', cert, '-days', '3650', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl req: ${r.stderr}`);
  }
  return { cert, key };
}

// GET a JSON document; over https the certificate is not checked (our own).
// No keep-alive: a pooled connection would be one more client of the server.
function getJson(url) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { agent: false, rejectUnauthorized: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch (e) { reject(e); } });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function startVigil(streams, recordPath = null, tls = null) {
  // Anonymous viewers of these streams (they say hello without a token), and
  // every viewer from 127.0.0.1: the default per-address limit is 1000.
  // With recordPath, every stream records continuously there; with tls
  // ({cert, key}), it serves https and wss only.
  const record = recordPath ? { record: { mode: 'continuous', segment_s: 60 } } : {};
  return startVigilWith({
    server: { bind: '127.0.0.1', log_level: 'warn', max_connections: 100000, max_connections_per_ip: 100000,
      ...(recordPath ? { record_path: recordPath } : {}),
      ...(tls ? { tls_cert: tls.cert, tls_key: tls.key } : {}) },
    auth: { anonymous: { streams } },
    streams: streams.map((id) => ({ id, source: `file://${CLIP}`, ...record })),
  });
}

// Bytes the process made the kernel write to storage (/proc/PID/io).
function writeBytes(pid) {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

// vigil with `config` (its port chosen here), once every stream is live.
async function startVigilWith(config) {
  const port = await freePort();
  config = { ...config, server: { ...config.server, port } };
  const streams = config.streams;
  const file = path.join(tmp, `vigil-${port}.json`);
  writeFileSync(file, JSON.stringify(config));
  const srv = startProc([VIGIL, '--config', file, '--web-root', path.join(ROOT, 'web')], 'vigil');
  srv.port = port;
  srv.tls = Boolean(config.server.tls_cert);
  const deadline = Date.now() + 30000;
  for (;;) {
    if (srv.proc.exitCode !== null) throw new Error(`vigil exited: ${srv.log()}`);
    try {
      const list = await getJson(`${srv.tls ? 'https' : 'http'}://127.0.0.1:${port}/api/streams`);
      if (list.length === streams.length && list.every((s) => s.state === 'live')) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) { await srv.stop(); throw new Error(`vigil streams not live: ${srv.log()}`); }
    await sleep(200);
  }
  await sleep(1500); // a full GOP in every cache, as the floor has
  return srv;
}

// The floor; with opts.tls ({cert, key}) serving wss, with opts.ktls asking
// for kernel TLS.
async function startFloor(nstreams, opts = {}) {
  const port = await freePort();
  const argv = [FLOOR, '--clip', FRAGS, '--port', String(port), '--streams', String(nstreams)];
  if (opts.tls) argv.push('--tls-cert', opts.tls.cert, '--tls-key', opts.tls.key, ...(opts.ktls ? ['--ktls'] : []));
  const srv = startProc(argv, 'floor');
  srv.port = port;
  srv.tls = Boolean(opts.tls);
  const deadline = Date.now() + 10000;
  while (!(await canConnect(port))) {
    if (srv.proc.exitCode !== null || Date.now() > deadline) throw new Error(`floor did not start: ${srv.log()}`);
    await sleep(50);
  }
  await sleep(1500);
  return srv;
}

// Runs the load client against a started server; resolves with its report.
function load(srv, streams, viewers, opts = {}) {
  const ramp = opts.ramp ?? Math.max(1, viewers / 1000);
  const argv = [LOAD, '--port', String(srv.port), '--pid', String(srv.proc.pid),
    '--stream', streams.join(','), '--viewers', String(viewers), '--ramp', String(ramp),
    '--warmup', String(T.warmup), '--duration', String(opts.duration ?? T.duration),
    '--label', `${srv.name} ${viewers}${srv.tls ? ' wss' : ''}`, ...(srv.tls ? ['--tls'] : [])];
  if (opts.throttleFraction) {
    argv.push('--throttle-fraction', String(opts.throttleFraction), '--throttle-bps', String(opts.throttleBps));
  }
  const [cmd, args] = pinned(CLIENT_CPU, argv);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    // Bounded: ramp + the connect timeout (15 s) + warmup + window + margin.
    const limit = (ramp + 15 + T.warmup + (opts.duration ?? T.duration) + 30) * 1000;
    const t = setTimeout(() => p.kill('SIGKILL'), limit);
    p.on('exit', (code) => {
      clearTimeout(t);
      try { resolve(JSON.parse(out)); } catch { reject(new Error(`vigil-load exited ${code}: ${err}`)); }
    });
  });
}

// What the floor said of its first TLS handshake (floor_tls.h): version,
// suite, and whether kernel TLS did the sending.
function floorTls(log) {
  const m = /first TLS handshake: (\S+) (\S+), ktls send: (.*)$/m.exec(log);
  return m ? { version: m[1], cipher: m[2], ktls: m[3], ktls_in_use: m[3] === 'in use' } : null;
}

async function measure(kind, streams, viewers, opts = {}) {
  const srv = kind === 'vigil' ? await startVigil(streams, opts.record, opts.tls) : await startFloor(streams.length, opts);
  let r;
  try {
    const w0 = writeBytes(srv.proc.pid), t0 = Date.now();
    r = await load(srv, streams, viewers, opts);
    r.server.write_bytes_per_s = (writeBytes(srv.proc.pid) - w0) / ((Date.now() - t0) / 1000);
    const g = r.groups.normal;
    // What else ran on the server's core during the window (other users of a shared machine).
    r.other_load_server_cpu = Math.max(0, (r.cpu_busy[+SERVER_CPU] ?? 0) - r.server.cpu_util);
    r.other_load_client_cpu = Math.max(0, (r.cpu_busy[+CLIENT_CPU] ?? 0) - r.client_cpu_util);
    if (r.other_load_server_cpu > 0.15 || r.other_load_client_cpu > 0.3) noisy = true;
    console.error(`  ${(kind + (srv.tls ? ' wss' : '')).padEnd(9)} ${String(viewers).padStart(5)} viewers: ${r.server.cpu_s_per_gb.toFixed(3)} CPU s/GB, ` +
      `cpu ${(r.server.cpu_util * 100).toFixed(0)}%, rss ${(r.server.rss_peak_kb / MIB).toFixed(1)} MiB, ` +
      `lat p99 ${g.latency_ms.p99} ms, key p99 ${g.first_keyframe_ms.p99} ms, ` +
      `delivered ${(delivered(r) * 100).toFixed(2)}%, failed ${r.failed}, client cpu ${(r.client_cpu_util * 100).toFixed(0)}%, ` +
      `others on server/client core ${(r.other_load_server_cpu * 100).toFixed(0)}%/${(r.other_load_client_cpu * 100).toFixed(0)}%` +
      (r.tls ? `, ${r.tls.version} ${r.tls.cipher}` : ''));
  } finally {
    await srv.stop();
  }
  if (kind === 'floor' && srv.tls) r.floor_tls = floorTls(srv.log());
  return r;
}

// Share of the frames the viewers should have had: gaps, stalls and failed
// viewers all count against it.
function delivered(r) {
  const g = r.groups.normal;
  return Math.min(g.delivered_ratio, g.frames_vs_expected);
}

// ---- scenarios -----------------------------------------------------------

const ONE = ['clip'];
const results = { machine: machine(), date: new Date().toISOString(), quick: QUICK, pinned: PIN, window: T, scenarios: {} };
const rows = [];
// A figure is marked noisy when, during a run it comes from, other processes
// used more than 15 % of the server's core or 30 % of the client's.
let noisy = false;
function row(figure, vigil, floor, ratio, target, pass) {
  rows.push({ figure, vigil, floor, ratio, target, pass, noisy });
}
const f2 = (x) => (x == null ? '-' : Number(x).toFixed(2));
const want = (name) => !ONLY || ONLY.includes(name);

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

// REPEAT back-to-back (vigil, floor) pairs of 1000 viewers within 1 s.
async function pairsAt1000(opts = {}) {
  const pairs = [];
  for (let i = 0; i < REPEAT; i++) {
    const v = await measure('vigil', ONE, 1000, { ramp: 1, ...opts });
    const f = await measure('floor', ONE, 1000, { ramp: 1, ...opts });
    pairs.push({ vigil: v, floor: f });
  }
  return pairs;
}

const cpu = (r) => r.server.cpu_s_per_gb;
const p99 = (r) => r.groups.normal.latency_ms.p99;
// The smallest and largest of a figure over the runs, for the table: how far
// one run can be from another on this machine.
const spread = (xs, fmt = f2) => (xs.length > 1 ? ` [${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}]` : '');

async function scenarioOne() {
  noisy = false;
  const pairs = await pairsAt1000();
  results.scenarios.one = { pairs };
  const V = pairs.map((p) => p.vigil), F = pairs.map((p) => p.floor);
  const key = (r) => r.groups.normal.first_keyframe_ms.p99, rss = (r) => r.server.rss_peak_kb;
  const many = REPEAT > 1 ? ` (median of ${REPEAT})` : '';
  // Throttled and other scenarios compare with these medians.
  results.scenarios.one.median = { vigil_cpu_s_per_gb: median(V.map(cpu)), vigil_p99: median(V.map(p99)), floor_p99: median(F.map(p99)), vigil_rss_kb: Math.max(...V.map(rss)) };
  const ratios = pairs.map((p) => cpu(p.vigil) / cpu(p.floor));
  const ratio = median(ratios);
  row(`CPU s/GB, 1000 viewers${many}`, f2(median(V.map(cpu))) + spread(V.map(cpu)), f2(median(F.map(cpu))) + spread(F.map(cpu)),
    f2(ratio) + spread(ratios), '<= 1.15x floor', ratio <= 1.15);
  // Memory: the largest peak of the runs, not the median.
  const rv = Math.max(...V.map(rss));
  row(`peak RSS MiB, 1000 viewers${REPEAT > 1 ? ` (max of ${REPEAT})` : ''}`, f2(rv / MIB) + spread(V.map((r) => rss(r) / MIB)),
    f2(Math.max(...F.map(rss)) / MIB), '', '<= 16 MiB', rv <= 16 * MIB);
  // What the relay adds over the floor's own p99, pair by pair.
  const added = pairs.map((p) => p99(p.vigil) - p99(p.floor));
  const lv = median(V.map(p99)), lf = median(F.map(p99)), la = median(added);
  row(`latency p99 ms, 1000 viewers${many}`, f2(lv) + spread(V.map(p99)), f2(lf) + spread(F.map(p99)),
    `${la >= 0 ? '+' : ''}${f2(la)} ms` + spread(added), '<= floor + 2 ms', la <= 2);
  const kv = median(V.map(key)), kf = median(F.map(key));
  row(`subscribe->keyframe p99 ms, 1000${many}`, f2(kv), f2(kf), '', '<= 50 ms', kv <= 50 && V.every((r) => r.failed === 0));
  // The connect phase of these runs is the storm: 1000 viewers within 1 s.
  const sv = median(V.map((r) => r.connect_phase.server_cpu_s)), sf = median(F.map((r) => r.connect_phase.server_cpu_s));
  row(`storm: 1000 in 1 s, server CPU s${many}`, f2(sv), f2(sf), sf > 0 ? f2(sv / sf) : '', 'all served, reported',
    V.every((r) => r.got_keyframe === 1000 && r.failed === 0));
}

// 4000 viewers of one stream on one core: more than vigil's core (and the
// floor's) can always write in time. REPEAT back-to-back pairs.
async function scenarioFourK() {
  noisy = false;
  const n = 4000, pairs = [];
  for (let i = 0; i < REPEAT; i++) pairs.push({ vigil: await measure('vigil', ONE, n), floor: await measure('floor', ONE, n) });
  results.scenarios.viewers4000 = { pairs };
  const V = pairs.map((p) => p.vigil), F = pairs.map((p) => p.floor);
  const many = REPEAT > 1 ? ` (median of ${REPEAT})` : '';
  const pct = (r) => delivered(r) * 100, pp = (x) => x.toFixed(1);
  const dv = median(V.map(pct)), df = median(F.map(pct));
  const failed = Math.max(...V.map((r) => r.failed));
  row(`4000 viewers: delivered %${many}, most failed`, `${f2(dv)}${spread(V.map(pct), pp)}, ${failed} failed`,
    `${f2(df)}${spread(F.map(pct), pp)}, ${Math.max(...F.map((r) => r.failed))} failed`, `${dv - df >= 0 ? '+' : ''}${f2(dv - df)} points`,
    'within 3 points of the floor, 0 failed', failed === 0 && dv >= df - 3);
  // Under overload a viewer gets fresh frames or skips (viewer_queue_ms,
  // 500 ms by default): how late the delivered frames are.
  const lv = median(V.map(p99));
  row(`4000 viewers: latency p99 ms (overload)${many}`, f2(lv) + spread(V.map(p99)), f2(median(F.map(p99))) + spread(F.map(p99)), '', '<= 250 ms', lv <= 250);
}

// The most viewers served with >= 95 % of frames: from 1000, grow by 1.5x
// until a probe fails or the cap, then bisect (twice; once when quick). Every
// probe is a fresh server, started with opts (measure's: tls).
async function maxViewers(kind, opts = {}) {
  const cap = QUICK ? 8000 : 16000;
  const probes = [];
  const ok = async (n) => {
    const r = await measure(kind, ONE, n, { duration: QUICK ? 3 : 5, ...opts });
    const pass = r.failed <= n * 0.01 && delivered(r) >= 0.95;
    probes.push({ viewers: n, pass, delivered: delivered(r), failed: r.failed, cpu_util: r.server.cpu_util, client_cpu_util: r.client_cpu_util });
    return pass;
  };
  let good = 0, bad = 0;
  for (let n = opts.from ?? 1000; ; n = Math.min(cap, Math.round(n * 1.5 / 500) * 500)) {
    if (await ok(n)) good = n; else { bad = n; break; }
    if (n >= cap) break;
  }
  for (let i = 0; bad && i < (QUICK ? 1 : 2) && bad - good > 250; i++) {
    const mid = Math.round((good + bad) / 2 / 125) * 125;
    if (await ok(mid)) good = mid; else bad = mid;
  }
  // The load client has one core too: when it was (nearly) full in the
  // probe that failed, the figure is the client's limit as much as the server's.
  const failed = probes.find((p) => p.viewers === bad);
  return { held: good, capped: !bad, client_bound: Boolean(failed && failed.client_cpu_util >= 0.9), probes };
}

const fmtHeld = (x) => `${x.held}${x.capped ? '+' : ''}${x.client_bound ? ' (client-bound)' : ''}`;

// REPEAT back-to-back (vigil, floor) bisections, from 2000 viewers.
async function scenarioMax() {
  noisy = false;
  const pairs = [];
  for (let i = 0; i < REPEAT; i++) pairs.push({ vigil: await maxViewers('vigil', { from: 2000 }), floor: await maxViewers('floor', { from: 2000 }) });
  results.scenarios.max_viewers = { pairs };
  const held = (x) => x.held;
  const V = pairs.map((p) => p.vigil), F = pairs.map((p) => p.floor);
  const ratios = pairs.map((p) => (p.floor.held ? p.vigil.held / p.floor.held : 0));
  const ratio = median(ratios);
  const flags = (xs) => (xs.some((x) => x.capped) ? '+' : '') + (xs.some((x) => x.client_bound) ? ' (client-bound)' : '');
  const many = REPEAT > 1 ? ` (median of ${REPEAT})` : '';
  const n0 = (x) => x.toFixed(0);
  row(`most viewers held (>= 95 % frames)${many}`, `${median(V.map(held))}${flags(V)}${spread(V.map(held), n0)}`,
    `${median(F.map(held))}${flags(F)}${spread(F.map(held), n0)}`, f2(ratio) + spread(ratios), '>= 0.9x floor', ratio >= 0.9);
}

// wss: vigil over TLS against the floor over TLS, the same suite on both
// (the load client picks it). (a) CPU per GB at 1000 viewers from REPEAT
// pairs: medians, the median of the per-pair ratios and their spread;
// (b) the most viewers held, bisected as in `max`; (c) the floor once more
// with --ktls, and whether the kernel did the sending.
async function scenarioWss() {
  noisy = false;
  const tls = tlsFiles();
  const pairs = await pairsAt1000({ tls });
  const V = pairs.map((p) => p.vigil), F = pairs.map((p) => p.floor);
  const ratios = pairs.map((p) => cpu(p.vigil) / cpu(p.floor));
  const ratio = median(ratios), spread = [Math.min(...ratios), Math.max(...ratios)];
  // Every handshake of every run: one version and suite, the same for both.
  const suites = [...new Set([...V, ...F].map((r) => (r.tls && !r.tls.differing ? `${r.tls.version} ${r.tls.cipher}` : 'mixed')))];
  const wss = results.scenarios.wss = {
    pairs, suites, same_suite: suites.length === 1 && suites[0] !== 'mixed',
    median: { vigil_cpu_s_per_gb: median(V.map(cpu)), floor_cpu_s_per_gb: median(F.map(cpu)), ratio, ratio_spread: spread },
  };
  const many = REPEAT > 1 ? ` (median of ${REPEAT})` : '';
  const sp = REPEAT > 1 ? ` (pairs ${ratios.map(f2).join(', ')})` : '';
  row(`wss CPU s per GB, 1000 viewers${many}`, f2(wss.median.vigil_cpu_s_per_gb), f2(wss.median.floor_cpu_s_per_gb),
    `${f2(ratio)}${sp}`, `<= 1.2x TLS floor, ${suites.join(' / ')}`, ratio <= 1.2 && wss.same_suite);

  noisy = false;
  const v = await maxViewers('vigil', { tls }), f = await maxViewers('floor', { tls });
  wss.max_viewers = { vigil: v, floor: f };
  const held = f.held ? v.held / f.held : 0;
  row('wss most viewers held (>= 95 % frames)', fmtHeld(v), fmtHeld(f), f2(held), 'reported', v.held > 0 && f.held > 0);

  noisy = false;
  const k = await measure('floor', ONE, 1000, { ramp: 1, tls, ktls: true });
  wss.floor_ktls = { run: k, ktls: k.floor_tls?.ktls ?? 'not reported', ktls_in_use: k.floor_tls?.ktls_in_use ?? false };
  console.error(`  floor --ktls: kernel TLS send ${wss.floor_ktls.ktls}`);
  row('wss floor with --ktls: CPU s per GB, 1000', '', `${f2(cpu(k))} (kTLS ${wss.floor_ktls.ktls_in_use ? 'in use' : 'not in use'})`,
    f2(cpu(k) / wss.median.floor_cpu_s_per_gb), 'reported', k.floor_tls !== null);
}

async function scenarioStreams() {
  noisy = false;
  const streams = Array.from({ length: 50 }, (_, i) => `s${i}`);
  const pairs = [];
  for (let i = 0; i < REPEAT; i++) pairs.push({ vigil: await measure('vigil', streams, 1000), floor: await measure('floor', streams, 1000) });
  results.scenarios.streams50 = { pairs };
  const V = pairs.map((p) => p.vigil), F = pairs.map((p) => p.floor);
  const one = results.scenarios.one;
  const base = one ? one.median.vigil_cpu_s_per_gb : null;
  const cv = median(V.map(cpu)), rel = base ? cv / base : null;
  const many = REPEAT > 1 ? ` (median of ${REPEAT})` : '';
  row(`50 streams x 20: CPU s/GB${many}`, f2(cv) + spread(V.map(cpu)), f2(median(F.map(cpu))) + spread(F.map(cpu)),
    f2(median(pairs.map((p) => cpu(p.vigil) / cpu(p.floor)))), `<= 1.3x 1 x 1000 (${rel ? f2(rel) + 'x' : 'n/a'})`,
    rel !== null && rel <= 1.3);
}

// Throttled viewers need time to overflow: their socket buffers and a queue
// of 128 frames (about 1 MB) fill at half the stream's rate, about 8 s.
async function scenarioThrottled() {
  noisy = false;
  const opts = { throttleFraction: 0.1, throttleBps: 1000000, duration: QUICK ? 12 : 20 };
  const v = await measure('vigil', ONE, 1000, opts);
  const f = await measure('floor', ONE, 1000, opts);
  results.scenarios.throttled = { vigil: v, floor: f };
  const one = results.scenarios.one;
  const base = one ? one.median.vigil_p99 : null;
  const d = base !== null ? v.groups.normal.latency_ms.p99 - base : null;
  const t = v.groups.throttled;
  row('10% throttled: others p99 change ms', f2(d), f2(one ? f.groups.normal.latency_ms.p99 - one.median.floor_p99 : null), '', '< 5 ms', d !== null && d < 5);
  row('10% throttled: skips / closed / missing', `${t.skips_flagged} / ${v.closes['4001'] ?? 0} / ${t.frames_missing}`,
    `- / - / ${f.groups.throttled.frames_missing}`, '', 'skipped or closed', t.skips_flagged + (v.closes['4001'] ?? 0) > 0 || t.frames_missing > 0);
  const rb = one ? one.median.vigil_rss_kb : null;
  row('10% throttled: peak RSS MiB', f2(v.server.rss_peak_kb / MIB), f2(f.server.rss_peak_kb / MIB), '',
    `bounded (1000: ${rb ? f2(rb / MIB) : 'n/a'})`, rb !== null && v.server.rss_peak_kb <= rb * 1.5 + 8 * MIB);
}

// Recording's price: 20 streams with 20 viewers each, recording off, then
// on (continuous, to build/bench/record, on the disk the recordings of a real
// install would use; /tmp may be memory): the server's CPU, what it wrote to
// storage per second, its peak RSS (a recorded stream also holds its clips'
// pre-roll: README "Clips"), and whether the viewers' latency moved.
async function scenarioRecord() {
  noisy = false;
  const streams = Array.from({ length: 20 }, (_, i) => `r${i}`);
  const dir = path.join(B, 'bench/record');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const off = await measure('vigil', streams, 400);
  const on = await measure('vigil', streams, 400, { record: dir });
  let files = 0, bytes = 0;
  for (const id of streams) {
    for (const f of readdirSync(path.join(dir, id), { withFileTypes: true })) {
      if (f.isFile() && f.name.endsWith('.mp4')) { files++; bytes += statSync(path.join(dir, id, f.name)).size; }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  results.scenarios.record = { off, on, files, bytes };
  const cores = on.server.cpu_util - off.server.cpu_util;
  const dp99 = on.groups.normal.latency_ms.p99 - off.groups.normal.latency_ms.p99;
  row('record 20 streams: CPU cores off / on', `${f2(off.server.cpu_util)} / ${f2(on.server.cpu_util)}`, '', '',
    'reported', files >= streams.length);
  row('record 20 streams: written MB/s', f2(on.server.write_bytes_per_s / 1e6), '', '',
    `~ 20 x the clip (${files} files)`, on.server.write_bytes_per_s > 0);
  row('record 20 streams: viewers p99 change ms', f2(dp99), '', '', '< 5 ms', dp99 < 5);
  row('record 20 streams: peak RSS MiB off / on', `${f2(off.server.rss_peak_kb / MIB)} / ${f2(on.server.rss_peak_kb / MIB)}`, '', '',
    'pre-roll: ~ 20 x 10 s of the clip', true);
  console.error(`  record: +${f2(cores)} cores for 20 streams, ${f2(on.server.write_bytes_per_s / 1e6)} MB/s, ${files} files, ${bytes} bytes`);
}

// The transcode's price: CPU and added latency (bench/transcode.mjs).
async function scenarioTranscode() {
  noisy = false;
  const r = await measureTranscode({ startServer: startVigilWith, clip: h265Clip(path.join(B, 'bench')),
    warmupS: T.warmup + 1, durationS: T.duration });
  results.scenarios.transcode = r;
  console.error(`  transcode: ${JSON.stringify(r)}`);
  row('transcode H.265 720p30 -> H.264: CPU cores', f2(r.cpu_cores_transcode), '', '',
    '< 1 core, >= 27 fps', r.variant === 'transcode' && r.cpu_cores_transcode < 1 && r.transcode_fps >= 27);
  row('transcode: added latency ms p50 / p95', `${f2(r.added_latency_ms.p50)} / ${f2(r.added_latency_ms.p95)}`, '', '',
    'p50 <= 150 ms', r.added_latency_ms.matched > 100 && r.added_latency_ms.p50 <= 150);
  row('transcode: subscribe -> first picture ms', f2(r.first_picture_ms), '', '', '<= 1000 ms',
    r.first_picture_ms !== null && r.first_picture_ms <= 1000);
}

// System calls per frame per viewer (docs/PERFORMANCE.md keeps the table):
// 500 viewers of one stream, `perf stat` counting the server's system calls
// for 5 s in the middle of the window, vigil then the floor. Skipped, and
// said so, where perf or its tracepoints are missing.
const SYSCALLS = ['sendto', 'sendmsg', 'writev', 'write', 'read', 'recvfrom', 'epoll_wait', 'epoll_ctl', 'futex'];
async function countSyscalls(kind) {
  const n = 500, seconds = 5;
  const srv = kind === 'vigil' ? await startVigil(ONE) : await startFloor(1);
  try {
    const loading = load(srv, ONE, n, { ramp: 1, duration: seconds + 4 });
    await sleep((1 + T.warmup + 2) * 1000);
    const events = SYSCALLS.map((c) => `syscalls:sys_enter_${c}`).join(',');
    const perf = spawnSync('perf', ['stat', '-x', ',', '-e', events, '-p', String(srv.proc.pid), '--', 'sleep', String(seconds)], { encoding: 'utf8' });
    const report = await loading;
    if (perf.status !== 0) return { error: (perf.stderr || 'perf failed').trim().split('\n').pop() };
    const counts = {};
    for (const line of perf.stderr.split('\n')) {
      const [value, , event] = line.split(',');
      const name = /sys_enter_(\w+)/.exec(event ?? '')?.[1];
      if (name && /^\d+$/.test(value)) counts[name] = Number(value);
    }
    // Deliveries in those seconds: every viewer should get every frame.
    const deliveries = n * 30 * seconds * delivered(report);
    const per = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / deliveries]));
    console.error(`  ${kind} syscalls per delivery: ${Object.entries(per).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
    return { viewers: n, seconds, deliveries, counts, per_delivery: per };
  } finally {
    await srv.stop();
  }
}

async function scenarioSyscalls() {
  noisy = false;
  const v = await countSyscalls('vigil'), f = await countSyscalls('floor');
  results.scenarios.syscalls = { vigil: v, floor: f };
  const fmt = (x) => (x.error ? `n/a (${x.error})` : Object.entries(x.per_delivery).filter(([, n]) => n >= 0.001)
    .map(([k, n]) => `${k} ${n.toFixed(3)}`).join(', '));
  row('system calls per frame per viewer, 500', fmt(v), fmt(f), '', 'reported', !v.error && !f.error);
}

function machine() {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model, cores: cpus.length, kernel: os.release(), mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1), load_avg: os.loadavg() };
}

function printTable() {
  const head = ['figure', 'vigil', 'floor', 'ratio', 'target', 'pass'];
  const body = rows.map((r) => [r.figure, r.vigil, r.floor, r.ratio, r.target,
    (r.pass ? 'PASS' : 'FAIL') + (r.noisy ? ' (noisy)' : '')]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => '| ' + cells.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
  for (const b of body) console.log(line(b));
}

const t0 = Date.now();
const make = spawnSync('make', ['-s', '-C', ROOT, 'build/vigil', 'build/bench/vigil-load', 'build/bench/vigil-floor', 'build/bench/clip.mp4'], { stdio: 'inherit' });
if (make.status !== 0) process.exit(1);
console.error(`bench: ${QUICK ? 'quick' : 'full'} run, server on cpu ${SERVER_CPU}, client on cpu ${CLIENT_CPU}${PIN ? '' : ' (NOT pinned: taskset or a second core missing)'}; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
if (want('one') || want('storm')) await scenarioOne();
if (want('4000')) await scenarioFourK();
if (want('max')) await scenarioMax();
if (want('wss')) await scenarioWss();
if (want('streams')) await scenarioStreams();
if (want('syscalls')) await scenarioSyscalls();
if (want('throttled')) await scenarioThrottled();
if (want('transcode')) await scenarioTranscode();
if (want('record')) await scenarioRecord();
results.table = rows;
results.elapsed_s = (Date.now() - t0) / 1000;
writeFileSync(path.join(B, 'bench/results.json'), JSON.stringify(results, null, 2));
printTable();
console.log(`\n${rows.filter((r) => r.pass).length}/${rows.length} targets met; details in build/bench/results.json (${results.elapsed_s.toFixed(0)} s)`);

// cluster.mjs -- `make bench-cluster`: what a vigil cluster costs on this
// machine (docs/PERFORMANCE.md, "Cluster").
//
//   node bench/cluster.mjs            (about 2 minutes)
//   BENCH_DURATION=S                  the latency window (default 20)
//   BENCH_CPU_DURATION=S              each CPU window (default 15)
//   BENCH_CPU_SOURCE=file|test        the CPU part's stream (default file)
//   BENCH_EDGE_VIEWERS=N              viewers on each edge (default 10)
//   BENCH_ONLY=latency|cpu            one part only
//   VIGIL_BIN=path                    another build of vigil (default build/vigil)
//   BENCH_JSON=path                   where the results go (default build/bench/cluster.json)
//
// Three nats-servers with JetStream, clustered on loopback
// (tests/lib/nats.js), and vigil nodes (build/vigil, VIGIL_BIN) with a
// "cluster" section each, the same streams on all. The first node started
// takes the stream's lease and ingests it (the origin); the others are edges:
// a viewer there makes the edge subscribe to the stream's frames on NATS.
//
// 1. Latency the NATS hop adds. Two nodes, a test:// stream (x264, 1280x720,
//    30 fps, 2 Mbit/s). On each node a WebCodecs and an MSE viewer (ws, in
//    this process). The 16-byte vigil.v1 header carries `time`, the
//    origin's wall clock when the frame left its pipeline, kept across the
//    NATS hop; all processes share one clock. Per media frame and viewer:
//    arrival (this process's wall clock, µs) - time. Reported: p50/p99 at
//    the origin and at the edge, and of the per-frame difference edge -
//    origin (the same frame, matched by its time and kind).
// 2. CPU per stream. Four nodes; the stream (default: build/bench/clip.mp4
//    through file://, 720p30 2 Mbit/s, demuxed and not encoded, so that the
//    pipeline does not drown the cluster's share in x264's noise) ingested
//    by the origin, which has no viewer. Cases: 0, 1 and 3 edges with
//    BENCH_EDGE_VIEWERS viewers each (half MSE, half WebCodecs). Per case,
//    over the window: utime+stime (/proc/PID/stat) of the origin, of each
//    edge, of the nats-servers, and the machine's busy share (/proc/stat),
//    so that other load is visible. Target: the origin flat in the number
//    of edges (it publishes each frame once, whoever listens).
//
// Results: stdout and build/bench/cluster.json. Every process started here
// dies with it: vigil nodes are stopped at the end and SIGKILLed on exit or
// a signal; the nats-servers die with this process (tests/lib/nats.js).
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { ROOT, VIGIL_BIN, freePort, sleep, startVigil } from '../tests/lib/vigil.js';
import { monitor, natsServerVersion, startNatsCluster } from '../tests/lib/nats.js';

// ws is one of the tests' npm packages (tests/node_modules).
const WebSocket = createRequire(path.join(ROOT, 'tests/package.json'))('ws');

const LAT_S = +(process.env.BENCH_DURATION ?? 20);
const CPU_S = +(process.env.BENCH_CPU_DURATION ?? 15);
const CPU_SOURCE = process.env.BENCH_CPU_SOURCE ?? 'file';
const EDGE_VIEWERS = +(process.env.BENCH_EDGE_VIEWERS ?? 10);
const ONLY = process.env.BENCH_ONLY ?? '';
const WARMUP_S = 3;
const CLIP = path.join(ROOT, 'build/bench/clip.mp4');
const TICK = 100; // USER_HZ on Linux
const STREAM = 'cam';
const TEST_720P = { width: 1280, height: 720, fps: 30, bitrate_kbps: 2000 };

// ---- every process started here dies with it -------------------------------

const nodes = new Set(); // running vigil nodes (startVigil handles)
let nats = null;
function killAll() {
  for (const n of nodes) {
    try { n.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
  nodes.clear();
  // tests/lib/nats.js SIGKILLs its servers on 'exit' too.
  for (const s of nats?.servers ?? []) {
    try { s.proc?.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { console.error(`\n${sig}: stopping`); killAll(); process.exit(130); });
}
// The whole run is bounded: a hang anywhere ends it.
const WATCHDOG_S = 60 + LAT_S + 4 * (CPU_S + 30) + 120;
setTimeout(() => { console.error(`bench-cluster: still running after ${WATCHDOG_S} s, giving up`); killAll(); process.exit(2); }, WATCHDOG_S * 1000).unref();

// ---- clocks and /proc -------------------------------------------------------

// This process's wall clock in µs, finer than Date.now(): performance.now()
// plus an offset. Each sample Date.now()*1000 - performance.now()*1000 is
// below the true offset by the part of the millisecond Date.now() dropped
// (and by any delay between the two reads), never above: the offset is the
// largest sample of the last one to two seconds, sampled at every frame and
// every 10 ms, so it follows the wall clock if it is slewed.
let offBucket = Math.floor(performance.now() / 1000), offCur = -Infinity, offPrev = -Infinity;
function sampleOffset() {
  const d = Date.now(), p = performance.now();
  const b = Math.floor(p / 1000);
  if (b !== offBucket) { offPrev = b === offBucket + 1 ? offCur : -Infinity; offCur = -Infinity; offBucket = b; }
  offCur = Math.max(offCur, d * 1000 - p * 1000);
  return p;
}
for (let i = 0; i < 2000; i++) sampleOffset();
setInterval(sampleOffset, 10).unref();
const nowUs = () => { const p = sampleOffset(); return p * 1000 + Math.max(offCur, offPrev); };

// utime+stime of a process (all its threads), in seconds; null once gone.
function cpuS(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return null;
  }
}

// Per thread name (comm), utime+stime in seconds: which threads did the work.
function threadsS(pid) {
  const out = {};
  let tids = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12])) / TICK;
    } catch { /* thread gone */ }
  }
  return out;
}

// All CPUs' busy and total time from /proc/stat, in seconds.
function machine() {
  const l = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = l;
  const busy = user + nice + system + irq + softirq + steal;
  return { busyS: busy / TICK, totalS: (busy + idle + iowait) / TICK };
}

function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? +(Number(m[1]) / 1024).toFixed(1) : null;
  } catch {
    return null;
  }
}

// The p-th percentile (nearest rank) of numbers; null when empty.
function pct(values, p) {
  if (!values.length) return null;
  const v = Float64Array.from(values).sort();
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}
const ms = (us) => (us === null ? null : +(us / 1000).toFixed(2));

// ---- vigil nodes --------------------------------------------------------------

// A vigil node of cluster `name` with node id `id`, the stream `source`.
async function startNode(id, name, stream) {
  const port = await freePort();
  const v = await startVigil({
    port,
    config: {
      server: { bind: '127.0.0.1', log_level: 'warn', max_connections_per_ip: 10000 },
      streams: [{ id: STREAM, ...stream }],
      cluster: {
        node_id: id, nats: nats.urls, name, advertise_url: `http://127.0.0.1:${port}/`, lease_ms: 3000,
      },
    },
  });
  v.id = id;
  nodes.add(v);
  return v;
}

// The same stream on a vigil with no "cluster" section: the baseline.
async function startAlone(stream) {
  const v = await startVigil({
    config: {
      server: { bind: '127.0.0.1', log_level: 'warn' },
      streams: [{ id: STREAM, ...stream }],
    },
  });
  v.id = 'alone';
  nodes.add(v);
  return v;
}

async function stopNode(v) {
  const st = await v.stop();
  nodes.delete(v);
  if (st.code !== 0) console.error(`node ${v.id} exited ${JSON.stringify(st)}:\n${v.log().slice(-3000)}`);
  return st;
}

async function streamEntry(v) {
  try {
    const list = await (await v.fetch('/api/streams')).json();
    return list.find((s) => s.id === STREAM) ?? null;
  } catch {
    return null;
  }
}

// Waits until `v` shows the stream live and ingested by node `holder`.
async function waitLive(v, holder, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let s = null;
  while (Date.now() < deadline) {
    s = await streamEntry(v);
    if (s?.state === 'live' && (holder === null || s.node === holder)) return s;
    await sleep(100);
  }
  throw new Error(`node ${v.id}: stream ${STREAM} not live from ${holder}: ${JSON.stringify(s)}\n${v.log().slice(-3000)}`);
}

async function clusterInfo(v) {
  try {
    const r = await v.fetch('/api/cluster');
    return r.status === 200 ? await r.json() : { status: r.status };
  } catch (e) {
    return { error: e.message };
  }
}

// ---- viewers ------------------------------------------------------------------

// One WebSocket viewer of STREAM in `mode`: subscribes, counts media frames
// (MSE kind 2 video, WebCodecs kind 4), and with `record` keeps, per frame
// from `since` (µs) on, [kind, time, arrival].
class Viewer {
  constructor(node, mode, { record = false } = {}) {
    this.node = node.id;
    this.mode = mode;
    this.record = record;
    this.since = Infinity;
    this.samples = [];
    this.frames = 0;
    this.bytes = 0;
    this.skips = 0;
    this.keyframe = false;
    this.closed = null;
    this.error = null;
    this.ws = new WebSocket(node.wsUrl, ['vigil.v1'], { perMessageDeflate: false });
    this.ws.on('open', () => this.ws.send(JSON.stringify({ type: 'subscribe', id: 1, stream: STREAM, mode })));
    this.ws.on('message', (data, isBinary) => {
      const arrival = nowUs();
      if (!isBinary) {
        const m = JSON.parse(data.toString());
        if (m.id === 1 && m.type === 'error') this.error = `${m.code}: ${m.message}`;
        return;
      }
      const kind = data[1], flags = data[2];
      if ((kind !== 2 && kind !== 4) || (flags & 4)) return; // setup frames, audio
      this.frames++;
      this.bytes += data.length;
      if (flags & 1) this.keyframe = true;
      if (flags & 2) this.skips++;
      if (this.record) {
        const t = Number(data.readBigUInt64BE(8));
        if (t >= this.since) this.samples.push([kind, t, arrival]);
      }
    });
    this.ws.on('close', (code) => { this.closed = code; });
    this.ws.on('error', (e) => { this.error = e.message; });
  }
  close() { try { this.ws.terminate(); } catch { /* closed */ } }
}

// Waits until every viewer has had a keyframe.
async function waitKeyframes(viewers, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const bad = viewers.find((v) => v.error || v.closed !== null);
    if (bad) throw new Error(`viewer on ${bad.node} (${bad.mode}): ${bad.error ?? `closed ${bad.closed}`}`);
    if (viewers.every((v) => v.keyframe)) return;
    await sleep(50);
  }
  const late = viewers.filter((v) => !v.keyframe).map((v) => `${v.node}/${v.mode}`);
  throw new Error(`no keyframe within ${timeoutMs} ms for ${late.join(', ')}`);
}

// ---- 1. latency of the hop -----------------------------------------------------

function latencyStats(viewer) {
  return viewer.samples.map(([, t, a]) => a - t);
}

async function latency() {
  const stream = { source: 'test://', options: TEST_720P };
  const origin = await startNode('n1', 'lat', stream);
  await waitLive(origin, 'n1');
  const edge = await startNode('n2', 'lat', stream);
  await waitLive(edge, 'n1');
  const modes = ['webcodecs', 'mse'];
  const viewers = [];
  for (const mode of modes) for (const n of [origin, edge]) viewers.push(new Viewer(n, mode, { record: true }));
  try {
    await waitKeyframes(viewers);
    await sleep(WARMUP_S * 1000); // the GOP burst and the feed's start behind us
    const since = nowUs();
    for (const v of viewers) v.since = since;
    const mine = () => [origin, edge].reduce((acc, n) => acc + (cpuS(n.proc.pid) ?? 0), 0)
      + nats.servers.reduce((acc, x) => acc + (cpuS(x.proc.pid) ?? 0), 0);
    const a = { t: performance.now() / 1000, m: machine(), mine: mine(), self: process.cpuUsage(), origin: cpuS(origin.proc.pid), edge: cpuS(edge.proc.pid) };
    await sleep(LAT_S * 1000);
    for (const v of viewers) v.record = false;
    const b = { t: performance.now() / 1000, m: machine(), mine: mine(), self: process.cpuUsage(), origin: cpuS(origin.proc.pid), edge: cpuS(edge.proc.pid) };
    const wall = b.t - a.t;
    const selfS = (b.self.user + b.self.system - a.self.user - a.self.system) / 1e6;
    const out = {
      seconds: LAT_S, stream: `test:// ${TEST_720P.width}x${TEST_720P.height} ${TEST_720P.fps} fps ${TEST_720P.bitrate_kbps} kbit/s`,
      // What ran meanwhile: the two nodes (the origin encodes with x264), and
      // busy CPU of processes not started here (approximate).
      origin_cpu_percent: pctOfCore(a.origin, b.origin, wall), edge_cpu_percent: pctOfCore(a.edge, b.edge, wall),
      others_cpu_percent: +((100 * Math.max(0, (b.m.busyS - a.m.busyS) - (b.mine - a.mine) - selfS)) / wall).toFixed(1),
      modes: [],
    };
    for (const mode of modes) {
      const [o, e] = viewers.filter((v) => v.mode === mode);
      const lo = latencyStats(o), le = latencyStats(e);
      // The same frame at both: matched by kind and time.
      const at = new Map(o.samples.map(([k, t, a]) => [`${k}:${t}`, a]));
      const diff = [];
      for (const [k, t, a] of e.samples) {
        const ao = at.get(`${k}:${t}`);
        if (ao !== undefined) diff.push(a - ao);
      }
      out.modes.push({
        mode,
        frames_origin: lo.length, frames_edge: le.length, frames_matched: diff.length,
        skips_origin: o.skips, skips_edge: e.skips,
        origin_ms: { p50: ms(pct(lo, 50)), p99: ms(pct(lo, 99)), max: ms(pct(lo, 100)) },
        edge_ms: { p50: ms(pct(le, 50)), p99: ms(pct(le, 99)), max: ms(pct(le, 100)) },
        edge_minus_origin_ms: { p50: ms(pct(diff, 50)), p99: ms(pct(diff, 99)), max: ms(pct(diff, 100)) },
        p99_difference_ms: lo.length && le.length ? ms(pct(le, 99) - pct(lo, 99)) : null,
      });
    }
    const [ci, ce] = [await clusterInfo(origin), await clusterInfo(edge)];
    out.cluster = { origin: ci.counters, edge: ce.counters };
    // Which NATS server each node is connected to (libnats picks one at
    // random): on different servers a frame also crosses a route.
    out.nats_server = { origin: ci.nats ?? null, edge: ce.nats ?? null };
    return out;
  } finally {
    for (const v of viewers) v.close();
    await Promise.all([stopNode(edge), stopNode(origin)]);
  }
}

// ---- 2. CPU per stream, 0, 1 and 3 edges ------------------------------------------

function snapshot(origin, edges) {
  return {
    t: performance.now() / 1000,
    origin: cpuS(origin.proc.pid),
    originThreads: threadsS(origin.proc.pid),
    edges: edges.map((e) => cpuS(e.proc.pid)),
    nats: nats.servers.map((s) => cpuS(s.proc.pid)),
    self: process.cpuUsage(),
    machine: machine(),
  };
}

// Bytes each vigil node's NATS connection sent and received so far, by
// node id (/connz of every server; vigil names its connection "vigil <id>").
async function natsBytes() {
  const out = {};
  for (const srv of nats.servers) {
    const j = (await monitor(srv.monitorUrl, '/connz?limit=1000'))?.json;
    for (const c of j?.connections ?? []) {
      const m = /^vigil (.+)$/.exec(c.name ?? '');
      if (!m) continue;
      const o = (out[m[1]] ??= { sent: 0, received: 0 });
      o.sent += c.in_bytes ?? 0; // what the server got from the node
      o.received += c.out_bytes ?? 0;
    }
  }
  return out;
}

function pctOfCore(a, b, wall) {
  return a === null || b === null ? null : +((100 * (b - a)) / wall).toFixed(1);
}

async function cpu() {
  let stream;
  if (CPU_SOURCE === 'test') stream = { source: 'test://', options: TEST_720P };
  else if (existsSync(CLIP)) stream = { source: `file://${CLIP}` };
  else throw new Error(`${CLIP} is missing: make build/bench/clip.mp4 (or BENCH_CPU_SOURCE=test)`);
  // Baseline: one vigil, no cluster, nobody watching.
  const alone = await startAlone(stream);
  let baseline;
  try {
    await waitLive(alone, null);
    await sleep(WARMUP_S * 1000);
    const a = { t: performance.now() / 1000, cpu: cpuS(alone.proc.pid), th: threadsS(alone.proc.pid), m: machine() };
    await sleep(CPU_S * 1000);
    const b = { t: performance.now() / 1000, cpu: cpuS(alone.proc.pid), th: threadsS(alone.proc.pid), m: machine() };
    const wall = b.t - a.t;
    const threads = {};
    for (const [k, v] of Object.entries(b.th)) {
      const d = v - (a.th[k] ?? 0);
      if (d > 0) threads[k] = +((100 * d) / wall).toFixed(1);
    }
    const busy = b.m.busyS - a.m.busyS;
    baseline = {
      seconds: +wall.toFixed(1), cpu_percent: pctOfCore(a.cpu, b.cpu, wall), threads_percent: threads,
      rss_mib: rssMiB(alone.proc.pid),
      others_cpu_percent: +((100 * Math.max(0, busy - (b.cpu - a.cpu))) / wall).toFixed(1),
    };
    console.error(`  no cluster: ${baseline.cpu_percent} %, others ${baseline.others_cpu_percent} %`);
  } finally {
    await stopNode(alone);
  }
  const origin = await startNode('n1', 'cpu', stream);
  await waitLive(origin, 'n1');
  const edges = await Promise.all(['n2', 'n3', 'n4'].map((id) => startNode(id, 'cpu', stream)));
  await Promise.all(edges.map((e) => waitLive(e, 'n1')));
  const viewers = [];
  const cases = [];
  try {
    for (const nEdges of [0, 1, 3]) {
      // More edges watch: each new edge gets its viewers.
      const fresh = [];
      for (const e of edges.slice(0, nEdges)) {
        if (viewers.some((v) => v.node === e.id)) continue;
        for (let i = 0; i < EDGE_VIEWERS; i++) fresh.push(new Viewer(e, i % 2 ? 'webcodecs' : 'mse'));
      }
      viewers.push(...fresh);
      await waitKeyframes(fresh);
      await sleep(WARMUP_S * 1000);
      const c0 = await Promise.all([origin, ...edges].map(clusterInfo));
      const f0 = viewers.map((v) => v.frames);
      const n0 = await natsBytes();
      const a = snapshot(origin, edges);
      await sleep(CPU_S * 1000);
      const b = snapshot(origin, edges);
      const n1 = await natsBytes();
      const c1 = await Promise.all([origin, ...edges].map(clusterInfo));
      const wall = b.t - a.t;
      const natsPct = a.nats.map((x, i) => pctOfCore(x, b.nats[i], wall));
      const selfS = (b.self.user + b.self.system - a.self.user - a.self.system) / 1e6;
      const known = (b.origin - a.origin) + b.edges.reduce((s, x, i) => s + (x - a.edges[i]), 0)
        + b.nats.reduce((s, x, i) => s + (x - a.nats[i]), 0) + selfS;
      const busy = b.machine.busyS - a.machine.busyS;
      const threads = {};
      for (const [k, v] of Object.entries(b.originThreads)) {
        const d = v - (a.originThreads[k] ?? 0);
        if (d > 0) threads[k] = +((100 * d) / wall).toFixed(1);
      }
      const counter = (c, i, k) => c[i]?.counters?.[k] ?? null;
      const delta = (i, k) => (counter(c1, i, k) === null ? null : counter(c1, i, k) - counter(c0, i, k));
      const frames = viewers.map((v, i) => v.frames - f0[i]);
      cases.push({
        edges: nEdges,
        viewers_per_edge: nEdges ? EDGE_VIEWERS : 0,
        seconds: +wall.toFixed(1),
        origin_cpu_percent: pctOfCore(a.origin, b.origin, wall),
        origin_threads_percent: threads,
        origin_rss_mib: rssMiB(origin.proc.pid),
        edges_cpu_percent: edges.map((e, i) => ({ node: e.id, watching: i < nEdges, cpu_percent: pctOfCore(a.edges[i], b.edges[i], wall), rss_mib: rssMiB(e.proc.pid) })),
        nats_cpu_percent: natsPct,
        nats_cpu_percent_total: +natsPct.reduce((s, x) => s + (x ?? 0), 0).toFixed(1),
        // Mbit/s each node's NATS connection sent and received in the window.
        nats_mbit_s: Object.fromEntries([origin, ...edges].map((v) => {
          const d = (k) => ((n1[v.id]?.[k] ?? 0) - (n0[v.id]?.[k] ?? 0)) * 8 / wall / 1e6;
          return [v.id, { sent: +d('sent').toFixed(2), received: +d('received').toFixed(2) }];
        })),
        bench_process_cpu_percent: +((100 * selfS) / wall).toFixed(1),
        machine_busy_percent_of_all_cores: +((100 * busy) / (b.machine.totalS - a.machine.totalS)).toFixed(1),
        others_cpu_percent: +((100 * Math.max(0, busy - known)) / wall).toFixed(1),
        frames_published_per_s: delta(0, 'frames_published') === null ? null : +(delta(0, 'frames_published') / wall).toFixed(1),
        frames_publish_dropped: delta(0, 'frames_publish_dropped'),
        frames_received_per_s: edges.map((e, i) => (delta(i + 1, 'frames_received') === null ? null : +(delta(i + 1, 'frames_received') / wall).toFixed(1))),
        reports_dropped: edges.map((e, i) => delta(i + 1, 'reports_dropped')),
        viewer_frames_per_s: frames.length ? { min: +(Math.min(...frames) / wall).toFixed(1), max: +(Math.max(...frames) / wall).toFixed(1) } : null,
        viewer_skips: viewers.reduce((s, v) => s + v.skips, 0),
        viewers_lost: viewers.filter((v) => v.closed !== null || v.error).length,
      });
      const c = cases.at(-1);
      console.error(`  ${nEdges} edge(s): origin ${c.origin_cpu_percent} %, edges ${c.edges_cpu_percent.map((x) => x.cpu_percent).join(' / ')} %, nats ${c.nats_cpu_percent_total} %, others ${c.others_cpu_percent} %`);
    }
    return { seconds: CPU_S, baseline_no_cluster: baseline, stream: CPU_SOURCE === 'test' ? `test:// ${TEST_720P.width}x${TEST_720P.height} ${TEST_720P.fps} fps (x264 on the origin)` : `file:// ${path.relative(ROOT, CLIP)} (720p30, 2 Mbit/s, not re-encoded)`, cases };
  } finally {
    for (const v of viewers) v.close();
    await Promise.all([...edges, origin].map(stopNode));
  }
}

// ---- the run ------------------------------------------------------------------------

const fmt = (x, w = 7) => (x === null || x === undefined ? '-' : String(x)).padStart(w);

function print(r) {
  const lines = [];
  if (r.latency) printLatency(r, lines);
  if (r.cpu_cost) printCpu(r, lines);
  return lines.join('\n');
}

function printLatency(r, lines) {
  lines.push(`\nNATS hop latency (${r.latency.stream}, ${r.latency.seconds} s): arrival - header time, ms`);
  lines.push(`${'mode'.padEnd(10)} ${'frames o/e'.padStart(11)} ${'origin p50'.padStart(10)} ${'p99'.padStart(7)} ${'edge p50'.padStart(9)} ${'p99'.padStart(7)} ${'edge-origin p50'.padStart(16)} ${'p99'.padStart(7)} ${'max'.padStart(7)}  p99 target <= 5 ms`);
  for (const m of r.latency.modes) {
    const met = m.edge_minus_origin_ms.p99 === null ? '' : m.edge_minus_origin_ms.p99 <= 5 ? 'met' : 'NOT met';
    lines.push(`${m.mode.padEnd(10)} ${`${m.frames_origin}/${m.frames_edge}`.padStart(11)} ${fmt(m.origin_ms.p50, 10)} ${fmt(m.origin_ms.p99)} ${fmt(m.edge_ms.p50, 9)} ${fmt(m.edge_ms.p99)} ${fmt(m.edge_minus_origin_ms.p50, 16)} ${fmt(m.edge_minus_origin_ms.p99)} ${fmt(m.edge_minus_origin_ms.max)}  ${met}`);
  }
  lines.push(`meanwhile, % of one core: origin ${r.latency.origin_cpu_percent}, edge ${r.latency.edge_cpu_percent}, others ${r.latency.others_cpu_percent}`);
  lines.push(`NATS servers the nodes used: origin ${r.latency.nats_server?.origin ?? '?'}, edge ${r.latency.nats_server?.edge ?? '?'}`);
}

function printCpu(r, lines) {
  const c = r.cpu_cost;
  lines.push(`\nCPU, % of one core (${c.stream}, ${c.seconds} s per case, ${EDGE_VIEWERS} viewers per watching edge, none on the origin)`);
  lines.push(`${'edges'.padEnd(6)} ${'origin'.padStart(7)} ${'edge n2'.padStart(8)} ${'n3'.padStart(6)} ${'n4'.padStart(6)} ${'nats (3)'.padStart(9)} ${'bench'.padStart(6)} ${'others'.padStart(7)} ${'pub/s'.padStart(6)} ${'rcv/s n2, n3, n4'.padStart(17)} skips lost`);
  for (const x of c.cases) {
    lines.push(`${String(x.edges).padEnd(6)} ${fmt(x.origin_cpu_percent)} ${fmt(x.edges_cpu_percent[0].cpu_percent, 8)} ${fmt(x.edges_cpu_percent[1].cpu_percent, 6)} ${fmt(x.edges_cpu_percent[2].cpu_percent, 6)} ${fmt(x.nats_cpu_percent_total, 9)} ${fmt(x.bench_process_cpu_percent, 6)} ${fmt(x.others_cpu_percent)} ${fmt(x.frames_published_per_s, 6)} ${x.frames_received_per_s.map((y) => fmt(y, 5)).join(' ').padStart(17)} ${fmt(x.viewer_skips, 5)} ${fmt(x.viewers_lost, 4)}`);
  }
  lines.push('(pub/s: messages the origin published a second, 30 MSE fragments + 30 WebCodecs access units; rcv/s: frames each edge took from NATS;');
  lines.push(' bench: this process and its viewers; others: busy CPU of processes not started here, approximate)');
  lines.push(`the same stream on a vigil without a cluster: ${c.baseline_no_cluster.cpu_percent} % (others ${c.baseline_no_cluster.others_cpu_percent} %)`);
  lines.push(`NATS, Mbit/s the origin sent / each watching edge received: ${c.cases.map((x) => `${x.edges} edges ${x.nats_mbit_s.n1.sent} / ${['n2', 'n3', 'n4'].slice(0, x.edges).map((id) => x.nats_mbit_s[id].received).join(', ') || '-'}`).join('; ')}`);
  const o = c.cases.map((x) => x.origin_cpu_percent);
  lines.push(`origin flat in the number of edges (target): ${o.join(' -> ')} % (spread ${(Math.max(...o) - Math.min(...o)).toFixed(1)} points)`);
}

if (!natsServerVersion()) {
  console.error('bench-cluster: nats-server is not installed (Debian: apt-get install nats-server)');
  process.exit(1);
}
const results = {
  date: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model,
  loadavg_before: os.loadavg().map((x) => +x.toFixed(2)), vigil: path.relative(ROOT, VIGIL_BIN) || VIGIL_BIN,
  nats_server: natsServerVersion(),
};
const t0 = Date.now();
try {
  nats = await startNatsCluster({ n: 3, cluster: 'vigil-bench' });
  console.error(`nats: ${nats.urls.join(' ')}`);
  if (ONLY !== 'cpu') {
    console.error(`latency (${LAT_S} s) ...`);
    results.latency = await latency();
  }
  if (ONLY !== 'latency') {
    console.error(`cpu (baseline and 3 cases, ${CPU_S} s each) ...`);
    results.cpu_cost = await cpu();
  }
} finally {
  // Nodes left by a failure: killed (the normal path stopped them already).
  for (const n of nodes) n.proc.kill('SIGKILL');
  nodes.clear();
  if (nats) await nats.stop();
}
results.loadavg_after = os.loadavg().map((x) => +x.toFixed(2));
results.run_seconds = Math.round((Date.now() - t0) / 1000);
console.log(print(results));
const file = process.env.BENCH_JSON ? path.resolve(process.env.BENCH_JSON) : path.join(ROOT, 'build/bench/cluster.json');
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(results, null, 2));
console.log(`\n${results.run_seconds} s; load average before ${results.loadavg_before.join(' ')}, after ${results.loadavg_after.join(' ')}; written to ${path.relative(ROOT, file)}`);

// make soak: vigil under churn for SOAK_MINUTES (default 10), against real
// peers, reporting what a months-long run would suffer from.
//
//   SOAK_MINUTES=10 SOAK_ASAN=1 node tests/soak/soak.mjs
//
// Streams: an RTSP camera (build/tools/rtsp_camera, killed and restarted
// every minute), a publish:// stream (a publisher that reconnects every
// 30 s), a test:// stream, and one that each reload adds or removes.
// Devices: one over MQTT (mosquitto restarted every 2 minutes, the device
// simulator) and one over CoAP (its simulator killed every 90 s and back
// 10 s later: commands sent meanwhile time out). Churn: a viewer every
// 200 ms, in either mode, watching 2-6 s; three slow viewers that never
// read; REST polling every second; a command to each device every 2 s;
// three times a run, a stream added by POST /api/admin/reload and removed
// again 20 s later by SIGHUP (15 s into both windows the memory figure
// compares, and once between). A run shorter than 10 minutes
// does each of these at least twice (the periods shrink to fit).
//
// Reported (build/soak/results.json), with the targets it exits 1 on:
//   crashes 0 (and no sanitizer report); RSS growth after warm-up < 2 %
//   (median of the last minute against the minute after warm-up; not
//   judged under ASan, whose quarantine grows by design, nor in runs under
//   5 minutes); open fds at the end equal to the start (both with every
//   stream live, each device reached once and no client connected, the end
//   waited for up to 30 s; a difference is listed by what the fds point to
//   and the sockets ss shows); viewers
//   stuck without frames 0 (watching a live stream for 4 s with none);
//   commands whose fate is unknown 0 (no final status 10 s after the run).
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startVigil, Client, sleep, freePort, ROOT } from '../lib/vigil.js';
import { freeUdpPort } from '../lib/ports.js';
import { startCamera } from '../tools/camera.js';
import { makeClip, publishRequest, streamClip } from '../tools/publisher.js';
import { Procs, startBroker, startSim, CAMERA_COMMANDS } from '../integration/control_peers.js';

const MINUTES = Number(process.env.SOAK_MINUTES || 10);
const DURATION_MS = MINUTES * 60000;
const WARMUP_MS = Math.min(120000, DURATION_MS / 5);
const SANITIZED = !!process.env.VIGIL_SANITIZED;
// Whether RSS growth means anything here (see the top of the file).
const JUDGE_RSS = !SANITIZED && MINUTES >= 5;
// A churn period, shrunk so that a short run still sees it at least twice.
const period = (ms) => Math.min(ms, Math.floor(DURATION_MS / 3));
const OUT = process.env.SOAK_OUT || path.join(ROOT, 'build/soak');
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);

const procs = new Procs();
const small = { source: 'test://', options: { width: 320, height: 240, fps: 25 } };
const figures = { viewers: 0, viewerFrames: 0, stuck: [], commands: new Map(), reloads: 0, reloadErrors: [],
  cameraRestarts: 0, publisherReconnects: 0, brokerRestarts: 0, coapRestarts: 0, restErrors: 0, commandRefusals: [] };

function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { at: Date.now(), rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)[1]), fds: readdirSync(`/proc/${pid}/fd`).length };
}
// What each open fd points to ("socket:[123]" with its inode dropped), counted.
function fdKinds(pid) {
  const kinds = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    const kind = target.replace(/\[\d+\]$/, '').replace(/^anon_inode:/, 'anon:');
    kinds[kind] = (kinds[kind] || 0) + 1;
  }
  return kinds;
}
// Until every stream in `ids` is live (at most 30 s).
async function untilLive(vigil, ids) {
  const by = Date.now() + 30000;
  while (Date.now() < by) {
    const r = await vigil.fetch('/api/streams');
    const live = new Set((await r.json()).filter((x) => x.state === 'live').map((x) => x.id));
    if (ids.every((id) => live.has(id))) return;
    await sleep(500);
  }
}
// One command to `device`, until its final status (or 15 s).
async function commandFate(vigil, device) {
  const r = await vigil.fetch(`/api/devices/${device}/commands`, { method: 'POST', body: JSON.stringify({ name: 'ptz', params: { pan: 0, tilt: 0 } }) });
  const { command_id: id } = await r.json();
  const by = Date.now() + 15000;
  while (id && Date.now() < by) {
    const c = await (await vigil.fetch(`/api/commands/${id}`)).json();
    if (['acknowledged', 'rejected', 'failed', 'timeout'].includes(c.status)) return;
    await sleep(300);
  }
}
// Until no client is connected to vigil's port (HTTP keep-alive ends after
// a few idle seconds; at most 20 s).
async function noClients(pid, port) {
  const by = Date.now() + 20000;
  const clients = () => socketsOf(pid).split('\n').filter((l) => /^tcp ESTAB/.test(l) && l.split(' ')[4]?.endsWith(`:${port}`)).length;
  while (clients() > 0 && Date.now() < by) await sleep(500);
}
// The sockets open, as ss sees them (every family): what an fd difference is.
const socketsOf = (pid) => spawnSync('ss', ['-anp'], { encoding: 'utf8' }).stdout
  .split('\n').filter((l) => l.includes(`pid=${pid},`)).map((l) => l.replace(/\s+/g, ' ')).join('\n');
function fdDiff(a, b) {
  const d = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if ((a[k] || 0) !== (b[k] || 0)) d[k] = `${a[k] || 0} -> ${b[k] || 0}`;
  }
  return d;
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

async function main() {
  mkdirSync(OUT, { recursive: true });
  const camPort = await freePort();
  let camera = await startCamera({ port: camPort });
  const mqttPort = await freePort();
  let broker = await startBroker(mqttPort);
  procs.add(await startSim(['--id', 'cam1', '--mqtt-port', String(mqttPort), '--prefix', 'soak']));
  const coapPort = await freeUdpPort();
  const coapSim = () => startSim(['--id', 'lamp', '--coap-port', String(coapPort)]);
  let lamp = await coapSim();
  const mqtt = { host: '127.0.0.1', port: mqttPort, prefix: 'soak', keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2 };
  // Short CoAP timers: a command sent while the device is away times out
  // after about 3 s (1 s, then one retransmission 2 s later).
  const coap = { uri: `coap://127.0.0.1:${coapPort}/cmd`, ack_timeout: 1.0, ack_random_factor: 1.0, max_retransmit: 1 };
  const base = [{ id: 'rtsp', source: camera.url }, { id: 'pub', source: 'publish://' }, { id: 'test', ...small }];
  const config = (extra) => ({ mqtt, streams: extra ? [...base, { id: 'extra', ...small }] : base,
    devices: [{ id: 'cam1', name: 'Soak camera', transport: 'mqtt', commands: CAMERA_COMMANDS, timeout_ms: 5000 },
      { id: 'lamp', name: 'Soak lamp', transport: 'coap', coap, commands: CAMERA_COMMANDS, timeout_ms: 5000 }] });
  const vigil = await startVigil({ config: config(false), timeoutMs: 30000 });
  const pid = vigil.proc.pid;
  // The state the end must return to: every stream live, each device
  // reached once (its transport's socket open), no client connected.
  const port = Number(new URL(vigil.base).port);
  await untilLive(vigil, ['rtsp', 'test']);
  for (const device of ['cam1', 'lamp']) await commandFate(vigil, device);
  await noClients(pid, port);
  const start = sample(pid);
  const startFds = fdKinds(pid);
  const startSockets = socketsOf(pid);
  log(`start: rss ${start.rssKiB} KiB, fds ${start.fds}`);
  const samples = [];
  let stopping = false;
  const timers = [];
  // Churn still running when the run ends (a publisher reconnecting, a
  // viewer watching) is waited for before the end state is read: a publish
  // that completed after the publisher was closed left a client and its
  // pipeline open.
  const inflight = new Set();
  const churn = (fn) => {
    const p = fn().catch((e) => log('churn error:', e.message)).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const every = (ms, fn) => timers.push(setInterval(() => { if (!stopping) churn(fn); }, ms));

  // The publisher: publishes a looping clip, reconnects every 30 s.
  const clip = makeClip({ frames: 60, fps: 30, keyInt: 30 });
  let publisher = null;
  const publish = async () => {
    if (publisher) { publisher.sender.stop(); publisher.c.close(); figures.publisherReconnects++; }
    const c = await new Client(vigil.wsUrl).open();
    await c.request({ type: 'hello' });
    const reply = await c.request(publishRequest('pub', clip));
    publisher = { c, sender: streamClip(c, reply.channel, clip) };
  };
  await publish();
  const began = Date.now();

  // Viewers come and go; each checks it gets frames while its stream is live.
  const liveStreams = new Set();
  let heapNow = {};
  every(1000, async () => {
    const r = await vigil.fetch('/api/streams');
    if (r.status !== 200) { figures.restErrors++; return; }
    liveStreams.clear();
    for (const s of await r.json()) if (s.state === 'live') liveStreams.add(s.id);
    for (const p of ['/api/devices', '/api/health', '/metrics']) {
      const x = await vigil.fetch(p);
      if (x.status !== 200) figures.restErrors++;
      const text = await x.text();
      if (p === '/metrics') {
        const g = (name) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1]);
        heapNow = { allocatedKiB: g('vigil_process_heap_allocated_bytes') / 1024, freeKiB: g('vigil_process_heap_free_bytes') / 1024 };
      }
    }
  });
  every(200, async () => {
    const ids = ['rtsp', 'pub', 'test'];
    const stream = ids[figures.viewers % ids.length];
    const mode = figures.viewers % 2 ? 'mse' : 'webcodecs';
    figures.viewers++;
    const c = await new Client(vigil.wsUrl).open();
    await c.request({ type: 'hello' });
    const sub = await c.request({ type: 'subscribe', stream, mode });
    const watchMs = 2000 + Math.random() * 4000;
    const wasLive = liveStreams.has(stream);
    await sleep(watchMs);
    const n = c.frames.length;
    figures.viewerFrames += n;
    // Live before and after, watched over 4 s, and nothing: stuck.
    if (wasLive && liveStreams.has(stream) && watchMs > 4000 && n === 0 && sub.channel) {
      figures.stuck.push({ stream, mode, at: Date.now() - began });
    }
    c.close();
  });
  // Every command's fate, from the command.status events a device watcher
  // gets (the REST history keeps only the newest commands per device).
  const finals = new Set(['acknowledged', 'rejected', 'failed', 'timeout']);
  const watcher = await new Client(vigil.wsUrl).open();
  await watcher.request({ type: 'hello' });
  await watcher.request({ type: 'devices' });
  const fates = new Map();
  const seenEvents = () => {
    for (const m of watcher.messages.splice(0)) {
      if (m.type === 'command.status' && finals.has(m.status)) fates.set(m.command_id, m.status);
    }
  };
  const slow = [];
  for (const stream of ['rtsp', 'test', 'pub']) {
    const c = await new Client(vigil.wsUrl).open();
    await c.request({ type: 'hello' });
    await c.request({ type: 'subscribe', stream, mode: 'mse' });
    c.ws._socket.pause(); // never reads again
    slow.push(c);
  }
  let commandNo = 0;
  every(1000, async () => {
    const device = commandNo++ % 2 ? 'lamp' : 'cam1';
    const r = await vigil.fetch(`/api/devices/${device}/commands`, { method: 'POST', body: JSON.stringify({ name: 'ptz', params: { pan: 0.1, tilt: 0.2 } }) });
    const body = await r.json();
    if (r.status === 202) figures.commands.set(body.command_id, null);
    else figures.commandRefusals.push({ device, status: r.status, body });
  });
  every(period(90000), async () => {
    await lamp.kill('SIGKILL');
    await sleep(10000);
    lamp = await coapSim();
    figures.coapRestarts++;
  });
  every(period(60000), async () => {
    await camera.stop('SIGKILL');
    await sleep(2000);
    camera = await startCamera({ port: camPort });
    figures.cameraRestarts++;
  });
  every(period(30000), publish);
  every(period(120000), async () => {
    await broker.kill();
    await sleep(2000);
    broker = await startBroker(mqttPort);
    figures.brokerRestarts++;
  });
  // Every 3 minutes: a stream added by the API, and 20 s later removed by
  // SIGHUP, so that the memory and fd windows compare the same streams.
  const reloadTo = async (extra, how) => {
    writeFileSync(vigil.configFile, JSON.stringify(config(extra), null, 2));
    if (how === 'api') {
      const r = await vigil.fetch('/api/admin/reload', { method: 'POST' });
      const report = await r.json();
      if (r.status !== 200 || report.streams.unchanged !== base.length) figures.reloadErrors.push(report);
    } else {
      const before = vigil.log().match(/configuration reloaded/g)?.length ?? 0;
      vigil.proc.kill('SIGHUP');
      await sleep(2000);
      if ((vigil.log().match(/configuration reloaded/g)?.length ?? 0) !== before + 1) figures.reloadErrors.push({ sighup: 'no reload logged' });
    }
    figures.reloads++;
  };
  // The reloads fall 15 s into both windows the memory figure compares
  // (after warm-up, and the last minute) and halfway between: every 3.5
  // minutes in a 10-minute run.
  const reloadCycle = async () => {
    await reloadTo(true, 'api');
    await sleep(20000);
    await reloadTo(false, 'sighup');
  };
  timers.push(setTimeout(() => {
    if (stopping) return;
    churn(reloadCycle);
    every((DURATION_MS - 60000 - WARMUP_MS) / 2, reloadCycle);
  }, WARMUP_MS + 15000));
  every(5000, async () => { samples.push({ ...sample(pid), ...heapNow }); seenEvents(); });

  while (Date.now() - began < DURATION_MS) {
    await sleep(10000);
    if (vigil.proc.exitCode !== null || vigil.proc.signalCode !== null) break;
    const last = samples.at(-1);
    if (last && (Date.now() - began) % 60000 < 10000) log(`${Math.round((Date.now() - began) / 60000)} min: rss ${last.rssKiB} KiB, fds ${last.fds}, viewers ${figures.viewers}`);
  }
  stopping = true;
  for (const t of timers) clearInterval(t);
  const crashed = vigil.proc.exitCode !== null || vigil.proc.signalCode !== null;

  // Settle: every churn done and every client gone, then the fds against the start.
  await Promise.allSettled([...inflight]);
  for (const c of slow) c.ws.terminate();
  if (publisher) { publisher.sender.stop(); publisher.c.close(); }
  await sleep(8000);
  // Every command must have reached a final status by now (timeouts are 5 s).
  seenEvents();
  for (const id of figures.commands.keys()) figures.commands.set(id, fates.get(id) ?? null);
  watcher.close();
  // The same state as at the start (a camera or device restarted just
  // before the end is still coming back): wait for it, then compare.
  let end = null;
  let endFds = null;
  if (!crashed) {
    await untilLive(vigil, ['rtsp', 'test']);
    for (const device of ['cam1', 'lamp']) await commandFate(vigil, device);
    for (const settleBy = Date.now() + 30000; ;) {
      await noClients(pid, port);
      end = sample(pid);
      endFds = fdKinds(pid);
      if (!Object.keys(fdDiff(startFds, endFds)).length || Date.now() > settleBy) break;
      await sleep(1000);
    }
  }
  const sockets = crashed ? '' : socketsOf(pid);
  const stop = await vigil.stop();
  await camera.stop();
  await broker.kill();
  await lamp.kill();
  await procs.killAll();

  const after = samples.filter((s) => s.at - began >= WARMUP_MS && s.at - began < WARMUP_MS + 60000).map((s) => s.rssKiB);
  const last = samples.filter((s) => s.at - began >= DURATION_MS - 60000).map((s) => s.rssKiB);
  const growth = (median(last) - median(after)) / median(after) * 100;
  // The same windows for malloc's own figures: what the program holds, and
  // what malloc keeps free (fragmentation), so RSS growth can be told apart.
  const windowOf = (key, from, to) => median(samples.filter((x) => x.at - began >= from && x.at - began < to && x[key] >= 0).map((x) => x[key]));
  const heapFig = (key) => ({ after_warmup_median: Math.round(windowOf(key, WARMUP_MS, WARMUP_MS + 60000)),
    last_minute_median: Math.round(windowOf(key, DURATION_MS - 60000, Infinity)) });
  const unknown = [...figures.commands.values()].filter((s) => !finals.has(s)).length;
  const unclear = figures.commandRefusals.filter((r) => !r.body?.error || (r.status >= 500 && r.status !== 503)).length;
  const refusedBy = {};
  for (const r of figures.commandRefusals) refusedBy[`${r.status} ${r.body?.error}`] = (refusedBy[`${r.status} ${r.body?.error}`] || 0) + 1;
  const sanitizer = /ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(vigil.log());
  const results = {
    minutes: MINUTES, binary: process.env.VIGIL_BIN || 'build/vigil',
    crashes: crashed || stop.code !== 0 || sanitizer ? 1 : 0, exit: stop,
    rss_kib: { start: start.rssKiB, after_warmup_median: median(after), last_minute_median: median(last), max: Math.max(...samples.map((s) => s.rssKiB)) },
    rss_growth_percent: Number(growth.toFixed(2)),
    heap_allocated_kib: heapFig('allocatedKiB'), heap_free_kib: heapFig('freeKiB'),
    fds: { start: start.fds, end: end ? end.fds : null, changed: endFds ? fdDiff(startFds, endFds) : null, sockets_at_start: startSockets.split('\n'), sockets_at_end: sockets.split('\n') },
    viewers: figures.viewers, viewer_frames: figures.viewerFrames, stuck_viewers: figures.stuck.length, stuck: figures.stuck.slice(0, 10),
    commands: figures.commands.size, commands_unknown_fate: unknown,
    reloads: figures.reloads, reload_errors: figures.reloadErrors.length,
    camera_restarts: figures.cameraRestarts, publisher_reconnects: figures.publisherReconnects,
    broker_restarts: figures.brokerRestarts, coap_device_restarts: figures.coapRestarts, rest_errors: figures.restErrors,
    command_refusals: refusedBy,
  };
  const targets = [
    ['crashes', results.crashes === 0, `${results.crashes}`, '0'],
    ['RSS growth after warm-up', !JUDGE_RSS || growth < 2, `${results.rss_growth_percent} %`, JUDGE_RSS ? '< 2 %' : 'not judged (ASan or < 5 min)'],
    ['fds end vs start', end && end.fds === start.fds, `${start.fds} -> ${end ? end.fds : '?'}`, 'equal'],
    ['viewers stuck without frames', figures.stuck.length === 0, `${figures.stuck.length} of ${figures.viewers}`, '0'],
    ['commands with unknown fate', unknown === 0, `${unknown} of ${figures.commands.size}`, '0'],
    // A refusal is fine when it says why (a device or transport away);
    // one without an error code, or a server fault, is not.
    ['commands refused without a reason', unclear === 0, `${unclear} of ${figures.commandRefusals.length} refused`, '0'],
    ['reloads that went wrong', figures.reloadErrors.length === 0, `${figures.reloadErrors.length} of ${figures.reloads}`, '0'],
  ];
  results.targets = Object.fromEntries(targets.map(([k, ok, v, t]) => [k, { value: v, target: t, ok: !!ok }]));
  writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2));
  console.log(`\nsoak: ${MINUTES} min, ${figures.viewers} viewers, ${figures.commands.size} commands, ${figures.reloads} reloads, `
    + `${figures.cameraRestarts} camera / ${figures.brokerRestarts} broker / ${figures.coapRestarts} CoAP device restarts, `
    + `${figures.publisherReconnects} publisher reconnects`);
  console.log('| figure | value | target | |\n|---|---|---|---|');
  for (const [k, ok, v, t] of targets) console.log(`| ${k} | ${v} | ${t} | ${ok ? 'PASS' : 'FAIL'} |`);
  console.log(`| peak RSS | ${results.rss_kib.max} KiB | | |`);
  console.log(`| RSS after warm-up / last minute | ${results.rss_kib.after_warmup_median} / ${results.rss_kib.last_minute_median} KiB | | |`);
  console.log(`| heap allocated after warm-up / last minute | ${results.heap_allocated_kib.after_warmup_median} / ${results.heap_allocated_kib.last_minute_median} KiB | | |`);
  console.log(`| heap free (kept by malloc) after warm-up / last minute | ${results.heap_free_kib.after_warmup_median} / ${results.heap_free_kib.last_minute_median} KiB | | |`);
  if (results.fds.changed && Object.keys(results.fds.changed).length) console.log('fds changed:', results.fds.changed, `\nsockets at the start:\n${startSockets}\nsockets at the end:\n${sockets}`);
  if (crashed || sanitizer) console.log(vigil.log().slice(-4000));
  process.exit(targets.every(([, ok]) => ok) ? 0 : 1);
}

main().catch(async (e) => {
  console.error('soak failed:', e);
  await procs.killAll();
  process.exit(2);
});

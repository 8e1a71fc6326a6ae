// make soak: vigil under churn for SOAK_MINUTES (default 10), against real
// peers, reporting what a months-long run would suffer from.
//
//   SOAK_MINUTES=10 SOAK_ASAN=1 node tests/soak/soak.mjs
//
// Streams: an RTSP camera (build/tools/rtsp_camera, killed and restarted
// every minute), a publish:// stream (a publisher that reconnects every
// 30 s), a test:// stream, and one that each reload adds or removes. A
// device over MQTT (mosquitto restarted every 2 minutes, the device
// simulator). Churn: a viewer every 200 ms, in either mode, watching 2-6 s;
// three slow viewers that never read; REST polling every second; a device
// command every 2 s; every 3 minutes a stream added by POST
// /api/admin/reload and removed again 20 s later by SIGHUP.
//
// Reported (build/soak/results.json), with the targets it exits 1 on:
//   crashes 0; RSS growth after warm-up < 2 % (median of the last minute
//   against the minute after warm-up); open fds at the end equal to the
//   start (both with no client connected); viewers stuck without frames 0
//   (watching a live stream for 4 s with none); commands whose fate is
//   unknown 0 (no final status 20 s after the run).
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, Client, sleep, freePort, ROOT } from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';
import { makeClip, publishRequest, streamClip } from '../tools/publisher.js';
import { Procs, startBroker, startSim, CAMERA_COMMANDS } from '../integration/control_peers.js';

const MINUTES = Number(process.env.SOAK_MINUTES || 10);
const DURATION_MS = MINUTES * 60000;
const WARMUP_MS = Math.min(120000, DURATION_MS / 5);
const OUT = path.join(ROOT, 'build/soak');
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);

const procs = new Procs();
const small = { source: 'test://', options: { width: 320, height: 240, fps: 25 } };
const figures = { viewers: 0, viewerFrames: 0, stuck: [], commands: new Map(), reloads: 0, reloadErrors: [],
  cameraRestarts: 0, publisherReconnects: 0, brokerRestarts: 0, restErrors: 0 };

function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { at: Date.now(), rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)[1]), fds: readdirSync(`/proc/${pid}/fd`).length };
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

async function main() {
  mkdirSync(OUT, { recursive: true });
  const camPort = await freePort();
  let camera = await startCamera({ port: camPort });
  const mqttPort = await freePort();
  let broker = await startBroker(mqttPort);
  procs.add(await startSim(['--id', 'cam1', '--mqtt-port', String(mqttPort), '--prefix', 'soak']));
  const mqtt = { host: '127.0.0.1', port: mqttPort, prefix: 'soak', keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2 };
  const base = [{ id: 'rtsp', source: camera.url }, { id: 'pub', source: 'publish://' }, { id: 'test', ...small }];
  const config = (extra) => ({ mqtt, streams: extra ? [...base, { id: 'extra', ...small }] : base,
    devices: [{ id: 'cam1', name: 'Soak camera', transport: 'mqtt', commands: CAMERA_COMMANDS, timeout_ms: 5000 }] });
  const vigil = await startVigil({ config: config(false), timeoutMs: 30000 });
  const pid = vigil.proc.pid;
  await sleep(3000);
  const start = sample(pid); // streams up, no client yet: what the end must return to
  log(`start: rss ${start.rssKiB} KiB, fds ${start.fds}`);
  const samples = [];
  let stopping = false;
  const timers = [];
  const every = (ms, fn) => timers.push(setInterval(() => { if (!stopping) fn().catch((e) => log('churn error:', e.message)); }, ms));

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
  every(1000, async () => {
    const r = await vigil.fetch('/api/streams');
    if (r.status !== 200) { figures.restErrors++; return; }
    liveStreams.clear();
    for (const s of await r.json()) if (s.state === 'live') liveStreams.add(s.id);
    for (const p of ['/api/devices', '/api/health', '/metrics']) {
      const x = await vigil.fetch(p);
      if (x.status !== 200) figures.restErrors++;
      await x.arrayBuffer();
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
  every(2000, async () => {
    const r = await vigil.fetch('/api/devices/cam1/commands', { method: 'POST', body: JSON.stringify({ name: 'ptz', params: { pan: 0.1, tilt: 0.2 } }) });
    const body = await r.json();
    if (r.status === 202) figures.commands.set(body.command_id, null);
  });
  every(60000, async () => {
    await camera.stop('SIGKILL');
    await sleep(2000);
    camera = await startCamera({ port: camPort });
    figures.cameraRestarts++;
  });
  every(30000, publish);
  every(120000, async () => {
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
  every(180000, async () => {
    await reloadTo(true, 'api');
    await sleep(20000);
    await reloadTo(false, 'sighup');
  });
  every(5000, async () => { samples.push(sample(pid)); seenEvents(); });

  while (Date.now() - began < DURATION_MS) {
    await sleep(10000);
    if (vigil.proc.exitCode !== null || vigil.proc.signalCode !== null) break;
    const last = samples.at(-1);
    if (last && (Date.now() - began) % 60000 < 10000) log(`${Math.round((Date.now() - began) / 60000)} min: rss ${last.rssKiB} KiB, fds ${last.fds}, viewers ${figures.viewers}`);
  }
  stopping = true;
  for (const t of timers) clearInterval(t);
  const crashed = vigil.proc.exitCode !== null || vigil.proc.signalCode !== null;

  // Settle: every client gone, then the fds against the start.
  for (const c of slow) c.ws.terminate();
  if (publisher) { publisher.sender.stop(); publisher.c.close(); }
  await sleep(8000);
  // Every command must have reached a final status by now (timeouts are 5 s).
  seenEvents();
  for (const id of figures.commands.keys()) figures.commands.set(id, fates.get(id) ?? null);
  watcher.close();
  await sleep(2000); // its socket closed too before the fds are counted
  const end = crashed ? null : sample(pid);
  const stop = await vigil.stop();
  await camera.stop();
  await broker.kill();
  await procs.killAll();

  const after = samples.filter((s) => s.at - began >= WARMUP_MS && s.at - began < WARMUP_MS + 60000).map((s) => s.rssKiB);
  const last = samples.filter((s) => s.at - began >= DURATION_MS - 60000).map((s) => s.rssKiB);
  const growth = (median(last) - median(after)) / median(after) * 100;
  const unknown = [...figures.commands.values()].filter((s) => !finals.has(s)).length;
  const sanitizer = /ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(vigil.log());
  const results = {
    minutes: MINUTES, binary: process.env.VIGIL_BIN || 'build/vigil',
    crashes: crashed || stop.code !== 0 || sanitizer ? 1 : 0, exit: stop,
    rss_kib: { start: start.rssKiB, after_warmup_median: median(after), last_minute_median: median(last), max: Math.max(...samples.map((s) => s.rssKiB)) },
    rss_growth_percent: Number(growth.toFixed(2)),
    fds: { start: start.fds, end: end ? end.fds : null },
    viewers: figures.viewers, viewer_frames: figures.viewerFrames, stuck_viewers: figures.stuck.length, stuck: figures.stuck.slice(0, 10),
    commands: figures.commands.size, commands_unknown_fate: unknown,
    reloads: figures.reloads, reload_errors: figures.reloadErrors.length,
    camera_restarts: figures.cameraRestarts, publisher_reconnects: figures.publisherReconnects,
    broker_restarts: figures.brokerRestarts, rest_errors: figures.restErrors,
  };
  const targets = [
    ['crashes', results.crashes === 0, `${results.crashes}`, '0'],
    ['RSS growth after warm-up', growth < 2, `${results.rss_growth_percent} %`, '< 2 %'],
    ['fds end vs start', end && end.fds === start.fds, `${start.fds} -> ${end ? end.fds : '?'}`, 'equal'],
    ['viewers stuck without frames', figures.stuck.length === 0, `${figures.stuck.length} of ${figures.viewers}`, '0'],
    ['commands with unknown fate', unknown === 0, `${unknown} of ${figures.commands.size}`, '0'],
    ['reloads that went wrong', figures.reloadErrors.length === 0, `${figures.reloadErrors.length} of ${figures.reloads}`, '0'],
  ];
  results.targets = Object.fromEntries(targets.map(([k, ok, v, t]) => [k, { value: v, target: t, ok: !!ok }]));
  writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2));
  console.log(`\nsoak: ${MINUTES} min, ${figures.viewers} viewers, ${figures.commands.size} commands, ${figures.reloads} reloads, `
    + `${figures.cameraRestarts} camera / ${figures.brokerRestarts} broker restarts, ${figures.publisherReconnects} publisher reconnects`);
  console.log('| figure | value | target | |\n|---|---|---|---|');
  for (const [k, ok, v, t] of targets) console.log(`| ${k} | ${v} | ${t} | ${ok ? 'PASS' : 'FAIL'} |`);
  console.log(`| peak RSS | ${results.rss_kib.max} KiB | | |`);
  if (crashed || sanitizer) console.log(vigil.log().slice(-4000));
  process.exit(targets.every(([, ok]) => ok) ? 0 : 1);
}

main().catch(async (e) => {
  console.error('soak failed:', e);
  await procs.killAll();
  process.exit(2);
});

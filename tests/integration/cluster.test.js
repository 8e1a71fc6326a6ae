// vigil nodes clustered over NATS (cluster/, server/cluster_node.c,
// signaling/PROTOCOL.md "Clusters", REST "Cluster"), against real
// nats-servers (tests/lib/nats.js: three clustered with JetStream), a real
// mosquitto broker with the device simulator, and real vigil processes on
// loopback:
//   - one node ingests the stream; every node serves it to MSE and WebCodecs
//     viewers, each starting with its setup frame and a keyframe;
//   - the ingesting node publishes each frame once, whatever the viewers; an
//     edge holds one subscription to the media subject while it has viewers,
//     and none linger_ms after its last viewer left;
//   - garbage on vigil's subjects is counted and ignored;
//   - a command sent on a node that does not control the device goes
//     through the one that does, and its events reach every node;
//   - the ingesting node killed (SIGKILL): another takes over, viewers on the
//     others keep their socket and get the new node's setup frame and a
//     keyframe (the time it takes is printed);
//   - a NATS server killed: frames keep coming;
//   - a node whose NATS server is not there yet starts degraded and goes
//     live once it comes.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { natsConnect, natsServerVersion, NATS_SERVER, startNatsCluster } from '../lib/nats.js';
import { freeTcpPort } from '../lib/ports.js';
import { Client, SLOW, mintToken, sleep, startVigil, tempDir, until } from '../lib/vigil.js';
import { CAMERA_COMMANDS, Procs, startBroker, startSim } from './control_peers.js';

const STREAM = 'cam';
const FPS = 30;
const LEASE_MS = 3000;
const LINGER_MS = 3000; // cluster.linger_ms: short, so the test need not wait the default 10 s
const DEVICE = 'ptz1';
const PREFIX = 'vcl';
const MEDIA_SUBJECT = `vigil.main.media.${STREAM}`;
const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
// Setup and media kinds of each delivery mode (PROTOCOL.md, binary frames).
const SETUP = { mse: 1, webcodecs: 3 };
const MEDIA = { mse: 2, webcodecs: 4 };

const skip = !natsServerVersion() && 'nats-server is not installed';

// Every vigil this file started dies with it, whatever happens.
const started = new Set();
process.on('exit', () => {
  for (const p of started) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

function nodeConfig(id, port, natsUrls, { mqttPort } = {}) {
  const config = {
    server: { bind: '127.0.0.1' },
    streams: [{ id: STREAM, source: 'test://', options: { width: 320, height: 240, fps: FPS } }],
    cluster: { node_id: id, nats: natsUrls, advertise_url: `http://127.0.0.1:${port}/`, lease_ms: LEASE_MS, linger_ms: LINGER_MS },
  };
  if (mqttPort) {
    config.mqtt = {
      host: '127.0.0.1', port: mqttPort, prefix: PREFIX, keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2,
      client_id: `${PREFIX}-${id}-${port}`,
    };
    config.devices = [{ id: DEVICE, name: 'PTZ head', transport: 'mqtt', commands: CAMERA_COMMANDS }];
  }
  return config;
}

async function startNode(id, natsUrls, opts) {
  const port = await freeTcpPort();
  const v = await startVigil({ port, config: nodeConfig(id, port, natsUrls, opts), timeoutMs: 15000 * SLOW });
  started.add(v.proc);
  v.id = id;
  v.url = `http://127.0.0.1:${port}/`;
  v.exit = new Promise((resolve) => {
    if (v.proc.exitCode !== null || v.proc.signalCode !== null) resolve();
    else v.proc.on('exit', () => resolve());
  });
  return v;
}

const alive = (v) => v.proc.exitCode === null && v.proc.signalCode === null;

async function api(v, p) {
  const r = await v.fetch(p);
  const text = await r.text();
  assert.equal(r.status, 200, `${v.id} ${p}: ${r.status} ${text}`);
  return JSON.parse(text);
}
const clusterOf = (v) => api(v, '/api/cluster');
const streamOf = async (v) => (await api(v, '/api/streams')).find((s) => s.id === STREAM);

// The last part of each node's log (and the NATS servers'), for a failure.
function logs(nodes, nats) {
  const parts = nodes.map((v) => `--- vigil ${v.id} ${v.url}${alive(v) ? '' : ` (exited ${v.proc.exitCode ?? v.proc.signalCode})`}:\n${v.log().slice(-4000)}`);
  if (nats) parts.push(`--- nats:\n${nats.log().slice(-3000)}`);
  return parts.join('\n');
}

// A test whose failure carries the logs.
function ctest(name, fn, getLogs) {
  test(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const l = getLogs();
      try { e.message = `${e.message}\n${l}`; } catch { console.error(l); }
      throw e;
    }
  });
}

// A vigil.v1 viewer of STREAM that keeps, in order of arrival, every message
// and frame (Client keeps them in two lists).
async function viewer(v, mode, token) {
  const c = new Client(token ? `${v.wsBase}?access_token=${token}` : v.wsUrl);
  c.node = v.id;
  c.mode = mode;
  c.events = [];
  c.ws.on('message', (data, isBinary) => {
    // Client's own listener ran first: the item is the last of its list.
    c.events.push(isBinary ? { frame: c.frames[c.frames.length - 1] } : { msg: c.messages[c.messages.length - 1] });
  });
  await c.open();
  const r = await c.request({ type: 'subscribe', stream: STREAM, mode }, 5000 * SLOW);
  assert.equal(r.type, 'subscribe', `${v.id} ${mode}: ${JSON.stringify(r)}`);
  c.channel = r.channel;
  return c;
}
const mediaFrames = (c, from = 0) => c.frames.slice(from).filter((f) => f.kind === MEDIA[c.mode]);
const arrivalMs = (f) => Number(f.arrivalUs / 1000n);
const label = (c) => `${c.node}/${c.mode}`;

// Waits until a viewer has its setup frame and a first keyframe, and checks
// that they came first, in that order.
async function startsClean(c) {
  await until(() => c.frames.some((f) => f.kind === MEDIA[c.mode]), 8000,
    () => `${label(c)}: a first media frame (got kinds ${c.frames.map((f) => f.kind).join(',')}; ${JSON.stringify(c.messages.slice(-3))})`);
  assert.equal(c.frames[0].kind, SETUP[c.mode], `${label(c)}: the setup frame first, got kind ${c.frames[0].kind}`);
  const first = c.frames.find((f) => f.kind === MEDIA[c.mode]);
  assert.ok(first.flags & 1, `${label(c)}: the first media frame is a keyframe (flags ${first.flags})`);
  for (const f of c.frames) assert.equal(f.channel, c.channel, `${label(c)}: frames on its channel`);
}

// The presentation times of a WebCodecs viewer's units rise: no unit twice,
// none out of order (test:// has no B-frames).
function ptsRise(c, from = 0) {
  let last = -1n;
  for (const f of c.frames.slice(from)) {
    if (f.kind === SETUP.webcodecs) { last = -1n; continue; }
    if (f.kind !== MEDIA.webcodecs) continue;
    const pts = f.payload.readBigInt64BE(0);
    assert.ok(pts > last, `${label(c)}: pts ${pts} after ${last}`);
    last = pts;
  }
}

// A counter of /api/cluster per second over `ms`.
async function counterRate(v, name, ms) {
  const a = (await clusterOf(v)).counters[name];
  const t0 = performance.now();
  await sleep(ms);
  const b = (await clusterOf(v)).counters[name];
  return ((b - a) * 1000) / (performance.now() - t0);
}

// The media subscriptions of node `id`'s NATS connection.
async function mediaSubs(nats, id) {
  return (await nats.subscriptions({ name: `vigil ${id}` })).filter((s) => s.subject === MEDIA_SUBJECT);
}

describe('three vigil nodes on a NATS cluster', { skip, timeout: 180000 * SLOW }, () => {
  const procs = new Procs();
  let nats;
  let sim;
  const nodes = [];
  const open = new Set(); // clients to close after the test
  const L = () => logs(nodes, nats);
  const node = (id) => nodes.find((v) => v.id === id);
  const keep = (c) => { open.add(c); return c; };
  const closeAll = (list) => { for (const c of list) { c.close(); open.delete(c); } };

  // The node every live node names as the stream's ingester, once they agree.
  async function agreedHolder(live = nodes.filter(alive), minEpoch = 0) {
    let seen;
    return until(async () => {
      seen = await Promise.all(live.map(streamOf));
      const n = seen[0]?.node;
      const ok = n && seen.every((s) => s.node === n && s.epoch === seen[0].epoch) && seen[0].epoch > minEpoch;
      return ok ? { holder: node(n), epoch: seen[0].epoch } : null;
    }, 10000, () => `every node naming one ingester: ${JSON.stringify(seen)}`);
  }

  before(async () => {
    nats = await startNatsCluster({ n: 3 });
    const mqttPort = await freeTcpPort();
    procs.add(await startBroker(mqttPort));
    sim = procs.add(await startSim(['--id', DEVICE, '--mqtt-port', String(mqttPort), '--prefix', PREFIX, '--telemetry-ms', '1000']));
    for (const id of ['n1', 'n2', 'n3']) nodes.push(await startNode(id, nats.urls, { mqttPort }));
  });

  after(async () => {
    closeAll([...open]);
    const survivors = nodes.filter(alive);
    const st = await Promise.all(survivors.map((v) => v.stop()));
    await nats?.stop();
    await procs.killAll();
    survivors.forEach((v, i) => assert.equal(st[i].code, 0, `vigil ${v.id} exit ${JSON.stringify(st[i])}\n${v.log().slice(-4000)}`));
  });

  // Whatever a test leaves open (also when it fails) is closed after it.
  let viewersClosedAt = 0;
  afterEach(() => {
    if (!open.size) return;
    closeAll([...open]);
    viewersClosedAt = Date.now();
  });

  ctest('one node ingests; MSE and WebCodecs viewers on every node start with their setup frame and a keyframe, at the stream rate', async () => {
    const t0 = Date.now();
    const { holder, epoch } = await agreedHolder();
    assert.ok(epoch >= 1);
    // Every node lists all three, with their advertised URLs; only the
    // holder ingests, and only it holds the lease.
    // (What a node says of the others is their last heartbeat: up to 1 s old.)
    let views;
    await until(async () => {
      views = await Promise.all(nodes.map(clusterOf));
      return views.every((c) => c.nodes.length === 3 && c.nodes.every((x) => x.ingests.join() === (x.node === holder.id ? STREAM : '')));
    }, 5000, () => `every node hearing the two others, ${holder.id} ingesting: ${JSON.stringify(views?.map((c) => c.nodes))}`);
    for (const v of nodes) {
      const c = await clusterOf(v);
      assert.equal(c.node, v.id);
      assert.equal(c.connected, true);
      assert.deepEqual(c.nodes.map((x) => x.node).sort(), ['n1', 'n2', 'n3']);
      for (const x of c.nodes) {
        assert.equal(x.url, node(x.node).url, JSON.stringify(x));
        assert.deepEqual(x.ingests, x.node === holder.id ? [STREAM] : [], JSON.stringify(x));
      }
      const lease = c.leases[`stream.${STREAM}`];
      assert.equal(lease.node, holder.id);
      assert.equal(lease.epoch, epoch);
      assert.equal(lease.mine, v === holder);
      assert.equal(lease.url, holder.url);
      const h = await api(v, '/api/health');
      assert.deepEqual(h.cluster, { node: v.id, connected: true });
      assert.equal(h.status, 'ok');
    }

    const viewers = [];
    for (const v of nodes) for (const mode of ['mse', 'webcodecs']) viewers.push(keep(await viewer(v, mode)));
    await Promise.all(viewers.map(startsClean));
    // Keeps coming, at the stream's rate, each frame once (counted after
    // the GOP each viewer started with).
    await sleep(500);
    const from = viewers.map((c) => c.frames.length);
    const t1 = Date.now();
    await sleep(2000);
    const secs = (Date.now() - t1) / 1000;
    const rates = viewers.map((c, i) => mediaFrames(c, from[i]).length / secs);
    for (const [i, c] of viewers.entries()) {
      assert.ok(rates[i] >= FPS * 0.7 / SLOW && rates[i] <= FPS * 1.3, `${label(c)}: ${rates[i].toFixed(1)} frames/s (all: ${rates.map((r) => r.toFixed(1))})`);
      if (c.mode === 'webcodecs') ptsRise(c);
      assert.equal(c.closed, null);
    }
    console.log(`cluster: ingested by ${holder.id} (epoch ${epoch}); viewers' frames/s ${viewers.map((c, i) => `${label(c)} ${rates[i].toFixed(1)}`).join(', ')}; test ${Date.now() - t0} ms`);
  }, L);

  ctest('the ingesting node publishes each frame once whatever the viewers; an edge subscribes once while it has viewers', async () => {
    const { holder } = await agreedHolder();
    const edges = nodes.filter((v) => v !== holder);
    // The edges of the last test let go of the media subject linger_ms
    // after their last viewer left; the holder never subscribes to it.
    let subs;
    await until(async () => {
      subs = await Promise.all(nodes.map((v) => mediaSubs(nats, v.id)));
      return subs.every((s) => s.length === 0);
    }, 16000, () => `no media subscription left: ${JSON.stringify(subs)}`);
    if (viewersClosedAt) {
      const after_ = Date.now() - viewersClosedAt;
      assert.ok(after_ >= LINGER_MS - 500, `media subscriptions gone ${after_} ms after the last viewer left (${LINGER_MS} ms linger)`);
    }
    for (const v of edges) assert.deepEqual((await clusterOf(v)).watching, []);

    const quiet = await counterRate(holder, 'frames_published', 3000);
    // The stream's own rate (measured by the holder each second).
    const fps = (await streamOf(holder)).fps;

    const viewers = [];
    for (const v of edges) for (const mode of ['mse', 'webcodecs', 'mse']) viewers.push(keep(await viewer(v, mode)));
    await Promise.all(viewers.map(startsClean));
    for (const v of edges) {
      const s = await mediaSubs(nats, v.id);
      assert.equal(s.length, 1, `${v.id} with 3 viewers: ${JSON.stringify(s)}`);
      assert.deepEqual((await clusterOf(v)).watching, [STREAM]);
    }
    assert.deepEqual(await mediaSubs(nats, holder.id), []);
    const busy = await counterRate(holder, 'frames_published', 3000);
    for (const c of viewers) assert.equal(c.closed, null, label(c));

    console.log(`cluster: frames_published/s on ${holder.id}: ${quiet.toFixed(1)} without edge viewers, ${busy.toFixed(1)} with 3 on each edge (stream fps ${fps})`);
    assert.ok(Math.abs(busy - quiet) <= 0.15 * quiet, `published/s ${quiet.toFixed(1)} without viewers, ${busy.toFixed(1)} with 6`);
    // Each video frame once per delivery relay (MSE and WebCodecs).
    for (const r of [quiet, busy]) {
      assert.ok(r >= 2 * fps * 0.85 && r <= 2 * fps * 1.15, `published/s ${r.toFixed(1)} vs stream fps ${fps} (2 relays)`);
    }
    assert.ok(fps >= FPS * 0.8 / SLOW, `stream fps ${fps}`);
    const counters = (await clusterOf(holder)).counters;
    assert.equal(counters.frames_publish_dropped, 0, JSON.stringify(counters));
  }, L);

  ctest('garbage on the media and control subjects is counted and ignored', async () => {
    const { holder, epoch } = await agreedHolder();
    const edges = nodes.filter((v) => v !== holder);
    const viewers = [];
    for (const v of nodes) viewers.push(keep(await viewer(v, 'webcodecs')));
    await Promise.all(viewers.map(startsClean));
    // The edges receive the media subject now (a node subscribes before it
    // asks for the GOP its first viewer started with).
    for (const v of edges) assert.equal((await mediaSubs(nats, v.id)).length, 1);
    const dropped = async () => Object.fromEntries(await Promise.all(nodes.map(async (v) => [v.id, (await clusterOf(v)).counters.messages_dropped])));
    const before0 = await dropped();

    const nc = await natsConnect(nats.urls[0], { name: 'vigil-test-junk' });
    try {
      // Control: no headers at all; a heartbeat ("node") that is not JSON.
      nc.publish('vigil.main.ctl.all', 'hello');
      nc.publish('vigil.main.ctl.all', 'not json {', { headers: { 'Vigil-Type': 'node', 'Vigil-Node': 'junk' } });
      // Media: no headers; a Vigil-Frame that does not parse, or names a
      // kind, relay or flags out of range.
      const frameHeaders = (frame) => ({ 'Vigil-Type': 'frame', 'Vigil-Node': holder.id, 'Vigil-Stream': STREAM, 'Vigil-Epoch': String(epoch), 'Vigil-Frame': frame });
      const badFrames = ['junk', '4.1.1.5', '4.1.1.5.1.7', '9.0.1.5.1', '4.1.0.5.1', '2.1.1.5.1', '4.999.1.5.1', '4.1.9.5.1', '4.1.1.x.1', '0.0.0.5.1', ''];
      nc.publish(MEDIA_SUBJECT, Buffer.alloc(64, 0xab));
      for (const f of badFrames) nc.publish(MEDIA_SUBJECT, Buffer.alloc(64, 0xcd), { headers: frameHeaders(f) });
      await nc.flush();
      const want = (v) => before0[v.id] + 2 + (v === holder ? 0 : 1 + badFrames.length);
      let now;
      await until(async () => {
        now = await dropped();
        return nodes.every((v) => now[v.id] >= want(v));
      }, 5000, () => `messages_dropped ${JSON.stringify(before0)} -> ${JSON.stringify(now)}`);
      await sleep(300);
      now = await dropped();
      // Each counted once; the holder does not receive its own media subject.
      for (const v of nodes) assert.equal(now[v.id], want(v), `${v.id}: messages_dropped ${before0[v.id]} -> ${now[v.id]}`);
    } finally {
      nc.close();
    }
    // Well-formed but forged: a frame from a node that does not hold the
    // stream, one claiming a far newer epoch in the holder's name, and a
    // state message of that epoch. Only the lease moves a stream: they are
    // counted as stale, and nothing changes.
    const stale = async () => Object.fromEntries(await Promise.all(edges.map(async (v) => [v.id, (await clusterOf(v)).counters.stale_frames])));
    const stale0 = await stale();
    const forged = await natsConnect(nats.urls[1], { name: 'vigil-test-forger' });
    try {
      const hdr = (node, ep) => ({ 'Vigil-Type': 'frame', 'Vigil-Node': node, 'Vigil-Stream': STREAM, 'Vigil-Epoch': String(ep), 'Vigil-Frame': `4.1.1.${1e9}.1` });
      for (let i = 0; i < 5; i++) {
        forged.publish(MEDIA_SUBJECT, Buffer.alloc(64, 0x11), { headers: hdr('evil', epoch) });
        forged.publish(MEDIA_SUBJECT, Buffer.alloc(64, 0x22), { headers: hdr(holder.id, epoch + 1000) });
      }
      forged.publish('vigil.main.ctl.all', JSON.stringify({ state: 'failed', codecs: null, error: 'forged' }),
        { headers: { 'Vigil-Type': 'state', 'Vigil-Node': 'evil', 'Vigil-Stream': STREAM, 'Vigil-Epoch': String(epoch + 1000) } });
      await forged.flush();
      let st;
      await until(async () => { st = await stale(); return edges.every((v) => st[v.id] >= stale0[v.id] + 10); }, 5000,
        () => `stale_frames ${JSON.stringify(stale0)} -> ${JSON.stringify(st)}`);
    } finally {
      forged.close();
    }
    for (const v of nodes) {
      const s = await streamOf(v);
      assert.equal(s.node, holder.id, `${v.id} follows the lease, not a forged frame`);
      assert.equal(s.epoch, epoch);
      assert.equal(s.state, 'live');
    }

    // Nobody took "junk" for a node, everybody is up, viewers go on.
    const marks = viewers.map((c) => mediaFrames(c).length);
    for (const v of nodes) {
      assert.ok(alive(v), `${v.id} exited`);
      assert.equal((await api(v, '/api/health')).status, 'ok');
      assert.ok(!(await clusterOf(v)).nodes.some((x) => x.node === 'junk'));
    }
    await until(() => viewers.every((c, i) => mediaFrames(c).length >= marks[i] + FPS / 2), 3000,
      () => `frames after the garbage: ${viewers.map((c, i) => `${label(c)} +${mediaFrames(c).length - marks[i]}`)}`);
    for (const c of viewers) { assert.equal(c.closed, null); ptsRise(c); }
    assert.deepEqual((await agreedHolder()).holder, holder);
  }, L);

  ctest('a command sent on a node that does not control the device goes through the one that does', async () => {
    let leases;
    const holderId = await until(async () => {
      leases = await Promise.all(nodes.map(async (v) => (await clusterOf(v)).leases[`device.${DEVICE}`]));
      const n = leases[0]?.node;
      return n && leases.every((l) => l?.node === n) ? n : null;
    }, 10000, () => `every node naming the device's controller: ${JSON.stringify(leases)}`);
    const devHolder = node(holderId);
    const [issuerNode] = nodes.filter((v) => v !== devHolder);
    assert.deepEqual((await clusterOf(devHolder)).nodes.find((x) => x.self).devices, [DEVICE]);

    // A watcher of the devices on every node.
    const watchers = [];
    for (const v of nodes) {
      const w = keep(new Client(v.wsUrl));
      await w.open();
      const d = await w.request({ type: 'devices' });
      assert.deepEqual(d.devices.map((x) => x.id), [DEVICE]);
      w.node = v.id;
      watchers.push(w);
    }
    await until(async () => (await api(devHolder, `/api/devices/${DEVICE}`)).online === true, 8000, () => 'the device online');

    // A viewer may not command: refused on its own node, counted there.
    const forbidden0 = (await api(issuerNode, '/api/health')).counters.forbidden;
    const asViewer = keep(new Client(`${issuerNode.wsBase}?access_token=${mintToken({ sub: 'watcher', role: 'viewer' })}`));
    await asViewer.open();
    const refused = await asViewer.request({ type: 'command', device: DEVICE, name: 'light', params: { on: true } });
    assert.equal(refused.type, 'error', JSON.stringify(refused));
    assert.equal(refused.code, 'forbidden', JSON.stringify(refused));
    assert.equal((await api(issuerNode, '/api/health')).counters.forbidden, forbidden0 + 1);

    // An operator's command: forwarded, issued by the controller.
    const op = keep(new Client(`${issuerNode.wsBase}?access_token=${mintToken({ sub: 'op', role: 'operator' })}`));
    await op.open();
    const t0 = performance.now();
    const r = await op.request({ type: 'command', device: DEVICE, name: 'ptz', params: { pan: 0.5, tilt: -0.25 } });
    const replyMs = performance.now() - t0;
    assert.equal(r.type, 'command', JSON.stringify(r));
    assert.equal(r.status, 'queued', JSON.stringify(r));
    assert.equal(r.node, devHolder.id, JSON.stringify(r));
    assert.equal(r.device, DEVICE);
    assert.match(r.command_id, /^[0-9a-f]{8}-\d+$/);
    const cid = r.command_id;
    const done = await op.waitFor((m) => m.type === 'command.status' && m.command_id === cid && FINAL.includes(m.status), 8000 * SLOW, `${cid} final`);
    assert.equal(done.status, 'acknowledged', JSON.stringify(done));
    assert.equal(done.result.pan, 0.5);
    const statuses = (c) => c.messages.filter((m) => m.type === 'command.status' && m.command_id === cid).map((m) => m.status);
    assert.deepEqual(statuses(op), ['queued', 'sent', 'delivered', 'acknowledged']);
    // Every node's watchers hear each event once.
    for (const w of watchers) {
      await w.waitFor((m) => m.type === 'command.status' && m.command_id === cid && m.status === 'acknowledged', 5000 * SLOW, `${w.node} hears ${cid} acknowledged`);
    }
    await sleep(300);
    for (const w of watchers) assert.deepEqual(statuses(w), ['queued', 'sent', 'delivered', 'acknowledged'], `watcher on ${w.node}`);
    // The device got it once; the viewer's nothing.
    const atDevice = sim.lines.filter((l) => l.id === cid);
    assert.deepEqual(atDevice.map((l) => l.action), ['executed'], sim.text.slice(-1000));
    assert.ok(!sim.lines.some((l) => l.action === 'executed' && l.id !== cid), `the device executed only ${cid}: ${sim.text.slice(-1000)}`);
    // The controller's REST has the command.
    const c = await api(devHolder, `/api/commands/${cid}`);
    assert.equal(c.status, 'acknowledged');
    console.log(`cluster: command on ${issuerNode.id} for ${DEVICE} (controlled by ${devHolder.id}): reply in ${replyMs.toFixed(1)} ms`);
  }, L);

  ctest('the ingesting node killed: viewers on the others keep their socket and get the new node\'s setup frame and a keyframe', async () => {
    const { holder, epoch } = await agreedHolder();
    const survivors = nodes.filter((v) => v !== holder);
    const viewers = [];
    for (const v of survivors) for (const mode of ['mse', 'webcodecs']) viewers.push(keep(await viewer(v, mode)));
    await Promise.all(viewers.map(startsClean));
    const from = viewers.map((c) => c.events.length);

    const killedAt = Date.now();
    holder.proc.kill('SIGKILL');
    await holder.exit;

    // For each viewer: a stream.state naming another node at a higher
    // epoch, and a setup frame followed by a keyframe (PROTOCOL.md
    // "Clusters": in that order, which is checked last).
    const found = [];
    // Events as text: messages in full, frames as kind.flags@ms since the
    // kill, a run of plain media frames as xN..@ms (the last one's).
    const brief = (ev) => {
      const out = [];
      let run = 0;
      let last = 0;
      const flush = () => { if (run) out.push(`x${run}..@${last}`); run = 0; };
      for (const e of ev.slice(0, 200)) {
        const f = e.frame;
        if (f && f.flags === 0 && f.kind % 2 === 0 && /^[24]\.0@/.test(out[out.length - 1] ?? '')) {
          run++;
          last = arrivalMs(f) - killedAt;
          continue;
        }
        flush();
        out.push(e.msg ? `${e.msg.type}(${e.msg.state},${e.msg.node},${e.msg.epoch},${e.msg.codecs})` : `${f.kind}.${f.flags}@${arrivalMs(f) - killedAt}`);
      }
      flush();
      return out.join(' ');
    };
    await Promise.all(viewers.map(async (c, i) => {
      let ev = [];
      found[i] = await until(() => {
        ev = c.events.slice(from[i]);
        const s = ev.findIndex((e) => e.msg?.type === 'stream.state' && e.msg.epoch > epoch && e.msg.node && e.msg.node !== holder.id);
        const setup = ev.findIndex((e) => e.frame?.kind === SETUP[c.mode]);
        const key = setup < 0 ? -1 : ev.findIndex((e, k) => k > setup && e.frame?.kind === MEDIA[c.mode]);
        return s >= 0 && key >= 0 ? { s, setup, key, ev } : null;
      }, LEASE_MS + 5000, () => `${label(c)}: a new state, a setup frame, a keyframe; events since the kill: ${brief(ev)}`);
    }));
    const took = found.map((f) => arrivalMs(f.ev[f.key].frame) - killedAt);
    const newNode = found[0].ev[found[0].s].msg.node;
    console.log(`cluster: failover: kill -9 of ${holder.id} -> first keyframe from ${newNode}: ${viewers.map((c, i) => `${label(c)} ${took[i]} ms`).join(', ')} (lease ${LEASE_MS} ms)`);
    for (const c of viewers) assert.equal(c.closed, null, `${label(c)} closed`);
    assert.ok(Math.max(...took) <= 5000 * SLOW + 1000, `failover took ${Math.max(...took)} ms`);
    for (const [i, c] of viewers.entries()) {
      const { s, setup, key, ev } = found[i];
      const state = ev[s].msg;
      c.newNode = state.node;
      assert.ok(survivors.some((v) => v.id === state.node), JSON.stringify(state));
      assert.ok(ev[key].frame.flags & 1, `${label(c)}: the first frame after the new setup is a keyframe (flags ${ev[key].frame.flags})`);
    }
    // PROTOCOL.md: the new node's stream.state before its setup frame
    // (checked last, so that everything else is checked too).
    const misordered = viewers.map((c, i) => {
      const { s, setup, ev } = found[i];
      return s < setup ? null : `${label(c)}: the stream.state naming ${ev[s].msg.node} (epoch ${ev[s].msg.epoch}) after the new setup frame; events since the kill: ${brief(ev)}`;
    }).filter(Boolean);
    assert.equal(new Set(viewers.map((c) => c.newNode)).size, 1);

    // The survivors agree on the new node and epoch; frames go on.
    const now = await agreedHolder(survivors, epoch);
    assert.equal(now.holder.id, viewers[0].newNode);
    const marks = viewers.map((c) => mediaFrames(c).length);
    await until(() => viewers.every((c, i) => mediaFrames(c).length >= marks[i] + FPS / 2), 3000,
      () => `frames after the failover: ${viewers.map((c, i) => `${label(c)} +${mediaFrames(c).length - marks[i]}`)}`);
    for (const c of viewers) if (c.mode === 'webcodecs') ptsRise(c, c.frames.findLastIndex((f) => f.kind === SETUP.webcodecs));
    // The dead node leaves /api/cluster's nodes 5 s after its last word.
    let listed;
    await until(async () => {
      listed = await Promise.all(survivors.map(async (v) => (await clusterOf(v)).nodes.map((x) => x.node).sort()));
      return listed.every((l) => l.join() === survivors.map((x) => x.id).sort().join());
    }, 8000, () => `the dead node gone from nodes: ${JSON.stringify(listed)}`);
    assert.deepEqual(misordered, []);
  }, L);

  ctest('a NATS server killed: viewers keep receiving frames', async () => {
    const live = nodes.filter(alive);
    const { holder, epoch } = await agreedHolder(live);
    // The server the ingesting node publishes through.
    const url = (await clusterOf(holder)).nats;
    const si = nats.urls.indexOf(url);
    assert.ok(si >= 0, `${holder.id} on ${url}, not one of ${nats.urls}`);
    const viewers = [];
    for (const v of live) for (const mode of ['mse', 'webcodecs']) viewers.push(keep(await viewer(v, mode)));
    await Promise.all(viewers.map(startsClean));
    const before0 = Object.fromEntries(await Promise.all(live.map(async (v) => [v.id, (await clusterOf(v)).nats])));
    const marks = viewers.map((c) => mediaFrames(c).length);
    const t0 = Date.now();
    await nats.kill(si);
    await until(() => viewers.every((c, i) => mediaFrames(c).length >= marks[i] + 2 * FPS * 0.9), 4000,
      () => `2 s of frames within 4 s: ${viewers.map((c, i) => `${label(c)} +${mediaFrames(c).length - marks[i]}`)}`);
    const ms = Date.now() - t0;
    for (const c of viewers) assert.equal(c.closed, null, label(c));
    // Every node is back on a live server.
    let st;
    await until(async () => {
      st = await Promise.all(live.map(clusterOf));
      return st.every((c) => c.connected && c.nats && c.nats !== url);
    }, 8000, () => `every node reconnected: ${JSON.stringify(st?.map((c) => [c.node, c.connected, c.nats]))}`);
    const after_ = await agreedHolder(live);
    console.log(`cluster: NATS server ${si} (${url}) killed; ${holder.id} ingesting before, ${after_.holder.id} after (epoch ${epoch} -> ${after_.epoch}); 2 s of frames in ${ms} ms; connections ${JSON.stringify(before0)} -> ${JSON.stringify(Object.fromEntries(st.map((c) => [c.node, c.nats])))}`);
    for (const v of live) assert.equal((await api(v, '/api/health')).status, 'ok');
  }, L);
});

describe('a node whose NATS server is not there yet', { skip, timeout: 60000 * SLOW }, () => {
  let v;
  let ns;
  let natsLog = '';
  const L = () => `${v ? logs([v]) : ''}\n--- nats-server:\n${natsLog.slice(-3000)}`;

  after(async () => {
    if (v) {
      const st = await v.stop();
      assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${v.log().slice(-4000)}`);
    }
    if (ns && ns.exitCode === null && ns.signalCode === null) {
      ns.kill('SIGINT');
      const t = setTimeout(() => ns.kill('SIGKILL'), 10000);
      await new Promise((resolve) => ns.on('exit', resolve));
      clearTimeout(t);
    }
  });

  ctest('starts degraded, then connects and goes live once a server listens there', async () => {
    const natsPort = await freeTcpPort();
    v = await startNode('solo', [`nats://127.0.0.1:${natsPort}`]);
    const h = await api(v, '/api/health');
    assert.equal(h.status, 'degraded', JSON.stringify(h));
    assert.deepEqual(h.cluster, { node: 'solo', connected: false });
    const cl = await clusterOf(v);
    assert.equal(cl.connected, false);
    assert.equal(cl.nats, null);
    const s0 = await streamOf(v);
    assert.equal(s0.state, 'retrying', JSON.stringify(s0));
    assert.equal(s0.node ?? null, null, JSON.stringify(s0));
    const c = await viewer(v, 'mse');
    await sleep(500);
    assert.equal(mediaFrames(c).length, 0);

    const t0 = Date.now();
    const argv = ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', tempDir('vigil-nats-solo-'), '-n', 'nats-solo'];
    const setpriv = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;
    ns = setpriv ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', NATS_SERVER, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(NATS_SERVER, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    process.on('exit', () => { try { ns.kill('SIGKILL'); } catch { /* gone */ } });
    ns.stdout.on('data', (d) => { natsLog += d; });
    ns.stderr.on('data', (d) => { natsLog += d; });

    let hh;
    await until(async () => {
      hh = await api(v, '/api/health');
      return hh.cluster.connected;
    }, 8000, () => `connected: ${JSON.stringify(hh)}`);
    const connectedMs = Date.now() - t0;
    assert.equal(hh.status, 'ok');
    let s;
    await until(async () => {
      s = await streamOf(v);
      return s.state === 'live' && s.node === 'solo';
    }, 8000, () => `live on solo: ${JSON.stringify(s)}`);
    assert.ok(s.epoch >= 1);
    await startsClean(c);
    const liveMs = arrivalMs(c.frames[0]) - t0;
    const st = await c.waitFor((m) => m.type === 'stream.state' && m.state === 'live', 3000, 'live event');
    assert.equal(st.node, 'solo');
    assert.equal(st.epoch, s.epoch);
    const cl2 = await clusterOf(v);
    assert.equal(cl2.leases[`stream.${STREAM}`].mine, true);
    assert.deepEqual(cl2.nodes.find((x) => x.self).ingests, [STREAM]);
    console.log(`cluster: nats-server started: connected after ${connectedMs} ms, first frame after ${liveMs} ms (last_error before: ${JSON.stringify(s0.last_error)})`);
    c.close();
  }, L);
});

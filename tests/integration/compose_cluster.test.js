// docker-compose.yml's "cluster" profile without a Docker engine: the file
// must validate with the profile, and the services it resolves to must work
// when run natively, from the resolved config rather than retyped: the three
// nats-servers' command lines (their host names, ports and store volumes
// swapped for loopback ports of ports.js and temp directories, the routes
// pointed at each other's loopback cluster ports), the three vigil nodes'
// command line with the files their volumes mount (deploy/cluster/
// node1..3.json, with NATS URLs, port, advertise_url, broker address and
// web_root swapped, and the secret service's secret), a native mosquitto
// as the broker (config/mosquitto.conf, as in compose.test.js), and the lb
// service: its image's nginx command line (deploy/cluster/Dockerfile, target
// lb) with deploy/cluster/nginx.conf, placeholders substituted as its header
// comment says. Through the balancer: health, /api/cluster with the three
// nodes, one ingesting node per stream that every node agrees on, three
// WebSocket viewers on three different nodes (least_conn) each getting an
// init segment and a keyframe of "demo", and after a kill -9 of demo's
// ingesting node a new viewer getting demo again, from another node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, ROOT, SLOW, VIGIL_BIN, mintToken, tempDir, until } from '../lib/vigil.js';
import { natsServerVersion, serverState } from '../lib/nats.js';
import { composeConfig, mountOf, run, volumeMounts } from '../lib/compose.js';
import { freeTcpPort } from '../lib/ports.js';
import { brokerDir, startBroker } from './control_peers.js';

const PROFILE = ['--profile', 'cluster'];
const MOSQUITTO_CONF = path.join(ROOT, 'config/mosquitto.conf');
const CONTAINER_CONFIG = '/etc/vigil/vigil.json';
const SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

function dependsOn(service) {
  const d = service.depends_on || [];
  return Array.isArray(d) ? d : Object.keys(d);
}

function flagValue(command, flag) {
  const i = command.indexOf(flag);
  return i >= 0 ? command[i + 1] : undefined;
}

function portPairs(service) {
  return (service.ports || []).map((p) => {
    if (typeof p !== 'string') return `${p.published}:${p.target}`;
    return p.replace(/\/tcp$/, '').split(':').slice(-2).join(':');
  });
}

function shScript(service) {
  const cmd = [].concat(service?.command ?? []);
  assert.deepEqual(cmd.slice(0, 2), ['sh', '-c'], `command: ${JSON.stringify(service?.command)}`);
  return cmd[2];
}

// A URL's port, or `dflt`.
const urlPort = (u, dflt) => Number(new URL(u).port || dflt);

// The cluster profile's services, by what they run: {nats, vigil, lb} (nats
// and vigil sorted by name), each checked for the shape the rest relies on.
function clusterServices(services) {
  const inProfile = Object.entries(services).filter(([, s]) => (s.profiles || []).includes('cluster'));
  const nats = inProfile.filter(([, s]) => [].concat(s.command ?? [])[0] === 'nats-server').sort();
  const vigil = inProfile.filter(([, s]) => [].concat(s.command ?? [])[0] === 'vigil').sort();
  return { nats, vigil, lb: services.lb };
}

// The CMD of one stage of a Dockerfile (exec form).
function stageCmd(dockerfile, target) {
  const text = readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ');
  const stages = text.split(/^(?=FROM )/m);
  const stage = stages.find((s) => new RegExp(`^FROM \\S+ AS ${target}\\s*$`, 'im').test(s.split('\n')[0]));
  assert.ok(stage, `a stage ${target} in ${dockerfile}`);
  const cmd = stage.split('\n').find((l) => /^CMD /.test(l));
  assert.ok(cmd, `a CMD in stage ${target}`);
  return JSON.parse(cmd.slice(4));
}

// ---- processes -----------------------------------------------------------------

// Everything started here, killed if the test process exits without its
// teardown; spawned through `setpriv --pdeathsig` where there is one, so
// even a SIGKILLed test process leaves nothing behind (nginx gets SIGTERM:
// its master then stops its workers).
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
});

class Proc {
  constructor(name, cmd, args, { deathSig = 'KILL', stdout = 'pipe', ...opts } = {}) {
    this.name = name;
    this.text = '';
    const [c, a] = SETPRIV ? ['setpriv', ['--pdeathsig', deathSig, '--', cmd, ...args]] : [cmd, args];
    this.proc = spawn(c, a, { cwd: ROOT, stdio: ['ignore', stdout, 'pipe'], ...opts });
    this.exited = null;
    live.add(this);
    const keep = (d) => { this.text = (this.text + d).slice(-65536); };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr.on('data', keep);
    this.proc.on('error', (e) => keep(`\nspawn ${cmd}: ${e.message}\n`));
    this.exit = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      live.delete(this);
      this.exited = { code, signal };
      resolve(this.exited);
    }));
  }
  tail(n = 3000) { return `--- ${this.name}${this.exited ? ` exited ${JSON.stringify(this.exited)}` : ''}:\n${this.text.slice(-n)}`; }
  // Sends `signal` and resolves with the exit status (`hard` after graceMs).
  async stop(signal = 'SIGTERM', graceMs = 20000, hard = 'SIGKILL') {
    if (this.exited) return this.exited;
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill(hard), graceMs);
    const st = await this.exit;
    clearTimeout(t);
    return st;
  }
}

async function getJson(url, token) {
  const r = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(3000) });
  return { status: r.status, json: r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text() };
}

// ---- the cluster, started from the compose config ------------------------

// Starts every service of the profile natively; `procs` collects what runs
// (a teardown stops them even when this throws half-way).
async function startCluster(procs) {
  const services = composeConfig(PROFILE).services;
  const { nats, vigil, lb } = clusterServices(services);
  const home = tempDir('vigil-compose-cluster-');

  // The secret service's script, its volume a directory of the test's.
  const secretFile = flagValue([].concat(vigil[0][1].command), '--auth-secret-file');
  const secretMount = mountOf(vigil[0][1], secretFile);
  const secretDir = path.join(home, 'secret');
  mkdirSync(secretDir);
  const script = shScript(services.secret).replaceAll(`${secretMount.target}/`, `${secretDir}/`);
  const made = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 30000 });
  assert.equal(made.status, 0, made.stderr);
  const localSecret = secretFile.replace(`${secretMount.target}/`, `${secretDir}/`);
  const secret = readFileSync(localSecret, 'utf8').trim();

  // The NATS servers: client, cluster and monitoring ports on loopback, the
  // store volume a temp directory, routes to each other's cluster ports.
  const natsHosts = {};
  for (const [name] of nats) {
    natsHosts[name] = { client: await freeTcpPort(), cluster: await freeTcpPort(), monitor: await freeTcpPort() };
  }
  const natsProcs = [];
  for (const [name, svc] of nats) {
    const cmd = [].concat(svc.command);
    const h = natsHosts[name];
    const store = mountOf(svc, flagValue(cmd, '-sd'));
    assert.ok(store, `${name}: its store (-sd) is a volume: ${JSON.stringify(svc.volumes)}`);
    const storeDir = path.join(home, name);
    mkdirSync(storeDir);
    const route = (u) => {
      const url = new URL(u);
      const peer = natsHosts[url.hostname];
      assert.ok(peer, `${name}: route ${u} to a nats service of the profile`);
      assert.equal(urlPort(u, 6222), urlPort(flagValue([].concat(services[url.hostname].command), '--cluster'), 6222), u);
      return `nats://127.0.0.1:${peer.cluster}`;
    };
    const args = cmd.slice(1).map((a, i, all) => {
      switch (all[i - 1]) {
        case '-sd': return a.replace(store.target, storeDir);
        case '-m': return String(h.monitor);
        case '-p': return String(h.client);
        case '--cluster': return `nats://127.0.0.1:${h.cluster}`;
        case '--routes': return a.split(',').map(route).join(',');
        default: return a;
      }
    });
    assert.ok(args.includes('-n') && args.includes('-js'), `${name}: a server name and JetStream: ${cmd.join(' ')}`);
    // Compose's servers listen on every interface on the default client
    // port; these on loopback, on a port of their own.
    if (!args.includes('-p')) args.push('-p', String(h.client));
    args.push('-a', '127.0.0.1');
    h.url = `nats://127.0.0.1:${h.client}`;
    h.monitorUrl = `http://127.0.0.1:${h.monitor}`;
    natsProcs.push(procs.add(new Proc(name, cmd[0], args), 'nats'));
  }
  // Ready: every server healthy, routed to the two others, one meta leader.
  await until(async () => {
    const dead = natsProcs.find((p) => p.exited);
    if (dead) throw new Error(`nats-server exited:\n${dead.tail()}`);
    const st = await Promise.all(Object.values(natsHosts).map((h) => serverState(h.monitorUrl)));
    return st.every((s) => s?.healthy && s.routes === nats.length - 1 && s.leader && s.leader === st[0].leader);
  }, 20000, () => `the nats cluster ready:\n${natsProcs.map((p) => p.tail(1500)).join('\n')}`);

  // The broker: config/mosquitto.conf on a free loopback port.
  const brokerPort = await freeTcpPort();
  const bdir = brokerDir();
  const conf = readFileSync(MOSQUITTO_CONF, 'utf8')
    .replace(/^listener 1883$/m, `listener ${brokerPort} 127.0.0.1`)
    .replace(/^persistence_location .*$/m, `persistence_location ${bdir}/`);
  assert.match(conf, new RegExp(`^listener ${brokerPort} 127\\.0\\.0\\.1$`, 'm'));
  procs.add(await startBroker(brokerPort, bdir, conf), 'broker');

  // The vigil nodes: the compose command with the file its volume mounts,
  // rewritten for loopback.
  const nodes = [];
  for (const [name, svc] of vigil) {
    const cmd = [].concat(svc.command);
    const cfgMount = volumeMounts(svc).find((m) => m.target === flagValue(cmd, '--config'));
    assert.ok(cfgMount, `${name}: its --config is mounted: ${JSON.stringify(svc.volumes)}`);
    const cfg = JSON.parse(readFileSync(cfgMount.source, 'utf8'));
    const port = await freeTcpPort();
    const containerPort = cfg.server.port;
    // What the compose file publishes it as is what it advertises.
    const published = portPairs(svc).find((p) => p.endsWith(`:${cfg.server.port}`))?.split(':')[0];
    assert.equal(cfg.cluster.advertise_url, `http://localhost:${published}/`, `${name}: advertise_url`);
    cfg.server.port = port;
    cfg.server.bind = '127.0.0.1';
    cfg.server.web_root = path.join(ROOT, cfg.server.web_root);
    cfg.cluster.advertise_url = `http://127.0.0.1:${port}/`;
    cfg.cluster.nats = cfg.cluster.nats.map((u) => {
      const h = natsHosts[new URL(u).hostname];
      assert.ok(h, `${name}: NATS URL ${u} names a nats service of the profile`);
      assert.equal(urlPort(u, 4222), Number(flagValue([].concat(services[new URL(u).hostname].command), '-p') ?? 4222), u);
      return h.url;
    });
    assert.equal(cfg.mqtt.host, 'broker');
    cfg.mqtt.host = '127.0.0.1';
    cfg.mqtt.port = brokerPort;
    const file = path.join(home, `${name}.json`);
    writeFileSync(file, JSON.stringify(cfg, null, 2));
    const args = cmd.slice(1).map((a) => (a === cfgMount.target ? file : a.replace(`${secretMount.target}/`, `${secretDir}/`)));
    assert.ok(args.includes(file) && args.includes(localSecret), args.join(' '));
    const p = procs.add(new Proc(name, VIGIL_BIN, args), 'vigil');
    nodes.push({ name, id: cfg.cluster.node_id, port, containerPort, base: `http://127.0.0.1:${port}`, proc: p, cfg });
  }
  const admin = mintToken({ sub: 'compose-cluster-test', role: 'admin' }, secret);
  for (const n of nodes) {
    await until(async () => {
      if (n.proc.exited) throw new Error(`vigil exited early:\n${n.proc.tail()}`);
      try { return (await getJson(`${n.base}/api/health`)).status === 200; } catch { return false; }
    }, 15000, () => `${n.name} up:\n${n.proc.tail()}`);
  }

  // The balancer: the lb image's nginx command line with the compose
  // file's config, its placeholders swapped for loopback addresses.
  const lbPort = await freeTcpPort();
  const df = path.join(lb.build.context, lb.build.dockerfile ?? 'Dockerfile');
  const nginxCmd = stageCmd(df, lb.build.target);
  const confTarget = flagValue(nginxCmd, '-c');
  const confMount = volumeMounts(lb).find((m) => m.target === confTarget);
  assert.ok(confMount, `lb mounts ${confTarget}: ${JSON.stringify(lb.volumes)}`);
  let text = readFileSync(confMount.source, 'utf8');
  const listenPort = portPairs(lb)[0].split(':')[1];
  const once = (re, to, what) => {
    const n = [...text.matchAll(new RegExp(re.source, `${re.flags}g`))].length;
    assert.equal(n, 1, `${what}: exactly once in ${confMount.source}`);
    text = text.replace(re, to);
  };
  once(new RegExp(`^(\\s*)listen ${listenPort};$`, 'm'), `$1listen 127.0.0.1:${lbPort};`, `listen ${listenPort};`);
  // The upstream servers: each node's compose name and the port its file
  // listens on, swapped for its loopback address.
  for (const n of nodes) {
    once(new RegExp(`^(\\s*)server ${n.name}:${n.containerPort}\\b`, 'm'), `$1server 127.0.0.1:${n.port}`, `server ${n.name}:${n.containerPort}`);
  }
  const prefix = path.join(home, 'nginx');
  mkdirSync(prefix);
  chmodSync(prefix, 0o755);
  const confFile = path.join(prefix, 'vigil-lb.conf');
  writeFileSync(confFile, text);
  const lbArgs = nginxCmd.slice(1).map((a, i, all) => {
    if (all[i - 1] === '-p') return `${prefix}/`;
    if (all[i - 1] === '-c') return confFile;
    if (all[i - 1] === '-g') return `${a} pid ${prefix}/nginx.pid;`;
    return a;
  });
  // access_log /dev/stdout: a file, not node's socket (see nginx.conf).
  const accessLog = path.join(prefix, 'access.log');
  const fd = openSync(accessLog, 'w');
  let nginx;
  try {
    nginx = procs.add(new Proc('lb', nginxCmd[0], lbArgs, { deathSig: 'TERM', stdout: fd }), 'lb');
  } finally {
    closeSync(fd);
  }
  nginx.accessLog = accessLog;
  const lbBase = `http://127.0.0.1:${lbPort}`;
  await until(async () => {
    if (nginx.exited) throw new Error(`nginx exited:\n${nginx.tail()}`);
    try { return (await getJson(`${lbBase}/api/health`)).status === 200; } catch { return false; }
  }, 10000, () => `nginx up:\n${nginx.tail()}`);

  return { services, nats: natsHosts, nodes, nginx, lbBase, lbPort, secret, admin, brokerPort };
}

// ---- viewers ---------------------------------------------------------------------

// A vigil.v1 viewer through `base` (ws://...): subscribed to `stream`.
// `c.order`: each text message with `at`, the number of binary frames
// received before it.
async function viewer(wsBase, token, stream = 'demo') {
  const c = new Client(`${wsBase}/ws?access_token=${token}`);
  c.order = [];
  // After Client's own listener: the message is in c.messages already.
  c.ws.on('message', (data, isBinary) => {
    if (!isBinary) c.order.push({ m: c.messages[c.messages.length - 1], at: c.frames.length });
  });
  await c.open();
  const reply = await c.request({ type: 'subscribe', stream, mode: 'mse' }, 5000 * SLOW);
  assert.equal(reply.type, 'subscribe', JSON.stringify(reply));
  c.channel = reply.channel;
  return c;
}

// The first video keyframe (kind 2, flags bit 0) after an init segment
// (kind 1) among `c`'s frames from index `from` on, or undefined.
function keyframeAfterInit(c, from = 0) {
  const fr = c.frames.slice(from);
  const i = fr.findIndex((f) => f.kind === 1);
  return i < 0 ? undefined : fr.slice(i + 1).find((f) => f.kind === 2 && (f.flags & 1) && !(f.flags & 4));
}

const framesSeen = (c, from = 0) => JSON.stringify(c.frames.slice(from, from + 6).map((f) => [f.kind, f.flags]));

// Resolves when `c` has an init segment and then a keyframe.
function initThenKeyframe(c, timeoutMs) {
  return until(() => {
    if (c.closed) throw new Error(`closed ${JSON.stringify(c.closed)}`);
    return keyframeAfterInit(c);
  }, timeoutMs, () => `init + keyframe; frames: ${framesSeen(c)}, messages ${JSON.stringify(c.messages.slice(-4))}`);
}

// Resolves with the first video keyframe `c` gets that was made after
// `sinceMs` (the frame header's time: when it left its node's pipeline, on
// this host's clock), after an init segment also made since then: media
// that only a live node can have made, not what a node had cached. Its
// arrivalUs says when it came.
function freshKeyframe(c, sinceMs, timeoutMs) {
  const since = BigInt(sinceMs) * 1000n;
  return until(() => {
    if (c.closed) throw new Error(`closed ${JSON.stringify(c.closed)}`);
    const i = c.frames.findIndex((f) => f.kind === 1 && f.timeUs >= since);
    return i >= 0 && c.frames.slice(i + 1).find((f) => f.kind === 2 && (f.flags & 1) && !(f.flags & 4) && f.timeUs >= since);
  }, timeoutMs, () => `an init segment and a keyframe made after the kill; got ${timeline(c)}`);
}

// Resolves with the `stream.state` live event of `stream` that names a node
// other than `not`.
function liveFrom(c, stream, not, timeoutMs) {
  return until(() => c.messages.find((m) => m.type === 'stream.state' && m.stream === stream && m.state === 'live' && m.node && m.node !== not),
    timeoutMs, () => `a live stream.state from a node other than ${not}; got ${timeline(c)}`);
}

// What `c` got, in order, from its first stream.state event on (or its
// last 12 frames without one): events as {state node epoch}, frames as
// 1 (init), K (video keyframe), v (video), a (audio), each with the ms
// since the previous item.
function timeline(c) {
  const first = c.order.find(({ m }) => m.type === 'stream.state');
  const from = first ? first.at : Math.max(0, c.frames.length - 12);
  const items = [];
  for (let i = from; i <= c.frames.length; i++) {
    for (const { m, at } of c.order) {
      if (at === i && m.type === 'stream.state') items.push(`{${m.state} ${m.node} ${m.epoch}}`);
    }
    const f = c.frames[i];
    if (f) items.push(f.kind === 1 ? '1' : f.flags & 4 ? 'a' : f.flags & 1 ? 'K' : 'v');
  }
  // Long runs of plain video and audio frames as "[N v/a]".
  const out = items.join(' ').replace(/((?:[va] ){12,})/g, (run) => `[${run.trim().split(' ').length} v/a] `);
  return `${c.frames.length} frames; from ${from}: ${out}`;
}

// ---- tests ---------------------------------------------------------------------------

const missing = [['nginx', '-v'], ['mosquitto', '-h']].filter(([p, a]) => spawnSync(p, [a], { stdio: 'ignore', timeout: 5000 }).error).map(([p]) => p);
const skip = (!natsServerVersion() && 'nats-server is not installed')
  || (missing.length ? `not installed: ${missing.join(', ')}` : false);

describe('docker-compose.yml, cluster profile', () => {
  it('validates with docker-compose --profile cluster config -q', () => {
    const r = run('docker-compose', ['-f', 'docker-compose.yml', ...PROFILE, 'config', '-q']);
    assert.equal(r.status, 0, `docker-compose --profile cluster config -q failed:\n${r.stderr}`);
  });

  it('nats1..3, vigil1..3 and lb only in the profile; the nodes share streams, devices and the NATS password, each with its own node_id and MQTT client id', () => {
    const services = composeConfig(PROFILE).services;
    const { nats, vigil, lb } = clusterServices(services);
    assert.deepEqual(nats.map(([n]) => n), ['nats1', 'nats2', 'nats3']);
    assert.deepEqual(vigil.map(([n]) => n), ['vigil1', 'vigil2', 'vigil3']);
    assert.deepEqual(lb?.profiles, ['cluster']);
    assert.deepEqual(dependsOn(lb).sort(), ['vigil1', 'vigil2', 'vigil3']);
    // Only in the profile (1.29's `config` lists every service either way).
    for (const [name, svc] of [...nats, ...vigil]) assert.deepEqual(svc.profiles, ['cluster'], name);

    const names = new Set();
    for (const [name, svc] of nats) {
      const cmd = [].concat(svc.command);
      names.add(flagValue(cmd, '-n'));
      assert.equal(svc.stop_signal, 'SIGINT', `${name}: nats-server exits 0 on SIGINT only`);
      // Routes to the two others.
      const routes = flagValue(cmd, '--routes').split(',').map((u) => new URL(u).hostname).sort();
      assert.deepEqual(routes, nats.map(([n]) => n).filter((n) => n !== name), `${name} routes`);
    }
    assert.equal(names.size, 3, 'three distinct server names (-n)');

    const cfgs = vigil.map(([name, svc]) => {
      assert.deepEqual(dependsOn(svc).sort(), ['broker', 'nats1', 'nats2', 'nats3', 'secret'], name);
      // The relay's token secret, from the same volume, read-only.
      const cmd = [].concat(svc.command);
      const secretFile = flagValue([].concat(services.relay.command), '--auth-secret-file');
      assert.equal(flagValue(cmd, '--auth-secret-file'), secretFile, name);
      assert.equal(mountOf(svc, secretFile)?.source, mountOf(services.relay, secretFile).source, name);
      assert.ok(mountOf(svc, secretFile).readOnly, name);
      assert.ok(mountOf(svc, CONTAINER_CONFIG).readOnly, name);
      return JSON.parse(readFileSync(mountOf(svc, CONTAINER_CONFIG).source, 'utf8'));
    });
    const same = (f) => cfgs.map((c) => JSON.stringify(f(c)));
    for (const f of [(c) => c.streams, (c) => c.devices, (c) => c.auth, (c) => c.cluster.name, (c) => c.cluster.nats]) {
      assert.equal(new Set(same(f)).size, 1, `the same in every node file: ${same(f)[0]}`);
    }
    assert.equal(new Set(cfgs.map((c) => c.cluster.node_id)).size, 3);
    assert.equal(new Set(cfgs.map((c) => c.mqtt.client_id)).size, 3);
    for (const [name, svc] of nats) {
      const cmd = [].concat(svc.command);
      assert.equal(flagValue(cmd, '--user'), cfgs[0].cluster.user, name);
      assert.equal(flagValue(cmd, '--pass'), cfgs[0].cluster.password, name);
    }
    assert.ok(cfgs[0].server.max_connections_per_ip >= 1000, 'every viewer is the balancer: a high per-IP limit');

    // The balancer spreads connections by their count across all its
    // workers: least_conn with the counts in a shared zone (without one,
    // each worker counts only its own and two viewers can meet on a node).
    const conf = readFileSync(volumeMounts(lb).find((m) => m.target === '/etc/nginx/vigil-lb.conf').source, 'utf8');
    const upstream = /^\s*upstream vigil \{([^}]*)\}/m.exec(conf)?.[1] ?? '';
    assert.match(upstream, /^\s*least_conn;$/m);
    assert.match(upstream, /^\s*zone \S+ \d+k;$/m);
  });
});

describe('the cluster profile run natively', { skip, timeout: 90000 * SLOW }, () => {
  const procs = {
    list: [],
    add(p, kind) { p.kind = kind; this.list.push(p); return p; },
    of(kind) { return this.list.filter((p) => p.kind === kind); },
  };
  const clients = [];
  let c; // the cluster
  const nodeOf = (id) => c.nodes.find((n) => n.id === id);
  const logs = () => procs.list.map((p) => (p.tail ? p.tail(2000) : `--- ${p.name}:\n${p.text.slice(-2000)}`)).join('\n');

  before(async () => { c = await startCluster(procs); });

  after(async () => {
    for (const x of clients) x.close();
    // vigil first (it lets go of its leases over NATS), then the balancer,
    // the NATS servers (SIGINT: their clean exit) and the broker.
    const vst = await Promise.all(procs.of('vigil').map(async (p) => [p, await p.stop('SIGTERM')]));
    // nginx: the image's STOPSIGNAL (graceful), then a fast stop (SIGTERM:
    // the master takes its workers down; SIGKILL would leave them).
    await Promise.all(procs.of('lb').map((p) => p.stop('SIGQUIT', 5000, 'SIGTERM')));
    const nst = await Promise.all(procs.of('nats').map(async (p) => [p, await p.stop('SIGINT', 10000)]));
    await Promise.all(procs.of('broker').map((p) => p.kill('SIGTERM')));
    for (const [p, st] of vst) {
      if (p.killed9) continue;
      assert.deepEqual(st, { code: 0, signal: null }, `vigil exit status:\n${p.tail(6000)}`);
    }
    for (const [p, st] of nst) assert.deepEqual(st, { code: 0, signal: null }, p.tail());
  });

  it("through the balancer: /api/health 200, /api/cluster lists the three nodes; the compose health checks pass", async () => {
    const h = await getJson(`${c.lbBase}/api/health`);
    assert.equal(h.status, 200, JSON.stringify(h));
    assert.equal(h.json.status, 'ok', JSON.stringify(h.json));
    assert.ok(c.nodes.some((n) => n.id === h.json.cluster?.node), JSON.stringify(h.json));
    // Heartbeats come every second: all three known within a few.
    const cl = await until(async () => {
      const r = await getJson(`${c.lbBase}/api/cluster`, c.admin);
      assert.equal(r.status, 200, JSON.stringify(r));
      return r.json.nodes?.length === 3 ? r.json : null;
    }, 10000, () => `three nodes in /api/cluster:\n${logs()}`);
    assert.equal(cl.connected, true);
    assert.deepEqual(cl.nodes.map((n) => n.node).sort(), c.nodes.map((n) => n.id).sort());
    assert.equal(cl.nodes.filter((n) => n.self).length, 1);
    for (const n of cl.nodes) assert.equal(n.url, `${nodeOf(n.node).base}/`, JSON.stringify(n));
    // Without a token (an anonymous viewer, as the node files allow): refused.
    assert.equal((await getJson(`${c.lbBase}/api/cluster`)).status, 403);

    // Each service's own health check command, localhost's ports swapped.
    const check = (svc, port, from) => {
      const test = [].concat(c.services[svc].healthcheck.test);
      assert.equal(test[0], 'CMD', JSON.stringify(test));
      const argv = test.slice(1).map((a) => a.replace(`://localhost:${from}/`, `://127.0.0.1:${port}/`));
      let r;
      // As compose would, a few times: nats-server's /healthz is 503 for a
      // moment while a new stream (the nodes' bucket) catches up.
      return until(() => {
        r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 10000 });
        return r.status === 0;
      }, 10000, () => `${svc}: ${argv.join(' ')} to pass: ${r.stdout}${r.stderr}`);
    };
    for (const [name, h2] of Object.entries(c.nats)) await check(name, h2.monitor, 8222);
    for (const n of c.nodes) await check(n.name, n.port, n.containerPort);
    await check('lb', c.lbPort, 8080);
  });

  it('every stream of the node files has exactly one ingesting node, and all nodes agree', async () => {
    const ids = c.nodes[0].cfg.streams.map((s) => s.id);
    let last;
    const agreed = await until(async () => {
      const views = await Promise.all(c.nodes.map(async (n) => {
        const [st, cl] = await Promise.all([getJson(`${n.base}/api/streams`, c.admin), getJson(`${n.base}/api/cluster`, c.admin)]);
        return { n, streams: st.json, cluster: cl.json };
      }));
      last = views.map((v) => ({ node: v.n.id, streams: v.streams.map((s) => [s.id, s.node, s.state]), ingests: v.cluster.nodes?.map((x) => [x.node, x.ingests]) }));
      const holder = {};
      for (const id of ids) {
        const said = views.map((v) => v.streams.find((s) => s.id === id));
        if (said.some((s) => !s || !s.node || s.node !== said[0].node || s.state !== 'live')) return null;
        // The holder's own /api/cluster lists it among its ingests, and no
        // other node does in any node's view.
        for (const v of views) {
          if (v.cluster.nodes?.length !== c.nodes.length) return null;
          const listed = v.cluster.nodes.filter((x) => x.ingests.includes(id)).map((x) => x.node);
          if (listed.length !== 1 || listed[0] !== said[0].node) return null;
        }
        holder[id] = said[0].node;
      }
      return holder;
    }, 20000, () => `agreement on the ingesting nodes: ${JSON.stringify(last)}\n${logs()}`);
    assert.deepEqual(Object.keys(agreed).sort(), [...ids].sort());
    c.holders = agreed;
  });

  it('three WebSocket viewers through nginx land on three different nodes (least_conn), each gets an init segment and a keyframe of demo', async () => {
    const ws = c.lbBase.replace(/^http/, 'ws');
    const viewers = [];
    for (let i = 1; i <= 3; i++) {
      const token = mintToken({ sub: `lb-viewer-${i}`, role: 'viewer', streams: ['demo'], devices: [] }, c.secret);
      const v = await viewer(ws, token);
      clients.push(v);
      viewers.push(v);
    }
    await Promise.all(viewers.map((v, i) => initThenKeyframe(v, 5000, 0).catch((e) => {
      throw new Error(`viewer ${i + 1}: ${e.message}\n${logs()}`);
    })));
    // Where each landed: each node's own session list.
    const where = {};
    for (const n of c.nodes) {
      const s = await getJson(`${n.base}/api/admin/sessions`, c.admin);
      assert.equal(s.status, 200);
      for (const x of s.json) if (/^lb-viewer-\d$/.test(x.sub)) (where[x.sub] ??= []).push(n.id);
    }
    assert.deepEqual(Object.keys(where).sort(), ['lb-viewer-1', 'lb-viewer-2', 'lb-viewer-3'], JSON.stringify(where));
    const landed = Object.values(where).map((l) => { assert.equal(l.length, 1, JSON.stringify(where)); return l[0]; });
    assert.equal(new Set(landed).size, 3, `least_conn spreads three viewers over three nodes: ${JSON.stringify(where)}\n${readFileSync(c.nginx.accessLog, 'utf8')}`);
    c.viewers = viewers.map((v, i) => ({ v, node: where[`lb-viewer-${i + 1}`][0] }));
  });

  it("kill -9 of demo's ingesting node: a new viewer through nginx gets demo again, from another node, within 6 s; so do the other nodes' viewers", async (t) => {
    const before = (await getJson(`${c.lbBase}/api/streams`, c.admin)).json.find((s) => s.id === 'demo');
    const holder = before?.node;
    const victim = nodeOf(holder);
    assert.ok(victim, `demo's ingesting node: ${JSON.stringify(before)}`);
    victim.proc.killed9 = true;
    const t0 = Date.now();
    victim.proc.proc.kill('SIGKILL');
    await victim.proc.exit;
    const token = mintToken({ sub: 'lb-viewer-after', role: 'viewer', streams: ['demo'], devices: [] }, c.secret);
    // The balancer skips the dead node (connection refused) for a live one.
    const v = await viewer(c.lbBase.replace(/^http/, 'ws'), token);
    clients.push(v);
    // Its first frames are the GOP its node still had of the dead one's;
    // then the stream comes from its new ingesting node: an init segment
    // and a keyframe made after the kill. 6 s (x SLOW) from the kill;
    // until() scales what it is given by SLOW.
    const budget = () => Math.max(500, 6000 - (Date.now() - t0) / SLOW);
    const where = async () => {
      const on = [];
      for (const n of c.nodes.filter((x) => x !== victim)) {
        if ((await getJson(`${n.base}/api/admin/sessions`, c.admin)).json.some((x) => x.sub === 'lb-viewer-after')) on.push(n.id);
      }
      return on;
    };
    const kf = await freshKeyframe(v, t0, budget()).catch(async (e) => {
      throw new Error(`new viewer (on ${await where()}), ${Date.now() - t0} ms after the kill of ${holder}: ${e.message}\n${logs()}`);
    });
    const took = Number(kf.arrivalUs / 1000n) - t0;
    // Its node says so too: demo live, on a survivor, a higher epoch.
    const survivors = c.nodes.filter((n) => n !== victim);
    const ev = await liveFrom(v, 'demo', holder, budget());
    assert.ok(survivors.some((n) => n.id === ev.node), JSON.stringify(ev));
    assert.ok(ev.epoch > before.epoch, `a higher epoch: ${JSON.stringify(ev)} after ${JSON.stringify(before)}`);
    // The new viewer is on a live node.
    assert.equal((await where()).length, 1);
    // The survivors agree on demo's new node.
    for (const n of survivors) {
      const s = (await getJson(`${n.base}/api/streams`, c.admin)).json.find((x) => x.id === 'demo');
      assert.equal(s.node, ev.node, `${n.id}: ${JSON.stringify(s)}`);
    }
    // The viewers of the earlier test: the dead node's lost its WebSocket,
    // the others kept theirs and get demo from the new node as well.
    for (const { v: old, node } of c.viewers ?? []) {
      if (node === holder) {
        await old.waitClose(5000 * SLOW);
        continue;
      }
      await freshKeyframe(old, t0, budget()).catch((e) => {
        throw new Error(`the viewer on ${node}, ${Date.now() - t0} ms after the kill: ${e.message}`);
      });
      await liveFrom(old, 'demo', holder, budget());
    }
    t.diagnostic(`demo from ${ev.node} for a new viewer ${took} ms after the kill of ${holder}`);
  });
});

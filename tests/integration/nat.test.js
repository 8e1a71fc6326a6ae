// Devices behind NAT, proved with Linux network namespaces: a "device"
// namespace joined to this one by a veth pair on a private /30, whose
// nftables input chain drops every packet but loopback and replies to
// connections the device opened itself (what a NAT or a stateful firewall
// leaves a device). From inside it, a publisher (tests/tools/publish_cli.js)
// publishes its camera to vigil over wss and the device simulator
// (build/vigil-devsim) takes commands through a mosquitto broker; vigil and
// the broker run here, in the test's own namespace. A viewer here gets the
// published frames, so does the dashboard in Chromium, a command sent with
// the REST API ends `acknowledged`, and nothing here can open a connection to the device: connects to the
// ports the device's own connections use, to a port it listens on and to a
// random one all time out, and the drop rule counts them. The test creates
// and removes the namespace, the veth pair and the addresses itself (root);
// where it cannot create a namespace it says so and skips.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  ROOT, SLOW, Client, freePort, mintToken, sleep, startVigil, tempDir, until,
} from '../lib/vigil.js';
import { DEVSIM, LineProc, Procs, startBroker, CAMERA_COMMANDS } from './control_peers.js';
import { launchChromium } from '../browser/harness.js';

const NFT = 'nft';
const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
const tag = randomBytes(3).toString('hex');
const NS = `vg-dev-${tag}`;
const VETH_HOST = `vgh-${tag}`;     // interface names: at most 15 characters
const VETH_DEV = `vgd-${tag}`;
const PREFIX = `nat${tag}`;

// Runs a command (argv) and returns {status, out}; `must` throws on failure.
function run(argv, { must = true, input } = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input, timeout: 15000 });
  const out = `${r.stdout || ''}${r.stderr || ''}${r.error ? r.error.message : ''}`;
  if (must && r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${out}`);
  return { status: r.status, out };
}
const inDevice = (argv, opts) => run(['ip', 'netns', 'exec', NS, ...argv], opts);

// A /30 on 10.200.0.0/16 that no interface here uses: .1 this side, .2 the device.
function pickSubnet() {
  const used = run(['ip', '-4', '-o', 'addr', 'show']).out;
  for (;;) {
    const base = `10.200.${randomInt(256)}.${4 * randomInt(64)}`;
    const [a, b, c, d] = base.split('.');
    const host = `${a}.${b}.${c}.${+d + 1}`;
    const dev = `${a}.${b}.${c}.${+d + 2}`;
    if (!used.includes(`${a}.${b}.${c}.`)) return { host, dev };
  }
}

// The device's input chain: loopback and the answers to its own connections
// pass; everything else is counted by the last rule and dropped.
const RULES = `table inet vgdev {
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
    counter drop comment "inbound"
  }
}
`;

// Packets the "inbound" rule dropped so far.
function dropped() {
  const text = inDevice([NFT, 'list', 'chain', 'inet', 'vgdev', 'input']).out;
  const m = /counter packets (\d+) bytes \d+ drop comment "inbound"/.exec(text);
  if (!m) throw new Error(`no drop counter in:\n${text}`);
  return Number(m[1]);
}

// Whether a TCP connect from here to host:port completes within ms:
// 'connected', 'refused' (a RST came back: the packet reached a stack) or
// 'timeout' (nothing came back).
function probe(host, port, ms) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (what) => { clearTimeout(t); s.destroy(); resolve(what); };
    const t = setTimeout(() => done('timeout'), ms);
    s.once('connect', () => done('connected'));
    s.once('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : `error ${e.code}`));
  });
}

// The device side's local ports of its established TCP connections to
// `peer` (an "ip:port"), from ss inside the namespace.
function devicePortsTo(peer) {
  const out = inDevice(['ss', '-Htn', 'state', 'established']).out;
  const ports = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    // Recv-Q Send-Q Local:Port Peer:Port
    if (f.length >= 4 && f[3] === peer) ports.push(Number(f[2].split(':').pop()));
  }
  return ports;
}

describe('a device behind NAT publishes and is controlled, never reached', { timeout: 180000 * SLOW }, () => {
  const procs = new Procs();
  let skip = null;
  let made = false;
  let net4, certs, vigil, broker, brokerPort, sim, pub, viewer, listener;

  function cleanup() {
    if (!made) return;
    run(['ip', 'netns', 'del', NS], { must: false });        // takes the veth pair and its processes' network
    run(['ip', 'link', 'del', VETH_HOST], { must: false });
    made = false;
  }
  // Even when the test process dies between before() and after().
  process.on('exit', cleanup);

  before(async () => {
    const probeNs = run(['ip', 'netns', 'add', NS], { must: false });
    if (probeNs.status !== 0) {
      skip = `needs root and ip netns: cannot create a network namespace (${probeNs.out.trim()})`;
      return;
    }
    made = true;
    net4 = pickSubnet();
    run(['ip', 'link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_DEV]);
    run(['ip', 'link', 'set', VETH_DEV, 'netns', NS]);
    run(['ip', 'addr', 'add', `${net4.host}/30`, 'dev', VETH_HOST]);
    run(['ip', 'link', 'set', VETH_HOST, 'up']);
    inDevice(['ip', 'addr', 'add', `${net4.dev}/30`, 'dev', VETH_DEV]);
    inDevice(['ip', 'link', 'set', VETH_DEV, 'up']);
    inDevice(['ip', 'link', 'set', 'lo', 'up']);

    // A port the device listens on, reachable before the firewall goes up:
    // proof that the probe below does see an open port when there is one.
    listener = procs.add(new LineProc('ip', ['netns', 'exec', NS, 'node', '-e',
      `require('net').createServer((s) => s.end()).listen(0, '${net4.dev}', function () {
         console.log(JSON.stringify({ port: this.address().port })); });`]));
    listener.port = (await listener.waitFor((l) => l.port, 5000 * SLOW, 'listener port')).port;
    const open = await until(async () => (await probe(net4.dev, listener.port, 2000)) === 'connected' || null,
      10000, () => `the device's listener reachable before the firewall`);
    assert.ok(open);

    inDevice([NFT, '-f', '-'], { input: RULES });
    assert.equal(dropped(), 0);

    // wss: a certificate naming this side's veth address, signed by a test CA.
    certs = tempDir('vigil-nat-certs-');
    const mk = spawnSync('bash', [path.join(ROOT, 'certs/make-certs.sh'), '-o', certs, net4.host], { encoding: 'utf8' });
    assert.equal(mk.status, 0, mk.stderr);
    chmodSync(certs, 0o755);
    for (const f of ['ca.pem', 'server.pem']) chmodSync(path.join(certs, f), 0o644);

    // The broker listens here on loopback (for vigil) and on the veth
    // address (for the device).
    brokerPort = await freePort();
    broker = procs.add(await startBroker(brokerPort, null, [
      `listener ${brokerPort} 127.0.0.1`,
      `listener ${brokerPort} ${net4.host}`,
      'allow_anonymous true',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n')));

    // vigil on every interface (the device reaches it on the veth address),
    // with TLS.
    vigil = await startVigil({
      ca: readFileSync(path.join(certs, 'ca.pem')),
      args: ['--tls-cert', path.join(certs, 'server.pem'), '--tls-key', path.join(certs, 'server.key')],
      config: {
        server: { bind: '0.0.0.0' },
        streams: [{ id: 'cam', source: 'publish://', options: { codec: 'h264' } }],
        control: { history: 16, timeout_ms: 8000 },
        mqtt: { host: '127.0.0.1', port: brokerPort, prefix: PREFIX, keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2 },
        devices: [{ id: 'cam1', name: 'Camera behind NAT', transport: 'mqtt', stream: 'cam', commands: CAMERA_COMMANDS }],
      },
    });

    // The device: its simulator and its camera, inside the namespace.
    sim = procs.add(new LineProc('ip', ['netns', 'exec', NS, DEVSIM, '--id', 'cam1', '--mqtt-host', net4.host,
      '--mqtt-port', String(brokerPort), '--prefix', PREFIX, '--telemetry-ms', '500']));
    await sim.waitFor((l) => l.sim === 'ready', 10000 * SLOW, 'simulator ready');
    const token = mintToken({ sub: 'cam-device', role: 'publisher', streams: ['cam'], devices: [] });
    pub = procs.add(new LineProc('ip', ['netns', 'exec', NS, 'node', path.join(ROOT, 'tests/tools/publish_cli.js'),
      '--url', `wss://${net4.host}:${vigil.port}/ws`, '--ca', path.join(certs, 'ca.pem'), '--stream', 'cam', '--token', token]));
    await pub.waitFor((l) => l.pub === 'publishing' || l.pub === 'error', 20000 * SLOW, 'publisher publishing');
    const err = pub.lines.find((l) => l.pub === 'error');
    assert.ok(!err, `publisher: ${JSON.stringify(err)}\n${pub.text}`);
  });

  after(async () => {
    viewer?.close();
    await procs.killAll();
    let st;
    if (vigil) st = await vigil.stop();
    cleanup();
    if (st) assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
  });

  it('a viewer here receives the frames the device publishes over wss', async (t) => {
    if (skip) return t.skip(skip);
    viewer = await new Client(vigil.wsUrl, { ca: readFileSync(path.join(certs, 'ca.pem')) }).open();
    const r = await viewer.request({ type: 'subscribe', stream: 'cam' });
    assert.equal(r.type, 'subscribe', JSON.stringify(r));
    const media = () => viewer.frames.filter((f) => f.channel === r.channel && f.kind === 2);
    await until(() => viewer.frames.some((f) => f.channel === r.channel && f.kind === 1) && media().length >= 30, 20000,
      () => `an init segment and 30 fragments (got ${media().length}); publisher: ${pub.text.slice(-500)}`);
    const s = await (await vigil.get('/api/streams')).body;
    const cam = JSON.parse(s).find((x) => x.id === 'cam');
    assert.equal(cam.state, 'live', JSON.stringify(cam));
    // The publisher is the device: its connection comes from the veth address.
    assert.deepEqual(devicePortsTo(`${net4.host}:${vigil.port}`).length, 1);
  });

  it('the dashboard in Chromium plays the device stream', async (t) => {
    if (skip) return t.skip(skip);
    const browser = await launchChromium();
    const log = [];
    try {
      // The Node viewer above checked the certificate against the test CA;
      // Chromium has no way to be given one, so it is told not to check.
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
      await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
      await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.decoded) >= 30,
        '.tile[data-stream="cam"]', { timeout: 30000 * SLOW });
    } catch (err) {
      err.message += `\n--- page console ---\n${log.slice(-40).join('\n')}\n--- vigil ---\n${vigil.log().slice(-3000)}`;
      throw err;
    } finally {
      await browser.close().catch(() => {});
    }
  });

  it('a command sent with the REST API reaches the device through the broker and ends acknowledged', async (t) => {
    if (skip) return t.skip(skip);
    await until(async () => {
      const d = JSON.parse((await vigil.get('/api/devices/cam1')).body);
      return d.transport_connected === true && d.online === true;
    }, 15000, () => 'cam1 online through the broker');
    const res = await vigil.get('/api/devices/cam1/commands', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ptz', params: { pan: 0.5, tilt: -0.25 } }),
    });
    assert.equal(res.status, 202, res.body);
    const id = JSON.parse(res.body).command_id;
    const cmd = await until(async () => {
      const c = JSON.parse((await vigil.get(`/api/commands/${id}`)).body);
      return FINAL.includes(c.status) ? c : null;
    }, 15000, () => `command ${id} final`);
    assert.equal(cmd.status, 'acknowledged', JSON.stringify(cmd));
    assert.equal(cmd.result.pan, 0.5, JSON.stringify(cmd));
    // The simulator in the namespace is the one that carried it out.
    const seen = sim.lines.find((l) => l.sim === 'cmd' && l.id === id);
    assert.ok(seen, `the device saw ${id}:\n${sim.text.slice(-1000)}`);
    assert.equal(seen.command, 'ptz', JSON.stringify(seen));
    assert.deepEqual(devicePortsTo(`${net4.host}:${brokerPort}`).length, 1);
  });

  it('no connection from outside reaches the device: every connect times out and is counted as dropped', async (t) => {
    if (skip) return t.skip(skip);
    const ports = [
      ...devicePortsTo(`${net4.host}:${vigil.port}`),    // the publisher's own connection
      ...devicePortsTo(`${net4.host}:${brokerPort}`),    // the simulator's
      listener.port,                                     // a port the device listens on
      1024 + randomInt(60000),                           // and one at random
    ];
    assert.equal(ports.length, 4, `the device's connections: ${ports}`);
    const before0 = dropped();
    for (const port of ports) assert.equal(await probe(net4.dev, port, 1500), 'timeout', `connect to ${net4.dev}:${port}`);
    // Each connect sends at least one SYN, each dropped here.
    assert.ok(dropped() >= before0 + ports.length, `drop counter ${before0} -> ${dropped()}`);
    // And the device's own connections still work: frames keep coming, the
    // publisher is still sending.
    const sent = pub.lines.filter((l) => l.pub === 'sent').pop()?.frames ?? 0;
    await until(() => (pub.lines.filter((l) => l.pub === 'sent').pop()?.frames ?? 0) > sent, 5000, () => 'the publisher still sending');
    assert.ok(!pub.exited, pub.text);
  });
});

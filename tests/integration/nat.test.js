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
// and removes the namespace, the veth pair and the addresses itself (root;
// tests/lib/netns.js); where it cannot create a namespace it says so and
// skips.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT, SLOW, Client, freePort, mintToken, startVigil, tempDir, until,
} from '../lib/vigil.js';
import { DeviceNet, probe } from '../lib/netns.js';
import { DEVSIM, LineProc, Procs, startBroker, CAMERA_COMMANDS } from './control_peers.js';
import { launchChromium } from '../browser/harness.js';

const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
const PREFIX = `nat${randomBytes(3).toString('hex')}`;
const device = new DeviceNet();
const dropped = () => device.dropped();
const devicePortsTo = (peer) => device.portsTo(peer);

describe('a device behind NAT publishes and is controlled, never reached', { timeout: 180000 * SLOW }, () => {
  const procs = new Procs();
  let skip = null;
  let net4, certs, vigil, broker, brokerPort, sim, pub, viewer, listener;

  before(async () => {
    // The namespace, the veth pair and the addresses (device.down() takes
    // them away again, also when the test process dies before after()).
    skip = device.up();
    if (skip) return;
    net4 = { host: device.host, dev: device.dev };
    const NS = device.ns;

    // A port the device listens on, reachable before the firewall goes up:
    // proof that the probe below does see an open port when there is one.
    listener = procs.add(new LineProc('ip', ['netns', 'exec', NS, 'node', '-e',
      `require('net').createServer((s) => s.end()).listen(0, '${net4.dev}', function () {
         console.log(JSON.stringify({ port: this.address().port })); });`]));
    listener.port = (await listener.waitFor((l) => l.port, 5000 * SLOW, 'listener port')).port;
    const open = await until(async () => (await probe(net4.dev, listener.port, 2000)) === 'connected' || null,
      10000, () => `the device's listener reachable before the firewall`);
    assert.ok(open);

    device.firewall();
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
    device.down();
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

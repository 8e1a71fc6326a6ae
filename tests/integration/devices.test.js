// Device control through the server, as a dashboard or a third-party client
// uses it: the vigil.v1 WebSocket (`devices`, `command`, `command.status`,
// `telemetry`, `device.state`) and the REST API, against a real mosquitto
// broker, mosquitto_sub as an independent observer, the device simulator on
// MQTT and CoAP, and libcoap's own coap-server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import http from 'node:http';
import { startVigil, Client, sleep } from '../lib/vigil.js';
import {
  Procs, LineProc, startBroker, startSim, freeTcpPort, freeUdpPort, CAMERA_COMMANDS,
} from './control_peers.js';

const procs = new Procs();
const PREFIX = 'vd';
const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
let vigil, ws, port, broker, sub;
const udp = {};

const mqttDev = (id, extra = {}) => ({ id, name: `MQTT ${id}`, transport: 'mqtt', commands: CAMERA_COMMANDS, ...extra });
const coapDev = (id, uri, extra = {}) => ({
  id, name: `CoAP ${id}`, transport: 'coap', commands: CAMERA_COMMANDS,
  coap: { uri, ack_timeout: 1.0, ack_random_factor: 1.0, max_retransmit: 1, ...extra },
});

// Every command.status event of one command, in arrival order.
const statuses = (client, id) => client.messages
  .filter((m) => m.type === 'command.status' && m.command_id === id).map((m) => m.status);
const final = (client, id, timeoutMs = 8000) => client.waitFor(
  (m) => m.type === 'command.status' && m.command_id === id && FINAL.includes(m.status), timeoutMs, `${id} final`);

// Polls GET /api/devices/{id} until pred(device) holds.
async function waitDevice(id, pred, what, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await (await vigil.fetch(`/api/devices/${id}`)).json();
    if (pred(d)) return d;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}: ${JSON.stringify(d)}\n${vigil.log().slice(-2000)}`);
    await sleep(100);
  }
}

before(async () => {
  port = await freeTcpPort();
  for (const k of ['lamp', 'refuser', 'unreach', 'cs']) udp[k] = await freeUdpPort();
  broker = procs.add(await startBroker(port));
  sub = procs.add(new LineProc('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-c', '-i', `vd-sub-${port}`,
    '-q', '1', '-t', `${PREFIX}/+/cmd`, '-F', '{"topic":"%t","payload":%p}']));
  for (const [id, extra] of [['cam1', []], ['ghost', ['--offline-after-ms', '2500']], ['garbler', ['--garbage']]])
    procs.add(await startSim(['--id', id, '--mqtt-port', String(port), '--prefix', PREFIX, '--telemetry-ms', '300', ...extra]));
  procs.add(await startSim(['--id', 'lamp', '--coap-port', String(udp.lamp), '--telemetry-ms', '300']));
  procs.add(await startSim(['--id', 'refuser', '--coap-port', String(udp.refuser), '--refuse', 'all']));
  procs.add(new LineProc('coap-server-openssl', ['-A', '127.0.0.1', '-p', String(udp.cs)]));
  vigil = await startVigil({
    config: {
      server: { bind: '127.0.0.1' },
      streams: [{ id: 'demo', source: 'test://', options: { width: 320, height: 240, fps: 10 } }],
      control: { history: 16, timeout_ms: 6000 },
      mqtt: { host: '127.0.0.1', port, prefix: PREFIX, keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2, client_id: `vd-relay-${port}` },
      coap: {},
      devices: [
        mqttDev('cam1', { stream: 'demo' }), mqttDev('ghost'), mqttDev('garbler'),
        { ...coapDev('lamp', `coap://127.0.0.1:${udp.lamp}/cmd`, { observe: 'telemetry' }), stream: null },
        coapDev('refuser', `coap://127.0.0.1:${udp.refuser}/cmd`),
        coapDev('unreach', `coap://127.0.0.1:${udp.unreach}/cmd`),
        coapDev('cs_missing', `coap://127.0.0.1:${udp.cs}/no/such/resource`),
      ],
    },
  });
  ws = await new Client(vigil.wsUrl).open();
  await ws.request({ type: 'devices' });
  // The relay may have connected to the broker before this client did: ask.
  await waitDevice('cam1', (d) => d.transport_connected === true && d.online === true, 'cam1 online via the broker');
}, { timeout: 30000 });

after(async () => {
  ws?.close();
  if (vigil) {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
  }
  await procs.killAll();
});

test('devices lists every device with its schema, camera and state', async () => {
  const r = await ws.request({ type: 'devices', watch: true });
  assert.equal(r.type, 'devices');
  const byId = Object.fromEntries(r.devices.map((d) => [d.id, d]));
  assert.deepEqual(Object.keys(byId).sort(), ['cam1', 'cs_missing', 'garbler', 'ghost', 'lamp', 'refuser', 'unreach']);
  assert.equal(byId.cam1.stream, 'demo');
  assert.equal(byId.lamp.stream, null);
  assert.equal(byId.cam1.transport, 'mqtt');
  assert.equal(byId.cam1.online, true);
  assert.equal(byId.cam1.transport_connected, true);
  assert.deepEqual(byId.cam1.commands, CAMERA_COMMANDS);
});

for (const qos of [0, 1, 2]) {
  test(`MQTT QoS ${qos}: WebSocket command -> broker -> device -> acknowledged`, async () => {
    const pan = 0.25 * (qos + 1);
    const r = await ws.request({ type: 'command', device: 'cam1', name: 'ptz', params: { pan, tilt: -0.5 }, qos });
    assert.equal(r.type, 'command', JSON.stringify(r));
    assert.equal(r.status, 'queued');
    assert.match(r.command_id, /^[0-9a-f]{8}-\d+$/);
    const done = await final(ws, r.command_id);
    assert.equal(done.status, 'acknowledged', JSON.stringify(done));
    assert.equal(done.device, 'cam1');
    assert.equal(done.name, 'ptz');
    assert.equal(done.result.pan, pan);
    const queued = ws.messages.find((m) => m.type === 'command.status' && m.command_id === r.command_id);
    assert.deepEqual(queued.params, { pan, tilt: -0.5 });   // watchers see what was asked
    assert.deepEqual(statuses(ws, r.command_id),
      qos === 0 ? ['queued', 'sent', 'acknowledged'] : ['queued', 'sent', 'delivered', 'acknowledged']);
    const seen = await sub.waitFor((l) => l.payload && l.payload.id === r.command_id, 3000, 'mosquitto_sub sees it');
    assert.equal(seen.topic, `${PREFIX}/cam1/cmd`);
    assert.deepEqual(seen.payload, { id: r.command_id, command: 'ptz', params: { pan, tilt: -0.5 } });
    // REST tells the same story.
    const c = await (await vigil.fetch(`/api/commands/${r.command_id}`)).json();
    assert.equal(c.status, 'acknowledged');
    assert.deepEqual(c.timeline.map((t) => t.status), statuses(ws, r.command_id));
  });
}

test('a second dashboard watching devices sees the other client\'s commands; a non-watcher only its own', async () => {
  const watcher = await new Client(vigil.wsUrl).open();
  const quiet = await new Client(vigil.wsUrl).open();
  try {
    await watcher.request({ type: 'devices' });
    await quiet.request({ type: 'devices', watch: false });
    const r = await ws.request({ type: 'command', device: 'lamp', name: 'light', params: { on: true } });
    const seen = await final(watcher, r.command_id);
    assert.equal(seen.status, 'acknowledged');
    await final(ws, r.command_id);
    const own = await quiet.request({ type: 'command', device: 'lamp', name: 'light', params: { on: false } });
    assert.equal((await final(quiet, own.command_id)).status, 'acknowledged');
    await sleep(300);
    assert.equal(quiet.messages.filter((m) => m.type === 'command.status' && m.command_id === r.command_id).length, 0);
    assert.equal(quiet.messages.filter((m) => m.type === 'telemetry').length, 0);
    assert.ok(watcher.messages.some((m) => m.type === 'command.status' && m.command_id === own.command_id));
  } finally {
    watcher.close();
    quiet.close();
  }
});

test('CoAP: a confirmable command is acknowledged with the device\'s result; telemetry is observed', async () => {
  const r = await ws.request({ type: 'command', device: 'lamp', name: 'set_interval', params: { seconds: 5 } });
  const done = await final(ws, r.command_id);
  assert.equal(done.status, 'acknowledged', JSON.stringify(done));
  assert.deepEqual(statuses(ws, r.command_id), ['queued', 'sent', 'delivered', 'acknowledged']);
  const t = await ws.waitFor((m) => m.type === 'telemetry' && m.device === 'lamp' && m.data.interval === 5, 8000, 'lamp telemetry');
  assert.equal(typeof t.data.seq, 'number');
  // libcoap's own client, an independent peer, reads the device: the command
  // really changed it.
  const got = spawnSync('coap-client-openssl', ['-m', 'get', '-B', '5', `coap://127.0.0.1:${udp.lamp}/telemetry`],
    { encoding: 'utf8', timeout: 10000 });
  assert.equal(got.status, 0, got.stderr);
  assert.equal(JSON.parse(got.stdout.trim().split('\n').pop()).interval, 5, got.stdout);
  const d = await (await vigil.fetch(`/api/devices/lamp`)).json();
  assert.equal(d.online, true);
  assert.ok(d.telemetry && d.telemetry_age_ms < 5000, JSON.stringify(d));
  const listed = (await ws.request({ type: 'devices' })).devices.find((x) => x.id === 'lamp');
  assert.ok(listed.telemetry_age_ms >= 0 && listed.telemetry_age_ms < 5000, JSON.stringify(listed));
  assert.ok(d.recent.some((c) => c.id === r.command_id && c.status === 'acknowledged'));
});

test('CoAP: a refusing device and a 4.04 from coap-server give rejected with the code', async () => {
  const a = await ws.request({ type: 'command', device: 'refuser', name: 'reboot' });
  const ra = await final(ws, a.command_id);
  assert.equal(ra.status, 'rejected', JSON.stringify(ra));
  assert.ok(ra.code >= 400 && ra.code < 600, JSON.stringify(ra));
  const b = await ws.request({ type: 'command', device: 'cs_missing', name: 'reboot', confirmable: true });
  const rb = await final(ws, b.command_id);
  assert.equal(rb.status, 'rejected');
  assert.equal(rb.code, 404);
});

test('CoAP: an unreachable device times out after its retransmissions and shows offline', async () => {
  const r = await ws.request({ type: 'command', device: 'unreach', name: 'light', params: { on: true } });
  const done = await final(ws, r.command_id, 10000);
  assert.equal(done.status, 'timeout', JSON.stringify(done));
  assert.match(done.error, /retransmission|no answer/);
  const off = await ws.waitFor((m) => m.type === 'device.state' && m.device === 'unreach' && m.online === false, 3000, 'unreach offline');
  assert.equal(off.reason, 'no answer');
});

test('bad commands are refused before sending, with the PROTOCOL.md codes, and counted', async () => {
  const before = (await (await vigil.fetch(`/api/health`)).json()).counters.errors_sent;
  const cases = [
    [{ device: 'nope', name: 'light', params: { on: true } }, 'unknown_device', 'device', /unknown device 'nope'/],
    [{ device: 'cam1', name: 'dance' }, 'unknown_command', 'name', /unknown command 'dance'/],
    [{ device: 'cam1', name: 'ptz', params: { pan: 2, tilt: 0 } }, 'bad_params', 'params', /parameter 'pan' must be between -1 and 1/],
    [{ device: 'cam1', name: 'ptz', params: { pan: 0 } }, 'bad_params', 'params', /missing parameter 'tilt'/],
    [{ device: 'cam1', name: 'light', params: { on: 'yes' } }, 'bad_params', 'params', /'on'/],
    [{ device: 'cam1', name: 'light', params: { on: true }, qos: 3 }, 'bad_field', 'qos', /qos/],
    [{ device: 'cam1', name: 'light', params: [true] }, 'bad_field', 'params', /object/],
    [{ name: 'light' }, 'bad_field', 'device', /device/],
  ];
  for (const [msg, code, field, re] of cases) {
    const r = await ws.request({ type: 'command', ...msg });
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, code, JSON.stringify(r));
    assert.equal(r.field, field, JSON.stringify(r));
    assert.match(r.message, re);
  }
  const after_ = (await (await vigil.fetch(`/api/health`)).json()).counters.errors_sent;
  assert.ok(after_ - before >= cases.length);
  // Nothing of that reached the broker.
  await sleep(200);
  assert.ok(!sub.lines.some((l) => l.payload && (l.payload.command === 'dance' || l.payload.params?.pan === 2)));
});

test('garbage from a device on the ack topic is counted, not fatal', async () => {
  // The garbler answers each command with "{not json" before its real ack.
  const r = await ws.request({ type: 'command', device: 'garbler', name: 'light', params: { on: true } });
  assert.equal((await final(ws, r.command_id)).status, 'acknowledged');
  assert.ok((await waitDevice('garbler', (d) => d.malformed >= 1, 'garbler malformed counted')).malformed >= 1);
  // And from an outside publisher: garbage, an ack without an id, an ack for no command.
  const before_ = (await (await vigil.fetch(`/api/devices/cam1`)).json()).malformed;
  const pub = (topic, msg) => new LineProc('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-m', msg]).exit;
  await pub(`${PREFIX}/cam1/ack`, '{"id": ');
  await pub(`${PREFIX}/cam1/ack`, '{"status":"ok"}');
  await pub(`${PREFIX}/cam1/telemetry`, '[1,2,3]');
  await waitDevice('cam1', (d) => d.malformed >= before_ + 3, 'cam1 malformed counted');
  // The server still serves everyone.
  const ok = await ws.request({ type: 'command', device: 'cam1', name: 'light', params: { on: true } });
  assert.equal((await final(ws, ok.command_id)).status, 'acknowledged');
});

test('REST: list, one device, POST a command (202 + Location), follow it, and the errors', async () => {
  const list = await (await vigil.fetch(`/api/devices`)).json();
  assert.equal(list.length, 7);
  const res = await vigil.fetch(`/api/devices/cam1/commands`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'light', params: { on: true }, qos: 1 }),
  });
  assert.equal(res.status, 202);
  const body = await res.json();
  assert.equal(body.status, 'queued');
  assert.equal(res.headers.get('location'), `/api/commands/${body.command_id}`);
  // The watching WebSocket sees a REST command's life too.
  assert.equal((await final(ws, body.command_id)).status, 'acknowledged');
  const c = await (await vigil.fetch(`${res.headers.get('location')}`)).json();
  assert.equal(c.status, 'acknowledged');
  assert.deepEqual(c.params, { on: true });
  assert.deepEqual(c.options, { qos: 1 });
  const dev = await (await vigil.fetch(`/api/devices/cam1`)).json();
  assert.equal(dev.recent[0].id, body.command_id);           // newest first
  const health = await (await vigil.fetch(`/api/health`)).json();
  assert.equal(health.devices, 7);
  assert.ok(health.counters.commands_issued >= 8, JSON.stringify(health));
  assert.equal(health.control.transports.mqtt.connected, true, JSON.stringify(health.control));
  assert.ok(health.control.devices.cam1.issued >= 4);

  const post = (p, b, headers = { 'content-type': 'application/json' }) =>
    vigil.fetch(`${p}`, { method: 'POST', headers, body: b });
  let r = await post('/api/devices/cam1/commands', JSON.stringify({ name: 'ptz', params: { pan: 9, tilt: 0 } }));
  assert.equal(r.status, 400);
  assert.deepEqual(Object.keys(await r.json()).sort(), ['error', 'field', 'message']);
  r = await post('/api/devices/nope/commands', JSON.stringify({ name: 'reboot' }));
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error, 'unknown_device');
  r = await post('/api/devices/cam1/commands', '{not json');
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error, 'bad_json');
  r = await post('/api/devices/cam1/commands', JSON.stringify({ name: 'x', pad: 'a'.repeat(20000) }));
  assert.equal(r.status, 413);
  assert.equal((await vigil.fetch(`/api/devices/nope`)).status, 404);
  assert.equal((await vigil.fetch(`/api/commands/nope`)).status, 404);
  r = await post('/api/devices', '{}');
  assert.equal(r.status, 405);

  // A body sent chunked (no Content-Length, as Node's http.request and curl
  // -H 'Transfer-Encoding: chunked' send it) is told 411 at once, not left
  // waiting; a client then sends it with a length. Both with curl and Node.
  const url = `${vigil.base}/api/devices/cam1/commands`;
  const curl = spawnSync('curl', ['-s', '-m', '5', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${vigil.adminToken}`,
    '-H', 'Content-Type: application/json', '-H', 'Transfer-Encoding: chunked',
    '--data-binary', JSON.stringify({ name: 'light', params: { on: true } }), url], { encoding: 'utf8' });
  assert.equal(curl.status, 0, `curl: ${curl.stderr}`);
  const [text, code] = curl.stdout.split('\n');
  assert.equal(code, '411', curl.stdout);
  assert.equal(JSON.parse(text).error, 'length_required');
  const chunked = await new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${vigil.adminToken}` } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')));
    req.write('{"name":"light",');
    req.end('"params":{"on":true}}');
  });
  assert.equal(chunked.status, 411);
  assert.match(JSON.parse(chunked.body).message, /Content-Length/);
});

test('device offline (MQTT last-will) shows as offline', async () => {
  await ws.waitFor((m) => m.type === 'device.state' && m.device === 'ghost' && m.online === false, 10000, 'ghost offline');
  const d = await (await vigil.fetch(`/api/devices/ghost`)).json();
  assert.equal(d.online, false);
});

test('broker killed and restarted: a QoS 1 command issued over WebSocket in the outage is delivered exactly once', async () => {
  const dir = broker.dir;
  await broker.kill('SIGTERM');
  assert.ok(existsSync(path.join(dir, 'mosquitto.db')), `broker saved no sessions: ${broker.text.slice(-500)}`);
  await ws.waitFor((m) => m.type === 'transport.state' && m.transport === 'mqtt' && !m.connected, 8000, 'broker lost');
  const devs = await ws.request({ type: 'devices' });
  assert.equal(devs.devices.find((d) => d.id === 'cam1').transport_connected, false);

  const q0 = await ws.request({ type: 'command', device: 'cam1', name: 'light', params: { on: false }, qos: 0 });
  assert.equal((await final(ws, q0.command_id)).status, 'failed');
  const held = await ws.request({ type: 'command', device: 'cam1', name: 'ptz', params: { pan: -0.75, tilt: 0.5 }, qos: 1, timeout_ms: 20000 });
  await sleep(500);
  assert.deepEqual(statuses(ws, held.command_id), ['queued']);

  broker = procs.add(await startBroker(port, dir));
  const done = await final(ws, held.command_id, 15000);
  assert.equal(done.status, 'acknowledged', JSON.stringify(done));
  assert.equal(done.result.pan, -0.75);
  await sleep(1500);     // a duplicate would arrive by now
  const copies = sub.lines.filter((l) => l.payload && l.payload.id === held.command_id);
  assert.equal(copies.length, 1, JSON.stringify(copies));
});

// The server's side of devices that dial in (PROTOCOL.md, "Devices that dial
// in"): a WebSocket client with a device token plays the agent, exactly as
// vigil-agent does, so every message and every refusal is checked on the
// wire; tests/integration/agent.test.js runs the real agent.
//  - role device: publishes and serves what its token names, sees nothing;
//  - serve: unknown devices, devices of other transports, other roles;
//  - a command's whole life: queued, sent, delivered (written to the
//    agent's socket), then acknowledged / rejected / timeout as the agent
//    answers, or failed when no agent is connected or it leaves first;
//  - answers for commands that are not the connection's; telemetry and
//    state; online while connected; a newer connection replaces an older.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { startVigil, Client, mintToken, sleep } from '../lib/vigil.js';
import { CAMERA_COMMANDS } from './control_peers.js';

const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
let vigil, watcher;

const deviceToken = (over = {}) => mintToken({ sub: 'agent-door', role: 'device', streams: ['door'], devices: ['door'], ...over });

async function agent(token = deviceToken()) {
  const c = await new Client(vigil.wsBase).open();
  const hello = await c.request({ type: 'hello', token });
  assert.equal(hello.type, 'hello', JSON.stringify(hello));
  return c;
}

const statuses = (client, id) => client.messages
  .filter((m) => m.type === 'command.status' && m.command_id === id).map((m) => m.status);
const final = (client, id, timeoutMs = 8000) => client.waitFor(
  (m) => m.type === 'command.status' && m.command_id === id && FINAL.includes(m.status), timeoutMs, `${id} final`);

async function device(id) {
  return (await vigil.fetch(`/api/devices/${id}`)).json();
}

async function command(name, params = {}, extra = {}) {
  const r = await watcher.request({ type: 'command', device: 'door', name, params, ...extra });
  assert.equal(r.type, 'command', JSON.stringify(r));
  return r.command_id;
}

before(async () => {
  vigil = await startVigil({
    config: {
      server: { bind: '127.0.0.1' },
      streams: [{ id: 'door', source: 'publish://' }, { id: 'other', source: 'publish://' },
        { id: 'demo', source: 'test://', options: { width: 160, height: 120, fps: 5 } }],
      control: { timeout_ms: 3000 },
      mqtt: { host: '127.0.0.1', port: 1, reconnect_min_s: 60, reconnect_max_s: 60 },
      devices: [
        { id: 'door', name: 'Door', transport: 'agent', stream: 'door', commands: CAMERA_COMMANDS },
        { id: 'back', name: 'Back', transport: 'agent', commands: CAMERA_COMMANDS },
        { id: 'bulb', name: 'Bulb', transport: 'mqtt', commands: CAMERA_COMMANDS },
      ],
    },
  });
  watcher = await new Client(vigil.wsUrl).open();
  await watcher.request({ type: 'devices', watch: true });
});

after(async () => {
  watcher?.close();
  if (!vigil) return;
  const st = await vigil.stop();
  assert.deepEqual(st, { code: 0, signal: null }, vigil.log().slice(-3000));
});

test('an agent device is offline until its agent connects', async () => {
  const d = await device('door');
  assert.equal(d.transport, 'agent');
  assert.equal(d.online, false);
  assert.equal(d.state.reason, 'agent not connected');
  const id = await command('ptz', { pan: 0.1, tilt: 0 });
  const f = await final(watcher, id);
  assert.equal(f.status, 'failed');
  assert.match(f.error, /agent is not connected/);
});

test('a device token sees no stream and no device, and commands nothing', async () => {
  const c = await agent();
  const list = await c.request({ type: 'list' });
  assert.deepEqual(list.streams, []);
  const sub = await c.request({ type: 'subscribe', stream: 'door' });
  assert.equal(sub.code, 'unknown_stream');
  const devs = await c.request({ type: 'devices' });
  assert.deepEqual(devs.devices, []);
  const cmd = await c.request({ type: 'command', device: 'door', name: 'ptz', params: { pan: 0, tilt: 0 } });
  assert.equal(cmd.code, 'unknown_device');
  const pub = await c.request({ type: 'publish', stream: 'other', video: { codec: 'avc1.42E01E' } });
  assert.equal(pub.code, 'unknown_stream', 'a stream its token does not name does not exist for it');
  const r = await vigil.fetch('/api/streams', { headers: { authorization: `Bearer ${deviceToken()}` } });
  const body = await r.json();
  assert.equal(r.status, 200);
  assert.deepEqual(Array.isArray(body) ? body : body.streams, [], JSON.stringify(body));
  c.close();
});

test('serve refuses other roles, unknown devices and devices of other transports', async () => {
  const op = await agent(mintToken({ role: 'operator' }));
  const r1 = await op.request({ type: 'serve', devices: ['door'] });
  assert.equal(r1.code, 'forbidden');
  op.close();
  const c = await agent(deviceToken({ devices: ['*'] }));
  assert.equal((await c.request({ type: 'serve', devices: ['nope'] })).code, 'unknown_device');
  const r2 = await c.request({ type: 'serve', devices: ['bulb'] });
  assert.equal(r2.code, 'bad_field');
  assert.match(r2.message, /transport is mqtt/);
  assert.equal((await c.request({ type: 'serve', devices: 'door' })).code, 'bad_field');
  assert.equal((await c.request({ type: 'serve', devices: [] })).code, 'bad_field');
  c.close();
  const narrow = await agent();
  assert.equal((await narrow.request({ type: 'serve', devices: ['back'] })).code, 'unknown_device',
    'a device its token does not name does not exist for it');
  narrow.close();
});

test('a command goes down the agent connection and lives: delivered, then the agent answers', async () => {
  const c = await agent();
  const s = await c.request({ type: 'serve', devices: ['door'] });
  assert.deepEqual(s.devices, ['door']);
  await watcher.waitFor((m) => m.type === 'device.state' && m.device === 'door' && m.online === true, 3000, 'door online');
  assert.equal((await device('door')).online, true);

  const id = await command('ptz', { pan: 0.5, tilt: -0.25 });
  const got = await c.waitFor((m) => m.type === 'device.command' && m.command_id === id, 3000, 'device.command');
  assert.deepEqual(got.params, { pan: 0.5, tilt: -0.25 });
  assert.equal(got.name, 'ptz');
  assert.equal(got.device, 'door');
  assert.equal(got.timeout_ms, 3000);
  await watcher.waitFor((m) => m.type === 'command.status' && m.command_id === id && m.status === 'delivered', 3000, 'delivered');
  const ans = await c.request({ type: 'result', command_id: id, status: 'acknowledged', result: { pan: 0.5 } });
  assert.equal(ans.type, 'result', JSON.stringify(ans));
  const f = await final(watcher, id);
  assert.equal(f.status, 'acknowledged');
  assert.deepEqual(f.result, { pan: 0.5 });
  assert.deepEqual(statuses(watcher, id), ['queued', 'sent', 'delivered', 'acknowledged']);

  // rejected with the agent's message and code
  const id2 = await command('ptz', { pan: 0, tilt: 0 });
  await c.waitFor((m) => m.type === 'device.command' && m.command_id === id2, 3000);
  await c.request({ type: 'result', command_id: id2, status: 'rejected', error: 'motor jammed', code: 3 });
  const f2 = await final(watcher, id2);
  assert.equal(f2.status, 'rejected');
  assert.equal(f2.error, 'motor jammed');
  assert.equal(f2.code, 3);

  // the agent's own "timeout"
  const id3 = await command('ptz', { pan: 0, tilt: 0 });
  await c.waitFor((m) => m.type === 'device.command' && m.command_id === id3, 3000);
  await c.request({ type: 'result', command_id: id3, status: 'timeout', error: 'handler did not finish' });
  assert.equal((await final(watcher, id3)).status, 'timeout');

  // an answer twice, an unknown id, a bad status
  assert.equal((await c.request({ type: 'result', command_id: id, status: 'acknowledged' })).code, 'unknown_command');
  assert.equal((await c.request({ type: 'result', command_id: 'nope', status: 'acknowledged' })).code, 'unknown_command');
  assert.equal((await c.request({ type: 'result', command_id: id, status: 'done' })).field, 'status');

  // no answer: vigil's own timeout, and the late answer is refused
  const id4 = await command('ptz', { pan: 0, tilt: 0 }, { timeout_ms: 400 });
  const dc = await c.waitFor((m) => m.type === 'device.command' && m.command_id === id4, 3000);
  assert.equal(dc.timeout_ms, 400);
  assert.equal((await final(watcher, id4)).status, 'timeout');
  assert.equal((await c.request({ type: 'result', command_id: id4, status: 'acknowledged' })).code, 'unknown_command');

  // telemetry and state reach the watchers
  await c.request({ type: 'report', device: 'door', telemetry: { temperature_c: 21.5 } });
  const t = await watcher.waitFor((m) => m.type === 'telemetry' && m.device === 'door', 3000, 'telemetry');
  assert.deepEqual(t.data, { temperature_c: 21.5 });
  await c.request({ type: 'report', device: 'door', state: { firmware: '1.2' } });
  const st = await watcher.waitFor((m) => m.type === 'device.state' && m.device === 'door' && m.state?.firmware, 3000);
  assert.equal(st.online, true);
  assert.equal((await c.request({ type: 'report', device: 'back', telemetry: { x: 1 } })).code, 'unknown_device');
  assert.equal((await c.request({ type: 'report', device: 'door' })).code, 'bad_field');

  // the agent leaves with a command unanswered: it fails, the device goes offline
  const id5 = await command('ptz', { pan: 0, tilt: 0 });
  await c.waitFor((m) => m.type === 'device.command' && m.command_id === id5, 3000);
  c.close();
  const f5 = await final(watcher, id5);
  assert.equal(f5.status, 'failed');
  assert.match(f5.error, /agent disconnected/);
  await watcher.waitFor((m) => m.type === 'device.state' && m.device === 'door' && m.online === false, 3000, 'door offline');
});

test('an agent that connects again replaces its old connection', async () => {
  const old = await agent();
  await old.request({ type: 'serve', devices: ['door'] });
  const id = await command('ptz', { pan: 0, tilt: 0 });
  await old.waitFor((m) => m.type === 'device.command' && m.command_id === id, 3000);
  const fresh = await agent();
  await fresh.request({ type: 'serve', devices: ['door'] });
  const f = await final(watcher, id);
  assert.equal(f.status, 'failed');
  assert.match(f.error, /connected again/);
  // commands go to the new connection; the old one may not answer them
  const id2 = await command('ptz', { pan: 0, tilt: 0 });
  await fresh.waitFor((m) => m.type === 'device.command' && m.command_id === id2, 3000);
  assert.equal((await old.request({ type: 'result', command_id: id2, status: 'acknowledged' })).code, 'unknown_command');
  await fresh.request({ type: 'result', command_id: id2, status: 'acknowledged', result: {} });
  assert.equal((await final(watcher, id2)).status, 'acknowledged');
  // the old connection closing does not take the device offline
  old.close();
  await sleep(300);
  assert.equal((await device('door')).online, true);
  fresh.close();
  await watcher.waitFor((m) => m.type === 'device.state' && m.device === 'door' && m.online === false && m !== undefined, 3000);
});

test('agent messages with bad fields are refused with the field named', async () => {
  const c = await agent();
  assert.equal((await c.request({ type: 'result', status: 'acknowledged' })).field, 'command_id');
  assert.equal((await c.request({ type: 'result', command_id: 'x', status: 'acknowledged', result: 5 })).field, 'result');
  assert.equal((await c.request({ type: 'report', device: 'door', telemetry: [] })).field, 'telemetry');
  assert.equal((await c.request({ type: 'report', device: 'door', state: 'up' })).field, 'state');
  assert.equal((await c.request({ type: 'result', command_id: 'x', status: 'rejected', error: 5 })).field, 'error');
  assert.equal((await c.request({ type: 'result', command_id: 'x', status: 'rejected', code: 1e9 })).field, 'code');
  assert.equal((await c.request({ type: 'serve', devices: ['x'.repeat(64)] })).field, 'devices');
  c.close();
});

test('a reload that changes the devices keeps the agent serving the ones still agent devices', async () => {
  // An older connection that was replaced for 'door' must not get it back.
  const stale = await agent(deviceToken({ devices: ['door', 'back'] }));
  await stale.request({ type: 'serve', devices: ['door'] });
  const c = await agent(deviceToken({ devices: ['door', 'back'] }));
  assert.deepEqual((await c.request({ type: 'serve', devices: ['door', 'back'] })).devices, ['door', 'back']);
  const config = JSON.parse(readFileSync(vigil.configFile, 'utf8'));
  config.devices = config.devices.filter((d) => d.id !== 'back');
  config.devices.find((d) => d.id === 'door').name = 'Front door';
  writeFileSync(vigil.configFile, JSON.stringify(config));
  const r = await vigil.fetch('/api/admin/reload', { method: 'POST' });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.equal(body.devices.control, 'restarted');
  const gone = await c.waitFor((m) => m.type === 'device.removed', 3000, 'device.removed');
  assert.equal(gone.device, 'back');
  const d = await device('door');
  assert.equal(d.name, 'Front door');
  assert.equal(d.online, true, 'attached again to the new device control');
  const id = await command('ptz', { pan: 0, tilt: 0 });
  await c.waitFor((m) => m.type === 'device.command' && m.command_id === id, 3000);
  await c.request({ type: 'result', command_id: id, status: 'acknowledged', result: { ok: 1 } });
  assert.equal((await final(watcher, id)).status, 'acknowledged');
  assert.ok(!stale.messages.some((m) => m.type === 'device.command'), 'the replaced connection got no command');
  stale.close();
  c.close();
});

// control/ MQTT plugin against a real mosquitto broker on a free loopback
// port, the device simulator as the device, and mosquitto_sub as an
// independent observer of what was published.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { SLOW } from '../lib/vigil.js';
import {
  Procs, LineProc, startBroker, startSim, startDriver, freeTcpPort, sleep, CAMERA_COMMANDS, ROOT,
} from './control_peers.js';

const procs = new Procs();
let port, broker, driver, sub;
const sims = {};
const PREFIX = 'vt';

const dev = (id, extra = {}) => ({ id, name: `Sim ${id}`, transport: 'mqtt', commands: CAMERA_COMMANDS, ...extra });

before(async () => {
  port = await freeTcpPort();
  // The restart test needs the broker to keep the persistent sessions (the
  // simulators' and mosquitto_sub's subscriptions) across a restart; without
  // them, whether a subscriber sees a command published right after the
  // restart depends on which client happens to reconnect first (the control
  // driver, the simulators and mosquitto_sub all retry about 1 s after the
  // broker went away, within a millisecond of each other).  startBroker
  // gives it a persistence directory it can write.
  broker = procs.add(await startBroker(port));
  // A persistent subscriber (-c, fixed id, QoS 1): it must see each command
  // exactly once, also across the broker restart below.
  sub = procs.add(new LineProc('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-c', '-i', `vt-sub-${port}`,
    '-q', '1', '-t', `${PREFIX}/+/cmd`, '-F', '{"topic":"%t","payload":%p}']));
  for (const [id, extra] of [['cam1', []], ['refuser', ['--refuse', 'all']], ['dropper', ['--drop', '1']],
    ['garbler', ['--garbage']], ['ghost', ['--offline-after-ms', '1500']]]) {
    sims[id] = procs.add(await startSim(['--id', id, '--mqtt-port', String(port), '--prefix', PREFIX, '--telemetry-ms', '300', ...extra]));
  }
  driver = procs.add(await startDriver({
    mqtt: { host: '127.0.0.1', port, prefix: PREFIX, keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2, client_id: `vt-ctl-${port}` },
    control: { history: 8, timeout_ms: 5000 },
    devices: [dev('cam1'), dev('refuser'), dev('dropper', { timeout_ms: 1200 }), dev('garbler'), dev('ghost'),
      dev('qos0dev', { mqtt: { qos: 0 } })],
  }));
  await driver.waitFor((l) => l.type === 'transport.state' && l.connected, 5000, 'broker connected');
  await driver.waitFor((l) => l.type === 'device.state' && l.device === 'cam1' && l.online === true, 5000, 'cam1 online');
});

after(async () => {
  if (driver && !driver.exited) await driver.quit();
  await procs.killAll();
});

for (const qos of [0, 1, 2]) {
  test(`QoS ${qos} command: published, seen by mosquitto_sub, acknowledged by the device`, async () => {
    const r = await driver.issue('cam1', 'ptz', { pan: 0.25 * (qos + 1), tilt: -0.5 }, { qos });
    assert.ok(r.id, r.error);
    const done = await driver.status(r.id, ['acknowledged', 'rejected', 'failed', 'timeout']);
    assert.equal(done.status, 'acknowledged', JSON.stringify(done));
    assert.equal(done.result.pan, 0.25 * (qos + 1));
    const want = qos === 0 ? ['queued', 'sent', 'acknowledged'] : ['queued', 'sent', 'delivered', 'acknowledged'];
    assert.deepEqual(driver.statuses(r.id), want);
    const seen = await sub.waitFor((l) => l.payload && l.payload.id === r.id, 3000, 'mosquitto_sub sees the command');
    assert.equal(seen.topic, `${PREFIX}/cam1/cmd`);
    assert.deepEqual(seen.payload, { id: r.id, command: 'ptz', params: { pan: 0.25 * (qos + 1), tilt: -0.5 } });
  });
}

test('QoS from the device config (qos0dev: 0) applies when the command names none', async () => {
  const r = await driver.issue('qos0dev', 'light', { on: true });
  await driver.status(r.id, ['sent']);
  await sleep(100);
  assert.ok(!driver.statuses(r.id).includes('delivered'));     // QoS 0: no PUBACK
});

test('bad requests are refused before sending, naming what is wrong', async () => {
  const cases = [
    [['nope', 'light', { on: true }], /unknown device 'nope'/],
    [['cam1', 'dance', {}], /unknown command 'dance'/],
    [['cam1', 'ptz', { pan: 2, tilt: 0 }], /parameter 'pan' must be between -1 and 1/],
    [['cam1', 'ptz', { pan: 0 }], /missing parameter 'tilt'/],
    [['cam1', 'ptz', { pan: 0, tilt: 0, roll: 1 }], /unknown parameter 'roll'/],
    [['cam1', 'light', { on: 'yes' }], /parameter 'on' must be true or false/],
    [['cam1', 'set_interval', { seconds: 1.5 }], /parameter 'seconds' must be an integer/],
    [['cam1', 'light', { on: true }, { qos: 3 }], /option 'qos'/],
  ];
  const before0 = (await driver.stats()).issued;
  for (const [args, re] of cases) {
    const r = await driver.issue(...args);
    assert.match(r.error || '', re, JSON.stringify(r));
  }
  const st = await driver.stats();
  assert.equal(st.issued, before0);
  assert.equal(st.bad_requests, cases.length);
  assert.ok(!sub.lines.some((l) => l.payload && l.payload.command === 'dance'));
});

test('a refusing device gives rejected with its reason', async () => {
  const r = await driver.issue('refuser', 'reboot', {});
  const s = await driver.status(r.id, ['acknowledged', 'rejected', 'failed', 'timeout']);
  assert.equal(s.status, 'rejected');
  assert.equal(s.error, 'refused');
  assert.equal(s.code, 403);
});

test('a device that drops the command gives timeout after timeout_ms', async () => {
  const r = await driver.issue('dropper', 'light', { on: true }, { qos: 1 });
  const s = await driver.status(r.id, ['acknowledged', 'rejected', 'failed', 'timeout'], 5000);
  assert.equal(s.status, 'timeout');
  assert.deepEqual(driver.statuses(r.id), ['queued', 'sent', 'delivered', 'timeout']);
  // Not before its timeout_ms (1200), nor much after (the poll is 100 ms;
  // the rest is room for a loaded machine, more for the sanitized run).
  assert.ok(s.at_ms >= 1100 && s.at_ms < 1200 + 1300 * SLOW, `timed out at ${s.at_ms} ms`);
  // the next one goes through
  const r2 = await driver.issue('dropper', 'light', { on: true });
  assert.equal((await driver.status(r2.id, ['acknowledged', 'timeout'])).status, 'acknowledged');
});

test('malformed payloads from a device are counted and ignored', async () => {
  const r = await driver.issue('garbler', 'light', { on: false });
  assert.equal((await driver.status(r.id, ['acknowledged', 'rejected', 'timeout'])).status, 'acknowledged');
  // also from an outside publisher: garbage, an ack without id, an ack for no command
  const pub = (topic, msg) => new LineProc('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-m', msg]).exit;
  await pub(`${PREFIX}/cam1/ack`, '{"id": ');
  await pub(`${PREFIX}/cam1/ack`, '{"status":"ok"}');
  await pub(`${PREFIX}/cam1/telemetry`, '[1,2,3]');
  await pub(`${PREFIX}/cam1/ack`, '{"id":"no-such-command","status":"ok"}');
  // Counted as they arrive: waited for, not slept on.
  let st;
  const t0 = Date.now();
  for (;;) {
    st = await driver.stats();
    if (st.devices.garbler.malformed >= 2 && st.devices.cam1.malformed >= 3 && st.unknown_reports >= 1) break;
    assert.ok(Date.now() - t0 < 5000 * SLOW, `bad ack + bad telemetry (garbler), 3 bad reports (cam1), 1 unknown: ${JSON.stringify(st)}`);
    await sleep(100);
  }
  // still working
  const r2 = await driver.issue('cam1', 'light', { on: true });
  assert.equal((await driver.status(r2.id, ['acknowledged', 'timeout'])).status, 'acknowledged');
});

test("a device that vanishes shows offline through its last-will", async () => {
  const ev = await driver.waitFor((l) => l.type === 'device.state' && l.device === 'ghost' && l.online === false, 8000, 'ghost offline');
  assert.equal(ev.state.online, false);
  const d = (await driver.request({ op: 'device', device: 'ghost' }, 'device')).device;
  assert.equal(d.online, false);
  // and the broker keeps it retained for anyone who asks
  const one = new LineProc('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-C', '1', '-W', '3', '-t', `${PREFIX}/ghost/state`]);
  await one.exit;
  assert.equal(one.text.trim(), '{"online":false}');
});

test('broker killed and restarted: a QoS 1 command issued in the outage is delivered exactly once', async () => {
  const dir = broker.dir;
  await broker.kill('SIGTERM');
  // Without the saved sessions the rest of this test is a race (see before()).
  assert.ok(existsSync(path.join(dir, 'mosquitto.db')), `broker saved no sessions on exit: ${broker.text.slice(-500)}`);
  await driver.waitFor((l) => l.type === 'transport.state' && l.transport === 'mqtt' && !l.connected, 5000, 'broker lost');

  const q0 = await driver.issue('cam1', 'light', { on: false }, { qos: 0 });
  const f0 = await driver.status(q0.id, ['failed', 'sent']);
  assert.equal(f0.status, 'failed');
  assert.match(f0.error, /not connected/);

  const held = await driver.issue('cam1', 'ptz', { pan: -0.75, tilt: 0.5 }, { qos: 1, timeout_ms: 20000 });
  assert.ok(held.id, held.error);
  await sleep(800);
  assert.deepEqual(driver.statuses(held.id), ['queued']);
  assert.equal((await driver.stats()).transports.mqtt.held, 1);

  broker = procs.add(await startBroker(port, dir));
  const s = await driver.status(held.id, ['acknowledged', 'rejected', 'failed', 'timeout'], 19000)
    .catch((e) => { throw new Error(`${e.message.slice(0, 300)}\nstatuses: ${driver.statuses(held.id)} mqtt: ${driver.lines.filter((l) => l.transport === 'mqtt').map((l) => JSON.stringify(l)).join(' ')}\nsim: ${sims.cam1.text.slice(-600)}`); });
  assert.equal(s.status, 'acknowledged', JSON.stringify(s));
  assert.deepEqual(driver.statuses(held.id), ['queued', 'sent', 'delivered', 'acknowledged']);
  assert.equal(s.result.pan, -0.75);
  assert.equal(s.result.received, 1);
  // mosquitto_sub reconnects on its own schedule; its persistent session
  // holds the message until then.
  await sub.waitFor((l) => l.payload && l.payload.id === held.id, 15000, 'mosquitto_sub gets it after reconnect');
  await sleep(500);
  const seenBySub = sub.lines.filter((l) => l.payload && l.payload.id === held.id);
  assert.equal(seenBySub.length, 1, 'mosquitto_sub saw it once');
  const atDevice = sims.cam1.lines.filter((l) => l.id === held.id);
  assert.deepEqual(atDevice.map((l) => l.action), ['executed'], 'the device got it once');
  const st = await driver.stats();
  assert.equal(st.transports.mqtt.held, 0);
  assert.ok(st.transports.mqtt.connects >= 2);
});

// A broker address where nobody answers: a port that accepts TCP and then
// says nothing, and one whose SYNs the kernel drops (tests/tools/silent_host.c).
// Without a deadline of its own the first case waited for the keepalive and
// the second held the network thread, and shutdown, for the kernel's two
// minutes of SYN retries.
for (const mode of ['accept', 'drop']) {
  test(`a broker host that says nothing (${mode}): each attempt ends after connect_timeout_s and quitting is prompt`, async () => {
    const host = spawn(path.join(ROOT, 'build/tools/silent_host'), [mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const silentPort = await new Promise((resolve, reject) => {
        host.stdout.once('data', (d) => resolve(Number(String(d).trim())));
        host.once('exit', (code) => reject(new Error(`silent_host exited ${code}`)));
      });
      assert.ok(silentPort > 0);
      const t0 = Date.now();
      const d = await startDriver({
        mqtt: { host: '127.0.0.1', port: silentPort, prefix: 'vs', connect_timeout_s: 1, reconnect_min_s: 1, reconnect_max_s: 1, client_id: `vs-${mode}` },
        devices: [dev('cam9')],
      });
      try {
        const st = await d.waitFor((l) => l.type === 'transport.state' && l.transport === 'mqtt', 6000, 'the attempt fails');
        assert.equal(st.connected, false);
        assert.equal(st.detail, 'no answer from the broker within 1 s');
        assert.ok(Date.now() - t0 < 5000, `reported after ${Date.now() - t0} ms`);
        // A command meanwhile is held (QoS 1), as for a broker that is down.
        const r = await d.issue('cam9', 'ptz', { pan: 0, tilt: 0 }, { qos: 1 });
        assert.ok(r.id, r.error);
        await sleep(1500); // into the second attempt
        assert.equal((await d.stats()).transports.mqtt.held, 1);
        const q0 = Date.now();
        assert.deepEqual(await d.quit(), { code: 0, signal: null });
        assert.ok(Date.now() - q0 < 3000, `quit took ${Date.now() - q0} ms`);
      } finally {
        if (!d.exited) d.proc.kill('SIGKILL');
      }
    } finally {
      host.kill('SIGKILL');
    }
  });
}

test('driver exits cleanly', async () => {
  const st = await driver.quit();
  assert.deepEqual(st, { code: 0, signal: null });
});

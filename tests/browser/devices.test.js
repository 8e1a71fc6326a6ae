// The dashboard's device panels (web/js/devices.js, device_panel.js, ...).
//
// First, node tests of the modules that need no DOM: the device store
// against a fake connection (events, ordering, error replies, reconnect) and
// the schema helpers the controls are built from.
//
// Then the real thing: build/vigil with the demo stream and three CoAP
// devices -- cam1 (a build/vigil-devsim belonging to the demo stream), gate
// (a simulator that refuses everything) and lamp (a UDP port nobody listens
// on) -- in headless Debian Chromium driven by playwright-core. The panel of
// cam1 sits beside the demo tile with live telemetry; the light switch, the
// PTZ pad and a form reach `acknowledged`; gate shows `rejected` with the
// CoAP code, lamp `timeout`; a refused request shows its error next to the
// control; after the socket drops the panel asks for the devices again.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startVigil, ROOT } from '../lib/vigil.js';
import { startSim, freeUdpPort, CAMERA_COMMANDS } from '../integration/control_peers.js';
import { Devices, statusRank } from '../../web/js/devices.js';
import { clampParam, controlKind, defaultValue, knownValue, paramKind } from '../../web/js/schema_controls.js';
import { isPtzSchema, stepPosition } from '../../web/js/ptz_pad.js';

// ---------------------------------------------------------------------------
// Node tests: the store and the schema helpers

// A connection that records requests and lets the test answer them.
class FakeConnection extends EventTarget {
  constructor() {
    super();
    this.isOpen = false;
    this.requests = []; // {type, fields, resolve, reject}
  }
  open() {
    this.isOpen = true;
    this.dispatchEvent(new CustomEvent('status', { detail: { state: 'open' } }));
    this.dispatchEvent(new Event('open'));
  }
  drop() {
    this.isOpen = false;
    for (const r of this.requests.splice(0)) r.reject(new Error('connection closed (1006)'));
    this.dispatchEvent(new CustomEvent('status', { detail: { state: 'closed', retryInMs: 500 } }));
  }
  request(type, fields = {}) {
    return new Promise((resolve, reject) => this.requests.push({ type, fields, resolve, reject }));
  }
  take(type) {
    const i = this.requests.findIndex((r) => r.type === type);
    assert.ok(i >= 0, `no ${type} request pending: ${JSON.stringify(this.requests.map((r) => r.type))}`);
    return this.requests.splice(i, 1)[0];
  }
  event(msg) { this.dispatchEvent(new CustomEvent('message', { detail: msg })); }
}

const tick = () => new Promise((r) => setImmediate(r));

const CAM1 = {
  id: 'cam1', name: 'Demo camera head', transport: 'coap', stream: 'demo', online: true,
  transport_connected: true, state: { online: true, light: false, pan: 0, tilt: 0 },
  telemetry: { temperature_c: 41.5 }, commands: CAMERA_COMMANDS, issued: 0, malformed: 0,
};

test('Devices: list on open, events update the device, a command follows its statuses', async () => {
  const conn = new FakeConnection();
  const devices = new Devices(conn, { fetchJson: async () => ({ status: 404, body: null }) });
  const changes = [];
  devices.addEventListener('device', (ev) => changes.push(ev.detail.id));
  conn.open();
  conn.take('devices').resolve({ type: 'devices', devices: [CAM1, { id: 'x', transport: 'mqtt', online: null }] });
  await tick();
  assert.equal(devices.stale, false);
  assert.deepEqual(devices.list().map((d) => d.id), ['cam1', 'x']);
  const x = devices.get('x');
  assert.equal(x.name, 'x', 'the name defaults to the id');
  assert.equal(x.stream, null);
  assert.equal(x.online, null);

  conn.event({ type: 'telemetry', device: 'cam1', data: { temperature_c: 42 } });
  conn.event({ type: 'device.state', device: 'cam1', online: false, state: { online: false } });
  conn.event({ type: 'telemetry', device: 'nope', data: {} }); // unknown device: ignored
  const cam = devices.get('cam1');
  assert.equal(cam.telemetry.temperature_c, 42);
  assert.ok(Date.now() - cam.telemetryAt < 1000);
  assert.equal(cam.online, false);
  assert.equal(cam.known.light, false, 'a partial state keeps what was known');
  assert.equal(cam.known.temperature_c, 42, 'telemetry is part of what is known');
  conn.event({ type: 'device.state', device: 'cam1', online: false, state: { online: false, reason: 'no answer' } });
  assert.equal(cam.reason, 'no answer');

  conn.event({ type: 'transport.state', transport: 'coap', connected: false, detail: 'socket error' });
  assert.equal(cam.transportConnected, false);
  assert.equal(x.transportConnected, null, 'another transport is not touched');

  // The queued event may come before the reply to our request.
  const sent = devices.send('cam1', 'light', { on: true });
  const req = conn.take('command');
  assert.deepEqual(req.fields, { device: 'cam1', name: 'light', params: { on: true } });
  assert.ok(cam.sending.has('light'));
  conn.event({ type: 'command.status', command_id: 'k-1', device: 'cam1', name: 'light', status: 'sent', at_ms: 1 });
  req.resolve({ type: 'command', command_id: 'k-1', device: 'cam1', name: 'light', status: 'queued' });
  const cmd = await sent;
  assert.equal(cmd.id, 'k-1');
  assert.equal(cam.commandsLog.length, 1, 'one record for the event and the reply');
  assert.deepEqual(cmd.params, { on: true });
  assert.equal(cmd.mine, true);
  conn.event({ type: 'command.status', command_id: 'k-1', device: 'cam1', name: 'light', status: 'acknowledged', at_ms: 9, code: 204, result: { light: true } });
  conn.event({ type: 'command.status', command_id: 'k-1', device: 'cam1', name: 'light', status: 'delivered', at_ms: 3 });
  conn.event({ type: 'command.status', command_id: 'k-1', device: 'cam1', name: 'light', status: 'timeout', at_ms: 99 });
  assert.equal(cmd.status, 'acknowledged', 'a status never goes back, the first final one stays');
  assert.deepEqual(cmd.timeline.map((s) => s.status), ['queued', 'sent', 'delivered', 'acknowledged']);
  assert.equal(cmd.code, 204);
  assert.equal(cam.known.light, true, 'an acknowledged result updates the known state');
  assert.equal(cam.sending.size, 0);

  // Another client's command (we watch the device) shows too.
  conn.event({ type: 'command.status', command_id: 'o-1', device: 'cam1', name: 'reboot', status: 'queued', at_ms: 0 });
  assert.equal(cam.commandsLog[0].id, 'o-1');
  assert.equal(cam.commandsLog[0].mine, false);
  assert.ok(changes.includes('cam1'));
});

test('Devices: an error reply is kept for its command and cleared by the next success', async () => {
  const conn = new FakeConnection();
  const devices = new Devices(conn, { fetchJson: async () => ({ status: 404, body: null }) });
  conn.open();
  conn.take('devices').resolve({ type: 'devices', devices: [CAM1] });
  await tick();
  const p = devices.send('cam1', 'ptz', { pan: 5, tilt: 0 });
  conn.take('command').reject(Object.assign(new Error("parameter 'pan' must be between -1 and 1"), { code: 'bad_params', field: 'params' }));
  assert.equal(await p, null);
  const err = devices.get('cam1').errors.get('ptz');
  assert.equal(err.code, 'bad_params');
  assert.match(err.message, /pan/);
  const ok = devices.send('cam1', 'ptz', { pan: 0.5, tilt: 0 });
  conn.take('command').resolve({ type: 'command', command_id: 'k-2', device: 'cam1', name: 'ptz', status: 'queued' });
  await ok;
  assert.equal(devices.get('cam1').errors.has('ptz'), false);
  // Not connected: the request is not sent, the panel says so.
  conn.drop();
  conn.request = () => Promise.reject(new Error('not connected'));
  assert.equal(await devices.send('cam1', 'light', { on: true }), null);
  assert.equal(devices.get('cam1').errors.get('light').code, 'not_sent');
});

test('Devices: after a reconnect the list is asked again and commands in flight are looked up', async () => {
  const conn = new FakeConnection();
  const fetched = [];
  const devices = new Devices(conn, {
    fetchJson: async (p) => {
      fetched.push(p);
      return {
        status: 200,
        body: {
          id: 'k-7', device: 'cam1', command: 'light', params: { on: true }, status: 'acknowledged', result: { light: true },
          timeline: [{ status: 'queued', at_ms: 0 }, { status: 'sent', at_ms: 1 }, { status: 'delivered', at_ms: 2 }, { status: 'acknowledged', at_ms: 4 }],
        },
      };
    },
  });
  const stale = [];
  devices.addEventListener('stale', (ev) => stale.push(ev.detail.stale));
  conn.open();
  conn.take('devices').resolve({ type: 'devices', devices: [CAM1] });
  await tick();
  const p = devices.send('cam1', 'light', { on: true });
  conn.take('command').resolve({ type: 'command', command_id: 'k-7', device: 'cam1', name: 'light', status: 'queued' });
  const cmd = await p;
  conn.drop();
  assert.equal(devices.stale, true);
  conn.open();
  conn.take('devices').resolve({ type: 'devices', devices: [{ ...CAM1, name: 'Renamed' }] });
  await tick();
  await tick();
  assert.deepEqual(stale, [false, true, false]);
  assert.equal(devices.get('cam1').name, 'Renamed');
  assert.deepEqual(fetched, ['/api/commands/k-7']);
  assert.equal(cmd.status, 'acknowledged');
  assert.deepEqual(cmd.timeline.map((s) => s.at_ms), [0, 1, 2, 4]);
  // A device gone from the list is dropped.
  conn.drop();
  conn.open();
  conn.take('devices').resolve({ type: 'devices', devices: [] });
  await tick();
  assert.equal(devices.list().length, 0);
});

test('schema helpers: kinds, clamping, defaults, the PTZ pad', () => {
  assert.equal(controlKind({}), 'button');
  assert.equal(controlKind({ on: { type: 'bool' } }), 'switch');
  assert.equal(controlKind({ seconds: { type: 'integer', min: 1, max: 3600 } }), 'form');
  assert.equal(paramKind({ type: 'number', min: 0, max: 1 }), 'range');
  assert.equal(paramKind({ type: 'number' }), 'number');
  assert.equal(paramKind({ type: 'string', values: ['a'] }), 'select');
  const secs = { type: 'integer', min: 1, max: 3600 };
  assert.equal(clampParam(secs, '99999'), 3600);
  assert.equal(clampParam(secs, '0'), 1);
  assert.equal(clampParam(secs, '2.6'), 3);
  assert.equal(clampParam(secs, 'x'), null);
  assert.equal(clampParam({ type: 'number', min: -1, max: 1 }, 0.1 + 0.2), 0.3);
  assert.equal(clampParam({ type: 'string', values: ['a', 'b'] }, 'c'), null);
  assert.equal(clampParam({ type: 'string', max_length: 3 }, 'abcdef'), 'abc');
  assert.equal(clampParam({ type: 'bool' }, 'true'), true);
  assert.equal(defaultValue(secs, undefined), 1, 'zero clamped into 1..3600');
  assert.equal(defaultValue({ type: 'number', min: -1, max: 1 }, 0.5), 0.5);
  assert.equal(knownValue({ light: true }, 'light', 'on', { type: 'bool' }), true);
  assert.equal(knownValue({ pan: 0.2 }, 'ptz', 'pan', CAMERA_COMMANDS.ptz.pan), 0.2);

  assert.equal(isPtzSchema(CAMERA_COMMANDS.ptz), true);
  assert.equal(isPtzSchema(CAMERA_COMMANDS.light), false);
  assert.equal(isPtzSchema({ ...CAMERA_COMMANDS.ptz, speed: { type: 'number' } }), false, 'a required extra parameter');
  const s = CAMERA_COMMANDS.ptz;
  assert.deepEqual(stepPosition(s, { pan: 0, tilt: 0 }, 1, 0, 0.05), { pan: 0.1, tilt: 0 });
  assert.deepEqual(stepPosition(s, { pan: 0.98, tilt: -0.95 }, 1, -1, 0.05), { pan: 1, tilt: -1 }, 'clamped at the edges');
  assert.ok(statusRank('acknowledged') === statusRank('timeout') && statusRank('delivered') < statusRank('rejected'));
});

// ---------------------------------------------------------------------------
// Browser tests against the real server and simulated devices

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];
const SCREENSHOT = path.join(ROOT, 'build/screenshots/devices.png');
const CAM = '.device-panel[data-device="cam1"]';
const GATE = '.device-panel[data-device="gate"]';
const LAMP = '.device-panel[data-device="lamp"]';
const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];

// Short RFC 7252 timers: retransmissions at 1 s, 3 s ...
const fastCoap = (port, extra = {}) => ({
  uri: `coap://127.0.0.1:${port}/cmd`, ack_timeout: 1.0, ack_random_factor: 1.0, max_retransmit: 4, ...extra,
});

describe('device panels against vigil and vigil-devsim', () => {
  let vigil;
  let browser;
  let page;
  const sims = [];
  const pageLog = [];
  const timings = {};

  const diagnostics = () => `--- page console ---\n${pageLog.slice(-40).join('\n')}\n`
    + `--- vigil log ---\n${vigil ? vigil.log().slice(-4000) : ''}\n`
    + sims.map((s) => `--- ${s.args} ---\n${s.text.slice(-1500)}`).join('\n');

  const withDiagnostics = async (fn) => {
    try {
      await fn();
    } catch (err) {
      err.message += `\n${diagnostics()}`;
      throw err;
    }
  };

  // Clicks `control` (a selector inside panel `panel`), waits for the new
  // command row of `name` to reach a final status, and returns what it shows.
  async function clickAndFollow(panel, control, name, { clicks = 1, timeoutMs = 10000 } = {}) {
    const before = await page.$$eval(`${panel} .cmd`, (els) => els.map((e) => e.dataset.commandId));
    const t0 = Date.now();
    for (let i = 0; i < clicks; i++) await page.click(`${panel} ${control}`);
    const handle = await page.waitForFunction(({ panel: p, name: n, before: b, final }) => {
      const row = [...document.querySelectorAll(`${p} .cmd[data-name="${n}"]`)].find((r) => !b.includes(r.dataset.commandId));
      if (!row || !final.includes(row.dataset.status)) return null;
      return {
        id: row.dataset.commandId,
        status: row.dataset.status,
        code: row.dataset.code,
        outcome: row.dataset.outcome,
        chips: [...row.querySelectorAll('.chip[data-status]')].map((c) => ({ status: c.dataset.status, text: c.textContent })),
        params: row.querySelector('.cmd-params').textContent,
        result: row.querySelector('.cmd-result')?.textContent ?? null,
        error: row.querySelector('.cmd-error')?.textContent ?? null,
        border: getComputedStyle(row).borderLeftColor,
      };
    }, { panel, name, before, final: FINAL }, { timeout: timeoutMs, polling: 50 });
    const row = await handle.jsonValue();
    row.ms = Date.now() - t0;
    return row;
  }

  const panelData = (sel) => page.$eval(sel, (el) => ({ ...el.dataset }));

  before(async () => {
    const camPort = await freeUdpPort();
    const gatePort = await freeUdpPort();
    const lampPort = await freeUdpPort(); // nothing listens there
    const sim = async (args) => {
      const s = await startSim(args);
      s.args = args.join(' ');
      sims.push(s);
      return s;
    };
    await sim(['--id', 'cam1', '--coap-port', String(camPort), '--telemetry-ms', '300']);
    await sim(['--id', 'gate', '--coap-port', String(gatePort), '--telemetry-ms', '300', '--refuse', 'all']);
    vigil = await startVigil({
      config: {
        server: {},
        streams: [{ id: 'demo', source: 'test://', options: { width: 640, height: 360, fps: 15 } }],
        coap: {},
        devices: [
          {
            id: 'cam1', name: 'Demo camera head', transport: 'coap', stream: 'demo', timeout_ms: 8000,
            coap: fastCoap(camPort, { observe: 'telemetry' }), commands: CAMERA_COMMANDS,
          },
          {
            id: 'gate', name: 'Gate controller', transport: 'coap', timeout_ms: 8000,
            coap: fastCoap(gatePort), commands: { reboot: {}, light: { on: { type: 'bool' } } },
          },
          {
            id: 'lamp', name: 'Yard lamp (unplugged)', transport: 'coap', timeout_ms: 8000,
            coap: fastCoap(lampPort, { max_retransmit: 1 }), commands: { light: { on: { type: 'bool' } } },
          },
        ],
      },
    });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
  }, { timeout: 30000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    let st = null;
    if (vigil) st = await vigil.stop();
    for (const s of sims) await s.kill();
    console.log(`timings: ${JSON.stringify(timings)}`);
    if (st) assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-4000)}`);
  }, { timeout: 30000 });

  test('the cam1 panel sits beside the demo tile, online, with live telemetry', { timeout: 30000 }, () => withDiagnostics(async () => {
    const t0 = Date.now();
    await page.goto(`${vigil.base}/`);
    await page.waitForSelector(`.tile-slot[data-stream="demo"] .tile-side ${CAM}`, { timeout: 10000 });
    timings.panelShownMs = Date.now() - t0;
    await page.waitForSelector(`${CAM}[data-online="true"]`, { timeout: 10000 });
    timings.onlineMs = Date.now() - t0;
    const cam = await panelData(CAM);
    assert.equal(cam.placement, 'tile');
    assert.equal(cam.transportConnected, 'true');
    assert.equal(await page.textContent(`${CAM} .device-name`), 'Demo camera head');
    assert.equal(await page.textContent(`${CAM} .device-online`), 'online');

    // Beside the tile: to its right, overlapping it vertically.
    const tile = await page.locator('.tile[data-stream="demo"]').boundingBox();
    const panel = await page.locator(CAM).boundingBox();
    assert.ok(panel.x >= tile.x + tile.width - 1, `panel at x=${panel.x}, tile ends at ${tile.x + tile.width}`);
    assert.ok(panel.y < tile.y + tile.height && panel.y + panel.height > tile.y, `no vertical overlap ${JSON.stringify({ tile, panel })}`);

    // Live telemetry: the simulator's seq moves on, and it is fresh.
    const seq = async () => page.$eval(`${CAM} .device-telemetry dd[data-key="seq"]`, (dd) => Number(dd.textContent)).catch(() => null);
    await page.waitForSelector(`${CAM} .device-telemetry dd[data-key="seq"]`, { timeout: 10000 });
    timings.firstTelemetryMs = Date.now() - t0;
    const s1 = await seq();
    await page.waitForFunction(({ sel, s }) => {
      const dd = document.querySelector(`${sel} .device-telemetry dd[data-key="seq"]`);
      return dd && Number(dd.textContent) > s;
    }, { sel: CAM, s: s1 }, { timeout: 5000, polling: 100 });
    const age = Number((await panelData(CAM)).telemetryAgeMs);
    assert.ok(Number.isFinite(age) && age < 2000, `telemetry age ${age} ms`);
    assert.match(await page.textContent(`${CAM} .telemetry-age`), /just now|\d s ago/);

    // The devices without a stream are in the Devices area.
    for (const sel of [GATE, LAMP]) {
      await page.waitForSelector(`#devices:not([hidden]) #device-list ${sel}[data-placement="list"]`, { timeout: 5000 });
    }
    // Controls come from the schema.
    assert.equal(await page.getAttribute(`${CAM} [data-control="light.on"]`, 'role'), 'switch');
    for (const c of ['ptz.pad-up', 'ptz.pad-down', 'ptz.pad-left', 'ptz.pad-right', 'ptz.pad-home', 'ptz.zoom', 'reboot.send', 'set_interval.seconds', 'set_interval.send']) {
      assert.equal(await page.locator(`${CAM} [data-control="${c}"]`).count(), 1, c);
    }
    assert.equal(await page.locator(`${CAM} [data-control="ptz.pan"]`).count(), 0, 'ptz gets the pad, not sliders');
  }));

  test('the light switch reaches acknowledged and the switch follows the device', { timeout: 20000 }, () => withDiagnostics(async () => {
    const sw = `${CAM} [data-control="light.on"]`;
    // The simulator's telemetry says the light is off.
    await page.waitForSelector(`${sw}[data-known="true"][aria-checked="false"]`, { timeout: 2000 });
    assert.equal(await page.textContent(`${CAM} .control-switch .switch-label`), 'off');
    const row = await clickAndFollow(CAM, '[data-control="light.on"]', 'light');
    timings.lightAckMs = row.ms;
    timings.lightChips = row.chips.map((c) => c.text).join(' | ');
    assert.equal(row.status, 'acknowledged', JSON.stringify(row));
    assert.deepEqual(row.chips.map((c) => c.status), ['queued', 'sent', 'delivered', 'acknowledged']);
    assert.match(row.chips[3].text, /acknowledged \d+ ms/);
    assert.equal(row.outcome, 'ok');
    assert.equal(row.params, 'on true');
    assert.match(row.result, /light true/);
    await page.waitForSelector(`${sw}[aria-checked="true"]`, { timeout: 2000 });
    assert.equal(await page.textContent(`${CAM} .control-switch .switch-label`), 'on');
    assert.equal(await page.textContent(`${CAM} .device-state dd[data-key="light"]`), 'true');

    const off = await clickAndFollow(CAM, '[data-control="light.on"]', 'light');
    assert.equal(off.status, 'acknowledged');
    assert.equal(off.params, 'on false');
    await page.waitForSelector(`${sw}[aria-checked="false"]`, { timeout: 2000 });
  }));

  test('the PTZ pad steps from the current position and shows the result', { timeout: 20000 }, () => withDiagnostics(async () => {
    const right = await clickAndFollow(CAM, '[data-control="ptz.pad-right"]', 'ptz');
    timings.ptzAckMs = right.ms;
    assert.equal(right.status, 'acknowledged', JSON.stringify(right));
    // The whole position goes out: zoom too, as the device reported it.
    assert.equal(right.params, 'pan 0.1, tilt 0, zoom 0');
    assert.match(right.result, /pan 0\.1\b/);
    await page.waitForSelector(`${CAM} [data-control="ptz.position"][data-pan="0.1"]`, { timeout: 2000 });

    const up = await clickAndFollow(CAM, '[data-control="ptz.pad-up"]', 'ptz');
    assert.equal(up.status, 'acknowledged');
    assert.equal(up.params, 'pan 0.1, tilt 0.1, zoom 0');
    const pos = await page.$eval(`${CAM} [data-control="ptz.position"]`, (el) => ({ ...el.dataset, text: el.textContent }));
    assert.equal(pos.pan, '0.1');
    assert.equal(pos.tilt, '0.1');
    assert.match(pos.text, /pan 0\.1 · tilt 0\.1/);
  }));

  test('a form clamps to the schema and sends', { timeout: 20000 }, () => withDiagnostics(async () => {
    const box = `${CAM} [data-control="set_interval.seconds.value"]`;
    await page.fill(box, '99999');
    await page.dispatchEvent(box, 'change');
    assert.equal(await page.inputValue(box), '3600');
    assert.equal(await page.inputValue(`${CAM} [data-control="set_interval.seconds"]`), '3600');
    const row = await clickAndFollow(CAM, '[data-control="set_interval.send"]', 'set_interval');
    assert.equal(row.status, 'acknowledged', JSON.stringify(row));
    assert.equal(row.params, 'seconds 3600');
    assert.match(row.result, /interval 3600/);
  }));

  test('a refusing device shows rejected with its code', { timeout: 20000 }, () => withDiagnostics(async () => {
    // reboot asks for a second click before it sends.
    await page.click(`${GATE} [data-control="reboot.send"]`);
    assert.equal(await page.getAttribute(`${GATE} [data-control="reboot.send"]`, 'data-confirm'), 'pending');
    assert.equal(await page.locator(`${GATE} .cmd`).count(), 0, 'nothing sent on the first click');
    const row = await clickAndFollow(GATE, '[data-control="reboot.send"]', 'reboot');
    timings.rejectedMs = row.ms;
    assert.equal(row.status, 'rejected', JSON.stringify(row));
    assert.equal(row.code, '403');
    assert.equal(row.outcome, 'error');
    assert.match(row.error, /code 403/);
    assert.equal(row.border, 'rgb(229, 83, 75)', 'styled as an error');
    assert.ok(row.chips.some((c) => c.status === 'rejected'));
  }));

  test('an unreachable device shows timeout', { timeout: 20000 }, () => withDiagnostics(async () => {
    const row = await clickAndFollow(LAMP, '[data-control="light.on"]', 'light', { timeoutMs: 12000 });
    timings.timeoutMs = row.ms;
    assert.equal(row.status, 'timeout', JSON.stringify(row));
    assert.equal(row.outcome, 'error');
    assert.ok(row.error && row.error.length > 0, 'the reason is shown');
    assert.deepEqual(row.chips.map((c) => c.status), ['queued', 'sent', 'timeout']);
    // max_retransmit 1 with ack_timeout 1 s: gives up after 1 s + 2 s.
    assert.ok(row.ms >= 2500 && row.ms < 9000, `${row.ms} ms`);
    // CoAP reachability: the device is now offline, with the reason.
    await page.waitForSelector(`${LAMP}[data-online="false"]`, { timeout: 2000 });
    assert.equal(await page.textContent(`${LAMP} .device-online`), 'offline');
    assert.notEqual(await page.getAttribute(LAMP, 'data-reason'), '');
  }));

  test('a request the server refuses shows its error next to the control', { timeout: 15000 }, () => withDiagnostics(async () => {
    // The UI clamps, so ask the page's store directly for what it would not send.
    const cmd = await page.evaluate(() => window.vigil.devices.send('cam1', 'ptz', { pan: 5, tilt: 0 }));
    assert.equal(cmd, null, 'the server refused it');
    const err = `${CAM} .command-error[data-error-for="ptz"]`;
    await page.waitForSelector(`${err}:not([hidden])`, { timeout: 2000 });
    assert.equal(await page.getAttribute(err, 'data-code'), 'bad_params');
    assert.match(await page.textContent(err), /bad_params: .*pan/);
    assert.equal(await page.getAttribute(err, 'role'), 'alert');
    // It sits in the ptz command's box, with the pad.
    assert.equal(await page.locator(`${CAM} .device-command[data-command="ptz"] [data-control="ptz.pad-right"]`).count(), 1);
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    // From the top, or the sticky bar lands mid-page in a full-page shot.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.click(`${err} .error-dismiss`);
    await page.waitForSelector(`${err}[hidden]`, { state: 'attached', timeout: 2000 });
  }));

  test('after the socket drops the panel asks for the devices again', { timeout: 25000 }, () => withDiagnostics(async () => {
    await page.evaluate(() => window.vigil.conn.ws.close());
    await page.waitForSelector(`${CAM}[data-stale="true"]`, { timeout: 3000 });
    await page.waitForSelector(`${CAM}[data-stale="false"][data-online="true"]`, { timeout: 10000 });
    // Device events only reach connections that sent `devices`: new
    // telemetry on the new connection proves the request went out again.
    const s1 = await page.$eval(`${CAM} .device-telemetry dd[data-key="seq"]`, (dd) => Number(dd.textContent));
    await page.waitForFunction(({ sel, s }) => Number(document.querySelector(`${sel} .device-telemetry dd[data-key="seq"]`).textContent) > s,
      { sel: CAM, s: s1 }, { timeout: 5000, polling: 100 });
    // The history survives; the switch still works on the new connection.
    assert.ok(await page.locator(`${CAM} .cmd`).count() >= 4);
    const row = await clickAndFollow(CAM, '[data-control="light.on"]', 'light');
    assert.equal(row.status, 'acknowledged');
    assert.ok(!pageLog.some((l) => l.startsWith('pageerror')), pageLog.join('\n'));
  }));
});

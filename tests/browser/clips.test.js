// Clips in the dashboard (web/js/timeline.js, web/js/device_clips.js) in
// headless Chromium against a real build/vigil and a real mosquitto broker:
// the tile's "Clip" button (an admin's) makes a clip the server lists with
// that id; a doorbell's MQTT telemetry {"button": "pressed"} makes a clip
// that shows in the doorbell's panel beside its camera, being made and then
// complete; a viewer's dashboard has no Clip button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startVigil, waitStreamState, tempDir, mintToken, sleep } from '../lib/vigil.js';
import { Procs, startBroker, freeTcpPort, CAMERA_COMMANDS } from '../integration/control_peers.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const TILE = '.tile[data-stream="cam"]';
const PANEL = '.device-panel[data-device="bell"]';
const PREFIX = 'vbc';

const procs = new Procs();
let vigil;
let browser;
let page;
let mqttPort;
const log = [];
const check = (fn) => () => withDiagnostics(log, () => [['vigil', vigil]], fn);

before(async () => {
  mqttPort = await freeTcpPort();
  procs.add(await startBroker(mqttPort));
  vigil = await startVigil({
    config: {
      server: { record_path: tempDir('vigil-bclips-') },
      streams: [{ id: 'cam', source: 'test://', options: { width: 320, height: 240, fps: 15, keyframe_interval: 15, bitrate_kbps: 300 },
        record: { mode: 'events', preroll_s: 3 } }],
      mqtt: { host: '127.0.0.1', port: mqttPort, prefix: PREFIX, keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2, client_id: `vbc-${mqttPort}` },
      devices: [{ id: 'bell', name: 'Doorbell', transport: 'mqtt', stream: 'cam', commands: CAMERA_COMMANDS,
        clip_on: [{ match: { button: 'pressed' }, pre_s: 2, post_s: 2, label: 'doorbell' }] }],
    },
  });
  await waitStreamState(vigil, 'cam', 'live', 20000);
  browser = await launchChromium();
  page = await freshPage(browser, log);
}, { timeout: 60000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await procs.killAll();
  if (vigil) {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
  }
}, { timeout: 30000 });

const listedClips = async () => (await (await vigil.fetch('/api/streams/cam/recordings')).json()).recordings
  .filter((x) => x.kind === 'clip');

test('the Clip button makes a clip; a doorbell press shows its clip in the doorbell\'s panel', { timeout: 90000 }, check(async () => {
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'live', TILE, { timeout: 15000 });
  await page.locator(`${TILE} .timeline-make-clip`).waitFor({ state: 'visible', timeout: 15000 });
  await page.click(`${TILE} .timeline-make-clip`);
  const id = await page.waitForFunction((s) => document.querySelector(`${s} .timeline-note`)?.dataset.clipId, TILE, { timeout: 10000 })
    .then((h) => h.jsonValue());
  assert.match(id, /^cam-clip-\d{8}T\d{6}Z(-\d+)?$/);
  // The clip's file is created by the record writer's thread once the
  // request is answered (at the ring's first keyframe): listed moments later.
  let made;
  const deadline = Date.now() + 5000;
  while (!(made = (await listedClips()).find((x) => x.id === id)) && Date.now() < deadline) await sleep(100);
  assert.ok(made, `${id} listed`);
  assert.equal(made.subject, 'test-admin');

  // The doorbell's panel sits beside its camera and has no clips yet.
  await page.waitForFunction((s) => document.querySelector(`${s} .device-clips`)?.dataset.count === '0', PANEL, { timeout: 15000 });
  const pub = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-q', '1',
    '-t', `${PREFIX}/bell/telemetry`, '-m', JSON.stringify({ button: 'pressed' })]);
  assert.equal(pub.status, 0, pub.stderr.toString());
  await page.waitForFunction((s) => document.querySelector(`${s} .device-clips`)?.dataset.count === '1', PANEL, { timeout: 15000 });
  const item = await page.$eval(`${PANEL} .device-clip`, (li) => ({ id: li.dataset.clip, text: li.textContent }));
  assert.match(item.text, /doorbell/);
  const fromBell = (await listedClips()).filter((x) => x.device === 'bell');
  assert.deepEqual(fromBell.map((x) => x.id), [item.id]);
  // complete after its 2 s of post time (the panel looks again every 10 s)
  await page.waitForFunction((s) => document.querySelector(`${s} .device-clip`)?.dataset.complete === 'true', PANEL, { timeout: 20000 });
}));

test('a viewer has no Clip button', { timeout: 60000 }, check(async () => {
  const viewer = mintToken({ sub: 'v', role: 'viewer', streams: ['cam'], devices: ['bell'] });
  await page.goto('about:blank');
  await page.goto(`${vigil.base}/#token=${viewer}`);
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'live', TILE, { timeout: 15000 });
  await page.waitForFunction((s) => Number(document.querySelector(`${s} .timeline`)?.dataset.recordings) >= 1, TILE, { timeout: 15000 });
  assert.equal(await page.locator(`${TILE} .timeline-make-clip`).isVisible(), false);
}));

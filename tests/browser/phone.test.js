// The dashboard on a phone: at 390×844 CSS pixels (an iPhone 12–15) every
// part of the page fits the screen's width (nothing to scroll sideways), and
// the top bar's role badge, sign-out/sign-in button and connection state are
// on screen: signed in with a device panel beside the tile (its sections
// open, an error showing), as an anonymous viewer, and refused (the sign-in
// dialog up). Against a real vigil with a CoAP camera head
// (build/vigil-devsim) in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startVigil, mintToken, ROOT } from '../lib/vigil.js';
import { startSim, freeUdpPort, CAMERA_COMMANDS } from '../integration/control_peers.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const PHONE = { width: 390, height: 844 };
const SHOTS = path.join(ROOT, 'build/screenshots');
const TILE = '.tile[data-stream="demo"]';
const PANEL = '.device-panel[data-device="cam1"]';

let vigil;
let sim;
let browser;
const log = [];
const check = (fn) => () => withDiagnostics(log, () => [['vigil', vigil]], fn);

before(async () => {
  const camPort = await freeUdpPort();
  sim = await startSim(['--id', 'cam1', '--coap-port', String(camPort), '--telemetry-ms', '500']);
  vigil = await startVigil({
    config: {
      server: {},
      auth: { anonymous: { streams: ['demo'] } },
      streams: [{ id: 'demo', source: 'test://', options: { width: 320, height: 240, fps: 15, bitrate_kbps: 300, audio: true } }],
      coap: {},
      devices: [{
        id: 'cam1', name: 'Demo camera head', transport: 'coap', stream: 'demo', timeout_ms: 8000,
        coap: { uri: `coap://127.0.0.1:${camPort}/cmd`, ack_timeout: 1.0, ack_random_factor: 1.0, observe: 'telemetry' },
        commands: CAMERA_COMMANDS,
      }],
    },
  });
  browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
}, { timeout: 30000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  const st = vigil ? await vigil.stop() : null;
  if (sim) await sim.kill();
  if (st) assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
}, { timeout: 20000 });

// The page's width, and every shown element that sticks out of the screen
// sideways (one inside a box that clips or scrolls it does not count).
function overflow(page) {
  return page.evaluate(() => {
    const w = window.innerWidth;
    const clipped = (el) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        if (getComputedStyle(p).overflowX !== 'visible') return true;
      }
      return false;
    };
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if ((r.left < -0.5 || r.right > w + 0.5) && !clipped(el)) {
        out.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className.baseVal ?? el.className} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: w, out: out.slice(0, 12) };
  });
}

// Asserts the page fits and each of `selectors` is shown inside the viewport.
async function assertFits(page, selectors, what) {
  const o = await overflow(page);
  assert.ok(o.scrollWidth <= PHONE.width, `${what}: the page is ${o.scrollWidth} px wide: ${o.out.join('; ')}`);
  assert.deepEqual(o.out, [], `${what}: elements off the screen`);
  for (const sel of selectors) {
    const r = await page.$eval(sel, (el) => {
      const b = el.getBoundingClientRect();
      return { left: b.left, right: b.right, top: b.top, bottom: b.bottom, width: b.width };
    });
    assert.ok(r.width > 0 && r.left >= 0 && r.right <= PHONE.width && r.top >= 0 && r.bottom <= PHONE.height,
      `${what}: ${sel} at ${JSON.stringify(r)}, not within ${PHONE.width}×${PHONE.height}`);
  }
}

test('signed in, with a device panel open: everything fits 390 px', { timeout: 40000 }, check(async () => {
  const page = await freshPage(browser, log, PHONE);
  await page.goto(`${vigil.base}/#token=${mintToken({ sub: 'operator-with-a-long-name', role: 'operator' })}`);
  await page.waitForSelector(`${TILE}[data-state="live"]`, { timeout: 10000 });
  await page.waitForSelector(`${PANEL} [data-control="ptz.pad-up"]`, { timeout: 10000 });
  await page.waitForSelector('#account[data-state="signed-in"] .account-role', { timeout: 5000 });
  // Every section of the panel open, and an error beside the pad.
  await page.$$eval(`${PANEL} details`, (all) => { for (const d of all) d.open = true; });
  await page.evaluate(() => window.vigil.devices.send('cam1', 'ptz', { pan: 5, tilt: 0 }).catch(() => {}));
  await page.waitForSelector(`${PANEL} .command-error[data-error-for="ptz"]`, { state: 'visible', timeout: 5000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(SHOTS, 'phone-signed-in.png'), fullPage: true });
  await assertFits(page, ['#account .account-role', '#account .account-button', '#conn-status'], 'signed in');
  assert.equal(await page.textContent('#account .account-button'), 'Sign out');
  await page.context().close();
}));

test('an anonymous viewer: everything fits 390 px', { timeout: 30000 }, check(async () => {
  const page = await freshPage(browser, log, PHONE);
  await page.goto(`${vigil.base}/`);
  await page.waitForSelector(`${TILE}[data-state="live"]`, { timeout: 10000 });
  await page.waitForSelector('#account[data-state="anonymous"]', { timeout: 5000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(SHOTS, 'phone-anonymous.png'), fullPage: true });
  await assertFits(page, ['#account .account-button', '#conn-status'], 'anonymous');
  assert.equal(await page.textContent('#account .account-button'), 'Sign in');
  await page.context().close();
}));

test('signed out by a refused token, the sign-in dialog up: everything fits 390 px', { timeout: 30000 }, check(async () => {
  const page = await freshPage(browser, log, PHONE);
  await page.goto(`${vigil.base}/#token=${mintToken({ role: 'viewer', exp: Math.floor(Date.now() / 1000) - 60 })}`);
  await page.waitForSelector('#signin[open]', { timeout: 10000 });
  await page.waitForSelector('#account[data-state="signed-out"]', { timeout: 5000 });
  await page.screenshot({ path: path.join(SHOTS, 'phone-signed-out.png'), fullPage: true });
  await assertFits(page, ['#signin', '#signin-submit', '#conn-status'], 'signed out, dialog open');
  await page.click('#signin-cancel');
  await assertFits(page, ['#account .account-button', '#conn-status'], 'signed out');
  await page.context().close();
}));

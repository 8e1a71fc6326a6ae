// The dashboard on a phone: at 390×844 CSS pixels (an iPhone 12–15) every
// part of the page fits the screen's width (nothing to scroll sideways), and
// the top bar's role badge, sign-out/sign-in button and connection state are
// on screen: signed in with a device panel beside the tile (its sections
// open, an error showing), as an anonymous viewer, and refused (the sign-in
// dialog up). Against a real vigil with a CoAP camera head
// (build/vigil-devsim) in headless Chromium.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { mintToken, ROOT } from '../lib/vigil.js';
import { cameraHeadSuite, freshPage } from './harness.js';

const PHONE = { width: 390, height: 844 };
const SHOTS = path.join(ROOT, 'build/screenshots');
// A long stream id: the tile's header must cut it, not grow past the screen.
const STREAM = 'front-door-camera-above-the-entrance-porch';
const TILE = `.tile[data-stream="${STREAM}"]`;
const PANEL = '.device-panel[data-device="cam1"]';

const suite = cameraHeadSuite(STREAM, { auth: { anonymous: { streams: [STREAM] } } });
const { log, check } = suite;

before(() => mkdirSync(SHOTS, { recursive: true }));

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
  const page = await freshPage(suite.browser, log, PHONE);
  await page.goto(`${suite.vigil.base}/#token=${mintToken({ sub: 'operator-with-a-long-name', role: 'operator' })}`);
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
  const page = await freshPage(suite.browser, log, PHONE);
  await page.goto(`${suite.vigil.base}/`);
  await page.waitForSelector(`${TILE}[data-state="live"]`, { timeout: 10000 });
  await page.waitForSelector('#account[data-state="anonymous"]', { timeout: 5000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(SHOTS, 'phone-anonymous.png'), fullPage: true });
  await assertFits(page, ['#account .account-button', '#conn-status'], 'anonymous');
  assert.equal(await page.textContent('#account .account-button'), 'Sign in');
  await page.context().close();
}));

test('signed out by a refused token, the sign-in dialog up: everything fits 390 px', { timeout: 30000 }, check(async () => {
  const page = await freshPage(suite.browser, log, PHONE);
  await page.goto(`${suite.vigil.base}/#token=${mintToken({ role: 'viewer', exp: Math.floor(Date.now() / 1000) - 60 })}`);
  await page.waitForSelector('#signin[open]', { timeout: 10000 });
  await page.waitForSelector('#account[data-state="signed-out"]', { timeout: 5000 });
  await page.screenshot({ path: path.join(SHOTS, 'phone-signed-out.png'), fullPage: true });
  await assertFits(page, ['#signin', '#signin-submit', '#conn-status'], 'signed out, dialog open');
  await page.click('#signin-cancel');
  await assertFits(page, ['#account .account-button', '#conn-status'], 'signed out');
  await page.context().close();
}));

// The dashboard's buttons draw their icons as inline SVG (web/js/icons.js),
// not as font glyphs: on a Debian machine with only the DejaVu fonts the
// speaker emoji came out as an empty box. Against a real vigil with a stream
// with sound and a CoAP camera head (build/vigil-devsim) beside it, in
// headless Chromium: the speaker, the mode switch, the PTZ pad and an error's
// dismiss button each hold an <svg> that draws something, keep their
// aria-labels, and no button of a tile or device panel has text outside
// printable ASCII (which every font has).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cameraHeadSuite, freshPage } from './harness.js';

const TILE = '.tile[data-stream="loud"]';
const PANEL = '.device-panel[data-device="cam1"]';

const suite = cameraHeadSuite('loud');
const { log, check } = suite;
let page;

// What a button shows: its text, label, and the size of its <svg> if any.
function buttonInfo(sel) {
  return page.$$eval(sel, (buttons) => buttons.map((b) => {
    const svg = b.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : null;
    return {
      cls: b.className,
      text: b.textContent,
      label: b.getAttribute('aria-label'),
      svg: box ? { w: box.width, h: box.height, paths: svg.querySelectorAll('path').length } : null,
    };
  }));
}

test('tile and device panel buttons draw SVG icons, no font glyphs', { timeout: 40000 }, check(async () => {
  page = await freshPage(suite.browser, log);
  await page.goto(`${suite.vigil.base}/#token=${suite.vigil.adminToken}`);
  await page.waitForSelector(`${TILE}[data-state="live"][data-audio="muted"]`, { timeout: 15000 });
  await page.waitForSelector(`${PANEL} [data-control="ptz.pad-up"]`, { timeout: 10000 });
  // A request the server refuses puts an error with a dismiss button beside the pad.
  await page.evaluate(() => window.vigil.devices.send('cam1', 'ptz', { pan: 5, tilt: 0 }).catch(() => {}));
  await page.waitForSelector(`${PANEL} .command-error[data-error-for="ptz"] .error-dismiss`, { state: 'visible', timeout: 5000 });

  const iconButtons = [
    [`${TILE} button.tile-audio`, 1],
    [`${TILE} button.mode-toggle`, 1],
    [`${PANEL} button.ptz-btn`, 5],
    [`${PANEL} .command-error:not([hidden]) button.error-dismiss`, 1],
  ];
  for (const [sel, n] of iconButtons) {
    const found = await buttonInfo(sel);
    assert.equal(found.length, n, `${sel}: ${JSON.stringify(found)}`);
    for (const b of found) {
      assert.ok(b.svg && b.svg.w >= 8 && b.svg.h >= 8 && b.svg.paths > 0, `${sel} has a visible <svg>: ${JSON.stringify(b)}`);
      assert.ok(b.label, `${sel} keeps its aria-label: ${JSON.stringify(b)}`);
    }
  }
  assert.equal(await page.getAttribute(`${TILE} button.tile-audio`, 'aria-label'), 'Sound of loud');
  assert.equal(await page.textContent(`${TILE} button.mode-toggle`), 'WebCodecs', 'the mode switch says its mode in words');

  // Every button of the tile and the panel: printable ASCII only.
  const all = await buttonInfo(`${TILE} button, ${PANEL} button`);
  assert.ok(all.length >= 10, `${all.length} buttons`);
  for (const b of all) assert.match(b.text, /^[\x20-\x7e]*$/, `a glyph some fonts lack in ${JSON.stringify(b)}`);

  // The icon draws pixels: the speaker looks different without it.
  const speaker = page.locator(`${TILE} button.tile-audio`);
  const withIcon = await speaker.screenshot();
  await page.$eval(`${TILE} button.tile-audio svg`, (s) => { s.style.visibility = 'hidden'; });
  const without = await speaker.screenshot();
  await page.$eval(`${TILE} button.tile-audio svg`, (s) => { s.style.visibility = ''; });
  assert.notDeepEqual(withIcon, without, 'the speaker icon is drawn');

  // The speaker's icon follows its state.
  assert.equal(await page.getAttribute(`${TILE} button.tile-audio`, 'data-icon'), 'sound-off');
  await page.click(`${TILE} button.tile-audio`);
  await page.waitForSelector(`${TILE}[data-audio="on"] button.tile-audio[data-icon="sound-on"][aria-pressed="true"]`, { timeout: 10000 });
  assert.equal(await page.getAttribute(`${TILE} button.mode-toggle`, 'data-icon'), 'mse');
  assert.equal(await page.textContent(`${TILE} button.mode-toggle`), 'MSE');
}));

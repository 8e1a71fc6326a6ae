// A camera that vanishes shows on its tile as offline: the badge says
// "offline" (never "live" over a frozen picture), the picture says since when
// ("Offline since 14:02:31") and why (the reason of the stream.state event),
// and the last picture stays, dimmed. When the camera is back, so is the
// live tile. Two streams pull the same RTSP camera (build/tools/rtsp_camera),
// one tile in each playback mode; the camera is killed (SIGKILL, like a
// power cut) and restarted on the same port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startVigil, freePort, ROOT, SLOW } from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const TILES = { mse: '.tile[data-stream="cam-mse"]', webcodecs: '.tile[data-stream="cam-wc"]' };
const SHOT = path.join(ROOT, 'build/screenshots/offline.png');

// What the tile shows: badge, overlay, the dimming of its picture, and
// whether that picture is still there.
function tileView(page, sel) {
  return page.$eval(sel, (tile) => {
    const overlay = tile.querySelector('.tile-overlay');
    const shown = tile.querySelector('.tile-video:not([hidden])');
    const style = getComputedStyle(shown);
    const picture = shown.tagName === 'VIDEO' ? shown.videoWidth > 0 && shown.readyState >= 2 : shown.width > 0;
    return {
      ...tile.dataset,
      badge: tile.querySelector('.badge').textContent,
      overlayShown: !overlay.hidden && getComputedStyle(overlay).display !== 'none',
      title: overlay.querySelector('.overlay-title')?.textContent ?? overlay.textContent,
      detail: overlay.querySelector('.overlay-detail')?.textContent ?? '',
      opacity: Number(style.opacity),
      filter: style.filter,
      picture,
    };
  });
}

test('a lost camera shows offline since when and why, dimmed, and comes back live', { timeout: 90000 * SLOW }, async () => {
  const port = await freePort();
  let camera = await startCamera({ port });
  const vigil = await startVigil({
    config: {
      server: {},
      streams: [
        { id: 'cam-mse', source: camera.url, options: { latency_ms: 100 } },
        { id: 'cam-wc', source: camera.url, options: { latency_ms: 100 } },
      ],
    },
  });
  const log = [];
  const browser = await launchChromium();
  try {
    await withDiagnostics(log, () => [['vigil', vigil], ['camera', camera]], async () => {
      const page = await freshPage(browser, log, { width: 1280, height: 800 });
      await page.addInitScript(() => localStorage.setItem('vigil.mode.cam-mse', 'mse'));
      await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
      for (const [mode, sel] of Object.entries(TILES)) {
        await page.waitForSelector(`${sel}[data-state="live"][data-mode="${mode}"]`, { timeout: 20000 * SLOW });
        await page.waitForFunction((s) => Number(document.querySelector(s).dataset.decoded) >= 20,
          sel, { timeout: 15000 * SLOW, polling: 200 });
        const live = await tileView(page, sel);
        assert.equal(live.offline, 'false');
        assert.equal(live.badge, 'live');
        assert.equal(live.overlayShown, false, `${mode}: nothing over a live picture: ${JSON.stringify(live)}`);
        assert.equal(live.opacity, 1);
      }

      const lostAt = Date.now();
      const sinces = {};
      await camera.stop('SIGKILL');
      camera = null;
      for (const [mode, sel] of Object.entries(TILES)) {
        // Offline with the reason the stream.state event carried.
        await page.waitForSelector(`${sel}[data-offline="true"]:not([data-reason=""])`, { timeout: 25000 * SLOW });
        const v = await tileView(page, sel);
        console.log(`${mode} offline: ${JSON.stringify(v)}`);
        assert.ok(['retrying', 'failed'].includes(v.state), `${mode}: state ${v.state}`);
        assert.equal(v.badge, 'offline', `${mode}: the badge`);
        assert.ok(v.overlayShown, `${mode}: the label is shown`);
        assert.match(v.title, /^Offline since \d\d:\d\d:\d\d$/, `${mode}: since when`);
        const since = Number(v.offlineSince);
        sinces[mode] = v.offlineSince;
        assert.ok(since >= lostAt - 1000 && since <= Date.now(), `${mode}: offline since ${since}, camera lost at ${lostAt}`);
        const clock = await page.evaluate((ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }), since);
        assert.equal(v.title, `Offline since ${clock}`);
        assert.ok(v.detail.includes(v.reason), `${mode}: why, "${v.reason}", in "${v.detail}"`);
        assert.ok(v.opacity < 0.7, `${mode}: the picture is dimmed (opacity ${v.opacity})`);
        assert.match(v.filter, /grayscale/, `${mode}: and greyed`);
        assert.ok(v.picture, `${mode}: the last picture stays`);
      }
      await page.screenshot({ path: SHOT });
      // The top bar counts them as not live either.
      await page.waitForFunction(() => document.getElementById('summary').textContent === '2 streams · 0 live',
        null, { timeout: 2000, polling: 100 });
      // Offline stays offline, with the same "since", while the server retries.
      await page.waitForTimeout(1500);
      for (const [mode, sel] of Object.entries(TILES)) {
        const v = await tileView(page, sel);
        assert.equal(v.offline, 'true');
        assert.equal(v.badge, 'offline');
        assert.equal(v.offlineSince, sinces[mode], `${mode}: the same "since"`);
      }

      camera = await startCamera({ port });
      for (const [mode, sel] of Object.entries(TILES)) {
        await page.waitForSelector(`${sel}[data-state="live"]`, { timeout: 40000 * SLOW });
        const before = Number(await page.getAttribute(sel, 'data-decoded'));
        await page.waitForFunction(({ s, n }) => Number(document.querySelector(s).dataset.decoded) >= n,
          { s: sel, n: before + 15 }, { timeout: 15000 * SLOW, polling: 200 });
        await page.waitForTimeout(600); // a render after the frames
        const v = await tileView(page, sel);
        console.log(`${mode} back: ${JSON.stringify(v)}`);
        assert.equal(v.offline, 'false', `${mode}: back online`);
        assert.equal(v.offlineSince, '');
        assert.equal(v.badge, 'live');
        assert.equal(v.overlayShown, false, `${mode}: the label is gone: ${JSON.stringify(v)}`);
        assert.equal(v.opacity, 1, `${mode}: no longer dimmed`);
      }
      assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
    });
  } finally {
    await browser.close().catch(() => {});
    if (camera) await camera.stop('SIGKILL');
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
  }
});

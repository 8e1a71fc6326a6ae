// Browser test of the WebCodecs mode (web/js/webcodecs_player.js) against a
// real build/vigil running the demo stream, in headless Debian Chromium: the
// tile picks WebCodecs by itself, frames are decoded and drawn on its canvas
// (pixels read back: not blank, changing over time), and the mode switch goes
// to MSE (the <video> plays) and back, remembered across a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startVigil, ROOT } from '../lib/vigil.js';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];
const SCREENSHOT = path.join(ROOT, 'build/screenshots/webcodecs.png');
const TILE = '.tile[data-stream="demo"]';

let vigil;
let browser;
let page;
const pageLog = [];

async function withDiagnostics(fn) {
  try {
    await fn();
  } catch (err) {
    err.message += `\n--- page console ---\n${pageLog.slice(-40).join('\n')}\n--- vigil log ---\n${vigil ? vigil.log().slice(-3000) : ''}`;
    throw err;
  }
}

// What the canvas shows: a coarse checksum of its pixels, how varied they
// are, and its size.
function canvasPicture() {
  return page.evaluate((sel) => {
    const c = document.querySelector(`${sel} canvas.tile-canvas`);
    if (!c || !c.width) return null;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let min = 255;
    let max = 0;
    const hist = new Set();
    for (let i = 0; i < data.length; i += 4 * 97) {
      const y = Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]);
      sum = (sum * 31 + y) >>> 0;
      min = Math.min(min, y);
      max = Math.max(max, y);
      hist.add(y >> 3);
    }
    return { sum, min, max, levels: hist.size, width: c.width, height: c.height, hidden: c.hidden };
  }, TILE);
}

const dataset = () => page.$eval(TILE, (t) => ({ ...t.dataset }));

before(async () => {
  vigil = await startVigil();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
}, { timeout: 30000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (vigil) {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
  }
}, { timeout: 20000 });

test('the tile decodes with WebCodecs and draws on its canvas', { timeout: 30000 }, () => withDiagnostics(async () => {
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await page.waitForSelector(`${TILE}[data-mode="webcodecs"]`, { timeout: 10000 });
  await page.waitForFunction((sel) => Number(document.querySelector(sel).dataset.drawn) >= 60,
    TILE, { timeout: 15000, polling: 200 });

  const a = await canvasPicture();
  await page.waitForTimeout(700);
  const b = await canvasPicture();
  const d = await dataset();
  console.log(`webcodecs tile: ${JSON.stringify(d)} canvas ${JSON.stringify(b)}`);
  assert.equal(b.hidden, false, 'the canvas is shown');
  assert.equal(b.width, 1280);
  assert.equal(b.height, 720);
  assert.ok(b.max - b.min > 100 && b.levels > 8, `the canvas is not blank: ${JSON.stringify(b)}`);
  assert.notEqual(a.sum, b.sum, 'the picture changes over time');
  assert.equal(await page.$eval(`${TILE} video`, (v) => v.hidden), true, 'the video is hidden');
  assert.equal(d.state, 'live');
  assert.ok(Number(d.decoded) >= 60, `decoded ${d.decoded}`);
  // A one-second window above 20 fps of the 30 fps demo, waited for.
  await page.waitForFunction((sel) => Number(document.querySelector(sel).dataset.fps) > 20, TILE,
    { timeout: 5000, polling: 100 });
  // Server to page on loopback: a few ms (the header's time to arrival).
  assert.ok(d.latencyMs !== '' && Number(d.latencyMs) < 150, `latency ${d.latencyMs}`);
  assert.equal(d.resets, '0', 'no decoder errors');
  assert.equal(await page.$eval(`${TILE} .mode-toggle`, (b) => b.textContent), 'WebCodecs');
  const closed = await page.evaluate((sel) => {
    const tile = window.vigil.tiles.get('demo');
    return { inFlight: tile.player.inFlight.size, stats: tile.player.stats, sel };
  }, TILE);
  // Every output frame is either drawn or dropped as late (and closed).
  assert.ok(closed.stats.decoded >= closed.stats.drawn + closed.stats.late - 1, JSON.stringify(closed));
  assert.ok(closed.inFlight < 10, `chunks waiting in the decoder: ${closed.inFlight}`);
  mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT });
}));

test('switching to MSE and back works and is remembered', { timeout: 45000 }, () => withDiagnostics(async () => {
  await page.click(`${TILE} .mode-toggle`);
  await page.waitForSelector(`${TILE}[data-mode="mse"]`, { timeout: 5000 });
  await page.waitForFunction((sel) => {
    const v = document.querySelector(`${sel} video`);
    return !v.hidden && v.getVideoPlaybackQuality().totalVideoFrames >= 30 && !v.paused;
  }, TILE, { timeout: 15000, polling: 200 });
  assert.equal(await page.evaluate(() => localStorage.getItem('vigil.mode.demo')), 'mse');
  assert.equal(await page.$eval(`${TILE} canvas`, (c) => c.hidden), true);
  const stats = await page.evaluate(() => window.vigil.conn.request('stats'));
  assert.deepEqual(stats.channels.map((c) => c.mode), ['mse'], 'one channel, now in MSE mode');

  // Remembered across a reload.
  await page.reload();
  await page.waitForSelector(`${TILE}[data-mode="mse"]`, { timeout: 10000 });
  await page.waitForFunction((sel) => document.querySelector(`${sel} video`).getVideoPlaybackQuality().totalVideoFrames >= 15,
    TILE, { timeout: 15000, polling: 200 });

  // And back to WebCodecs: drawing again.
  await page.click(`${TILE} .mode-toggle`);
  await page.waitForSelector(`${TILE}[data-mode="webcodecs"]`, { timeout: 5000 });
  await page.waitForFunction((sel) => Number(document.querySelector(sel).dataset.drawn) >= 30,
    TILE, { timeout: 15000, polling: 200 });
  const a = await canvasPicture();
  await page.waitForTimeout(500);
  const b = await canvasPicture();
  assert.ok(b.max - b.min > 100, 'drawing after the switch back');
  assert.notEqual(a.sum, b.sum);
  assert.equal(await page.evaluate(() => localStorage.getItem('vigil.mode.demo')), 'webcodecs');
  const after2 = await page.evaluate(() => window.vigil.conn.request('stats'));
  assert.deepEqual(after2.channels.map((c) => c.mode), ['webcodecs']);
  assert.ok(!pageLog.some((l) => l.startsWith('pageerror')), pageLog.join('\n'));
}));

test('a decoder error resubscribes and playback resumes', { timeout: 30000 }, () => withDiagnostics(async () => {
  const before = await dataset();
  // Break the decoder the way a bad chunk would: feed it garbage as a keyframe.
  await page.evaluate(() => {
    const tile = window.vigil.tiles.get('demo');
    tile.player.decoder.decode(new EncodedVideoChunk({ type: 'key', timestamp: 0, data: new Uint8Array([0, 0, 0, 1, 9]) }));
  });
  // The garbage must break the decoder (counted as a reset) ...
  await page.waitForFunction((n) => Number(document.querySelector('.tile[data-stream="demo"]').dataset.resets) > n,
    Number(before.resets), { timeout: 10000, polling: 100 });
  const mid = await dataset();
  assert.ok(Number(mid.resets) > Number(before.resets), `resets ${before.resets} -> ${mid.resets}`);
  // ... and playback resume after the resubscription.
  await page.waitForFunction((n) => Number(document.querySelector('.tile[data-stream="demo"]').dataset.drawn) > n + 30,
    Number(mid.drawn), { timeout: 15000, polling: 200 });
  const d = await dataset();
  console.log(`after a decoder error: resets ${before.resets} -> ${d.resets}, mode ${d.mode}`);
  assert.equal(d.mode, 'webcodecs');
  assert.equal(d.state, 'live');
}));

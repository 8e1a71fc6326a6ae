// A camera that sends H.264 Main profile with B-frames (RTSP,
// build/tools/rtsp_camera --bframes 2) plays on the dashboard in headless
// Chromium, in both modes: WebCodecs (frames decoded and drawn, the picture
// changing) and MSE (the <video> decodes frames and plays). Before vigil
// rebuilt decode times the MSE tile decoded nothing, and the WebCodecs
// player, counting the frames a B-frame decoder holds for reordering as a
// backlog, dropped every frame as late.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil, freePort } from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const TILE = '.tile[data-stream="nvr"]';
let camera;
let vigil;
let browser;
let page;
const log = [];
const check = (fn) => withDiagnostics(log, () => [['vigil', vigil]], fn);

before(async () => {
  camera = await startCamera({ port: await freePort(), bframes: 2, profile: 'main', width: 640, height: 360, fps: 25 });
  vigil = await startVigil({ config: { server: {}, streams: [{ id: 'nvr', source: camera.url }] } });
  browser = await launchChromium();
  page = await freshPage(browser, log);
}, { timeout: 30000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (vigil) await vigil.stop();
  if (camera) await camera.stop('SIGKILL');
}, { timeout: 20000 });

// A coarse checksum of the canvas's pixels and how varied they are.
function canvasPicture() {
  return page.evaluate((sel) => {
    const c = document.querySelector(`${sel} canvas.tile-canvas`);
    if (!c || !c.width) return null;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0, min = 255, max = 0;
    for (let i = 0; i < data.length; i += 4 * 97) {
      const y = Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]);
      sum = (sum * 31 + y) >>> 0;
      min = Math.min(min, y);
      max = Math.max(max, y);
    }
    return { sum, min, max };
  }, TILE);
}

test('WebCodecs: a B-frames camera is decoded and drawn', { timeout: 40000 }, () => check(async () => {
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await page.waitForSelector(`${TILE}[data-mode="webcodecs"]`, { timeout: 10000 });
  await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.drawn) >= 50,
    TILE, { timeout: 20000, polling: 200 });
  const stats = () => page.evaluate(() => ({ ...window.vigil.tiles.get('nvr').player.stats }));
  const s1 = await stats();
  const a = await canvasPicture();
  await page.waitForTimeout(1200);
  const b = await canvasPicture();
  const s2 = await stats();
  assert.ok(b.max - b.min > 50, `the canvas is not blank: ${JSON.stringify(b)}`);
  assert.notEqual(a.sum, b.sum, 'the picture changes');
  // Past the burst of the GOP cache at subscription, frames are drawn at the
  // stream's rate (25 fps), not dropped as late.
  const decoded = s2.decoded - s1.decoded, drawn = s2.drawn - s1.drawn;
  assert.ok(decoded >= 20 && drawn >= decoded * 0.9, `${JSON.stringify(s1)} -> ${JSON.stringify(s2)}`);
  assert.equal(s2.errors, 0, JSON.stringify(s2));
}));

test('MSE: a B-frames camera plays in the <video>', { timeout: 40000 }, () => check(async () => {
  await page.click(`${TILE} .mode-toggle`);
  await page.waitForSelector(`${TILE}[data-mode="mse"]`, { timeout: 5000 });
  await page.waitForFunction((sel) => {
    const v = document.querySelector(`${sel} video`);
    return !v.hidden && !v.paused && v.getVideoPlaybackQuality().totalVideoFrames >= 50;
  }, TILE, { timeout: 20000, polling: 200 });
  const q = await page.$eval(`${TILE} video`, (v) => {
    const p = v.getVideoPlaybackQuality();
    return { total: p.totalVideoFrames, dropped: p.droppedVideoFrames, t: v.currentTime };
  });
  await page.waitForTimeout(1000);
  const t2 = await page.$eval(`${TILE} video`, (v) => v.currentTime);
  assert.ok(t2 > q.t + 0.5, `playing: ${q.t} -> ${t2}`);
}));

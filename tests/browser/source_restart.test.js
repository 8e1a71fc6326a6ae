// Browser test: a source that ends and is restarted by the server. A short
// non-looping file:// clip ends every couple of seconds; the server announces
// `retrying`, then `live` again with a new init segment. The tile must follow
// the stream.state events and keep playing across the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startVigil, tempDir } from '../lib/vigil.js';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];
const TILE = '.tile[data-stream="clip"]';

// Two seconds of small H.264 in MP4, made with the GStreamer the server uses.
function makeClip() {
  const file = path.join(tempDir('vigil-clip-'), 'clip.mp4');
  const r = spawnSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=60', 'pattern=ball', '!',
    'video/x-raw,format=I420,width=320,height=180,framerate=30/1', '!',
    'x264enc', 'tune=zerolatency', 'speed-preset=ultrafast', 'key-int-max=15', '!',
    'h264parse', '!', 'mp4mux', '!', 'filesink', `location=${file}`], { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`gst-launch-1.0 failed: ${r.stderr || r.error}`);
  return file;
}

test('a tile keeps playing across a source restart', { timeout: 40000 }, async () => {
  const clip = makeClip();
  const vigil = await startVigil({
    config: { server: {}, streams: [{ id: 'clip', source: `file://${clip}`, options: { loop: false } }] },
  });
  let browser;
  const pageLog = [];
  try {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
    // MSE across a restart (the <video> and its init segments); Chromium
    // would pick WebCodecs by default.
    await page.addInitScript(() => localStorage.setItem('vigil.mode.clip', 'mse'));
    await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
    await page.waitForSelector(`${TILE}[data-state="live"]`, { timeout: 10000 });

    // Record every state the tile shows, with the frames decoded by then.
    await page.evaluate((sel) => {
      const tile = document.querySelector(sel);
      window.seen = [];
      new MutationObserver(() => {
        const last = window.seen.at(-1);
        if (!last || last.state !== tile.dataset.state) {
          window.seen.push({ state: tile.dataset.state, reason: tile.dataset.reason, decoded: Number(tile.dataset.decoded) });
        }
      }).observe(tile, { attributes: true, attributeFilter: ['data-state'] });
    }, TILE);

    // retrying, then live again, then 30 more frames decoded after that.
    await page.waitForFunction(() => {
      const i = window.seen.findIndex((s) => s.state === 'retrying');
      return i >= 0 && window.seen.slice(i + 1).some((s) => s.state === 'live');
    }, null, { timeout: 15000, polling: 100 });
    const back = await page.evaluate(() => window.seen.find((s, i, all) =>
      s.state === 'live' && all.slice(0, i).some((p) => p.state === 'retrying')));
    await page.waitForFunction(({ sel, n }) => Number(document.querySelector(sel).dataset.decoded) >= n,
      { sel: TILE, n: back.decoded + 30 }, { timeout: 10000, polling: 200 });

    // Only a stream.state event carries a reason: seeing one proves the tile
    // followed the event, not just the periodic list.
    const retrying = await page.evaluate(() => window.seen.filter((s) => s.state === 'retrying'));
    assert.ok(retrying.some((s) => s.reason), `no reason shown while retrying: ${JSON.stringify(retrying)}`);

    const t1 = await page.$eval(`${TILE} video`, (v) => v.currentTime);
    await page.waitForTimeout(500);
    const t2 = await page.$eval(`${TILE} video`, (v) => v.currentTime);
    assert.ok(t2 > t1, `currentTime should advance after the restart: ${t1} -> ${t2}`);
    assert.ok(!pageLog.some((l) => l.startsWith('pageerror')), pageLog.join('\n'));
  } catch (err) {
    err.message += `\n--- page console ---\n${pageLog.slice(-40).join('\n')}\n--- vigil log ---\n${vigil.log().slice(-3000)}`;
    throw err;
  } finally {
    if (browser) await browser.close().catch(() => {});
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
  }
});

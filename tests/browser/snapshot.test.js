// The dashboard's snapshots (web/js/snapshot.js) in headless Chromium against
// a real build/vigil: with one subscription per connection
// (server.max_subscriptions 1) and two streams, the first tile plays and the
// second is not watched; that one shows its stream's snapshot (a JPEG
// fetched with the token, as wide as the tile, from the stream's newest
// keyframe) under "Not watched", and asks for a newer one 10 s later. The
// playing tile shows none, and a tile scrolled out of view keeps its
// snapshot fresh all the same.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil, waitStreamState } from '../lib/vigil.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const PLAYING = '.tile[data-stream="a-live"]';
const STILL = '.tile[data-stream="b-still"]';

let vigil;
let browser;
let page;
const log = [];
const check = (fn) => () => withDiagnostics(log, () => [['vigil', vigil]], fn);

before(async () => {
  vigil = await startVigil({
    config: {
      server: { max_subscriptions: 1 },
      streams: [
        { id: 'a-live', source: 'test://', options: { width: 320, height: 240, fps: 10, bitrate_kbps: 300 } },
        { id: 'b-still', source: 'test://', options: { width: 640, height: 360, fps: 10, bitrate_kbps: 400 } },
      ],
    },
  });
  await waitStreamState(vigil, 'b-still', 'live', 20000);
  browser = await launchChromium();
  page = await freshPage(browser, log);
}, { timeout: 60000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (vigil) {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
  }
}, { timeout: 30000 });

// A tile's dataset and its snapshot <img>, read in the page.
function tile(sel) {
  return page.evaluate((s) => {
    const el = document.querySelector(s);
    const img = el && el.querySelector('img.tile-snapshot');
    return el && {
      ...el.dataset,
      img: img && { hidden: img.hidden, complete: img.complete, naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight, src: img.src, frameTime: Number(img.dataset.frameTime || 0),
        loads: Number(img.dataset.loads || 0), width: img.getBoundingClientRect().width },
    };
  }, sel);
}

test('a tile that does not play shows its stream\'s snapshot and refreshes it', { timeout: 90000 }, check(async () => {
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await page.waitForSelector(STILL, { timeout: 10000 });
  await page.waitForFunction((s) => document.querySelector(s).dataset.state === 'unsubscribed', STILL, { timeout: 15000 });
  await page.waitForFunction((s) => {
    const img = document.querySelector(`${s} img.tile-snapshot`);
    return img && !img.hidden && img.complete && img.naturalWidth > 0
      && document.querySelector(s).dataset.snapshot === 'true';
  }, STILL, { timeout: 15000, polling: 200 });
  const first = await tile(STILL);
  console.log(`still tile: ${JSON.stringify(first)}`);
  assert.equal(first.snapshot, 'true');
  assert.match(first.img.src, /^blob:/);
  // As wide as the tile on screen (device pixels), in the stream's shape,
  // never wider than the stream.
  const want = Math.min(640, Math.round(first.img.width));
  assert.ok(Math.abs(first.img.naturalWidth - want) <= 2, `${first.img.naturalWidth} px for a ${first.img.width} px tile`);
  assert.ok(Math.abs(first.img.naturalHeight - first.img.naturalWidth * 9 / 16) <= 2, `${first.img.naturalWidth}x${first.img.naturalHeight}`);
  assert.ok(Math.abs(first.img.frameTime - Date.now()) < 15000, `frame time ${first.img.frameTime}`);
  // The playing tile has a picture of its own.
  await page.waitForFunction((s) => document.querySelector(s).dataset.state === 'live'
    && Number(document.querySelector(s).dataset.decoded) > 5, PLAYING, { timeout: 15000 });
  const playing = await tile(PLAYING);
  assert.equal(playing.snapshot, 'false');
  assert.equal(playing.img.hidden, true);

  // Out of view, the snapshot keeps coming: every 10 s, a newer keyframe
  // (one a second here).
  await page.evaluate(() => {
    document.body.style.paddingBottom = '3000px';
    window.scrollTo(0, 3000);
  });
  const outOfView = await page.evaluate((s) => document.querySelector(s).getBoundingClientRect().bottom < 0, STILL);
  assert.ok(outOfView, 'the tile is scrolled out of view');
  await page.waitForFunction((l) => {
    const img = document.querySelector('.tile[data-stream="b-still"] img.tile-snapshot');
    return Number(img.dataset.loads) > l;
  }, first.img.loads, { timeout: 20000, polling: 500 });
  const second = await tile(STILL);
  assert.ok(second.img.frameTime > first.img.frameTime, `${first.img.frameTime} -> ${second.img.frameTime}`);
  assert.equal(second.snapshot, 'true');
  assert.ok(second.img.naturalWidth > 0);
}));

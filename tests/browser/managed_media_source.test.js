// Browsers without MediaSource: Safari on iPhone (iOS 17.1+) has only
// ManagedMediaSource and no WebCodecs VideoDecoder; some browsers have none
// of them. Chromium here has MediaSource and WebCodecs, so before any page
// script runs (addInitScript) they are hidden, and:
//   (a) a ManagedMediaSource is installed that is the real MediaSource under
//       another name, firing startstreaming/endstreaming as Safari does: the
//       tile plays through it (remote playback disabled), appends media only
//       while the "browser" asks for it, keeps what waits bounded, and plays
//       on when asked again;
//   (b) with all three gone the tile says plainly that this browser cannot
//       play live video, and does not subscribe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil } from '../lib/vigil.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const TILE = '.tile[data-stream="cam"]';
const FPS = 25;

let vigil;
let browser;
const log = [];
const check = (fn) => () => withDiagnostics(log, () => [['vigil', vigil]], fn);

before(async () => {
  vigil = await startVigil({
    config: { server: {}, streams: [{ id: 'cam', source: 'test://', options: { width: 320, height: 240, fps: FPS, bitrate_kbps: 300 } }] },
  });
  browser = await launchChromium();
}, { timeout: 30000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (vigil) {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
  }
}, { timeout: 20000 });

// Runs in the page before its scripts: no MediaSource, no WebCodecs, and a
// ManagedMediaSource made of the real MediaSource. Like Safari's, it starts
// not streaming and says startstreaming once open; window.managedSources
// holds each one made, and source.setStreaming(on) plays the browser.
function installManagedMediaSource() {
  const Real = window.MediaSource;
  window.managedSources = [];
  class ManagedMediaSource extends Real {
    constructor() {
      super();
      this.wants = false;
      window.managedSources.push(this);
      this.addEventListener('sourceopen', () => setTimeout(() => this.setStreaming(true), 20));
    }
    get streaming() { return this.wants; }
    setStreaming(on) {
      this.wants = on;
      this.dispatchEvent(new Event(on ? 'startstreaming' : 'endstreaming'));
    }
  }
  delete window.MediaSource;
  delete window.VideoDecoder;
  window.ManagedMediaSource = ManagedMediaSource;
}

function playerState(page) {
  return page.$eval(TILE, (tile) => {
    const v = tile.querySelector('video');
    const p = window.vigil.tiles.get('cam').player;
    const b = v.buffered;
    return {
      ...tile.dataset,
      currentTime: v.currentTime,
      lag: b.length ? b.end(b.length - 1) - v.currentTime : null,
      appended: p.stats.appended,
      queued: p.queue.length,
      streaming: p.streaming,
      disableRemotePlayback: v.disableRemotePlayback,
      managedSources: window.managedSources.length,
    };
  });
}

test('(a) only ManagedMediaSource: the tile plays through it, fed while the browser asks', { timeout: 60000 }, check(async () => {
  const page = await freshPage(browser, log);
  await page.addInitScript(installManagedMediaSource);
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  assert.equal(await page.evaluate(() => typeof MediaSource), 'undefined', 'MediaSource is hidden');
  await page.waitForSelector(`${TILE}[data-state="live"][data-mode="mse"][data-media-source="ManagedMediaSource"]`, { timeout: 10000 });
  await page.waitForFunction(({ sel, n }) => Number(document.querySelector(sel)?.dataset.decoded) >= n,
    { sel: TILE, n: 2 * FPS }, { timeout: 15000, polling: 200 });
  const a = await playerState(page);
  await page.waitForTimeout(1000);
  const b = await playerState(page);
  console.log(`managed: ${JSON.stringify(b)}`);
  assert.ok(b.managedSources >= 1, 'the player made a ManagedMediaSource');
  assert.equal(b.disableRemotePlayback, true, 'remote playback is off, as ManagedMediaSource needs');
  assert.equal(b.playable, 'true');
  assert.ok(b.currentTime > a.currentTime + 0.7, `the video plays: ${a.currentTime} -> ${b.currentTime}`);
  assert.ok(b.lag < 0.5, `at the live edge: ${b.lag}`);
  assert.equal(await page.$eval(`${TILE} .tile-overlay`, (o) => o.hidden), true, 'nothing over the picture');

  // The browser has enough: nothing is appended, and what waits stays
  // within one keyframe interval (a second) plus the frames of the next.
  await page.evaluate(() => window.managedSources.at(-1).setStreaming(false));
  const stopped = await playerState(page);
  let most = 0;
  for (let i = 0; i < 25; i++) {
    await page.waitForTimeout(100);
    most = Math.max(most, (await playerState(page)).queued);
  }
  const held = await playerState(page);
  assert.equal(held.streaming, false);
  assert.equal(held.appended, stopped.appended, 'no media appended while the browser wants none');
  assert.ok(most > 0 && most <= 2 * FPS, `what waits is bounded: at most ${most} fragments queued`);

  // It asks again: the newest frames go in and it plays on at the live edge.
  await page.evaluate(() => window.managedSources.at(-1).setStreaming(true));
  await page.waitForFunction(({ sel, n }) => Number(document.querySelector(sel)?.dataset.decoded) >= n,
    { sel: TILE, n: Number(held.decoded) + FPS }, { timeout: 10000, polling: 200 });
  await page.waitForTimeout(1000);
  const c = await playerState(page);
  assert.ok(c.appended > held.appended, 'appending resumed');
  assert.ok(c.lag < 0.5, `back at the live edge: ${c.lag}`);
  assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
  await page.context().close();
}));

test('(b) neither WebCodecs nor any Media Source: the tile says so, and nothing is pulled', { timeout: 30000 }, check(async () => {
  const page = await freshPage(browser, log);
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => { if (typeof f.payload === 'string') sent.push(JSON.parse(f.payload)); }));
  await page.addInitScript(() => {
    delete window.MediaSource;
    delete window.ManagedMediaSource;
    delete window.VideoDecoder;
  });
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await page.waitForSelector(`${TILE}[data-state="live"][data-playable="false"]`, { timeout: 10000 });
  await page.waitForTimeout(1000);
  const overlay = await page.$eval(`${TILE} .tile-overlay`, (o) => ({ hidden: o.hidden, text: o.textContent, display: getComputedStyle(o).display }));
  assert.equal(overlay.hidden, false);
  assert.notEqual(overlay.display, 'none');
  assert.equal(overlay.text, 'This browser cannot play live video: no WebCodecs or Media Source Extensions');
  assert.deepEqual(sent.filter((m) => m.type === 'subscribe'), [], 'no subscription for video it cannot play');
  assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
  await page.context().close();
}));

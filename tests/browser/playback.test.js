// Playback in the dashboard (web/js/timeline.js) in headless Chromium
// against a real build/vigil recording a test camera in 2 s segments: the
// tile's timeline shows what is recorded; a click on a recorded time plays
// it through MSE in a video of its own (currentTime advances, frames
// decoded, the tile's badge says "playback", never live), the speed buttons
// change the playback rate, and "Live" returns the tile to its live picture,
// whose frames keep coming.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil, waitStreamState, tempDir } from '../lib/vigil.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const TILE = '.tile[data-stream="cam"]';

let vigil;
let browser;
let page;
const log = [];
const check = (fn) => () => withDiagnostics(log, () => [['vigil', vigil]], fn);

before(async () => {
  vigil = await startVigil({
    config: {
      server: { record_path: tempDir('vigil-playback-') },
      streams: [{ id: 'cam', source: 'test://', options: { width: 320, height: 240, fps: 15, keyframe_interval: 15, bitrate_kbps: 300 },
        record: { mode: 'continuous', segment_s: 2 } }],
    },
  });
  await waitStreamState(vigil, 'cam', 'live', 20000);
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

const playback = () => page.evaluate((s) => {
  const t = document.querySelector(s);
  const v = t.querySelector('video.tile-playback');
  return {
    tile: { playback: t.dataset.playback, state: t.dataset.state, badge: t.querySelector('.badge').textContent, decoded: Number(t.dataset.decoded) },
    video: v && { currentTime: v.currentTime, rate: v.playbackRate, frames: v.getVideoPlaybackQuality().totalVideoFrames,
      paused: v.paused, recording: v.dataset.recording, position: Number(v.dataset.position || 0),
      label: t.querySelector('.tile-playback-label')?.textContent, error: v.error && v.error.message },
  };
}, TILE);

test('the timeline plays a recorded time, at 1x, 2x and 4x, and goes back to live', { timeout: 90000 }, check(async () => {
  // a few segments recorded first
  await new Promise((r) => setTimeout(r, 7000));
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'live', TILE, { timeout: 15000 });
  // the timeline refreshes every 10 s; the first listing came at start
  await page.waitForFunction((s) => Number(document.querySelector(`${s} .timeline`).dataset.recordings) >= 3, TILE, { timeout: 15000 });
  const spans = await page.$$eval(`${TILE} .timeline-segment`, (els) => els.length);
  assert.ok(spans >= 3, `${spans} segments drawn`);
  // Click 5 s ago: within a recorded segment.
  const target = Date.now() - 5000;
  const box = await page.locator(`${TILE} .timeline-bar`).boundingBox();
  const x = await page.evaluate(([s, t]) => {
    const to = Date.now(), from = to - 2 * 3600000;
    return (t - from) / (to - from);
  }, [TILE, target]);
  await page.mouse.click(box.x + x * box.width, box.y + box.height / 2);
  await page.waitForFunction((s) => {
    const v = document.querySelector(`${s} video.tile-playback`);
    return v && v.currentTime > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 5 && !v.paused;
  }, TILE, { timeout: 15000, polling: 200 });
  const a = await playback();
  await new Promise((r) => setTimeout(r, 1500));
  const b = await playback();
  console.log(`playback: ${JSON.stringify(a)} then ${JSON.stringify(b)}`);
  assert.equal(b.tile.playback, 'true');
  assert.equal(b.tile.badge, 'playback');
  assert.match(b.video.label, /^PLAYBACK /);
  assert.ok(b.video.currentTime > a.video.currentTime + 0.8, `currentTime ${a.video.currentTime} -> ${b.video.currentTime}`);
  assert.ok(b.video.frames > a.video.frames, `frames ${a.video.frames} -> ${b.video.frames}`);
  // the time shown is about the one clicked: within a pixel of the bar (two
  // hours over its width), the recording's first segment, and the 1.5 s waited
  const msPerPx = (2 * 3600000) / box.width;
  assert.ok(Math.abs(b.video.position - target) < msPerPx + 8000,
    `position ${new Date(b.video.position).toISOString()} for ${new Date(target).toISOString()} (${msPerPx.toFixed(0)} ms a pixel)`);
  // 4x: the playhead runs faster than the wall clock
  await page.click(`${TILE} .timeline-speed[data-speed="4"]`);
  const c = await playback();
  await new Promise((r) => setTimeout(r, 1000));
  const d = await playback();
  assert.equal(d.video.rate, 4);
  assert.ok(d.video.currentTime - c.video.currentTime > 1.5 || d.video.paused === false && d.video.currentTime > c.video.currentTime,
    `4x: ${c.video.currentTime} -> ${d.video.currentTime}`);
  await page.click(`${TILE} .timeline-speed[data-speed="2"]`);
  assert.equal((await playback()).video.rate, 2);
  // back to live: the playback video is gone and live frames keep coming
  const before = (await playback()).tile.decoded;
  await page.click(`${TILE} .timeline-live`);
  const e = await playback();
  assert.equal(e.video, null);
  assert.equal(e.tile.playback, 'false');
  await page.waitForFunction(([s, n]) => Number(document.querySelector(s).dataset.decoded) > n + 10
    && document.querySelector(s).dataset.state === 'live', [TILE, before], { timeout: 10000, polling: 200 });
  assert.equal((await playback()).tile.badge, 'live');
}));

// An MSE tile keeps to the live edge (web/js/live_edge.js, used by
// mse_player.js): after a stall its lag (buffered end − currentTime) comes
// back under the normal bound instead of staying, so latency does not add up
// over time.
//
// First node tests of liveEdgeStep's decisions; then, in headless Chromium
// against a real vigil, a tile in MSE mode is stalled twice for 3 s:
//   - a slow network: its frames are held back in the page, then delivered
//     at once (the burst a stalled socket gives when it recovers);
//   - a hidden tab: the browser pauses the video and it can neither play nor
//     seek, while fragments keep arriving.
// Each time the lag must grow past 1 s during the stall (so the stall was
// real) and be back under LAG_BOUND_S within a few seconds, and stay there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil } from '../lib/vigil.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';
import { liveEdgeStep, catchUpRate, TARGET_LAG_S, JUMP_LAG_S, MAX_CATCHUP_RATE } from '../../web/js/live_edge.js';

const TILE = '.tile[data-stream="cam"]';
const LAG_BOUND_S = 0.5; // the lag a playing tile keeps under
const STALL_MS = 3000;

test('liveEdgeStep: jump when far behind or outside the range, faster when a little behind', () => {
  // At the edge: nothing to do.
  assert.deepEqual(liveEdgeStep({ start: 0, end: 10, time: 9.85 }), { seek: null, rate: 1 });
  // Far behind: to just before the end, at normal speed.
  assert.deepEqual(liveEdgeStep({ start: 0, end: 10, time: 7, rate: 1.3 }), { seek: 10 - TARGET_LAG_S, rate: 1 });
  assert.equal(liveEdgeStep({ start: 0, end: 10, time: 10 - JUMP_LAG_S - 0.01 }).seek, 10 - TARGET_LAG_S);
  // Before the newest range (a gap), or past its end.
  assert.equal(liveEdgeStep({ start: 5, end: 5.1, time: 4 }).seek, 5);
  assert.equal(liveEdgeStep({ start: 5, end: 6, time: 6.5 }).seek, 6 - TARGET_LAG_S);
  // A little behind: faster, the more so the further behind, never past 1.5.
  const near = liveEdgeStep({ start: 0, end: 10, time: 9.65 });
  const further = liveEdgeStep({ start: 0, end: 10, time: 9.45 });
  assert.equal(near.seek, null);
  assert.ok(near.rate >= 1.1 && near.rate < further.rate && further.rate <= MAX_CATCHUP_RATE, `${near.rate} ${further.rate}`);
  assert.equal(catchUpRate(100), MAX_CATCHUP_RATE);
  assert.equal(catchUpRate(0.2), 1.1);
  // Catching up goes on until near the target, then back to 1×.
  assert.ok(liveEdgeStep({ start: 0, end: 10, time: 9.75, rate: 1.2 }).rate > 1);
  assert.equal(liveEdgeStep({ start: 0, end: 10, time: 9.75, rate: 1 }).rate, 1);
  assert.equal(liveEdgeStep({ start: 0, end: 10, time: 9.82, rate: 1.2 }).rate, 1);
});

// The tile's lag in seconds, and what its player did about it.
function lag(page) {
  return page.$eval(TILE, (tile) => {
    const v = tile.querySelector('video');
    const b = v.buffered;
    const p = window.vigil.tiles.get('cam').player;
    return {
      lag: b.length ? b.end(b.length - 1) - v.currentTime : null,
      time: v.currentTime,
      paused: v.paused,
      rate: v.playbackRate,
      jumps: p.stats.jumps,
      catchUps: p.stats.catchUps,
      resets: p.stats.resets,
    };
  });
}

// Samples the lag every 100 ms for `ms`; returns the samples.
async function sample(page, ms) {
  const out = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    out.push(await lag(page));
    await page.waitForTimeout(100);
  }
  return out;
}

// After a stall: the lag is back under the bound within `withinMs`, then
// stays there for 2 s while the video plays on.
async function assertBackAtTheEdge(page, what, withinMs = 4000) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await lag(page);
    if (last.lag !== null && last.lag < LAG_BOUND_S && !last.paused) break;
    assert.ok(Date.now() - t0 < withinMs, `${what}: still ${last.lag?.toFixed(2)} s behind after ${withinMs} ms: ${JSON.stringify(last)}`);
    await page.waitForTimeout(100);
  }
  const back = Date.now() - t0;
  const after = await sample(page, 2000);
  // It stays there: a busy machine may hold the playhead back for a sample
  // or two (one fragment is 40 ms), but the lag must not settle above the
  // bound nor come near a second again.
  const lags = after.map((s) => s.lag).sort((a, b) => a - b);
  const p90 = lags[Math.floor(lags.length * 0.9)];
  const worst = lags.at(-1);
  assert.ok(p90 < LAG_BOUND_S && worst < 2 * LAG_BOUND_S,
    `${what}: the lag went up again: 90th percentile ${p90.toFixed(2)} s, worst ${worst.toFixed(2)} s`);
  assert.ok(after.at(-1).time > after[0].time + 1.5, `${what}: the video plays on: ${JSON.stringify([after[0], after.at(-1)])}`);
  return back;
}

test('an MSE tile returns to the live edge after a network stall and a paused video', { timeout: 60000 }, async () => {
  const vigil = await startVigil({
    config: { server: {}, streams: [{ id: 'cam', source: 'test://', options: { width: 320, height: 240, fps: 25, bitrate_kbps: 300 } }] },
  });
  const log = [];
  const browser = await launchChromium();
  try {
    await withDiagnostics(log, () => [['vigil', vigil]], async () => {
      const page = await freshPage(browser, log);
      await page.addInitScript(() => localStorage.setItem('vigil.mode.cam', 'mse'));
      await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
      await page.waitForSelector(`${TILE}[data-state="live"][data-mode="mse"]`, { timeout: 10000 });
      await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.decoded) >= 50,
        TILE, { timeout: 15000, polling: 200 });
      const steady = await sample(page, 1000);
      assert.ok(Math.max(...steady.map((s) => s.lag)) < LAG_BOUND_S, `steady lag: ${JSON.stringify(steady.at(-1))}`);

      // 1. A slow network: nothing arrives for 3 s, then all of it at once.
      const held = await page.evaluate((ms) => new Promise((resolve) => {
        const tile = window.vigil.tiles.get('cam');
        const deliver = tile.onFrame.bind(tile);
        const frames = [];
        tile.onFrame = (h) => frames.push(h);
        setTimeout(() => {
          delete tile.onFrame;
          for (const h of frames) deliver(h);
          resolve(frames.length);
        }, ms);
      }), STALL_MS);
      const burst = await lag(page);
      assert.ok(held >= 50, `frames held back: ${held}`);
      const net = await assertBackAtTheEdge(page, 'after the network stall');
      console.log(`network stall: ${held} frames held, then ${JSON.stringify(burst)}; back under ${LAG_BOUND_S} s in ${net} ms`);

      // 2. A hidden tab: the video is paused and can neither play nor seek
      // for 3 s; fragments keep coming.
      await page.$eval(`${TILE} video`, (v, ms) => {
        const currentTime = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'currentTime');
        Object.defineProperty(v, 'currentTime', { configurable: true, get: () => currentTime.get.call(v), set: () => {} });
        v.play = () => Promise.resolve();
        v.pause();
        setTimeout(() => {
          delete v.currentTime;
          delete v.play;
        }, ms);
      }, STALL_MS);
      await page.waitForTimeout(STALL_MS - 200);
      const stalled = await lag(page);
      assert.ok(stalled.lag > 1 && stalled.paused, `the stall put the tile behind: ${JSON.stringify(stalled)}`);
      await page.waitForTimeout(300);
      const hidden = await assertBackAtTheEdge(page, 'after the paused video');
      console.log(`paused video: ${stalled.lag.toFixed(2)} s behind, back under ${LAG_BOUND_S} s in ${hidden} ms; ${JSON.stringify(await lag(page))}`);
      assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
    });
  } finally {
    await browser.close().catch(() => {});
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
  }
});

// Glass-to-glass latency on loopback, WebCodecs mode against MSE mode
// (docs/LATENCY.md). The demo stream burns its capture time into every frame
// ("latency_mark": media/source.c); the page reads it back from what it shows
// (web/js/latency_mark.js), so for each displayed frame we know:
//   capture   the wall clock when videotestsrc produced it (from the picture)
//   header    the server's time when the frame left the pipeline (binary header)
//   arrival   when the page got the binary frame
//   display   WebCodecs: drawn on the canvas; MSE: requestVideoFrameCallback's
//             presentationTime (handed to the compositor)
// Each mode is measured for ~5 s; p50/p95 of every step are printed and
// written to build/latency.json. WebCodecs' receive -> display must be
// clearly lower than MSE's (MSE buffers in the media element).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startVigil, ROOT } from '../lib/vigil.js';
import { collect as collectTile, table } from '../lib/glass.js';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];
const TILE = '.tile[data-stream="demo"]';
const MEASURE_MS = 5000;

async function collect(page, mode) {
  return collectTile(page, 'demo', mode, MEASURE_MS);
}

test('glass-to-glass latency: WebCodecs against MSE', { timeout: 90000 }, async () => {
  const vigil = await startVigil({
    config: { streams: [{ id: 'demo', source: 'test://', options: { width: 1280, height: 720, fps: 30, latency_mark: true } }] },
  });
  let browser;
  const pageLog = [];
  try {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
    await page.addInitScript(() => {
      window.vigilMeasureLatency = true;
      if (!sessionStorage.getItem('latency-started')) {
        sessionStorage.setItem('latency-started', '1');
        localStorage.setItem('vigil.mode.demo', 'webcodecs');
      }
    });
    await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
    await page.waitForSelector(`${TILE}[data-mode="webcodecs"]`, { timeout: 10000 });
    await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.drawn) >= 60,
      TILE, { timeout: 15000, polling: 200 });
    const wc = await collect(page, 'webcodecs');

    await page.click(`${TILE} .mode-toggle`);
    await page.waitForSelector(`${TILE}[data-mode="mse"]`, { timeout: 5000 });
    await page.waitForFunction((sel) => document.querySelector(`${sel} video`)?.getVideoPlaybackQuality().totalVideoFrames >= 60,
      TILE, { timeout: 15000, polling: 200 });
    await page.waitForTimeout(2000); // the playhead settles at its live-edge target
    const mse = await collect(page, 'mse');

    console.log(table([wc, mse]));
    const file = path.join(ROOT, 'build/latency.json');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({
      date: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model,
      chromium: browser.version(), results: [wc, mse],
    }, null, 2));

    // docs/LATENCY.md measured 16-24 ms (WebCodecs) and 184-253 ms (MSE)
    // glass to glass. The bounds leave room for a loaded 2-core machine
    // (about 6x and 3x) but not for a regression of the kind that matters
    // (a frame held back per viewer, a buffer that grows): 10x fails.
    const BOUND_MS = { webcodecs: 150, mse: 750 };
    for (const r of [wc, mse]) {
      assert.ok(r.frames >= 100, `${r.mode}: only ${r.frames} frames measured in ${MEASURE_MS} ms`);
      assert.ok(r.marks_read >= r.frames * 0.8, `${r.mode}: the capture time was read from only ${r.marks_read} of ${r.frames} frames`);
      const g = r.steps['glass to glass (capture -> display)'];
      assert.ok(g.p50 > 0 && g.p50 < BOUND_MS[r.mode], `${r.mode}: glass to glass p50 ${g.p50} ms (bound ${BOUND_MS[r.mode]} ms)`);
    }
    // WebCodecs is the low-latency mode: clearly below MSE in the same run.
    const wcG = wc.steps['glass to glass (capture -> display)'].p50;
    const mseG = mse.steps['glass to glass (capture -> display)'].p50;
    assert.ok(wcG < mseG / 2, `WebCodecs glass to glass p50 ${wcG} ms should be under half MSE's ${mseG} ms`);
    const wcRd = wc.steps['receive -> display'].p50;
    const mseRd = mse.steps['receive -> display'].p50;
    assert.ok(wcRd < mseRd, `WebCodecs receive -> display p50 ${wcRd} ms should be lower than MSE's ${mseRd} ms`);
    assert.ok(!pageLog.some((l) => l.startsWith('pageerror')), pageLog.join('\n'));
  } catch (err) {
    err.message += `\n--- page console ---\n${pageLog.slice(-30).join('\n')}\n--- vigil log ---\n${vigil.log().slice(-2000)}`;
    throw err;
  } finally {
    if (browser) await browser.close().catch(() => {});
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
  }
});

// Browser test: a configuration reload (POST /api/admin/reload) while the
// dashboard watches. The removed stream's tile goes, the added stream's tile
// comes and plays, and the unchanged stream's tile is not touched: same
// player element, decoding on through the reload without a pause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startVigil } from '../lib/vigil.js';
import { CHROMIUM_ARGS } from './harness.js';

const small = { source: 'test://', options: { width: 320, height: 240, fps: 30 } };
const tile = (id) => `.tile[data-stream="${id}"]`;

test('a reload adds and removes tiles; an unchanged tile plays on', { timeout: 60000 }, async () => {
  const vigil = await startVigil({ config: { streams: [{ id: 'keep', ...small }, { id: 'gone', ...small }] } });
  let browser;
  const pageLog = [];
  try {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
    await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
    for (const id of ['keep', 'gone']) {
      await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.decoded) > 10,
        tile(id), { timeout: 15000, polling: 100 });
    }
    // Mark the unchanged tile's player element, and sample its decoded count
    // every 100 ms from now on.
    await page.evaluate((sel) => {
      const el = document.querySelector(sel);
      el.querySelector('video, canvas').dataset.mark = 'before-reload';
      window.samples = [];
      window.sampler = setInterval(() => window.samples.push({ at: performance.now(), decoded: Number(el.dataset.decoded) }), 100);
    }, tile('keep'));

    writeFileSync(vigil.configFile, JSON.stringify({ streams: [{ id: 'keep', ...small }, { id: 'new', ...small }] }));
    const r = await vigil.fetch('/api/admin/reload', { method: 'POST' });
    const report = await r.json();
    assert.equal(r.status, 200, JSON.stringify(report));
    assert.deepEqual([report.streams.added, report.streams.removed], [['new'], ['gone']]);

    // streams.changed makes the page read the list at once (the periodic
    // list is much slower than this bound).
    await page.waitForSelector(tile('gone'), { state: 'detached', timeout: 3000 });
    await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.decoded) > 10,
      tile('new'), { timeout: 15000, polling: 100 });

    await page.waitForTimeout(1500);
    const { samples, marked } = await page.evaluate((sel) => {
      clearInterval(window.sampler);
      return { samples: window.samples, marked: document.querySelector(sel).querySelector('[data-mark="before-reload"]') !== null };
    }, tile('keep'));
    assert.ok(marked, 'the unchanged tile kept its player element');
    let longest = 0;
    let since = samples[0];
    for (const s of samples) {
      if (s.decoded > since.decoded) since = s;
      longest = Math.max(longest, s.at - since.at);
    }
    assert.ok(samples.at(-1).decoded > samples[0].decoded + 30, `decoded on: ${samples[0].decoded} -> ${samples.at(-1).decoded}`);
    assert.ok(longest < 1000, `the unchanged tile paused ${Math.round(longest)} ms`);
  } catch (err) {
    err.message += `\npage log:\n${pageLog.slice(-20).join('\n')}\nserver log:\n${vigil.log().slice(-2000)}`;
    throw err;
  } finally {
    if (browser) await browser.close();
    const st = await vigil.stop();
    assert.equal(st.code, 0, vigil.log().slice(-2000));
  }
});

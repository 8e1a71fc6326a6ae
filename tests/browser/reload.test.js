// Hot reload on the dashboard (server/reload.h; PROTOCOL.md, events
// streams.changed and stream.removed), against a real vigil in headless
// Chromium. The config file is rewritten and POST /api/admin/reload applies
// it while the page plays:
//
//   keep, keep-mse  unchanged (one tile in each playback mode): their tiles
//                   are not rebuilt (same Tile, element, feed and player)
//                   and their decoded-frame counters, sampled every 50 ms
//                   across the reload, never stall for a second;
//   gone            removed: its tile says so ("removed") and goes at once,
//                   not at the next periodic list;
//   new             added: a tile appears and decodes frames;
//   cam             its substream "sub" (which its grid tile plays) removed:
//                   the stream restarts, and the same tile falls back to
//                   the main picture and plays it;
//   devices         (a device may only name a stream of the config) gate
//                   (stream gone, now none) moves from beside gone's tile
//                   to the Devices list; lamp (stream gone, now new) moves
//                   beside the new tile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, ROOT, SLOW } from '../lib/vigil.js';
import { freeUdpPort } from '../lib/ports.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const SHOTS = path.join(ROOT, 'build/screenshots');
const tileSel = (stream) => `.tile[data-stream="${stream}"]`;
const small = (fps = 15) => ({ source: 'test://', options: { width: 320, height: 240, fps, bitrate_kbps: 300 } });
// A CoAP light nobody answers: enough for a panel (no command is sent).
const lamp = (id, stream, port) => ({
  id, name: id, transport: 'coap', ...(stream ? { stream } : {}), timeout_ms: 2000,
  coap: { uri: `coap://127.0.0.1:${port}/cmd` },
  commands: { light: { on: { type: 'bool' } } },
});
const UNCHANGED = ['keep', 'keep-mse'];

// Frames decoded by the tile (WebCodecs: drawn), straight from its player.
async function waitDecoding(page, stream, frames = 15) {
  const timeout = 20000 * SLOW;
  await page.waitForSelector(`${tileSel(stream)}[data-state="live"]`, { timeout });
  await page.waitForFunction(([s, n]) => {
    const t = window.vigil.tiles.get(s);
    return t && t.retired.decoded + t.player.decodedFrames >= n;
  }, [stream, frames], { timeout, polling: 100 });
}

test('a reload adds, removes and restarts tiles while the unchanged ones play on', { timeout: 120000 * SLOW }, async () => {
  const [gatePort, lampPort] = [await freeUdpPort(), await freeUdpPort()];
  const cam = { id: 'cam', ...small(), variants: { sub: { source: 'test://', options: { width: 160, height: 120, fps: 15 } } } };
  const vigil = await startVigil({
    config: {
      server: {},
      streams: [{ id: 'keep', ...small() }, { id: 'keep-mse', ...small() }, { id: 'gone', ...small() }, cam],
      coap: {},
      devices: [lamp('gate', 'gone', gatePort), lamp('lamp', 'gone', lampPort)],
    },
  });
  const log = [];
  const browser = await launchChromium();
  try {
    await withDiagnostics(log, () => [['vigil', vigil]], async () => {
      const page = await freshPage(browser, log, { width: 1280, height: 1000 });
      const events = [];
      page.on('websocket', (ws) => ws.on('framereceived', (f) => {
        if (typeof f.payload !== 'string') return;
        const m = JSON.parse(f.payload);
        if (m.type === 'stream.removed' || m.type === 'streams.changed') events.push(m);
      }));
      await page.addInitScript(() => localStorage.setItem('vigil.mode.keep-mse', 'mse'));
      await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
      for (const s of ['keep', 'keep-mse', 'gone']) await waitDecoding(page, s);
      await page.waitForSelector(`${tileSel('cam')}[data-variant="sub"]`, { timeout: 20000 * SLOW });
      await waitDecoding(page, 'cam');
      assert.equal(await page.$eval(tileSel('keep'), (t) => t.dataset.mode), 'webcodecs');
      assert.equal(await page.$eval(tileSel('keep-mse'), (t) => t.dataset.mode), 'mse');
      await page.waitForSelector('.tile-slot[data-stream="gone"] .device-panel[data-device="gate"]', { timeout: 10000 * SLOW });
      await page.waitForSelector('.tile-slot[data-stream="gone"] .device-panel[data-device="lamp"]', { timeout: 10000 * SLOW });

      // Keep what the unchanged tiles are made of, sample their counters,
      // and watch what gone's tile says before it goes.
      await page.evaluate((unchanged) => {
        const kept = {};
        for (const s of unchanged) {
          const t = window.vigil.tiles.get(s);
          kept[s] = { tile: t, el: t.el, feed: t.feed, player: t.feed.player, resets: t.el.dataset.resets, switches: t.switches };
        }
        window.reloadKept = kept;
        window.reloadSamples = [];
        const sample = () => {
          const at = performance.now();
          for (const s of unchanged) {
            const t = window.vigil.tiles.get(s);
            window.reloadSamples.push({ s, at, n: t ? t.retired.decoded + t.player.decodedFrames : -1 });
          }
        };
        sample();
        window.reloadSampler = setInterval(sample, 50);
        window.goneSeen = [];
        const gone = window.vigil.tiles.get('gone').el;
        new MutationObserver(() => window.goneSeen.push({
          state: gone.dataset.state, badge: gone.querySelector('.badge').textContent,
          overlay: gone.querySelector('.tile-overlay').hidden ? '' : gone.querySelector('.overlay-title').textContent,
        })).observe(gone, { attributes: true, attributeFilter: ['data-state'] });
      }, UNCHANGED);
      await page.waitForTimeout(1000);

      writeFileSync(vigil.configFile, JSON.stringify({
        server: {},
        streams: [{ id: 'keep', ...small() }, { id: 'keep-mse', ...small() }, { id: 'new', ...small() }, { id: 'cam', ...small() }],
        coap: {},
        devices: [lamp('gate', null, gatePort), lamp('lamp', 'new', lampPort)],
      }, null, 2));
      const reloadAt = await page.evaluate(() => performance.now());
      const r = await vigil.fetch('/api/admin/reload', { method: 'POST' });
      const report = await r.json();
      assert.equal(r.status, 200, JSON.stringify(report));
      assert.deepEqual([report.streams.added, report.streams.removed, report.streams.restarted], [['new'], ['gone'], ['cam']]);

      // gone's tile goes at once (the periodic list comes every 5 s), after
      // saying why.
      await page.waitForSelector(tileSel('gone'), { state: 'detached', timeout: 2500 * SLOW });
      const goneSeen = await page.evaluate(() => window.goneSeen);
      assert.ok(goneSeen.some((v) => v.state === 'removed' && v.badge === 'removed'
        && v.overlay === 'Stream removed from the configuration'), JSON.stringify(goneSeen));
      assert.equal(await page.$('.tile-slot[data-stream="gone"]'), null, 'its slot went too');

      // new's tile appears and plays; cam's tile (the same one) plays its
      // main picture, its substream gone.
      await waitDecoding(page, 'new');
      await page.waitForSelector(`${tileSel('cam')}[data-variant="main"][data-state="live"]`, { timeout: 20000 * SLOW });
      const camFrom = await page.evaluate(() => window.vigil.tiles.get('cam').player.decodedFrames);
      await page.waitForFunction((n) => window.vigil.tiles.get('cam').player.decodedFrames >= n, camFrom + 10,
        { timeout: 15000 * SLOW, polling: 100 });
      const order = await page.$$eval('.tile', (ts) => ts.map((t) => t.dataset.stream));
      assert.deepEqual(order, ['cam', 'keep', 'keep-mse', 'new'], 'sorted, gone gone');

      // The devices follow their streams.
      await page.waitForSelector('#device-list .device-panel[data-device="gate"][data-placement="list"]', { timeout: 5000 * SLOW });
      await page.waitForSelector('.tile-slot[data-stream="new"] .device-panel[data-device="lamp"][data-placement="tile"]', { timeout: 10000 * SLOW });

      // The unchanged tiles: not rebuilt, and decoding throughout.
      await page.waitForTimeout(1000);
      const { samples, same } = await page.evaluate((unchanged) => {
        clearInterval(window.reloadSampler);
        const out = {};
        for (const s of unchanged) {
          const k = window.reloadKept[s];
          const t = window.vigil.tiles.get(s);
          out[s] = {
            tile: t === k.tile, el: t.el === k.el && t.el.isConnected, feed: t.feed === k.feed,
            player: t.feed.player === k.player, resets: t.el.dataset.resets === k.resets, switches: t.switches === k.switches,
            state: t.el.dataset.state,
          };
        }
        return { samples: window.reloadSamples, same: out };
      }, UNCHANGED);
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, 'reload.png') });
      for (const s of UNCHANGED) {
        assert.deepEqual(same[s], { tile: true, el: true, feed: true, player: true, resets: true, switches: true, state: 'live' }, s);
        const mine = samples.filter((x) => x.s === s);
        let lastChange = mine[0];
        let longest = 0;
        for (const x of mine) {
          if (x.n === lastChange.n) continue;
          assert.ok(x.n > lastChange.n, `${s}: the counter went back: ${lastChange.n} -> ${x.n}`);
          longest = Math.max(longest, x.at - lastChange.at);
          lastChange = x;
        }
        longest = Math.max(longest, mine.at(-1).at - lastChange.at);
        const after = mine.filter((x) => x.at > reloadAt);
        console.log(`${s}: ${mine.length} samples, ${mine.at(-1).n - mine[0].n} frames, longest stall ${Math.round(longest)} ms, ${after.at(-1).n - after[0].n} frames after the reload`);
        assert.ok(longest < 1000, `${s}: the decoded-frame counter stalled ${Math.round(longest)} ms`);
        assert.ok(after.at(-1).n - after[0].n >= 20, `${s}: frames after the reload`);
      }

      // What the page heard: gone's channel ended, then the list change.
      assert.ok(events.some((m) => m.type === 'stream.removed' && m.stream === 'gone'), JSON.stringify(events));
      assert.ok(events.some((m) => m.type === 'stream.removed' && m.stream === 'cam' && m.variant === 'sub'), JSON.stringify(events));
      assert.ok(events.some((m) => m.type === 'streams.changed'), JSON.stringify(events));
      assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
    });
  } finally {
    await browser.close().catch(() => {});
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
  }
});

// Browser test: the server restarts under an open dashboard. SIGTERM makes
// vigil drain (server.shutdown, then 1001); the page must say "server
// restarting" (the status bar, the body and the tile: not an error), then,
// once a new vigil listens on the same port, reconnect by itself (no page
// reload) and play the stream again: decoded frames increase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';
import { startVigil, ROOT, VIGIL_BIN, TEST_SECRET, tempDir, sleep } from '../lib/vigil.js';

const STREAM = { id: 'cam', source: 'test://', options: { width: 320, height: 240, fps: 15, bitrate_kbps: 300 } };
const TILE = '.tile[data-stream="cam"]';

// A second vigil on `port` (startVigil takes a free one), same stream and secret.
async function startOnPort(port) {
  const dir = tempDir();
  const secret = path.join(dir, 'secret');
  const config = path.join(dir, 'config.json');
  writeFileSync(secret, TEST_SECRET);
  writeFileSync(config, JSON.stringify({ streams: [STREAM] }));
  const proc = spawn(VIGIL_BIN, ['--port', String(port), '--web-root', path.join(ROOT, 'web'),
    '--auth-secret-file', secret, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`second vigil exited (${proc.exitCode}):\n${log}`);
    try { if ((await fetch(`http://127.0.0.1:${port}/api/health`)).status === 200) break; } catch { /* not yet */ }
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`second vigil did not come up:\n${log}`); }
    await sleep(100);
  }
  return {
    log: () => log,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 20000);
      const st = await exited;
      clearTimeout(t);
      return st;
    },
  };
}

test('server.shutdown shows "server restarting"; the dashboard reconnects and plays again without a reload', { timeout: 90000 }, async () => {
  const first = await startVigil({ config: { streams: [STREAM] } });
  let second = null;
  const browser = await launchChromium();
  const log = [];
  try {
    await withDiagnostics(log, () => [['first vigil', first], ['second vigil', second]], async () => {
      const page = await freshPage(browser, log);
      await page.goto(`${first.base}/#token=${first.adminToken}`);
      await page.waitForFunction((sel) => {
        const t = document.querySelector(sel);
        return t && t.dataset.state === 'live' && Number(t.dataset.decoded) > 10;
      }, TILE, { timeout: 20000, polling: 200 });

      // Every state the status pill, the body and the tile go through; and a
      // marker that a page reload would lose.
      await page.evaluate((sel) => {
        window.restartMarker = 'same page';
        window.seen = [];
        const pill = document.querySelector('#conn-status');
        const note = () => {
          const tile = document.querySelector(sel);
          const s = { pill: pill.dataset.state, text: pill.textContent, body: document.body.dataset.connection,
            tile: tile && tile.dataset.state, overlay: tile && tile.querySelector('.overlay-title').textContent };
          const last = window.seen.at(-1);
          if (!last || last.pill !== s.pill || last.body !== s.body || last.tile !== s.tile) window.seen.push(s);
        };
        new MutationObserver(note).observe(document.body, { attributes: true, subtree: true,
          attributeFilter: ['data-state', 'data-connection'] });
      }, TILE);

      first.proc.kill('SIGTERM');
      await page.waitForFunction(() => window.seen.some((s) => s.pill === 'restarting'), null, { timeout: 10000, polling: 100 });
      const st = await first.stop();
      assert.equal(st.code, 0, `first vigil exit ${JSON.stringify(st)}`);
      // While it is down: "restarting" everywhere, never the error state.
      await page.waitForFunction((sel) => document.querySelector(sel).dataset.state === 'restarting', TILE, { timeout: 5000 });
      const during = await page.evaluate((sel) => ({
        body: document.body.dataset.connection,
        pill: document.querySelector('#conn-status').textContent,
        overlay: document.querySelector(`${sel} .overlay-title`).textContent,
      }), TILE);
      assert.equal(during.body, 'restarting');
      assert.match(during.pill, /server restarting/);
      assert.match(during.overlay, /Server restarting/);
      // Down for a while (longer than the reconnect hint): the page keeps saying so.
      await sleep(3000);

      second = await startOnPort(first.port);
      await page.waitForFunction((sel) => document.querySelector('#conn-status').dataset.state === 'connected'
        && document.querySelector(sel).dataset.state === 'live', TILE, { timeout: 20000, polling: 200 });
      const back = await page.evaluate((sel) => Number(document.querySelector(sel).dataset.decoded), TILE);
      await page.waitForFunction(({ sel, n }) => Number(document.querySelector(sel).dataset.decoded) >= n,
        { sel: TILE, n: back + 20 }, { timeout: 20000, polling: 200 });

      assert.equal(await page.evaluate(() => window.restartMarker), 'same page', 'no page reload');
      const seen = await page.evaluate(() => window.seen);
      const from = seen.findIndex((s) => s.pill === 'restarting');
      const until = seen.findIndex((s, i) => i > from && s.pill === 'connected');
      assert.ok(from >= 0 && until > from, JSON.stringify(seen));
      const between = seen.slice(from, until);
      assert.ok(between.every((s) => s.pill === 'restarting' && s.tile !== 'disconnected'),
        `shown as an error while restarting: ${JSON.stringify(between)}`);
      assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
    });
  } finally {
    await browser.close().catch(() => {});
    if (first.proc.exitCode === null) first.proc.kill('SIGKILL');
    if (second) {
      const st = await second.stop();
      assert.equal(st.code, 0, `second vigil exit ${JSON.stringify(st)}`);
    }
  }
});

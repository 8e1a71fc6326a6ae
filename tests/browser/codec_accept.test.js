// The dashboard asks the browser which codec families it can decode
// (VideoDecoder.isConfigSupported, MediaSource.isTypeSupported) and sends
// them as `accept` with each subscribe (PROTOCOL.md). Debian's Chromium
// decodes H.264 but not H.265, so it accepts ["avc1"] and plays; a browser
// that cannot decode the camera's codec (here: one whose H.264 support is
// hidden by a script that runs before the page's) is refused with
// unsupported_codec and its tile says so, instead of staying black under a
// LIVE badge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil } from '../lib/vigil.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const TILE = '.tile[data-stream="demo"]';
let vigil;
let browser;
const log = [];
const check = (fn) => withDiagnostics(log, () => [['vigil', vigil]], fn);

before(async () => {
  vigil = await startVigil();
  browser = await launchChromium();
}, { timeout: 30000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (vigil) await vigil.stop();
}, { timeout: 20000 });

// A page that records the subscribe requests it sends.
async function openPage(initScript) {
  const page = await freshPage(browser, log);
  const subscribes = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    if (typeof f.payload !== 'string') return;
    const m = JSON.parse(f.payload);
    if (m.type === 'subscribe') subscribes.push(m);
  }));
  if (initScript) await page.addInitScript(initScript);
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  return { page, subscribes };
}

test('Chromium here accepts H.264 only, and plays', { timeout: 30000 }, () => check(async () => {
  const { page, subscribes } = await openPage();
  // (The tile may not be there yet at the first poll: the stream list comes first.)
  await page.waitForFunction((sel) => {
    const tile = document.querySelector(sel), video = document.querySelector(`${sel} video`);
    return Boolean(tile) && (Number(tile.dataset.drawn) >= 10
      || (video !== null && video.getVideoPlaybackQuality().totalVideoFrames >= 10));
  }, TILE, { timeout: 15000, polling: 200 });
  assert.ok(subscribes.length >= 1, 'a subscribe went out');
  assert.deepEqual(subscribes[0].accept, ['avc1'], JSON.stringify(subscribes[0]));
  await page.close();
}));

test('a browser that cannot decode the camera is told so, not shown black', { timeout: 30000 }, () => check(async () => {
  // H.264 hidden, H.265 claimed: the page accepts ["hvc1"] only.
  const { page, subscribes } = await openPage(() => {
    const h264 = (codec) => /avc1|avc3/.test(String(codec));
    const probe = VideoDecoder.isConfigSupported.bind(VideoDecoder);
    VideoDecoder.isConfigSupported = async (cfg) => (h264(cfg.codec) ? { supported: false, config: cfg }
      : /hvc1/.test(cfg.codec) ? { supported: true, config: cfg } : probe(cfg));
    const typeOk = MediaSource.isTypeSupported.bind(MediaSource);
    MediaSource.isTypeSupported = (t) => (h264(t) ? false : /hvc1/.test(t) ? true : typeOk(t));
  });
  await page.waitForFunction((sel) => /cannot decode/.test(document.querySelector(`${sel} .overlay-title`)?.textContent ?? ""),
    TILE, { timeout: 15000, polling: 200 });
  const tile = await page.$eval(TILE, (t) => ({
    title: t.querySelector('.overlay-title').textContent, state: t.dataset.state, drawn: t.dataset.drawn,
  }));
  assert.match(tile.title, /avc1/, 'the message names the camera\'s codec');
  assert.notEqual(tile.state, 'live', JSON.stringify(tile));
  assert.deepEqual(subscribes[0].accept, ['hvc1']);
  const stats = await page.evaluate(() => window.vigil.conn.request('stats'));
  assert.equal(stats.channels.length, 0, 'nothing was subscribed');
  await page.close();
}));

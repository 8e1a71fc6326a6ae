// A stream's pictures on the dashboard (PROTOCOL.md, subscribe `variant`),
// against a real vigil in headless Chromium:
//
// (a) a 1280×720 test:// stream with a 320×240 substream "sub": the grid
//     tile plays the substream; enlarged (its button, or a double-click) it
//     switches to the main picture, and back when put back (the button, or
//     Escape), in both playback modes. What the tile shows is sampled every
//     50 ms across each switch: never black, never a "waiting" message, and
//     the old channel is gone afterwards (its viewers in /api/streams drop
//     to 0).
// (b) an H.265 RTSP camera (build/tools/rtsp_camera --codec h265) with an
//     H.264 substream: Debian's Chromium cannot decode H.265, so the tile
//     plays the substream, enlarged too. And a substream of unknown codec
//     that turns out to be H.265: the tile asks again, not for it, and
//     plays the H.264 main picture.
// (c) an H.265 camera with a transcode and no substream: the tile plays the
//     transcode; with server.max_transcodes 1 taken, a second stream that
//     needs one says so plainly.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startVigil, freePort, mintToken, streamInfo, until, ROOT, SLOW } from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';
import { launchChromium, freshPage, withDiagnostics } from './harness.js';

const SHOTS = path.join(ROOT, 'build/screenshots');
const VIEWPORT = { width: 1280, height: 900 };
const tileSel = (stream) => `.tile[data-stream="${stream}"]`;

// A page signed in with a token for `stream` only (so it subscribes that
// tile alone), in `mode`; it records the subscribe requests it sends.
async function openTile(browser, log, vigil, stream, mode) {
  const page = await freshPage(browser, log, VIEWPORT);
  const subscribes = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    if (typeof f.payload !== 'string') return;
    const m = JSON.parse(f.payload);
    if (m.type === 'subscribe') subscribes.push(m);
  }));
  await page.addInitScript(([s, m]) => localStorage.setItem(`vigil.mode.${s}`, m), [stream, mode]);
  await page.addInitScript(`window.pictureProbe = ${pictureProbe.toString()};`);
  const token = mintToken({ sub: 'variants', role: 'viewer', streams: [stream], devices: [] });
  await page.goto(`${vigil.base}/#token=${token}`);
  return { page, subscribes };
}

// Waits until the tile plays `variant`, live, and has shown `frames` frames
// of it (decoded, and in WebCodecs mode drawn).
async function waitPlaying(page, stream, variant, frames = 15) {
  const sel = tileSel(stream);
  const timeout = 20000 * SLOW;
  await page.waitForSelector(`${sel}[data-variant="${variant}"][data-state="live"]`, { timeout });
  const from = await page.$eval(sel, (t) => Number(t.dataset.mode === 'webcodecs' ? t.dataset.drawn : t.dataset.decoded));
  await page.waitForFunction(([s, v, n]) => {
    const t = document.querySelector(s);
    return t.dataset.variant === v && Number(t.dataset.mode === 'webcodecs' ? t.dataset.drawn : t.dataset.decoded) >= n;
  }, [sel, variant, from + frames], { timeout, polling: 100 });
}

// What the tile shows now: the element on top at the picture's centre (as
// the person looking at it sees it), its picture's size, and how bright
// and varied it is, drawn small. Runs in the page, as window.pictureProbe.
function pictureProbe(sel) {
  const tile = document.querySelector(sel);
  const media = tile.querySelector('.tile-media');
  const r = media.getBoundingClientRect();
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  const sample = { t: Math.round(performance.now()), variant: tile.dataset.variant, switching: tile.dataset.switching };
  if (!top || !['VIDEO', 'CANVAS'].includes(top.tagName)) {
    sample.what = top ? `${top.tagName.toLowerCase()}.${top.className}: ${top.textContent.slice(0, 60)}` : 'nothing';
    return sample;
  }
  sample.what = top.tagName.toLowerCase();
  sample.width = top.tagName === 'VIDEO' ? top.videoWidth : top.width;
  const c = window.probeCanvas || (window.probeCanvas = document.createElement('canvas'));
  c.width = 64;
  c.height = 36;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, 64, 36);
  try {
    ctx.drawImage(top, 0, 0, 64, 36);
  } catch { /* nothing to draw yet */ }
  const px = ctx.getImageData(0, 0, 64, 36).data;
  let min = 255;
  let max = 0;
  let sum = 0;
  let hash = 0;
  const levels = new Set();
  for (let i = 0; i < px.length; i += 4) {
    const y = Math.round(0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2]);
    min = Math.min(min, y);
    max = Math.max(max, y);
    sum += y;
    hash = (hash * 31 + y) >>> 0;
    levels.add(y >> 4);
  }
  return Object.assign(sample, { min, max, mean: Math.round(sum / (px.length / 4)), levels: levels.size, hash });
}

// A picture, not black or blank: something bright and several levels.
const isPicture = (s) => ['video', 'canvas'].includes(s.what) && s.max - s.min > 60 && s.levels >= 3;

// Starts sampling the tile's picture every 50 ms; resolves with the page's clock.
function startSampling(page, stream) {
  return page.evaluate((sel) => {
    // One now, before the switch starts, then every 50 ms.
    window.pictureSamples = [window.pictureProbe(sel)];
    window.pictureSampler = setInterval(() => window.pictureSamples.push(window.pictureProbe(sel)), 50);
    return performance.now();
  }, tileSel(stream));
}

// Stops sampling, half a second on (the new picture must stay up too).
async function stopSampling(page) {
  await page.waitForTimeout(500);
  return page.evaluate(() => {
    clearInterval(window.pictureSampler);
    return window.pictureSamples;
  });
}

// How long a switch took: from `startMs` (page clock) to the first sample
// of the new variant.
function switchMs(samples, startMs, variant) {
  const first = samples.find((s) => s.variant === variant);
  return first ? Math.round(first.t - startMs) : null;
}

// One sample of the tile's picture now.
function probe(page, stream) {
  return page.evaluate((sel) => window.pictureProbe(sel), tileSel(stream));
}

// Every sample a picture; the first of width `from`, the last of width
// `to`, and no sample of another width.
function assertNoBlack(samples, from, to, what) {
  assert.ok(samples.length >= 10, `${what}: ${samples.length} samples`);
  const bad = samples.filter((s) => !isPicture(s));
  assert.deepEqual(bad, [], `${what}: ${bad.length} of ${samples.length} samples not a picture`);
  assert.equal(samples[0].width, from, `${what}: first sample ${JSON.stringify(samples[0])}`);
  assert.equal(samples.at(-1).width, to, `${what}: last sample ${JSON.stringify(samples.at(-1))}`);
  const widths = new Set(samples.map((s) => s.width));
  assert.deepEqual([...widths].sort((a, b) => a - b), [from, to].sort((a, b) => a - b), what);
}

// The viewers of the main picture ('main') or of a variant, as the server counts them.
async function viewersOf(vigil, stream, variant) {
  const s = await streamInfo(vigil, stream);
  if (variant === 'main') return s.viewers;
  const v = (s.variants || []).find((x) => x.name === variant);
  return v ? v.viewers : undefined;
}

describe('(a) a substream in the grid, the main picture enlarged', { timeout: 240000 * SLOW }, () => {
  let vigil;
  let browser;
  const log = [];
  const check = (fn) => () => withDiagnostics(log, () => [['vigil', vigil]], fn);

  before(async () => {
    vigil = await startVigil({
      config: {
        server: {},
        streams: [{
          id: 'cam', source: 'test://',
          options: { width: 1280, height: 720, fps: 15, bitrate_kbps: 1200 },
          variants: { sub: { source: 'test://', options: { width: 320, height: 240, fps: 15, bitrate_kbps: 250 } } },
        }],
      },
    });
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  }, { timeout: 30000 * SLOW });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (vigil) {
      const st = await vigil.stop();
      assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
    }
  }, { timeout: 20000 });

  for (const mode of ['webcodecs', 'mse']) {
    test(`${mode}: sub in the grid, main enlarged and back, never black`, { timeout: 90000 * SLOW }, check(async () => {
      const sel = tileSel('cam');
      const { page, subscribes } = await openTile(browser, log, vigil, 'cam', mode);
      await waitPlaying(page, 'cam', 'sub');
      const grid = await page.$eval(sel, (t) => ({ ...t.dataset }));
      assert.equal(grid.mode, mode);
      assert.equal(grid.focused, 'false');
      assert.equal(grid.switches, '0');
      assert.equal((await probe(page, 'cam')).width, 320, 'the grid tile shows the 320×240 substream');
      assert.equal(subscribes[0].variant, 'sub', JSON.stringify(subscribes[0]));
      await until(async () => (await viewersOf(vigil, 'cam', 'sub')) === 1, 5000, () => 'one viewer of sub');
      assert.equal(await viewersOf(vigil, 'cam', 'main'), 0, 'nobody watches main');

      // Enlarged: the main picture, with the substream on screen until it
      // has a frame to show.
      const upAt = await startSampling(page, 'cam');
      if (mode === 'mse') await page.dblclick(`${sel} .tile-media`);
      else await page.click(`${sel} button.tile-focus`);
      await page.waitForSelector(`${sel}[data-focused="true"][data-variant="main"][data-switches="1"]`, { timeout: 20000 * SLOW });
      await waitPlaying(page, 'cam', 'main', 10);
      const up = await stopSampling(page);
      assertNoBlack(up, 320, 1280, `${mode}: enlarging`);
      console.log(`${mode}: enlarged, the main picture on screen after ${switchMs(up, upAt, 'main')} ms; ${up.length} samples, all pictures`);
      assert.ok(up.some((s) => s.switching === 'main'), 'sampled while switching');
      const wide = await page.$eval(sel, (t) => t.getBoundingClientRect().width);
      const grid1 = await page.$eval('#grid', (g) => g.getBoundingClientRect().width);
      assert.ok(wide > grid1 - 2, `the enlarged tile spans the grid: ${wide} of ${grid1}`);
      await page.screenshot({ path: path.join(SHOTS, `variants-${mode}-enlarged.png`) });
      assert.equal(subscribes.at(-1).variant, 'main');
      await until(async () => (await viewersOf(vigil, 'cam', 'sub')) === 0, 5000,
        () => 'the substream\'s channel unsubscribed after the switch');
      assert.equal(await viewersOf(vigil, 'cam', 'main'), 1);
      const stats = await page.evaluate(() => window.vigil.conn.request('stats'));
      assert.equal(stats.channels.length, 1, `one channel left: ${JSON.stringify(stats.channels)}`);

      // Back in the grid: the substream again, the same way.
      const downAt = await startSampling(page, 'cam');
      if (mode === 'mse') await page.keyboard.press('Escape');
      else await page.click(`${sel} button.tile-focus`);
      await page.waitForSelector(`${sel}[data-focused="false"][data-variant="sub"][data-switches="2"]`, { timeout: 20000 * SLOW });
      await waitPlaying(page, 'cam', 'sub', 10);
      const down = await stopSampling(page);
      assertNoBlack(down, 1280, 320, `${mode}: back to the grid`);
      console.log(`${mode}: back in the grid, the substream on screen after ${switchMs(down, downAt, 'sub')} ms; ${down.length} samples, all pictures`);
      await until(async () => (await viewersOf(vigil, 'cam', 'main')) === 0, 5000,
        () => 'the main picture\'s channel unsubscribed after switching back');
      assert.equal(await viewersOf(vigil, 'cam', 'sub'), 1);
      assert.equal(await page.$$eval(`${sel} .tile-standby`, (e) => e.length), 0, 'no picture left beneath');
      assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
      await page.context().close();
    }));
  }
});

describe('(b, c) H.265 cameras: the substream or the transcode', { timeout: 300000 * SLOW }, () => {
  let vigil;
  let browser;
  let hevc;
  let avc;
  const log = [];
  const check = (fn) => () => withDiagnostics(log, () => [['vigil', vigil], ['h265 camera', hevc], ['h264 camera', avc]], fn);

  before(async () => {
    hevc = await startCamera({ port: await freePort(), codec: 'h265', width: 320, height: 240, fps: 10 });
    avc = await startCamera({ port: await freePort(), width: 160, height: 120, fps: 10 });
    vigil = await startVigil({
      config: {
        server: { max_transcodes: 1 },
        streams: [
          // (b) main H.265, an H.264 substream
          { id: 'door', source: hevc.url, variants: { sub: avc.url } },
          // a substream whose codec nobody knows before it runs: H.265
          { id: 'yard', source: 'test://', options: { width: 320, height: 240, fps: 10, bitrate_kbps: 250 },
            variants: { sub: hevc.url } },
          // (c) main H.265 and a transcode, twice, one transcode at most
          { id: 'gate', source: hevc.url, transcode: { codec: 'h264', max_height: 360, bitrate_kbps: 500 } },
          { id: 'shed', source: hevc.url, transcode: { codec: 'h264', max_height: 360, bitrate_kbps: 500 } },
        ],
      },
    });
    browser = await launchChromium();
  }, { timeout: 40000 * SLOW });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (vigil) {
      const st = await vigil.stop();
      assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
    }
    for (const cam of [hevc, avc]) if (cam) await cam.stop('SIGKILL');
  }, { timeout: 20000 });

  // The picture changes: two samples some time apart differ.
  async function assertMoving(page, stream) {
    const a = await probe(page, stream);
    await page.waitForTimeout(700);
    const b = await probe(page, stream);
    assert.ok(isPicture(b), `a picture: ${JSON.stringify(b)}`);
    assert.notEqual(a.hash, b.hash, `the picture changes: ${JSON.stringify([a, b])}`);
    return b;
  }

  for (const mode of ['webcodecs', 'mse']) {
    test(`(b) ${mode}: an H.265 camera plays its H.264 substream, enlarged too`, { timeout: 60000 * SLOW }, check(async () => {
      const sel = tileSel('door');
      const { page, subscribes } = await openTile(browser, log, vigil, 'door', mode);
      await waitPlaying(page, 'door', 'sub');
      assert.equal((await assertMoving(page, 'door')).width, 160, 'the 160×120 substream');
      await page.click(`${sel} button.tile-focus`);
      await page.waitForSelector(`${sel}[data-focused="true"]`, { timeout: 5000 });
      // Nothing better to switch to: the substream plays on.
      await page.waitForTimeout(1500);
      await waitPlaying(page, 'door', 'sub', 10);
      await assertMoving(page, 'door');
      const d = await page.$eval(sel, (t) => ({ ...t.dataset }));
      assert.deepEqual([d.variant, d.switches, d.switching], ['sub', '0', ''], JSON.stringify(d));
      assert.ok(subscribes.every((m) => m.variant !== 'main'), `never asked for main: ${JSON.stringify(subscribes)}`);
      assert.equal(await page.$eval(`${sel} .overlay-title`, (e) => e.textContent), '');
      await page.screenshot({ path: path.join(SHOTS, `variants-h265-sub-${mode}.png`) });
      await page.context().close();
    }));
  }

  test('(b) a substream that turns out to be H.265: asked again without it, the H.264 main plays', { timeout: 60000 * SLOW }, check(async () => {
    const sel = tileSel('yard');
    const { page, subscribes } = await openTile(browser, log, vigil, 'yard', 'webcodecs');
    await waitPlaying(page, 'yard', 'main');
    assert.equal((await assertMoving(page, 'yard')).width, 320);
    assert.equal(subscribes[0].variant, 'sub', 'its codec unknown, the substream was tried first');
    assert.notEqual(subscribes[1].variant, 'sub', `then not the substream: ${JSON.stringify(subscribes)}`);
    const s = await streamInfo(vigil, 'yard');
    assert.match(String(s.variants[0].codecs), /^(hvc1|hev1)\./, 'the server learnt the substream\'s codec');
    // Settled: no more asking, also after the next list.
    await page.waitForTimeout(6000);
    assert.equal(subscribes.length, 2, JSON.stringify(subscribes));
    const d = await page.$eval(sel, (t) => ({ ...t.dataset }));
    assert.deepEqual([d.variant, d.state], ['main', 'live']);
    await page.context().close();
  }));

  test('(c) an H.265 camera with a transcode plays it; past max_transcodes the tile says why', { timeout: 90000 * SLOW }, check(async () => {
    const { page, subscribes } = await openTile(browser, log, vigil, 'gate', 'webcodecs');
    await waitPlaying(page, 'gate', 'transcode');
    assert.equal((await assertMoving(page, 'gate')).width, 320, 'not scaled: 240 lines is under max_height');
    assert.equal('variant' in subscribes[0], false, 'the server picks the transcode');
    await page.click(`${tileSel('gate')} button.tile-focus`);
    await page.waitForTimeout(1500);
    assert.equal(await page.$eval(tileSel('gate'), (t) => t.dataset.variant), 'transcode', 'enlarged: still the transcode');
    await page.screenshot({ path: path.join(SHOTS, 'variants-transcode.png') });

    // The one transcode allowed is running: another stream that needs one
    // is refused, and its tile says so.
    const other = await openTile(browser, log, vigil, 'shed', 'webcodecs');
    const shed = tileSel('shed');
    await other.page.waitForFunction((s) => /too many transcodes/i.test(document.querySelector(`${s} .tile-overlay`)?.textContent),
      shed, { timeout: 15000 * SLOW, polling: 200 });
    const d = await other.page.$eval(shed, (t) => ({ ...t.dataset, overlay: t.querySelector('.tile-overlay').textContent }));
    assert.notEqual(d.state, 'live', JSON.stringify(d));
    await other.page.context().close();
    await page.context().close();
  }));
});

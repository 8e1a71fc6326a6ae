// Browser test of the publisher page (web/publish.html): Chromium's fake
// camera (--use-fake-device-for-media-stream) is encoded by WebCodecs and
// published to a publish:// stream with a publisher token; a second page,
// the dashboard signed in as an admin, plays the stream (MSE). With the
// page's Microphone box ticked, the fake microphone goes along (WebCodecs
// AudioEncoder, Opus): the dashboard tile has sound (data-audio="muted"),
// and after a click on its speaker the media element decodes audio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startVigil, mintToken, ROOT } from '../lib/vigil.js';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
const SHOTS = path.join(ROOT, 'build/screenshots');
const TILE = '.tile[data-stream="door"]';
const LOUD = '.tile[data-stream="porch"]';

let vigil;
let browser;
const pageLog = [];

function diagnostics() {
  return `--- pages ---\n${pageLog.slice(-60).join('\n')}\n--- vigil log ---\n${vigil ? vigil.log().slice(-4000) : ''}`;
}

async function withDiagnostics(fn) {
  try {
    await fn();
  } catch (err) {
    err.message += `\n${diagnostics()}`;
    throw err;
  }
}

async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('console', (m) => pageLog.push(`${name} ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`${name} pageerror: ${e.message}`));
  return page;
}

before(async () => {
  vigil = await startVigil({
    config: {
      server: { bind: '127.0.0.1' },
      streams: [
        { id: 'door', source: 'publish://', options: { codec: 'h264' } },
        { id: 'porch', source: 'publish://', options: { audio: 'opus' } },
      ],
    },
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}, { timeout: 30000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (vigil) {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-4000)}`);
  }
}, { timeout: 20000 });

test('the publisher page sends the fake camera and the dashboard plays it', { timeout: 60000 }, () => withDiagnostics(async () => {
  const token = mintToken({ sub: 'webcam', role: 'publisher', streams: ['door'], devices: [] });
  const pub = await newPage('publisher');
  await pub.goto(`${vigil.base}/publish.html#token=${token}&stream=door`);
  // The token left the address bar; the stream is offered.
  assert.ok(!(await pub.evaluate(() => location.hash)).includes('token='));
  await pub.waitForSelector('#start:not([disabled])', { timeout: 10000 });
  assert.equal(await pub.inputValue('#stream'), 'door');
  await pub.selectOption('#resolution', '640x360');
  const clickedAt = Date.now();
  await pub.click('#start');
  await pub.waitForSelector('#publisher[data-state="publishing"]', { timeout: 15000 });
  await pub.waitForFunction(() => Number(document.getElementById('publisher').dataset.framesSent) >= 30,
    null, { timeout: 15000, polling: 200 });

  let s = (await (await vigil.fetch('/api/streams')).json()).find((x) => x.id === 'door');
  assert.equal(s.publish.publisher, 'webcam');
  assert.equal(s.publish.format, 'avc');
  assert.match(s.publish.video_codec, /^avc1\.42/);

  const dash = await newPage('dashboard');
  await dash.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await dash.waitForSelector('#publish-link:not([hidden])', { timeout: 10000 });
  await dash.waitForSelector(`${TILE}[data-state="live"]`, { timeout: 15000 });
  await dash.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.decoded) >= 30,
    TILE, { timeout: 20000, polling: 200 });
  const first = await dash.evaluate((sel) => ({ ...document.querySelector(sel).dataset }), TILE);
  await dash.waitForTimeout(1500);
  // The picture's size, whichever way the tile plays (WebCodecs on a canvas
  // where the browser has it, else MSE in a video).
  const second = await dash.evaluate((sel) => {
    const tile = document.querySelector(sel);
    const v = tile.querySelector('video.tile-video');
    const c = tile.querySelector('canvas');
    return tile.dataset.mode === 'webcodecs'
      ? { ...tile.dataset, videoWidth: c.width, videoHeight: c.height }
      : { ...tile.dataset, videoWidth: v.videoWidth, videoHeight: v.videoHeight };
  }, TILE);
  const stats = await pub.evaluate(() => ({ ...document.getElementById('publisher').dataset }));
  console.log(`publisher: ${JSON.stringify(stats)}; started ${Date.now() - clickedAt} ms ago`);
  console.log(`dashboard tile: ${JSON.stringify(second)}`);
  assert.ok(Number(second.decoded) > Number(first.decoded) + 15, `decoding goes on: ${first.decoded} -> ${second.decoded}`);
  assert.ok(Number(second.frames) > Number(first.frames), 'fragments keep coming');
  assert.equal(second.videoWidth, 640);
  assert.equal(second.videoHeight, 360);
  assert.ok(Number(second.fps) > 15, `fps ${second.fps}`);
  assert.equal(stats.errors, '0');
  s = (await (await vigil.fetch('/api/streams')).json()).find((x) => x.id === 'door');
  assert.equal(s.state, 'live');
  assert.ok(s.publish.keyframes >= 2, `a keyframe every second: ${JSON.stringify(s.publish)}`);
  mkdirSync(SHOTS, { recursive: true });
  await pub.screenshot({ path: path.join(SHOTS, 'publish.png') });
  await dash.screenshot({ path: path.join(SHOTS, 'publish-dashboard.png') });

  // Stop: the stream waits for a publisher again, and the tile says so.
  await pub.click('#stop');
  await dash.waitForSelector(`${TILE}[data-state="retrying"]`, { timeout: 10000 });
  assert.equal(await dash.getAttribute(TILE, 'data-reason'), 'publisher stopped');
}));

test('with the microphone: the dashboard tile has sound, and plays it after a click on the speaker', { timeout: 60000 }, () => withDiagnostics(async () => {
  const token = mintToken({ sub: 'webcam-mic', role: 'publisher', streams: ['porch'], devices: [] });
  const pub = await newPage('publisher-mic');
  await pub.goto(`${vigil.base}/publish.html#token=${token}&stream=porch`);
  await pub.waitForSelector('#start:not([disabled])', { timeout: 10000 });
  assert.equal(await pub.isChecked('#mic'), false, 'the microphone is off by default');
  await pub.selectOption('#resolution', '640x360');
  await pub.check('#mic');
  await pub.click('#start');
  await pub.waitForSelector('#publisher[data-state="publishing"][data-audio="on"]', { timeout: 15000 });
  await pub.waitForFunction(() => Number(document.getElementById('publisher').dataset.audioFrames) >= 50,
    null, { timeout: 15000, polling: 200 });

  let s = (await (await vigil.fetch('/api/streams')).json()).find((x) => x.id === 'porch');
  assert.equal(s.publish.publisher, 'webcam-mic');
  assert.equal(s.publish.audio_codec, 'opus');
  assert.equal(s.publish.audio_relayed, true);

  const dash = await newPage('dashboard-mic');
  await dash.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await dash.waitForSelector(`${LOUD}[data-state="live"][data-audio="muted"]`, { timeout: 15000 });
  s = (await (await vigil.fetch('/api/streams')).json()).find((x) => x.id === 'porch');
  assert.match(String(s.codecs), /^avc1\.[0-9a-f]{6},opus$/i);
  await dash.click(`${LOUD} button.tile-audio`);
  await dash.waitForSelector(`${LOUD}[data-audio="on"]`, { timeout: 5000 });
  const audioBytes = () => dash.evaluate((sel) => {
    const v = document.querySelector(`${sel} video.tile-video`);
    return { bytes: v.webkitAudioDecodedByteCount, frames: v.getVideoPlaybackQuality().totalVideoFrames, muted: v.muted };
  }, LOUD);
  await dash.waitForFunction((sel) => document.querySelector(`${sel} video.tile-video`).webkitAudioDecodedByteCount > 0,
    LOUD, { timeout: 15000, polling: 200 });
  const first = await audioBytes();
  await dash.waitForTimeout(1500);
  const later = await audioBytes();
  const stats = await pub.evaluate(() => ({ ...document.getElementById('publisher').dataset }));
  s = (await (await vigil.fetch('/api/streams')).json()).find((x) => x.id === 'porch');
  console.log(`publisher: ${JSON.stringify(stats)}`);
  console.log(`porch: ${JSON.stringify(s.publish)}; tile audio ${JSON.stringify(first)} -> ${JSON.stringify(later)}`);
  assert.ok(later.bytes > first.bytes, `decoded audio grows: ${first.bytes} -> ${later.bytes}`);
  assert.ok(later.frames > first.frames, `the picture goes on: ${first.frames} -> ${later.frames}`);
  assert.equal(later.muted, false);
  assert.equal(stats.errors, '0');
  assert.ok(s.publish.audio_frames >= 50, JSON.stringify(s.publish));
  assert.ok(s.publish.audio_dropped < s.publish.audio_frames / 10, JSON.stringify(s.publish));
  mkdirSync(SHOTS, { recursive: true });
  await dash.screenshot({ path: path.join(SHOTS, 'publish-audio-dashboard.png') });
  await pub.click('#stop');
}));

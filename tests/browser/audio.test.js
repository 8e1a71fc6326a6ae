// Browser test of sound on the dashboard: a test:// stream with "audio": true
// (a beep a second, Opus in the same fMP4 as the H.264) and one without.
// Headless Debian Chromium, without the autoplay flag the other browser
// tests use: the tile with sound starts muted (data-audio="muted"; it starts
// in WebCodecs mode, which carries the picture alone), its speaker button
// (aria-pressed) turns the sound on with a real click, the user gesture
// browsers ask for, which also switches the tile to MSE (the fMP4 with both
// tracks); then the media element decodes audio while the picture keeps
// playing. The tile without sound has no speaker button and
// data-audio="none".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startVigil, ROOT } from '../lib/vigil.js';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT = path.join(ROOT, 'build/screenshots/audio.png');
const SMALL = { width: 320, height: 240, fps: 15, bitrate_kbps: 300 };
const LOUD = '.tile[data-stream="loud"]';
const QUIET = '.tile[data-stream="quiet"]';

let vigil;
let browser;
let page;
const pageLog = [];

async function withDiagnostics(fn) {
  try {
    await fn();
  } catch (err) {
    err.message += `\n--- page console ---\n${pageLog.slice(-40).join('\n')}\n--- vigil log ---\n${vigil ? vigil.log().slice(-3000) : ''}`;
    throw err;
  }
}

// What the tile and its video element say about sound and picture.
function media(sel) {
  return page.evaluate((s) => {
    const tile = document.querySelector(s);
    const v = tile.querySelector('video.tile-video');
    const speaker = tile.querySelector('button.tile-audio');
    return {
      audio: tile.dataset.audio,
      muted: v.muted,
      paused: v.paused,
      currentTime: v.currentTime,
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
      audioBytes: v.webkitAudioDecodedByteCount,
      speakerHidden: speaker.hidden,
      pressed: speaker.getAttribute('aria-pressed'),
    };
  }, sel);
}

before(async () => {
  vigil = await startVigil({
    config: {
      streams: [
        { id: 'loud', source: 'test://', options: { ...SMALL, audio: true } },
        { id: 'quiet', source: 'test://', options: { ...SMALL, pattern: 'ball' } },
      ],
    },
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
}, { timeout: 30000 });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (vigil) {
    const st = await vigil.stop();
    assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${vigil.log().slice(-4000)}`);
  }
}, { timeout: 20000 });

test('a stream with sound plays muted, and the speaker button turns the sound on', { timeout: 40000 }, () => withDiagnostics(async () => {
  await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
  await page.waitForSelector(`${LOUD}[data-state="live"][data-audio="muted"]`, { timeout: 15000 });
  const before = await media(LOUD);
  assert.equal(before.audio, 'muted');
  assert.equal(before.muted, true);
  assert.equal(before.speakerHidden, false, 'a speaker button for a stream with sound');
  assert.equal(before.pressed, 'false');
  const codecs = await (await vigil.fetch('/api/streams')).json();
  assert.match(codecs.find((s) => s.id === 'loud').codecs, /^avc1\.[0-9a-f]{6},opus$/i);

  await page.click(`${LOUD} button.tile-audio`);
  await page.waitForSelector(`${LOUD}[data-audio="on"]`, { timeout: 5000 });
  assert.equal(await page.getAttribute(LOUD, 'data-mode'), 'mse', 'sound plays in MSE mode');
  const on = await media(LOUD);
  assert.equal(on.muted, false);
  assert.equal(on.pressed, 'true');
  // The element decodes the Opus track, and the picture goes on.
  await page.waitForFunction((sel) => {
    const v = document.querySelector(`${sel} video.tile-video`);
    return v.webkitAudioDecodedByteCount > 0 && v.getVideoPlaybackQuality().totalVideoFrames >= 15;
  }, LOUD, { timeout: 15000, polling: 200 });
  const playing = await media(LOUD);
  await page.waitForTimeout(1500);
  const later = await media(LOUD);
  console.log(`loud tile: ${JSON.stringify(later)}`);
  assert.ok(later.audioBytes > playing.audioBytes, `decoded audio grows: ${playing.audioBytes} -> ${later.audioBytes}`);
  assert.equal(later.paused, false, 'still playing with sound');
  assert.equal(later.muted, false);
  assert.ok(later.currentTime > playing.currentTime + 0.5, `currentTime ${playing.currentTime} -> ${later.currentTime}`);
  assert.ok(later.frames > playing.frames, `frames ${playing.frames} -> ${later.frames}`);
  const tracks = await page.evaluate((sel) => {
    const v = document.querySelector(`${sel} video.tile-video`);
    return v.captureStream ? v.captureStream().getAudioTracks().length : -1;
  }, LOUD);
  assert.ok(tracks >= 1, `captureStream() has an audio track (${tracks}; -1: no captureStream)`);
  // The fps shown counts pictures (15 a second), not audio fragments (Opus
  // adds 50 a second). Its 2 s window still holds the GOP burst that came
  // with the switch to MSE for up to 2 s, so wait for it to settle.
  const fpsOk = await page.waitForFunction((sel) => {
    const fps = Number(document.querySelector(sel).getAttribute('data-fps'));
    return fps > 8 && fps < 22;
  }, LOUD, { timeout: 6000, polling: 200 }).then(() => true, () => false);
  assert.ok(fpsOk, `fps ${await page.getAttribute(LOUD, 'data-fps')}`);

  await page.click(`${LOUD} button.tile-audio`);
  await page.waitForSelector(`${LOUD}[data-audio="muted"]`, { timeout: 5000 });
  assert.equal((await media(LOUD)).muted, true);
  assert.equal((await media(LOUD)).pressed, 'false');

  mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT });
}));

test('a stream without sound has no speaker button and data-audio="none"', { timeout: 20000 }, () => withDiagnostics(async () => {
  await page.waitForSelector(`${QUIET}[data-state="live"]`, { timeout: 15000 });
  assert.ok(Number(await page.getAttribute(QUIET, 'data-decoded')) > 0, 'the quiet tile plays');
  const quiet = await media(QUIET);
  assert.equal(quiet.audio, 'none');
  assert.equal(quiet.speakerHidden, true);
  assert.equal(quiet.muted, true);
}));

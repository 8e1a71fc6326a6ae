// What the dashboard's browser tests share: headless Debian Chromium
// launched as the machine allows (see /work/shared/NOTES.md), pages whose
// console is kept, and failures that carry that console and the server's
// log; and a server with one camera and its PTZ head.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startVigil } from '../lib/vigil.js';
import { startSim, freeUdpPort, CAMERA_COMMANDS } from '../integration/control_peers.js';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

export function launchChromium() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

// A page in a fresh context (empty storage) of `viewport`, whose console and
// errors go to `log` (an array).
export async function freshPage(browser, log, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  return page;
}

// Runs `fn`; a failure's message gets the last of the page's console and of
// each server's log (`servers`: a function returning [name, vigil] pairs).
export async function withDiagnostics(log, servers, fn) {
  try {
    await fn();
  } catch (err) {
    err.message += `\n--- page console ---\n${log.slice(-40).join('\n')}`;
    for (const [name, s] of servers()) if (s) err.message += `\n--- ${name} ---\n${s.log().slice(-3000)}`;
    throw err;
  }
}

// A vigil with one small test:// stream with sound, `stream`, and a CoAP
// camera head cam1 (build/vigil-devsim) whose panel sits beside its tile.
// `auth`: the config's auth section. Returns {vigil, stop()}; stop()
// resolves with vigil's exit status.
async function startStreamWithCameraHead(stream, { auth } = {}) {
  const camPort = await freeUdpPort();
  const sim = await startSim(['--id', 'cam1', '--coap-port', String(camPort), '--telemetry-ms', '500']);
  let vigil;
  try {
    vigil = await startVigil({
      config: {
        server: {},
        ...(auth ? { auth } : {}),
        streams: [{ id: stream, source: 'test://', options: { width: 320, height: 240, fps: 15, bitrate_kbps: 300, audio: true } }],
        coap: {},
        devices: [{
          id: 'cam1', name: 'Demo camera head', transport: 'coap', stream, timeout_ms: 8000,
          coap: { uri: `coap://127.0.0.1:${camPort}/cmd`, ack_timeout: 1.0, ack_random_factor: 1.0, observe: 'telemetry' },
          commands: CAMERA_COMMANDS,
        }],
      },
    });
  } catch (err) {
    await sim.kill();
    throw err;
  }
  return {
    vigil,
    async stop() {
      const st = await vigil.stop();
      await sim.kill();
      return st;
    },
  };
}

// For a test file: before its tests, such a server and Chromium; after
// them, both stopped (vigil must exit 0). Returns {vigil, browser, log,
// check}, filled in once started; check(fn) is a test body with diagnostics.
export function cameraHeadSuite(stream, opts) {
  const suite = { vigil: null, browser: null, log: [] };
  suite.check = (fn) => () => withDiagnostics(suite.log, () => [['vigil', suite.vigil]], fn);
  let server = null;
  before(async () => {
    server = await startStreamWithCameraHead(stream, opts);
    suite.vigil = server.vigil;
    suite.browser = await launchChromium();
  }, { timeout: 30000 });
  after(async () => {
    if (suite.browser) await suite.browser.close().catch(() => {});
    const st = server ? await server.stop() : null;
    if (st) assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
  }, { timeout: 20000 });
  return suite;
}

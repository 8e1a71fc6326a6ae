// Signing in to the dashboard (web/js/auth.js, signin.js, account.js).
//
// First, node tests of auth.js's pure parts: the #token= fragment, the expiry
// text, token storage (session vs. remembered) and what a refusal does; and
// of Connection against a fake WebSocket: nothing goes out before the hello
// succeeds, and a refusal (error reply or close 4003) stops reconnecting.
//
// Then headless Debian Chromium against two real servers:
//   open:   auth.anonymous.streams ["demo"], a second stream "yard" nobody
//           anonymous may see, and a CoAP device cam1 (build/vigil-devsim)
//           belonging to demo;
//   closed: no anonymous access at all.
// Each scenario gets a fresh browser context (empty storage):
//   (a) anonymous: the demo tile, no yard, no device panel or control;
//   (b) Sign in through the dialog with an operator token: controls appear
//       and a click reaches acknowledged;
//   (c) a viewer token: the stream, a read-only panel, no control, no command
//       frame from clicking around; a command forced through the store shows
//       the server's `forbidden`; the expiry warning near the end;
//   (d) expired and forged tokens: the sign-in with the server's reason and
//       no tiles; a token expiring mid-session does the same;
//   (e) the token leaves the address bar, and a reload stays signed in;
//   (f) no anonymous access and no token: the sign-in, at most 2 WebSocket
//       connections in 3 s; signing in (remembered) then works.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startVigil, mintToken, Client, ROOT } from '../lib/vigil.js';
import { startSim, freeUdpPort, CAMERA_COMMANDS } from '../integration/control_peers.js';
import { Connection } from '../../web/js/connection.js';
import { Auth, canCommand, formatExpiry, hashWithoutToken, refusalReason, tokenClaims, tokenFromHash } from '../../web/js/auth.js';

// ---------------------------------------------------------------------------
// Node tests of auth.js

class FakeStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

test('auth: the token fragment, the expiry text, roles', () => {
  assert.equal(tokenFromHash('#token=v1.abc.def'), 'v1.abc.def');
  assert.equal(tokenFromHash('#x=1&token=v1.a-b_c.d'), 'v1.a-b_c.d');
  assert.equal(tokenFromHash('#nothing'), null);
  assert.equal(tokenFromHash(''), null);
  assert.equal(hashWithoutToken('#token=v1.a.b'), '');
  assert.equal(hashWithoutToken('#x=1&token=v1.a.b'), '#x=1');
  const now = 1_000_000_000_000;
  assert.equal(formatExpiry(now / 1000 + 23 * 3600 + 59, now), 'expires in 23 h');
  assert.equal(formatExpiry(now / 1000 + 300, now), 'expires in 5 min');
  assert.equal(formatExpiry(now / 1000 + 40, now), 'expires in 40 s');
  assert.equal(formatExpiry(now / 1000 + 5 * 86400, now), 'expires in 5 days');
  assert.equal(formatExpiry(now / 1000 - 1, now), 'expired');
  assert.equal(formatExpiry(undefined, now), '');
  assert.equal(canCommand({ role: 'operator' }), true);
  assert.equal(canCommand({ role: 'admin' }), true);
  assert.equal(canCommand({ role: 'viewer' }), false);
  assert.equal(canCommand(null), false);
});

test('auth: reading a token\'s claims, and why it was likely refused', () => {
  const now = Date.now();
  const t = mintToken({ sub: 'zoë', role: 'viewer', ttl: 60 });
  assert.equal(tokenClaims(t).sub, 'zoë', 'base64url and UTF-8');
  assert.equal(tokenClaims('nope'), null);
  assert.equal(tokenClaims('v1.!!!.x'), null);
  assert.equal(refusalReason(null), 'a token is required');
  assert.equal(refusalReason('garbage'), 'malformed token');
  assert.equal(refusalReason(mintToken({ exp: Math.floor(now / 1000) - 5 }), now), 'token expired');
  assert.equal(refusalReason(t, now), 'unauthorized', 'only the server knows a bad signature');
});

test('auth: storage, the address bar, the hello and a refusal', async () => {
  const session = new FakeStorage();
  const local = new FakeStorage();
  const auth = new Auth({ session, local });
  assert.equal(auth.token, null);
  assert.deepEqual(auth.helloFields(), {});

  // From the address: kept for the session, removed from the address bar.
  const replaced = [];
  const loc = { hash: '#token=v1.t1.s&view=2', pathname: '/', search: '?q=1' };
  assert.equal(auth.adoptFromLocation(loc, { state: null, replaceState: (s, t, url) => replaced.push(url) }), true);
  assert.deepEqual(replaced, ['/?q=1#view=2']);
  assert.equal(session.getItem('vigil.token'), 'v1.t1.s');
  assert.equal(local.getItem('vigil.token'), null);
  assert.deepEqual(auth.helloFields(), { token: 'v1.t1.s' });
  assert.equal(auth.adoptFromLocation({ hash: '', pathname: '/', search: '' }, {}), false);

  // Remembered: localStorage only, and found again by a new page.
  auth.signIn(' v1.t2.s ', { remember: true });
  assert.equal(local.getItem('vigil.token'), 'v1.t2.s');
  assert.equal(session.getItem('vigil.token'), null);
  const again = new Auth({ session, local });
  assert.equal(again.token, 'v1.t2.s');
  assert.equal(again.remembered, true);

  // A hello reply sets the access.
  const reply = await again.handshake(async (type, fields) => {
    assert.equal(type, 'hello');
    assert.deepEqual(fields, { token: 'v1.t2.s' });
    return { type: 'hello', access: { sub: 'op', role: 'operator', anonymous: false, exp: 1 } };
  });
  assert.equal(reply.access.sub, 'op');
  assert.equal(again.canCommand, true);
  assert.deepEqual(again.headers(), { authorization: 'Bearer v1.t2.s' });

  // Refused: the token is dropped everywhere, the reason kept.
  await assert.rejects(again.handshake(async () => {
    throw Object.assign(new Error('token expired'), { code: 'unauthorized', field: 'token' });
  }));
  assert.deepEqual(again.refused, { reason: 'token expired', hadToken: true });
  assert.equal(again.token, null);
  assert.equal(again.access, null);
  assert.equal(local.getItem('vigil.token'), null);
  assert.equal(again.anonymousRefused, false, 'a bad token says nothing about anonymous access');
  // Then without a token: refused too means no anonymous access here.
  await assert.rejects(again.handshake(async () => {
    throw Object.assign(new Error('a token is required'), { code: 'unauthorized' });
  }));
  assert.equal(again.anonymousRefused, true);
  // Signing in clears the refusal.
  again.signIn('v1.t3.s');
  assert.equal(again.refused, null);
  again.signOut();
  assert.equal(again.token, null);
  assert.equal(session.getItem('vigil.token'), null);
});

// A WebSocket stand-in for Connection: records sockets; the test opens,
// answers and closes them.
class FakeSocket {
  static OPEN = 1;
  static all = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocol = protocols[0];
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  open() { this.readyState = 1; this.onopen(); }
  reply(msg) { this.onmessage({ data: JSON.stringify(msg) }); }
  close(code = 1000, reason = '') {
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose({ code, reason }));
  }
}

test('Connection: nothing before the hello; a refused token halts reconnects', async () => {
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = FakeSocket;
  FakeSocket.all = [];
  const tick = () => new Promise((r) => setTimeout(r, 0));
  try {
    const auth = new Auth({ session: new FakeStorage(), local: new FakeStorage() });
    auth.signIn('v1.e30.sig');
    const conn = new Connection('ws://x/ws', { handshake: (request) => auth.handshake(request) });
    const events = [];
    conn.addEventListener('open', () => events.push('open'));
    conn.addEventListener('unauthorized', (ev) => events.push(`unauthorized:${ev.detail.reason}`));
    conn.start();
    const ws = FakeSocket.all[0];
    ws.open();
    assert.deepEqual(ws.sent.map((m) => [m.type, m.token]), [['hello', 'v1.e30.sig']]);
    assert.equal(conn.isOpen, false, 'not open before the hello reply');
    await assert.rejects(conn.request('list'), /not connected/);
    ws.reply({ type: 'hello', id: ws.sent[0].id, access: { sub: 'a', role: 'viewer', anonymous: false } });
    await tick();
    assert.equal(conn.isOpen, true);
    assert.deepEqual(events, ['open']);
    assert.equal(auth.access.role, 'viewer');

    // A network drop: reconnect (with backoff).
    ws.close(1006);
    await tick();
    assert.ok(conn.retryTimer, 'a reconnect is scheduled');
    clearTimeout(conn.retryTimer);
    conn.connect();
    const ws2 = FakeSocket.all[1];
    ws2.open();
    // The token expired meanwhile: refused, closed, and no retry.
    ws2.reply({ type: 'error', id: ws2.sent[0].id, code: 'unauthorized', field: 'token', message: 'token expired' });
    await tick();
    await tick();
    assert.deepEqual(events, ['open', 'unauthorized:token expired']);
    assert.equal(conn.state, 'closed');
    assert.deepEqual(auth.refused, { reason: 'token expired', hadToken: true });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(FakeSocket.all.length, 2, 'no reconnect after a refusal');

    // Signing in again connects at once; a 4003 close mid-session halts too.
    auth.signIn('v1.e30.sig2');
    conn.restart();
    const ws3 = FakeSocket.all[2];
    ws3.open();
    ws3.reply({ type: 'hello', id: ws3.sent[0].id, access: { sub: 'b', role: 'operator', anonymous: false } });
    await tick();
    assert.equal(conn.isOpen, true);
    ws3.close(4003, 'token expired');
    await tick();
    assert.equal(events.at(-1), 'unauthorized:token expired');
    assert.deepEqual(conn.halted, { reason: 'token expired' });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(FakeSocket.all.length, 3, 'no reconnect after 4003');
    conn.stop();
  } finally {
    globalThis.WebSocket = saved;
  }
});

// ---------------------------------------------------------------------------
// Browser tests

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];
const SHOTS = path.join(ROOT, 'build/screenshots');
const DEMO = '.tile[data-stream="demo"]';
const YARD = '.tile[data-stream="yard"]';
const CAM = '.device-panel[data-device="cam1"]';
const SMALL = { width: 320, height: 180, fps: 10, bitrate_kbps: 300 };

describe('signing in to the dashboard', () => {
  let open; // anonymous viewers may watch demo
  let closed; // nobody without a token
  let sim;
  let browser;
  const pageLog = [];

  const withDiagnostics = async (fn) => {
    try {
      await fn();
    } catch (err) {
      err.message += `\n--- page console ---\n${pageLog.slice(-40).join('\n')}`
        + `\n--- open server ---\n${open ? open.log().slice(-2500) : ''}`
        + `\n--- closed server ---\n${closed ? closed.log().slice(-1500) : ''}`;
      throw err;
    }
  };

  // A page in a fresh context (empty sessionStorage and localStorage) that
  // counts its WebSocket connections and the text frames it sends.
  async function freshPage() {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
    page.sockets = 0;
    page.sent = [];
    page.on('websocket', (ws) => {
      page.sockets++;
      ws.on('framesent', (f) => { if (typeof f.payload === 'string') page.sent.push(JSON.parse(f.payload)); });
    });
    return page;
  }

  // Does the server send the `unauthorized` error (with its reason) before it
  // closes? Only then can the dashboard show "bad signature".
  // PROTOCOL.md: a refused hello gets its `unauthorized` error reply (the
  // reason) and then the 4003 close; the dashboard shows that reason.
  async function assertServerExplainsRefusal(vigil) {
    const c = await new Client(vigil.wsBase, { origin: vigil.base }).open();
    c.send({ type: 'hello', id: 1, token: mintToken({}, 'another-secret-entirely-0123456789abcdef') });
    const closed = await c.waitClose();
    assert.equal(closed.code, 4003);
    assert.ok(c.messages.some((m) => m.type === 'error' && m.code === 'unauthorized' && m.message === 'bad signature'),
      `the error reply before the close: ${JSON.stringify(c.messages)}`);
  }

  const account = (page) => page.$eval('#account', (el) => ({ ...el.dataset, text: el.textContent }));
  const stored = (page) => page.evaluate(() => ({
    session: sessionStorage.getItem('vigil.token'), local: localStorage.getItem('vigil.token'),
  }));

  before(async () => {
    const camPort = await freeUdpPort();
    sim = await startSim(['--id', 'cam1', '--coap-port', String(camPort), '--telemetry-ms', '500']);
    open = await startVigil({
      config: {
        server: {},
        auth: { anonymous: { streams: ['demo'] } },
        streams: [
          { id: 'demo', source: 'test://', options: SMALL },
          { id: 'yard', source: 'test://', options: { ...SMALL, pattern: 'ball' } },
        ],
        coap: {},
        devices: [{
          id: 'cam1', name: 'Demo camera head', transport: 'coap', stream: 'demo', timeout_ms: 8000,
          coap: { uri: `coap://127.0.0.1:${camPort}/cmd`, ack_timeout: 1.0, ack_random_factor: 1.0, observe: 'telemetry' },
          commands: CAMERA_COMMANDS,
        }],
      },
    });
    closed = await startVigil({ config: { server: {}, streams: [{ id: 'demo', source: 'test://', options: SMALL }] } });
    await assertServerExplainsRefusal(open);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    mkdirSync(SHOTS, { recursive: true });
  }, { timeout: 30000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    const sts = [];
    for (const v of [open, closed]) if (v) sts.push(await v.stop());
    if (sim) await sim.kill();
    for (const st of sts) assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}`);
  }, { timeout: 30000 });

  test('(a)+(b) anonymous view, then signing in through the dialog as an operator', { timeout: 40000 }, () => withDiagnostics(async () => {
    const page = await freshPage();
    await page.goto(`${open.base}/`);
    await page.waitForSelector(`${DEMO}[data-state="live"]`, { timeout: 10000 });
    await page.waitForSelector('#account[data-state="anonymous"]', { timeout: 5000 });
    // The devices reply came (empty for anonymous viewers) and another list.
    await page.waitForFunction(() => window.vigil.devices.loaded, null, { timeout: 5000 });
    await page.waitForTimeout(500);
    assert.equal(await page.locator(YARD).count(), 0, 'anonymous viewers see only demo');
    assert.equal(await page.locator('.device-panel').count(), 0, 'no device panel');
    assert.equal(await page.locator('[data-control]').count(), 0, 'no device control');
    assert.equal(await page.locator('#devices').isHidden(), true);
    assert.equal(await page.locator('#signin').isVisible(), false, 'no sign-in forced on anonymous viewers');
    const anon = await account(page);
    assert.match(anon.text, /anonymous viewer/);
    assert.match(anon.text, /Sign in/);
    assert.equal(await page.getAttribute('#conn-status', 'data-state'), 'connected');
    const hello = page.sent.find((m) => m.type === 'hello');
    assert.ok(hello && !('token' in hello), `hello without a token: ${JSON.stringify(hello)}`);

    // (b) Sign in with a pasted operator token.
    await page.click('#account .account-button');
    await page.waitForSelector('#signin[open]', { timeout: 2000 });
    assert.equal(await page.locator('#signin-reason').isHidden(), true, 'no reason when the user asked');
    assert.equal(await page.locator('#signin-anonymous').isHidden(), true, 'already anonymous');
    const token = mintToken({ sub: 'olga', role: 'operator', devices: ['cam*'] });
    await page.fill('#signin-token', token);
    await page.screenshot({ path: path.join(SHOTS, 'signin.png') });
    await page.click('#signin-submit');
    await page.waitForSelector('#account[data-state="signed-in"][data-role="operator"]', { timeout: 5000 });
    assert.equal(await page.locator('#signin').isVisible(), false);
    const who = await account(page);
    assert.equal(who.sub, 'olga');
    assert.match(who.text, /olga · operator/);
    assert.match(who.text, /expires in 59 min|expires in 1 h/);
    assert.equal(who.warn, 'false');
    assert.deepEqual(await stored(page), { session: token, local: null }, 'not remembered: sessionStorage only');
    assert.equal(await page.inputValue('#signin-token'), '', 'the token is not left in the field');
    assert.equal(page.sent.filter((m) => m.type === 'hello').at(-1).token, token);

    // Operators see both streams and the controls.
    await page.waitForSelector(`${YARD}`, { timeout: 7000 });
    await page.waitForSelector(`${CAM}[data-view-only="false"] [data-control="light.on"]`, { timeout: 5000 });
    await page.waitForSelector(`${CAM}[data-online="true"]`, { timeout: 5000 });
    const before = await page.$$eval(`${CAM} .cmd`, (els) => els.length);
    await page.click(`${CAM} [data-control="light.on"]`);
    await page.waitForFunction((sel) => {
      const row = document.querySelector(`${sel} .cmd[data-name="light"]`);
      return row && row.dataset.status === 'acknowledged';
    }, CAM, { timeout: 10000, polling: 100 });
    assert.equal(await page.$$eval(`${CAM} .cmd`, (els) => els.length), before + 1);
    await page.context().close();
  }));

  test('(c) a viewer token shows the stream but no device controls', { timeout: 30000 }, () => withDiagnostics(async () => {
    const page = await freshPage();
    // Five minutes left: inside the warning window.
    const token = mintToken({ sub: 'vera', role: 'viewer', streams: ['demo'], devices: ['*'], ttl: 300 });
    await page.goto(`${open.base}/#token=${token}`);
    await page.waitForSelector(`${DEMO}[data-state="live"]`, { timeout: 10000 });
    await page.waitForSelector(`${CAM}[data-view-only="true"]`, { timeout: 5000 });
    await page.waitForSelector(`${CAM}[data-online="true"]`, { timeout: 5000 });
    assert.equal(await page.locator(YARD).count(), 0, 'the token names demo only');
    assert.equal(await page.locator(`${CAM} [data-control]`).count(), 0, 'no control at all');
    assert.equal(await page.locator(`${CAM} button.switch, ${CAM} .ptz, ${CAM} form`).count(), 0);
    assert.match(await page.textContent(`${CAM} .device-viewonly`), /View only/);
    // What it shows still updates: telemetry arrives.
    await page.waitForSelector(`${CAM} .device-telemetry dd[data-key="seq"]`, { timeout: 5000 });
    const who = await account(page);
    assert.equal(who.role, 'viewer');
    assert.equal(who.warn, 'true', `warning ${JSON.stringify(who)}`);
    assert.match(who.text, /vera · viewer/);
    assert.match(who.text, /expires in [45] min/);

    // Clicking all over the panel sends nothing.
    await page.click(`${CAM} .device-name`);
    await page.click(`${CAM} .device-viewonly`);
    await page.click(`${CAM} .device-section > summary >> nth=0`);
    await page.waitForTimeout(300);
    assert.equal(page.sent.filter((m) => m.type === 'command').length, 0, 'no command frame from the UI');
    await page.screenshot({ path: path.join(SHOTS, 'signin-viewer.png') });

    // Forced through the store anyway: the server's refusal shows clearly.
    const r = await page.evaluate(() => window.vigil.devices.send('cam1', 'light', { on: true }));
    assert.equal(r, null);
    const err = `${CAM} .command-error[data-code="forbidden"]`;
    await page.waitForSelector(err, { timeout: 2000 });
    assert.match(await page.textContent(err), /forbidden: .*viewer/);
    assert.equal(await page.getAttribute(err, 'role'), 'alert');
    await page.context().close();
  }));

  test('(d) expired and forged tokens show the sign-in with the reason and no tiles', { timeout: 40000 }, () => withDiagnostics(async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      ['token expired', mintToken({ role: 'admin', exp: now - 10 })],
      // Only the server can tell a forged token: its error reply says why.
      ['bad signature', mintToken({ role: 'admin' }, 'another-secret-entirely-0123456789abcdef')],
    ];
    for (const [reason, token] of cases) {
      const page = await freshPage();
      await page.goto(`${open.base}/#token=${token}`);
      await page.waitForSelector('#signin[open]', { timeout: 5000 });
      await page.waitForSelector(`#signin-reason[data-reason="${reason}"]`, { timeout: 2000 });
      assert.match(await page.textContent('#signin-reason'), new RegExp(reason));
      assert.equal(await page.locator('#signin-reason').isVisible(), true);
      // The anonymous view is one click away, but not taken silently.
      assert.equal(await page.locator('#signin-anonymous').isVisible(), true);
      await page.waitForTimeout(1500);
      assert.equal(await page.locator('.tile').count(), 0, `no tiles (${reason})`);
      assert.equal(await page.getAttribute('#conn-status', 'data-state'), 'signed-out');
      assert.equal(page.sockets, 1, `one try, no reconnect (${reason})`);
      assert.deepEqual(await stored(page), { session: null, local: null }, 'the refused token is forgotten');
      await page.context().close();
    }

    // A token that runs out mid-session: the server closes with 4003 "token
    // expired" and the dashboard clears the view and asks for a new one.
    const page = await freshPage();
    await page.goto(`${open.base}/#token=${mintToken({ sub: 'brief', role: 'admin', ttl: 4 })}`);
    await page.waitForSelector(`${YARD}`, { timeout: 5000 });
    await page.waitForSelector('#signin-reason[data-reason="token expired"]', { timeout: 8000 });
    assert.equal(await page.locator('#signin').isVisible(), true);
    assert.equal(await page.locator('.tile').count(), 0, 'nothing left on screen');
    const sockets = page.sockets;
    await page.waitForTimeout(2000);
    assert.equal(page.sockets, sockets, 'no reconnect with the expired token');
    // "Continue without signing in" leads to the anonymous view.
    await page.click('#signin-anonymous');
    await page.waitForSelector('#account[data-state="anonymous"]', { timeout: 5000 });
    await page.waitForSelector(DEMO, { timeout: 5000 });
    await page.context().close();
  }));

  test('(e) the token leaves the address bar, and a reload stays signed in', { timeout: 30000 }, () => withDiagnostics(async () => {
    const page = await freshPage();
    const token = mintToken({ sub: 'eve', role: 'admin' });
    await page.goto(`${open.base}/#token=${token}`);
    await page.waitForSelector('#account[data-state="signed-in"]', { timeout: 5000 });
    const url = page.url();
    assert.ok(!url.includes('token'), `address bar: ${url}`);
    assert.equal(await page.evaluate(() => location.hash), '');
    assert.deepEqual(await stored(page), { session: token, local: null });
    await page.reload();
    await page.waitForSelector('#account[data-state="signed-in"][data-sub="eve"]', { timeout: 5000 });
    await page.waitForSelector(YARD, { timeout: 5000 });
    // Sign out: back to the anonymous view, the token forgotten.
    await page.click('#account .account-button');
    await page.waitForSelector('#account[data-state="anonymous"]', { timeout: 5000 });
    await page.waitForSelector(DEMO, { timeout: 5000 });
    assert.equal(await page.locator(YARD).count(), 0);
    assert.deepEqual(await stored(page), { session: null, local: null });
    await page.context().close();
  }));

  test('(f) no anonymous access and no token: the sign-in, and no reconnect storm', { timeout: 30000 }, () => withDiagnostics(async () => {
    const page = await freshPage();
    await page.goto(`${closed.base}/`);
    await page.waitForSelector('#signin[open]', { timeout: 5000 });
    await page.waitForTimeout(3000);
    assert.ok(page.sockets >= 1 && page.sockets <= 2, `${page.sockets} WebSocket connections in 3 s`);
    assert.equal(await page.getAttribute('#signin-reason', 'data-reason'), 'a token is required');
    assert.match(await page.textContent('#signin-reason'), /needs an access token/);
    assert.equal(await page.locator('#signin-anonymous').isHidden(), true, 'anonymous access was refused');
    assert.equal(await page.locator('.tile').count(), 0);
    assert.equal(await page.getAttribute('#conn-status', 'data-state'), 'signed-out');
    assert.equal((await account(page)).state, 'signed-out');
    await page.screenshot({ path: path.join(SHOTS, 'signin-required.png') });

    // Signing in (remembered) recovers.
    const token = mintToken({ sub: 'rita', role: 'viewer', streams: ['*'] });
    await page.fill('#signin-token', token);
    await page.check('#signin-remember');
    await page.click('#signin-submit');
    await page.waitForSelector(`${DEMO}[data-state="live"]`, { timeout: 10000 });
    assert.equal((await account(page)).sub, 'rita');
    assert.deepEqual(await stored(page), { session: null, local: token }, 'remembered: localStorage');
    await page.context().close();
  }));
});

// Test helpers: start a real build/vigil on a free loopback port, and a
// WebSocket client that speaks vigil.v1 (signaling/PROTOCOL.md).
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freeTcpPort as freePort } from './ports.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// VIGIL_BIN lets `make test` run the same tests against the ASan build.
export const VIGIL_BIN = process.env.VIGIL_BIN || path.join(ROOT, 'build/vigil');

// A fresh temporary directory, removed when the test process exits.
const tempDirs = [];
process.on('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
export function tempDir(prefix = 'vigil-test-') {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export { freePort };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One HTTP(S) request with node's own client, for what fetch() cannot do
// here: trust a test CA (`ca`, PEM), or see a redirect instead of following
// it. Resolves with {status, headers, body} (body as text); rejects on a
// connection or TLS error (err.code says which, e.g.
// UNABLE_TO_VERIFY_LEAF_SIGNATURE).
export function httpRequest(url, { ca, method = 'GET', headers = {}, body, timeoutMs = 5000 } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, ca, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

// The token secret every test server gets (--auth-secret-file), and tokens
// signed with it, made here independently of vigil's own code
// (server/token.h): v1.<base64url(claims)>.<base64url(HMAC-SHA256)>.
export const TEST_SECRET = 'vigil-test-secret-0123456789abcdef0123456789';
export function mintToken({ sub = 'tester', role = 'admin', streams = ['*'], devices = ['*'], ttl = 3600, exp, ...rest } = {},
  secret = TEST_SECRET) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, role, streams, devices, iat: now, exp: exp ?? now + ttl, ...rest };
  const body = `v1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

// Starts vigil. `config` (an object) is written to a temp file and passed with
// --config; without it the embedded demo configuration is used.
// Every server gets TEST_SECRET as its token secret (the config's own "auth"
// section still sets anonymous access and origins); `wsUrl` and `fetch`
// carry an admin token, `wsBase` and `base` none. With `ca` (the PEM of the
// CA that signed its certificate) vigil is expected to serve https: `base`,
// `wsBase` and `wsUrl` are https:// and wss://, and `get(path, opts)` asks
// (as an admin) with that CA trusted. `env` adds to (or overrides) the
// environment vigil inherits, e.g. ASAN_OPTIONS for one server. With
// `secretFlag: false` the config's own auth.secret / secret_file is used
// (a test of secret rotation by reload); tokens must then be minted with it.
// `port`: listen there (a restart on the same address) instead of a free one.
export async function startVigil({ config, args = [], timeoutMs = 15000, ca, env, secretFlag = true, port: fixedPort } = {}) {
  const port = fixedPort ?? await freePort();
  const secretFile = path.join(tempDir(), 'secret');
  writeFileSync(secretFile, TEST_SECRET);
  const argv = ['--port', String(port), '--web-root', path.join(ROOT, 'web'), ...args];
  if (secretFlag) argv.push('--auth-secret-file', secretFile);
  let configFile = null;
  if (config) {
    const dir = tempDir();
    configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    argv.push('--config', configFile);
  }
  const proc = spawn(VIGIL_BIN, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const base = `${ca ? 'https' : 'http'}://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`vigil exited early (${proc.exitCode}):\n${log}`);
    try {
      const r = ca ? await httpRequest(`${base}/api/health`, { ca }) : await fetch(`${base}/api/health`);
      if (r.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`vigil did not come up:\n${log}`); }
    await sleep(100);
  }
  const adminToken = mintToken({ sub: 'test-admin', role: 'admin' });
  return {
    port, base, proc, adminToken,
    // The config file (null for the demo): a reload test rewrites it.
    configFile,
    wsBase: `${ca ? 'wss' : 'ws'}://127.0.0.1:${port}/ws`,
    wsUrl: `${ca ? 'wss' : 'ws'}://127.0.0.1:${port}/ws?access_token=${adminToken}`,
    // fetch(`/api/...`) as an admin; headers in opts are kept.
    fetch: (p, opts = {}) => fetch(`${base}${p}`, { ...opts, headers: { authorization: `Bearer ${adminToken}`, ...(opts.headers || {}) } }),
    // The same over node's client, trusting `ca`: {status, headers, body}.
    get: (p, opts = {}) => httpRequest(`${base}${p}`, { ca, ...opts, headers: { authorization: `Bearer ${adminToken}`, ...(opts.headers || {}) } }),
    log: () => log,
    // Stops with SIGTERM and resolves with the exit status; the caller asserts on it.
    // The drain (server/drain.h) may hold device commands up to the default
    // server.shutdown_timeout_s (10 s): SIGKILL only well after that.
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 20000);
      const st = await exited;
      clearTimeout(t);
      return st;
    },
  };
}

// Waits until the stream reports `state` in /api/streams.
// The ASan+UBSan server is several times slower to start and to react.
export const SLOW = process.env.VIGIL_SANITIZED ? 2 : 1;

// Polls until pred() is truthy (returns its value) or fails with what().
export async function until(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs * SLOW;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what()}`);
    await sleep(50);
  }
}

// One stream's entry in /api/streams, as an admin.
export async function streamInfo(vigil, id) {
  const r = await vigil.fetch('/api/streams');
  if (r.status !== 200) throw new Error(`/api/streams: ${r.status}`);
  return (await r.json()).find((s) => s.id === id);
}

// Waits until the stream reports `state` in /api/streams (vigil: what
// startVigil returned). Scaled for the sanitized server, like until().
export async function waitStreamState(vigil, id, state, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs * SLOW;
  for (;;) {
    const streams = await (await vigil.fetch('/api/streams')).json();
    const s = streams.find((x) => x.id === id);
    if (s && s.state === state) return s;
    if (Date.now() > deadline) throw new Error(`stream ${id} not ${state}: ${JSON.stringify(s)}`);
    await sleep(100);
  }
}

// Parses the 16-byte binary header of PROTOCOL.md.
export function parseHeader(buf) {
  return {
    version: buf[0], kind: buf[1], flags: buf[2], reserved: buf[3],
    channel: buf.readUInt32BE(4),
    timeUs: buf.readBigUInt64BE(8),
    payload: buf.subarray(16),
  };
}

// A vigil.v1 client: collects text messages and binary frames, and lets a test
// wait for a message matching a predicate.
export class Client {
  constructor(url, { protocol = 'vigil.v1', ...opts } = {}) {
    this.ws = new WebSocket(url, protocol ? [protocol] : [], opts);
    this.messages = [];
    this.frames = [];
    this.waiters = [];
    this.closed = null;
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const h = parseHeader(data);
        h.arrivalUs = BigInt(Date.now()) * 1000n;
        this.frames.push(h);
        if (this.onFrame) this.onFrame(h);
      } else {
        this.messages.push(JSON.parse(data.toString()));
      }
      this.poke();
    });
    this.ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; this.poke(); });
    this.ws.on('error', (e) => { this.error = e; this.poke(); });
  }
  open() {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve(this);
      this.ws.once('open', () => resolve(this));
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }
  poke() { for (const w of [...this.waiters]) w(); }
  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }
  // Resolves with the first message (from `from` on) for which pred is true.
  waitFor(pred, timeoutMs = 5000, what = 'message') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.messages.find(pred);
        if (m) { done(); resolve(m); return true; }
        if (this.closed) { done(); reject(new Error(`closed ${this.closed.code} waiting for ${what}`)); return true; }
        return false;
      };
      const done = () => { clearTimeout(t); this.waiters = this.waiters.filter((w) => w !== check); };
      const t = setTimeout(() => { done(); reject(new Error(`timeout waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}`)); }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }
  // Sends a request with an id and resolves with its reply (or error reply).
  async request(obj, timeoutMs = 5000) {
    const id = obj.id ?? `r${Math.random().toString(36).slice(2)}`;
    this.send({ ...obj, id });
    return this.waitFor((m) => m.id === id, timeoutMs, `reply to ${obj.type}`);
  }
  waitClose(timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => { if (this.closed) { done(); resolve(this.closed); return true; } return false; };
      const done = () => { clearTimeout(t); this.waiters = this.waiters.filter((w) => w !== check); };
      const t = setTimeout(() => { done(); reject(new Error('timeout waiting for close')); }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }
  close() { try { this.ws.close(); } catch { /* already closed */ } }
}

// Helpers for the control/ integration tests: real peers on 127.0.0.1 only.
// A mosquitto broker on a free port, the device simulator (build/vigil-devsim),
// libcoap's coap-server-openssl, mosquitto_sub, and the control driver
// (build/vigil-control-driver, or its ASan build when VIGIL_SANITIZED=1),
// each spawned by the test and killed when it ends.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, writeFileSync } from 'node:fs';
import { tempDir } from '../lib/vigil.js';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAN = !!process.env.VIGIL_SANITIZED;
export const DRIVER = path.join(ROOT, SAN ? 'build/asan/vigil-control-driver' : 'build/vigil-control-driver');
export const DEVSIM = path.join(ROOT, 'build/vigil-devsim');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export { freeTcpPort, freeUdpPort, freeUdpPair } from '../lib/ports.js';

// Every spawned process, so a test can kill what it started in `after`.
export class Procs {
  constructor() { this.list = []; }
  add(p) { this.list.push(p); return p; }
  async killAll() {
    await Promise.all(this.list.map((p) => p.kill()));
    this.list = [];
  }
}

// A child process whose stdout is JSON lines; keeps them and lets a test
// wait for one matching a predicate.
export class LineProc {
  constructor(cmd, args, opts = {}) {
    this.name = path.basename(cmd);
    this.lines = [];
    this.text = '';
    this.waiters = [];
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    // 'close', not 'exit': it comes after stdout is drained, so a fatal line
    // printed just before exiting is never lost.
    this.exit = new Promise((resolve) => this.proc.on('close', (code, signal) => {
      this.exited = { code, signal };
      this.poke();
      resolve({ code, signal });
    }));
    let buf = '';
    this.proc.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.text += line + '\n';
        try { this.lines.push(JSON.parse(line)); } catch { this.lines.push({ raw: line }); }
      }
      this.poke();
    });
    this.proc.stderr.on('data', (d) => { this.text += d; });
    this.proc.stdin.on('error', () => {});
  }
  poke() { for (const w of [...this.waiters]) w(); }
  waitFor(pred, timeoutMs = 5000, what = 'line') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.lines.find(pred);
        if (m) { done(); resolve(m); return true; }
        if (this.exited) { done(); reject(new Error(`${this.name} exited ${JSON.stringify(this.exited)} waiting for ${what}:\n${this.text.slice(-3000)}`)); return true; }
        return false;
      };
      const done = () => { clearTimeout(t); this.waiters = this.waiters.filter((w) => w !== check); };
      const t = setTimeout(() => { done(); reject(new Error(`${this.name}: timeout waiting for ${what}; last output:\n${this.text.slice(-3000)}`)); }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }
  send(obj) { this.proc.stdin.write(JSON.stringify(obj) + '\n'); }
  async kill(signal = 'SIGTERM') {
    if (this.exited) return this.exited;
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    const st = await this.exit;
    clearTimeout(t);
    return st;
  }
}

// The user a mosquitto started by this process saves its database as, as
// [uid, gid], or null when that is this process's own user.  mosquitto
// started as root (as here and in CI) drops to the "mosquitto" user (or
// "nobody" if there is none) before it saves anything, and "must have
// read/write access to the persistence database" (mosquitto.conf(5),
// `user`).
let brokerOwner;
function brokerUser() {
  if (brokerOwner !== undefined) return brokerOwner;
  brokerOwner = null;
  if (process.getuid && process.getuid() === 0) {
    for (const user of ['mosquitto', 'nobody']) {
      try {
        const id = (flag) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
        brokerOwner = [id('-u'), id('-g')];
        break;
      } catch { /* no such user: try the next */ }
    }
  }
  return brokerOwner;
}

// A persistence directory the broker can write: a 0700 root-owned mkdtemp
// directory makes it fail to save ("Error saving in-memory database ...
// Permission denied", logged only on stderr) and come back after a restart
// with no sessions.  `dir`: reuse that one (a restart), else a new one.
export function brokerDir(dir) {
  dir = dir || tempDir('vigil-mqtt-');
  const owner = brokerUser();
  if (owner) chownSync(dir, owner[0], owner[1]);
  return dir;
}

// mosquitto on `port` with persistence in its own directory (made writable
// for it by brokerDir), so a restart on the same port keeps persistent
// sessions (like a real deployment).  `config`: the configuration text to
// run instead of the default one; it must listen on 127.0.0.1:`port` and
// should keep its persistence in `dir`.
export async function startBroker(port, dir, config) {
  dir = brokerDir(dir);
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, config ?? [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${dir}/`,
    'log_dest stderr',
    'log_type error',
    '',
  ].join('\n'));
  const b = new LineProc('mosquitto', ['-c', conf]);
  b.dir = dir;
  b.port = port;
  const deadline = Date.now() + 5000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return b;
    if (b.exited || Date.now() > deadline) {
      await b.kill('SIGKILL');
      throw new Error(`mosquitto did not start: ${b.text}`);
    }
    await sleep(50);
  }
}

// A child that failed to come up is not in any Procs list yet: left
// running, it would keep the test file's process (and the run) alive.
async function killOnFailure(p, waiting) {
  try {
    return await waiting;
  } catch (e) {
    await p.kill('SIGKILL');
    throw e;
  }
}

export async function startSim(args) {
  const s = new LineProc(DEVSIM, args);
  await killOnFailure(s, s.waitFor((l) => l.sim === 'ready', 5000, 'simulator ready'));
  return s;
}

// The test driver on a config object; resolves once it printed "ready".
export async function startDriver(config) {
  const dir = tempDir('vigil-control-');
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const env = { ...process.env };
  // run_all.sh points LSan at tests/lsan.supp; LSan dies if it is missing.
  const m = /suppressions=([^:]+)/.exec(env.LSAN_OPTIONS || '');
  if (m && !existsSync(m[1])) delete env.LSAN_OPTIONS;
  const d = new LineProc(DRIVER, ['--config', file], { env });
  await killOnFailure(d, d.waitFor((l) => l.type === 'ready' || l.type === 'fatal', 10000, 'driver ready'));
  const fatal = d.lines.find((l) => l.type === 'fatal');
  if (fatal) throw new Error(`driver: ${fatal.error}`);
  let ref = 0;
  // Issues a command; resolves with {id} or {error}.
  d.issue = async (device, command, params, options) => {
    const r = ++ref;
    d.send({ op: 'issue', ref: r, device, command, params, options });
    const m2 = await d.waitFor((l) => (l.type === 'issued' || l.type === 'error') && l.ref === r, 5000, `reply ${r}`);
    return m2.type === 'issued' ? { id: m2.id } : { error: m2.error };
  };
  d.status = (id, status, timeoutMs = 8000) =>
    d.waitFor((l) => l.type === 'command.status' && l.id === id && status.includes(l.status), timeoutMs, `${id} ${status}`);
  d.statuses = (id) => d.lines.filter((l) => l.type === 'command.status' && l.id === id).map((l) => l.status);
  d.request = async (obj, type) => {
    const r = ++ref;
    d.send({ ...obj, ref: r });
    return d.waitFor((l) => l.type === type && l.ref === r, 5000, type);
  };
  d.stats = async () => (await d.request({ op: 'stats' }, 'stats')).stats;
  // Asks it to quit and returns its exit status (ASan reports leaks as 23).
  d.quit = async () => {
    d.send({ op: 'quit' });
    const t = setTimeout(() => d.proc.kill('SIGKILL'), 10000);
    const st = await d.exit;
    clearTimeout(t);
    return st;
  };
  return d;
}

export const CAMERA_COMMANDS = {
  ptz: {
    pan: { type: 'number', min: -1, max: 1 },
    tilt: { type: 'number', min: -1, max: 1 },
    zoom: { type: 'number', min: 0, max: 1, optional: true },
  },
  light: { on: { type: 'bool' } },
  reboot: {},
  set_interval: { seconds: { type: 'integer', min: 1, max: 3600 } },
};

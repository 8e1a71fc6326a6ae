// vigil's life end: the SIGTERM drain (server/drain.h) against real peers —
// vigil.v1 clients (ws), a real mosquitto broker and the device simulator —
// and --log-format json, every line of which must parse.
//
// The drain: clients hear `server.shutdown` (with a reconnect hint), then a
// close with 1001; new WebSocket upgrades and API calls get 503 while it
// lasts; a device command in flight ends with a known fate (acknowledged when
// the device answers in time, else failed "server shutting down"); the
// process exits 0 within server.shutdown_timeout_s. A second SIGTERM ends
// the drain at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startVigil, Client, SLOW, sleep, httpRequest } from '../lib/vigil.js';
import { Procs, startBroker, startSim, freeTcpPort, CAMERA_COMMANDS } from './control_peers.js';

const procs = new Procs();
const servers = [];
after(async () => {
  for (const v of servers) if (v.proc.exitCode === null && v.proc.signalCode === null) v.proc.kill('SIGKILL');
  await procs.killAll();
});
const start = async (opts) => { const v = await startVigil(opts); servers.push(v); return v; };

const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
const DEMO = { id: 'demo', source: 'test://', options: { width: 320, height: 240, fps: 10 } };

// Resolves with the exit {code, signal} and how long it took from `since`.
const exitOf = (vigil, since) => new Promise((resolve) => {
  if (vigil.proc.exitCode !== null || vigil.proc.signalCode !== null)
    return resolve({ code: vigil.proc.exitCode, signal: vigil.proc.signalCode, ms: Date.now() - since });
  vigil.proc.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - since }));
});

// What a WebSocket upgrade to `url` gets: 'open', 'http <status> <body>' or 'error'.
const tryUpgrade = (url) => new Promise((resolve) => {
  const ws = new WebSocket(url, ['vigil.v1']);
  ws.on('open', () => { ws.close(); resolve('open'); });
  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => resolve(`http ${res.statusCode} ${body}`));
  });
  ws.on('error', (e) => resolve(`error ${e.message}`));
});

// A broker, devices `slow` (answers 1.5 s late) and `mute` (never answers),
// and vigil controlling them with the given drain bound.
async function startWithDevices(shutdownTimeoutS) {
  const port = await freeTcpPort();
  procs.add(await startBroker(port));
  const prefix = `lc${port}`;
  procs.add(await startSim(['--id', 'slow', '--mqtt-port', String(port), '--prefix', prefix, '--delay-ms', '1500']));
  procs.add(await startSim(['--id', 'mute', '--mqtt-port', String(port), '--prefix', prefix, '--drop', '1000']));
  const vigil = await start({
    config: {
      server: { bind: '127.0.0.1', shutdown_timeout_s: shutdownTimeoutS },
      streams: [DEMO],
      mqtt: { host: '127.0.0.1', port, prefix, keepalive: 5, client_id: `lc-relay-${port}` },
      devices: ['slow', 'mute'].map((id) => ({ id, name: id, transport: 'mqtt', commands: CAMERA_COMMANDS })),
    },
  });
  // Both devices online through the broker before commands are sent.
  const deadline = Date.now() + 10000 * SLOW;
  for (;;) {
    const devs = await (await vigil.fetch('/api/devices')).json();
    if (devs.length === 2 && devs.every((d) => d.transport_connected && d.online)) break;
    if (Date.now() > deadline) throw new Error(`devices not online: ${JSON.stringify(devs)}`);
    await sleep(100);
  }
  return vigil;
}

// Sends a command and waits until it left for the device.
async function inFlight(ws, device, params) {
  const r = await ws.request({ type: 'command', device, name: 'light', params, timeout_ms: 60000 });
  assert.ok(r.command_id, JSON.stringify(r));
  await ws.waitFor((m) => m.type === 'command.status' && m.command_id === r.command_id &&
    ['sent', 'delivered'].includes(m.status), 5000 * SLOW, `${device} command sent`);
  return r.command_id;
}

test('SIGTERM: server.shutdown then 1001, 503 during the drain, commands end acknowledged or failed, exit 0 in bound', { timeout: 60000 }, async () => {
  const BOUND_S = 6;
  const vigil = await startWithDevices(BOUND_S);
  const ws = await new Client(vigil.wsUrl).open();
  await ws.request({ type: 'hello', token: vigil.adminToken });
  const viewer = await new Client(vigil.wsUrl).open();
  const sub = await viewer.request({ type: 'subscribe', stream: 'demo' });
  assert.equal(sub.type, 'subscribe', JSON.stringify(sub));

  const slowId = await inFlight(ws, 'slow', { on: true });
  const muteId = await inFlight(ws, 'mute', { on: false });
  const t0 = Date.now();
  const exited = exitOf(vigil, t0);
  vigil.proc.kill('SIGTERM');

  for (const c of [ws, viewer]) {
    const ev = await c.waitFor((m) => m.type === 'server.shutdown', 3000 * SLOW, 'server.shutdown');
    assert.equal(ev.reason, 'server shutting down');
    assert.ok(Number.isInteger(ev.reconnect_after_ms) && ev.reconnect_after_ms > 0, JSON.stringify(ev));
  }
  // The mute device keeps the drain open: new clients and API calls are refused, clearly.
  const refused = await tryUpgrade(vigil.wsUrl);
  assert.match(refused, /^http 503 /, refused);
  assert.equal(JSON.parse(refused.slice('http 503 '.length)).error, 'shutting_down');
  const api = await httpRequest(`${vigil.base}/api/health`);
  assert.equal(api.status, 503);
  assert.equal(JSON.parse(api.body).error, 'shutting_down');
  assert.ok(Number(api.headers['retry-after']) > 0, JSON.stringify(api.headers));
  // An old client's new command is refused too.
  const late = await ws.request({ type: 'command', device: 'slow', name: 'light', params: { on: true } });
  assert.equal(late.type, 'error', JSON.stringify(late));
  assert.match(late.message, /shutting down/);

  // The device that answers in time: acknowledged; the one that never does: failed, with the reason.
  const slow = await ws.waitFor((m) => m.type === 'command.status' && m.command_id === slowId && FINAL.includes(m.status),
    5000 * SLOW, 'slow final');
  assert.equal(slow.status, 'acknowledged', JSON.stringify(slow));
  const mute = await ws.waitFor((m) => m.type === 'command.status' && m.command_id === muteId && FINAL.includes(m.status),
    BOUND_S * 1000 * SLOW, 'mute final');
  assert.equal(mute.status, 'failed', JSON.stringify(mute));
  assert.equal(mute.error, 'server shutting down');

  // Closed with 1001, after the event and the command's fate were written.
  for (const c of [ws, viewer]) {
    const closed = await c.waitClose(5000 * SLOW);
    assert.equal(closed.code, 1001, JSON.stringify(closed));
  }
  const iShutdown = ws.messages.findIndex((m) => m.type === 'server.shutdown');
  const iFailed = ws.messages.findIndex((m) => m.command_id === muteId && m.status === 'failed');
  assert.ok(iShutdown >= 0 && iFailed > iShutdown, 'server.shutdown came first');
  // Nothing after the shutdown event told the viewer its stream failed.
  assert.ok(!viewer.messages.some((m) => m.type === 'error'), JSON.stringify(viewer.messages));

  const st = await exited;
  assert.equal(st.code, 0, `exit ${JSON.stringify(st)}\n${vigil.log().slice(-3000)}`);
  // The mute command held it for the bound less the closing reserve (4 s), not more than the bound.
  assert.ok(st.ms >= 3000, `drained in ${st.ms} ms: the mute command got its time`);
  assert.ok(st.ms < (BOUND_S * 1000 + 1500) * SLOW, `drained in ${st.ms} ms, bound ${BOUND_S} s`);
  const log = vigil.log();
  assert.match(log, /shutting down: telling 2 connection\(s\), 2 device command\(s\) unfinished/);
  assert.match(log, /drained in \d+ ms: 2 connection\(s\) told, 1 device command\(s\) finished, 1 failed/);
  assert.match(log, /[1-9]\d* request\(s\) refused/);
});

test('SIGTERM without commands closes at once; a second SIGTERM cuts a long drain short', { timeout: 60000 }, async () => {
  // Nothing to wait for: told, closed, gone well within a second or two.
  const quick = await start({ config: { server: { bind: '127.0.0.1' }, streams: [DEMO] } });
  const c = await new Client(quick.wsUrl).open();
  await c.request({ type: 'subscribe', stream: 'demo' });
  let t0 = Date.now();
  let exited = exitOf(quick, t0);
  quick.proc.kill('SIGTERM');
  await c.waitFor((m) => m.type === 'server.shutdown', 3000 * SLOW, 'server.shutdown');
  assert.equal((await c.waitClose(3000 * SLOW)).code, 1001);
  let st = await exited;
  assert.equal(st.code, 0, `exit ${JSON.stringify(st)}\n${quick.log().slice(-3000)}`);
  assert.ok(st.ms < 3000 * SLOW, `took ${st.ms} ms`);

  // A command nobody answers would hold this drain 28 s: the second signal ends it.
  const slowDrain = await startWithDevices(30);
  const ws = await new Client(slowDrain.wsUrl).open();
  await ws.request({ type: 'hello', token: slowDrain.adminToken });
  await inFlight(ws, 'mute', { on: true });
  t0 = Date.now();
  exited = exitOf(slowDrain, t0);
  slowDrain.proc.kill('SIGTERM');
  await ws.waitFor((m) => m.type === 'server.shutdown', 3000 * SLOW, 'server.shutdown');
  await sleep(300);
  assert.equal(slowDrain.proc.exitCode, null, 'still draining after the first signal');
  slowDrain.proc.kill('SIGTERM');
  st = await exited;
  assert.equal(st.code, 0, `exit ${JSON.stringify(st)}\n${slowDrain.log().slice(-3000)}`);
  assert.ok(st.ms < 5000 * SLOW, `took ${st.ms} ms after two signals`);
  assert.match(slowDrain.log(), /a second signal cut the drain short/);
  ws.close();
});

test('--log-format json: every line vigil writes is one JSON object with ts, level and msg', { timeout: 60000 }, async () => {
  const vigil = await start({
    config: { server: { bind: '127.0.0.1' }, streams: [DEMO] },
    args: ['--log-format', 'json'],
  });
  // Things that log: a refused token, a refused Origin, a bad request, a close.
  assert.equal(await tryUpgrade(`${vigil.wsBase}?access_token=v1.bad"token\\x`).then((r) => r.startsWith('open')), false);
  const foreign = await new Promise((resolve) => {
    const w = new WebSocket(vigil.wsUrl, ['vigil.v1'], { origin: 'https://evil.example' });
    w.on('open', () => { w.close(); resolve('open'); });
    w.on('unexpected-response', () => resolve('refused'));
    w.on('error', () => resolve('refused'));
  });
  assert.equal(foreign, 'refused');
  const c = await new Client(vigil.wsUrl).open();
  const bad = await c.request({ type: 'subscribe', stream: 'no such "stream"\n' });
  assert.equal(bad.type, 'error');
  c.close();
  const st = await vigil.stop();
  assert.equal(st.code, 0, vigil.log().slice(-3000));

  const lines = vigil.log().split('\n').filter((l) => l.length);
  assert.ok(lines.length >= 5, `only ${lines.length} lines:\n${vigil.log()}`);
  const objs = lines.map((l) => {
    let o;
    assert.doesNotThrow(() => { o = JSON.parse(l); }, `not JSON: ${l}`);
    return o;
  });
  for (const o of objs) {
    assert.deepEqual(Object.keys(o), ['ts', 'level', 'msg'], JSON.stringify(o));
    assert.match(o.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['error', 'warn', 'info', 'debug'].includes(o.level), o.level);
  }
  assert.ok(objs.some((o) => o.level === 'warn' && /refused a WebSocket/.test(o.msg)), 'the refusals were logged');
  assert.ok(objs.some((o) => /^vigil .* serving/.test(o.msg)), 'the start was logged');
  assert.ok(objs.some((o) => /^drained in/.test(o.msg)), 'the drain was logged');
});

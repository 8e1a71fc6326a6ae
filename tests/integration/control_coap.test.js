// control/ CoAP plugin against libcoap's own coap-server-openssl and the
// device simulator, all on 127.0.0.1 with short RFC 7252 timers so every
// retransmission path finishes in a few seconds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import {
  Procs, LineProc, startSim, startDriver, freeUdpPort, freeUdpPair, sleep, CAMERA_COMMANDS,
} from './control_peers.js';
import { SLOW } from '../lib/vigil.js';

const procs = new Procs();
const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
const KEY = 'vigil-test-key', IDENTITY = 'vigil-client';
let driver, silent, silentGot = 0, ports = {};
const sims = {};

// Short timers: ACK_TIMEOUT 1 s (the least libcoap 4.3.1 accepts), no random
// spread, so retransmissions go at 1 s, 3 s, 7 s ...
const fast = (uri, extra = {}) => ({ uri, ack_timeout: 1.0, ack_random_factor: 1.0, max_retransmit: 4, handshake_timeout_ms: 2000, ...extra });
const dev = (id, coap, commands = CAMERA_COMMANDS) => ({ id, transport: 'coap', coap, commands, timeout_ms: 8000 });

before(async () => {
  for (const k of ['cs', 'csd', 'ok', 'drop2', 'refuse', 'reset', 'delay', 'tel', 'garbage', 'dtls', 'unreach', 'silent']) {
    ports[k] = k === 'cs' ? await freeUdpPair() : await freeUdpPort();
  }
  // libcoap's example server: plain on cs, DTLS-PSK on cs+1; a second one
  // that lets POST create resources (-d).
  procs.add(new LineProc('coap-server-openssl', ['-A', '127.0.0.1', '-p', String(ports.cs), '-k', KEY, '-h', 'hint']));
  procs.add(new LineProc('coap-server-openssl', ['-A', '127.0.0.1', '-p', String(ports.csd), '-d', '4']));
  // A host that swallows every datagram (no answer, no ICMP).
  silent = dgram.createSocket('udp4');
  silent.on('message', () => { silentGot++; });
  await new Promise((r) => silent.bind(ports.silent, '127.0.0.1', r));
  const sim = async (name, args) => {
    sims[name] = procs.add(await startSim(['--id', name, '--coap-port', String(ports[name]), '--telemetry-ms', '200', ...args]));
  };
  await sim('ok', []);
  await sim('drop2', ['--drop', '2']);
  await sim('refuse', ['--refuse', 'all']);
  await sim('reset', ['--reset']);
  await sim('delay', ['--delay-ms', '700']);
  await sim('tel', []);
  await sim('garbage', ['--garbage']);
  sims.dtls = procs.add(await startSim(['--id', 'dtls', '--coaps-port', String(ports.dtls),
    '--psk-identity', IDENTITY, '--psk-key', KEY]));
  const cs = `coap://127.0.0.1:${ports.cs}`;
  driver = procs.add(await startDriver({
    coap: {},
    devices: [
      dev('ok', fast(`coap://127.0.0.1:${ports.ok}/cmd`)),
      dev('drop2', fast(`coap://127.0.0.1:${ports.drop2}/cmd`)),
      dev('refuse', fast(`coap://127.0.0.1:${ports.refuse}/cmd`)),
      dev('reset', fast(`coap://127.0.0.1:${ports.reset}/cmd`)),
      dev('delay', fast(`coap://127.0.0.1:${ports.delay}/cmd`)),
      dev('tel', fast(`coap://127.0.0.1:${ports.tel}/cmd`, { observe: 'telemetry', observe_refresh_ms: 1000 })),
      dev('garbage', fast(`coap://127.0.0.1:${ports.garbage}/cmd`, { observe: 'telemetry' })),
      dev('unreach', fast(`coap://127.0.0.1:${ports.unreach}/cmd`, { max_retransmit: 1 })),
      dev('silent', fast(`coap://127.0.0.1:${ports.silent}/cmd`, { max_retransmit: 1 })),
      dev('cs_missing', fast(`${cs}/no/such/thing`)),
      dev('cs_new', fast(`coap://127.0.0.1:${ports.csd}/created-by-post`)),
      dev('cs_dtls', fast(`coaps://127.0.0.1:${ports.cs + 1}/no/such/thing`, { psk: { identity: IDENTITY, key: KEY } })),
      dev('cs_badkey', fast(`coaps://127.0.0.1:${ports.cs + 1}/time`, { psk: { identity: IDENTITY, key: 'wrong-key' } })),
      dev('dtls', fast(`coaps://127.0.0.1:${ports.dtls}/cmd`, { psk: { identity: IDENTITY, key: KEY } })),
      dev('dtls_badkey', fast(`coaps://127.0.0.1:${ports.dtls}/cmd`, { psk: { identity: IDENTITY, key: 'not-the-key' } })),
    ],
  }));
});

after(async () => {
  if (driver && !driver.exited) await driver.quit();
  await procs.killAll();
  if (silent) silent.close();
});

async function run(device, command, params, options) {
  const r = await driver.issue(device, command, params, options);
  assert.ok(r.id, r.error);
  const s = await driver.status(r.id, FINAL, 10000);
  return { ...s, id: r.id, statuses: driver.statuses(r.id) };
}

test('CON command to the simulator: delivered and acknowledged with the result', async () => {
  const s = await run('ok', 'light', { on: true });
  assert.equal(s.status, 'acknowledged', JSON.stringify(s));
  assert.deepEqual(s.statuses, ['queued', 'sent', 'delivered', 'acknowledged']);
  assert.equal(s.code, 204);
  assert.equal(s.result.light, true);
});

test('NON command (confirmable: false) is acknowledged by the response', async () => {
  const s = await run('ok', 'ptz', { pan: 0.5, tilt: 0.25 }, { confirmable: false });
  assert.equal(s.status, 'acknowledged', JSON.stringify(s));
  assert.equal(s.result.pan, 0.5);
});

test('device drops the first two datagrams: acknowledged after retransmission', async () => {
  const t0 = Date.now();
  const s = await run('drop2', 'light', { on: true });
  assert.equal(s.status, 'acknowledged', JSON.stringify(s));
  const actions = sims.drop2.lines.filter((l) => l.id === s.id).map((l) => l.action);
  assert.deepEqual(actions, ['dropped', 'dropped', 'executed']);
  // the original and the first retransmission went unanswered: 1 s + 2 s
  // (and not a retransmission more: that would be 7 s)
  const ms = Date.now() - t0;
  assert.ok(ms >= 2900 && ms < 3000 + 3000 * SLOW, `${ms} ms`);
});

test('unreachable device: timeout after the configured retransmissions', async () => {
  const t0 = Date.now();
  // a closed port (ICMP port unreachable) and a host that never answers
  const [closed, quiet] = await Promise.all([run('unreach', 'reboot', {}), run('silent', 'reboot', {})]);
  const ms = Date.now() - t0;
  for (const s of [closed, quiet]) {
    assert.equal(s.status, 'timeout', JSON.stringify(s));
    assert.deepEqual(s.statuses, ['queued', 'sent', 'timeout']);
    assert.match(s.error, /no answer after 1 retransmissions/);
  }
  assert.match(closed.error, /ICMP/);
  assert.equal(silentGot, 2, 'the silent host saw the request and one retransmission');
  // 1 s + 2 s with random factor 1.0 (a retransmission more would be 7 s)
  assert.ok(ms >= 2900 && ms < 3000 + 3000 * SLOW, `${ms} ms`);
});

test('refusing device: rejected with 4.03', async () => {
  const s = await run('refuse', 'reboot', {});
  assert.equal(s.status, 'rejected');
  assert.equal(s.code, 403);
  assert.match(s.error, /^4\.03 refused/);
});

test('Reset from the device: rejected', async () => {
  const s = await run('reset', 'reboot', {});
  assert.equal(s.status, 'rejected', JSON.stringify(s));
  assert.match(s.error, /RST/);
});

test('slow device: empty ACK first, separate response later', async () => {
  const s = await run('delay', 'light', { on: false });
  assert.equal(s.status, 'acknowledged', JSON.stringify(s));
  assert.ok(s.at_ms >= 600, `answered at ${s.at_ms} ms`);
});

test('coap-server-openssl: POST to an unknown path gives rejected 4.04', async () => {
  const s = await run('cs_missing', 'reboot', {});
  assert.equal(s.status, 'rejected', JSON.stringify(s));
  assert.equal(s.code, 404);
  assert.match(s.error, /^4\.04/);
});

test('coap-server-openssl: POST creating a resource is acknowledged (2.01)', async () => {
  const s = await run('cs_new', 'reboot', {});
  assert.equal(s.status, 'acknowledged', JSON.stringify(s));
  assert.equal(s.code, 201);
});

test('coaps:// DTLS-PSK to coap-server-openssl: the request goes through (4.04 over DTLS)', async () => {
  const s = await run('cs_dtls', 'reboot', {});
  assert.equal(s.status, 'rejected', JSON.stringify(s));
  assert.equal(s.code, 404);
});

test('coaps:// DTLS-PSK to the simulator: acknowledged', async () => {
  const s = await run('dtls', 'light', { on: true });
  assert.equal(s.status, 'acknowledged', JSON.stringify(s));
  assert.equal(s.result.light, true);
});

for (const d of ['dtls_badkey', 'cs_badkey']) {
  test(`coaps:// with a wrong key (${d}): failed cleanly, not a hang`, async () => {
    const t0 = Date.now();
    const s = await run(d, 'reboot', {});
    assert.ok(['failed', 'timeout'].includes(s.status), JSON.stringify(s));
    assert.equal(s.status, 'failed', `${JSON.stringify(s)} after ${Date.now() - t0} ms`);
    assert.match(s.error, /DTLS|session/);
  });
}

test('observed telemetry arrives, and the observation is re-established after the device restarts', async () => {
  await driver.waitFor((l) => l.type === 'telemetry' && l.device === 'tel', 5000, 'first notification');
  const n0 = (await driver.stats()).transports.coap.observe_registrations;
  await sims.tel.kill();
  await sleep(300);
  sims.tel = procs.add(await startSim(['--id', 'tel', '--coap-port', String(ports.tel), '--telemetry-ms', '200']));
  const mark = driver.lines.length;
  // the new process has no observers: only a fresh registration brings data
  await driver.waitFor((l, i) => l.type === 'telemetry' && l.device === 'tel' && driver.lines.indexOf(l) >= mark,
    8000, 'telemetry after restart');
  const st = await driver.stats();
  assert.ok(st.transports.coap.observe_registrations > n0, JSON.stringify(st.transports.coap));
});

test('malformed telemetry is counted, never crashes', async () => {
  // The garbage device reports every 200 ms, alternately bad and good:
  // both counts come, waited for rather than slept on.
  let st;
  const t0 = Date.now();
  for (;;) {
    st = await driver.stats();
    if (st.devices.garbage.malformed >= 1 && st.devices.garbage.telemetry >= 1) break;
    assert.ok(Date.now() - t0 < 5000 * SLOW, JSON.stringify(st.devices.garbage));
    await sleep(100);
  }
});

test('driver exits cleanly', async () => {
  const st = await driver.quit();
  assert.deepEqual(st, { code: 0, signal: null });
});

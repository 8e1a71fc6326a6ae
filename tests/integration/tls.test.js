// TLS end to end, with certificates made by certs/make-certs.sh in a
// temporary directory: vigil serving https and wss (a client trusting the
// CA gets the dashboard, the API and the demo stream's frames; one that does
// not is refused), HSTS, the plain-HTTP redirect listener and the start-up
// checks; the MQTT plugin against a real mosquitto with TLS listeners (right
// CA, wrong CA, a certificate for another host with and without
// tls_insecure); the CoAP plugin over DTLS with certificates against the
// device simulator and libcoap's coap-server-openssl. Only 127.0.0.1.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT, VIGIL_BIN, Client, freePort, httpRequest, sleep, startVigil, tempDir,
} from '../lib/vigil.js';
import {
  LineProc, Procs, brokerDir, freeTcpPort, freeUdpPair, freeUdpPort, startBroker, startDriver, startSim,
  CAMERA_COMMANDS,
} from './control_peers.js';

const SLOW = process.env.VIGIL_SANITIZED ? 2 : 1;
const MAKE_CERTS = path.join(ROOT, 'certs/make-certs.sh');
// A small test picture: these tests are about the transport, not the video.
const STREAMS = [{ id: 'demo', source: 'test://', options: { width: 320, height: 240, fps: 10, bitrate_kbps: 300 } }];
// 10.9.8.7 is never connected to: its certificate is for a host name check
// that must fail on 127.0.0.1.
const OTHER_HOST = '10.9.8.7';

let dir, other;       // our CA's directory and a second, unrelated CA's
const f = (name) => path.join(dir, name);

function makeCerts(args) {
  const r = spawnSync('bash', [MAKE_CERTS, ...args], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `make-certs.sh ${args.join(' ')}: ${r.stderr}`);
  return r;
}

before(() => {
  dir = tempDir('vigil-tls-');
  other = tempDir('vigil-tls-other-');
  makeCerts(['-o', dir, '--client', 'vigil', '--device', OTHER_HOST]);
  makeCerts(['-o', other, '--ca-only']);
  // mosquitto started as root reads its certificates and keys after
  // dropping to its own user (see brokerDir in control_peers.js): let it
  // into the directory and read the two keys it serves with.
  chmodSync(dir, 0o755);
  for (const k of ['server.key', `device-${OTHER_HOST}.key`]) chmodSync(f(k), 0o644);
});

describe('certs/make-certs.sh', () => {
  it('makes a CA and a server certificate for localhost and 127.0.0.1, a client and a device certificate', () => {
    const text = (cert) => spawnSync('openssl', ['x509', '-in', cert, '-noout', '-text'], { encoding: 'utf8' }).stdout;
    const server = text(f('server.pem'));
    assert.match(server, /DNS:localhost/);
    assert.match(server, /IP Address:127\.0\.0\.1/);
    assert.match(server, /TLS Web Server Authentication/);
    assert.match(text(f('client-vigil.pem')), /TLS Web Client Authentication/);
    assert.match(text(f(`device-${OTHER_HOST}.pem`)), new RegExp(`IP Address:${OTHER_HOST.replace(/\./g, '\\.')}\\s`));
    const v = spawnSync('openssl', ['verify', '-CAfile', f('ca.pem'), f('server.pem'), f('client-vigil.pem')], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const bad = spawnSync('openssl', ['verify', '-CAfile', path.join(other, 'ca.pem'), f('server.pem')], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0, 'the second CA did not sign our server certificate');
  });

  it('reuses the CA on a second run, and adds names given on the command line', () => {
    const d = tempDir('vigil-tls-again-');
    makeCerts(['-o', d]);
    const ca = readFileSync(path.join(d, 'ca.pem'), 'utf8');
    makeCerts(['-o', d, 'relay.example', '192.0.2.9']);
    assert.equal(readFileSync(path.join(d, 'ca.pem'), 'utf8'), ca);
    const san = spawnSync('openssl', ['x509', '-in', path.join(d, 'server.pem'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }).stdout;
    assert.match(san, /DNS:localhost.*DNS:relay\.example.*IP Address:192\.0\.2\.9/s);
  });

  it('writes private keys readable by their owner only', () => {
    const r = spawnSync('bash', ['-c', `d=$(mktemp -d) && ${MAKE_CERTS} -o "$d" >/dev/null && stat -c '%a %n' "$d"/*.key && rm -rf "$d"`], { encoding: 'utf8' });
    for (const line of r.stdout.trim().split('\n')) assert.match(line, /^600 /, r.stdout);
  });
});

describe('vigil over https and wss', { timeout: 60000 * SLOW }, () => {
  let v, redirectPort;
  before(async () => {
    redirectPort = await freePort();
    // The certificate and key by flag, the redirect by config.
    v = await startVigil({
      ca: readFileSync(f('ca.pem')),
      config: { server: { http_redirect_port: redirectPort, tls_ktls: true }, streams: STREAMS },
      args: ['--tls-cert', f('server.pem'), '--tls-key', f('server.key')],
      timeoutMs: 15000 * SLOW,
    });
  });
  after(async () => {
    if (!v) return;
    const st = await v.stop();
    assert.deepEqual(st, { code: 0, signal: null }, v.log().slice(-3000));
  });

  it('a client trusting the CA gets the API and the dashboard, each with HSTS', async () => {
    const health = await v.get('/api/health');
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
    assert.equal(health.headers['strict-transport-security'], 'max-age=31536000');
    const page = await v.get('/');
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/i);
    assert.equal(page.headers['strict-transport-security'], 'max-age=31536000');
    const missing = await v.get('/api/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['strict-transport-security'], 'max-age=31536000');
    assert.match(v.log(), /serving https:\/\//);
  });

  it('subscribes over wss and receives the demo stream', async () => {
    const c = await new Client(v.wsUrl, { ca: readFileSync(f('ca.pem')) }).open();
    try {
      const reply = await c.request({ type: 'subscribe', stream: 'demo', mode: 'mse' }, 5000);
      assert.equal(reply.type, 'subscribe', JSON.stringify(reply));
      const deadline = Date.now() + 15000 * SLOW;
      while (c.frames.length < 5 && Date.now() < deadline) await sleep(100);
      assert.ok(c.frames.length >= 5, `frames over wss: ${c.frames.length}`);
      assert.equal(c.frames[0].version, 1);
      // tls_ktls: the first wss connection says whether the kernel took the
      // encryption over, and why not (this machine's kernel may have no tls module).
      const hasTls = existsSync('/sys/module/tls');
      assert.match(v.log(), hasTls
        ? /server\.tls_ktls: (the kernel encrypts what vigil sends|kernel TLS is not in use \(OpenSSL did not hand)/
        : /server\.tls_ktls: kernel TLS is not in use \(this kernel has no tls module\); OpenSSL encrypts/);
      assert.equal(v.log().match(/server\.tls_ktls:/g).length, 1, 'said once');
    } finally {
      c.close();
    }
  });

  it('a client that does not trust the CA is refused, over https and wss', async () => {
    for (const ca of [undefined, readFileSync(path.join(other, 'ca.pem'))]) {
      await assert.rejects(httpRequest(`${v.base}/api/health`, { ca }),
        (e) => /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/.test(e.code), 'certificate error');
    }
    const c = new Client(v.wsUrl);
    await assert.rejects(c.open(), (e) => /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|certificate/i.test(`${e.code} ${e.message}`));
    c.close();
    // Plain HTTP on the TLS port gets no answer.
    await assert.rejects(httpRequest(`http://127.0.0.1:${v.port}/api/health`, { timeoutMs: 3000 }));
    assert.equal((await v.get('/api/health')).status, 200, 'the server is still fine');
  });

  it('the plain-HTTP listener redirects every request to https, same host and path', async () => {
    const r = await httpRequest(`http://127.0.0.1:${redirectPort}/api/health?x=1&y=a%20b`);
    assert.equal(r.status, 308, 'PROTOCOL.md: 308 Permanent Redirect, for every method');
    assert.equal(r.headers.location, `https://127.0.0.1:${v.port}/api/health?x=1&y=a%20b`);
    assert.equal(r.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
    const named = await httpRequest(`http://127.0.0.1:${redirectPort}/`, { headers: { host: `localhost:${redirectPort}` } });
    assert.equal(named.headers.location, `https://localhost:${v.port}/`);
    const post = await httpRequest(`http://127.0.0.1:${redirectPort}/api/devices/x/commands`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(post.status, 308, 'a POST is sent on with its method');
    const evil = await httpRequest(`http://127.0.0.1:${redirectPort}/`, { headers: { host: 'evil.example/x' } });
    assert.equal(evil.status, 400, 'a Host that is no host name is refused');
    // Following the redirect with the CA trusted lands on the API.
    const followed = await httpRequest(r.headers.location, { ca: readFileSync(f('ca.pem')) });
    assert.equal(followed.status, 200);
    // No WebSocket over plain HTTP.
    const c = new Client(`ws://127.0.0.1:${redirectPort}/ws`);
    await assert.rejects(c.open());
    c.close();
  });
});

describe('TLS start-up checks', { timeout: 30000 * SLOW }, () => {
  const run = (args) => spawnSync(VIGIL_BIN, ['--port', '0', ...args], { encoding: 'utf8', timeout: 15000 * SLOW });
  // Functions: the certificates exist once before() ran.
  const cases = [
    ['a missing certificate', () => ['--tls-cert', f('missing.pem'), '--tls-key', f('server.key')],
      /server\.tls_cert: cannot read '.*missing\.pem': No such file/],
    ['a key of another certificate', () => ['--tls-cert', f('server.pem'), '--tls-key', f('client-vigil.key')],
      /server\.tls_key: .* is not the key of the certificate/],
    ['a certificate without its key', () => ['--tls-cert', f('server.pem')], /TLS needs both tls_cert and tls_key/],
    ['a key where the certificate belongs', () => ['--tls-cert', f('server.key'), '--tls-key', f('server.key')],
      /server\.tls_cert: .* holds no PEM certificate/],
    ['kernel TLS without TLS', () => {
      const file = path.join(tempDir('ktls-'), 'vigil.json');
      writeFileSync(file, JSON.stringify({ server: { tls_ktls: true }, streams: [{ id: 'a', source: 'test://' }] }));
      return ['--config', file];
    }, /server\.tls_ktls: kernel TLS needs tls_cert and tls_key/],
  ];
  for (const [what, args, re] of cases) {
    it(`exit 2 with a message naming the setting: ${what}`, () => {
      const r = run(args());
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
    });
  }
});

// ---- MQTT over TLS ----------------------------------------------------------

describe('MQTT plugin over TLS', { timeout: 120000 * SLOW }, () => {
  const procs = new Procs();
  let tlsPort, otherHostPort, broker;
  const PREFIX = 'tls';

  before(async () => {
    tlsPort = await freeTcpPort();
    otherHostPort = await freeTcpPort();
    const bdir = brokerDir();
    // Two TLS listeners: one with a certificate for 127.0.0.1, one with a
    // certificate naming another host.
    broker = procs.add(await startBroker(tlsPort, bdir, [
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${f('ca.pem')}`, `certfile ${f('server.pem')}`, `keyfile ${f('server.key')}`,
      `listener ${otherHostPort} 127.0.0.1`,
      `cafile ${f('ca.pem')}`, `certfile ${f(`device-${OTHER_HOST}.pem`)}`, `keyfile ${f(`device-${OTHER_HOST}.key`)}`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n')));
    // The device talks to the broker over TLS too.
    procs.add(await startSim(['--id', 'cam1', '--mqtt-host', '127.0.0.1', '--mqtt-port', String(tlsPort),
      '--mqtt-cafile', f('ca.pem'), '--prefix', PREFIX, '--telemetry-ms', '500']));
  });
  after(() => procs.killAll());

  const relay = (mqtt) => startVigil({
    config: {
      server: {}, streams: STREAMS,
      mqtt: { host: '127.0.0.1', prefix: PREFIX, reconnect_min_s: 1, reconnect_max_s: 2, ...mqtt },
      devices: [{ id: 'cam1', name: 'TLS camera', transport: 'mqtt', commands: CAMERA_COMMANDS, timeout_ms: 3000 }],
    },
    timeoutMs: 15000 * SLOW,
  });
  const devices = async (v) => (await (await v.fetch(`/api/devices`)).json());
  async function until(what, fn, timeoutMs = 8000) {
    const deadline = Date.now() + timeoutMs * SLOW;
    for (;;) {
      const r = await fn();
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
      await sleep(100);
    }
  }
  async function command(v, params = { on: true }) {
    const res = await v.fetch(`/api/devices/cam1/commands`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'light', params, qos: 1 }),
    });
    const text = await res.text();
    assert.equal(res.status, 202, text);
    return JSON.parse(text).command_id;
  }
  const finalStatus = (v, id) => until(`command ${id} final`, async () => {
    const c = await (await v.fetch(`/api/commands/${id}`)).json();
    return ['acknowledged', 'rejected', 'failed', 'timeout'].includes(c.status) ? c : null;
  }, 10000);
  async function stop(v) {
    const st = await v.stop();
    assert.deepEqual(st, { code: 0, signal: null }, v.log().slice(-3000));
  }

  it('with the right CA: connected over TLS, a command is acknowledged by the device', async () => {
    const v = await relay({ port: tlsPort, ca_file: f('ca.pem') });
    try {
      await until('transport connected', async () => (await devices(v))[0].transport_connected === true);
      const c = await finalStatus(v, await command(v));
      assert.equal(c.status, 'acknowledged', JSON.stringify(c));
      assert.equal(c.result.light, true);
      assert.doesNotMatch(v.log(), /WARNING/);
    } finally {
      await stop(v);
    }
  });

  it('with a client certificate too: still connected', async () => {
    const v = await relay({ port: tlsPort, ca_file: f('ca.pem'), cert_file: f('client-vigil.pem'), key_file: f('client-vigil.key') });
    try {
      await until('transport connected', async () => (await devices(v))[0].transport_connected === true);
      const c = await finalStatus(v, await command(v, { on: false }));
      assert.equal(c.status, 'acknowledged', JSON.stringify(c));
    } finally {
      await stop(v);
    }
  });

  it('with a wrong CA: stays disconnected with a TLS detail, commands end cleanly, the server stays healthy', async () => {
    const t0 = Date.now();
    const v = await relay({ port: tlsPort, ca_file: path.join(other, 'ca.pem') });
    try {
      await until('the TLS failure in the log', async () => /device transport mqtt: disconnected: TLS: certificate verify failed/.test(v.log()))
        .catch((e) => { throw new Error(`${e.message}:\n${v.log().slice(-2000)}`); });
      assert.equal((await devices(v))[0].transport_connected, false);
      const id = await command(v);
      const c = await finalStatus(v, id);
      assert.ok(['timeout', 'failed'].includes(c.status), JSON.stringify(c));
      assert.ok(!c.timeline.some((e) => e.status === 'sent'), `never sent: ${JSON.stringify(c.timeline)}`);
      const health = await (await v.fetch(`/api/health`)).json();
      assert.equal(health.status, 'ok');
      assert.ok(Date.now() - t0 < 30000 * SLOW);
    } finally {
      await stop(v);
    }
  });

  it('a broker certificate for another host is refused, unless tls_insecure says so (with a warning)', async () => {
    const v = await relay({ port: otherHostPort, ca_file: f('ca.pem') });
    try {
      await until('the TLS failure in the log', async () => /disconnected: TLS: certificate verify failed/.test(v.log()))
        .catch((e) => { throw new Error(`${e.message}:\n${v.log().slice(-2000)}`); });
      assert.equal((await devices(v))[0].transport_connected, false);
    } finally {
      await stop(v);
    }
    const w = await relay({ port: otherHostPort, ca_file: f('ca.pem'), tls_insecure: true });
    try {
      await until('transport connected', async () => (await devices(w))[0].transport_connected === true);
      assert.match(w.log(), /WARNING: tls_insecure is true/);
      const c = await finalStatus(w, await command(w));
      assert.equal(c.status, 'acknowledged', JSON.stringify(c));
    } finally {
      await stop(w);
    }
  });

  it('bad TLS settings stop start-up with exit 2 naming them', async () => {
    const cases = [
      [{ ca_file: f('nope.pem') }, /ca_file.*cannot read/],
      [{ ca_file: f('ca.pem'), cert_file: f('client-vigil.pem') }, /cert_file.*key_file.*together/],
      [{ tls_insecure: true }, /tls_insecure.*needs TLS/],
    ];
    for (const [mqtt, re] of cases) {
      const d = tempDir('vigil-tls-cfg-');
      const file = path.join(d, 'c.json');
      const cfg = { streams: STREAMS, mqtt: { host: '127.0.0.1', port: tlsPort, ...mqtt },
        devices: [{ id: 'cam1', transport: 'mqtt', commands: CAMERA_COMMANDS }] };
      writeFileSync(file, JSON.stringify(cfg));
      const r = spawnSync(VIGIL_BIN, ['--port', '0', '--config', file], { encoding: 'utf8', timeout: 15000 * SLOW });
      assert.equal(r.status, 2, `${JSON.stringify(mqtt)}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });
});

// ---- CoAP over DTLS with certificates ---------------------------------------

describe('CoAP plugin: coaps:// with certificates', { timeout: 90000 * SLOW }, () => {
  const procs = new Procs();
  const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
  const ports = {};
  let driver;
  const fast = (uri, pki) => ({ uri, pki, ack_timeout: 1.0, ack_random_factor: 1.0, max_retransmit: 2, handshake_timeout_ms: 2000 });
  const dev = (id, coap) => ({ id, transport: 'coap', coap, commands: CAMERA_COMMANDS, timeout_ms: 8000 });

  before(async () => {
    for (const k of ['sim', 'mutual', 'otherhost']) ports[k] = await freeUdpPort();
    ports.cs = await freeUdpPair();       // coap-server: plain on cs, DTLS on cs+1
    ports.csm = await freeUdpPair();
    const sim = (id, port, args) => startSim(['--id', id, '--coaps-port', String(port), ...args]);
    procs.add(await sim('sim', ports.sim, ['--coaps-cert', f('server.pem'), '--coaps-key', f('server.key')]));
    procs.add(await sim('mutual', ports.mutual, ['--coaps-cert', f('server.pem'), '--coaps-key', f('server.key'), '--coaps-ca', f('ca.pem')]));
    procs.add(await sim('otherhost', ports.otherhost, ['--coaps-cert', f(`device-${OTHER_HOST}.pem`), '--coaps-key', f(`device-${OTHER_HOST}.key`)]));
    // libcoap's own server as the independent peer; with -C it wants a
    // client certificate signed by that CA.
    procs.add(new LineProc('coap-server-openssl', ['-A', '127.0.0.1', '-p', String(ports.cs), '-c', f('server.pem'), '-j', f('server.key')]));
    procs.add(new LineProc('coap-server-openssl', ['-A', '127.0.0.1', '-p', String(ports.csm), '-c', f('server.pem'), '-j', f('server.key'), '-C', f('ca.pem')]));
    await sleep(300);
    const ca = f('ca.pem'), wrongCa = path.join(other, 'ca.pem');
    const client = { cert_file: f('client-vigil.pem'), key_file: f('client-vigil.key') };
    const at = (port, p = '/cmd') => `coaps://127.0.0.1:${port}${p}`;
    driver = procs.add(await startDriver({
      coap: {},
      devices: [
        dev('ok', fast(at(ports.sim), { ca_file: ca })),
        dev('by_name', fast(`coaps://localhost:${ports.sim}/cmd`, { ca_file: ca })),
        dev('wrong_ca', fast(at(ports.sim), { ca_file: wrongCa })),
        dev('other_host', fast(at(ports.otherhost), { ca_file: ca })),
        dev('mutual', fast(at(ports.mutual), { ca_file: ca, ...client })),
        dev('mutual_nocert', fast(at(ports.mutual), { ca_file: ca })),
        dev('cs', fast(at(ports.cs + 1, '/no/such/thing'), { ca_file: ca })),
        dev('cs_wrong_ca', fast(at(ports.cs + 1, '/no/such/thing'), { ca_file: wrongCa })),
        dev('cs_mutual', fast(at(ports.csm + 1, '/no/such/thing'), { ca_file: ca, ...client })),
      ],
    }));
  });
  after(async () => {
    if (driver && !driver.exited) await driver.quit();
    await procs.killAll();
  });

  async function run(device) {
    const r = await driver.issue(device, 'light', { on: true });
    assert.ok(r.id, r.error);
    const t0 = Date.now();
    const s = await driver.status(r.id, FINAL, 10000 * SLOW);
    return { ...s, ms: Date.now() - t0 };
  }

  it('the simulator with a certificate from our CA: acknowledged (by address and by name)', async () => {
    for (const d of ['ok', 'by_name']) {
      const s = await run(d);
      assert.equal(s.status, 'acknowledged', `${d}: ${JSON.stringify(s)}`);
      assert.equal(s.result.light, true);
    }
  });

  it('a device whose CA is not ours fails cleanly, though another device trusts that CA', async () => {
    // "ok" above made a session trusting our CA in the same libcoap context:
    // each device keeps its own trust.
    const s = await run('wrong_ca');
    assert.equal(s.status, 'failed', JSON.stringify(s));
    assert.match(s.error, /DTLS handshake failed: certificate .* not accepted: unable to get local issuer certificate/);
    assert.ok(s.ms < 5000 * SLOW, `${s.ms} ms`);
  });

  it('a certificate for another host fails the host check', async () => {
    const s = await run('other_host');
    assert.equal(s.status, 'failed', JSON.stringify(s));
    assert.match(s.error, /IP address mismatch/);
  });

  it('a device that wants a client certificate: acknowledged with ours, failed without', async () => {
    assert.equal((await run('mutual')).status, 'acknowledged');
    const s = await run('mutual_nocert');
    assert.equal(s.status, 'failed', JSON.stringify(s));
    assert.match(s.error, /DTLS|session/);
  });

  it('coap-server-openssl with a certificate: the request goes through DTLS (4.04), and not with a wrong CA', async () => {
    const s = await run('cs');
    assert.equal(s.status, 'rejected', JSON.stringify(s));
    assert.equal(s.code, 404);
    const m = await run('cs_mutual');
    assert.equal(m.status, 'rejected', JSON.stringify(m));
    assert.equal(m.code, 404);
    const w = await run('cs_wrong_ca');
    assert.equal(w.status, 'failed', JSON.stringify(w));
  });

  it('bad pki settings are refused at start-up, naming them', async () => {
    const base = { ca_file: f('ca.pem') };
    const cases = [
      [{ ...base, cert_file: f('client-vigil.pem') }, /cert_file.*key_file.*together/],
      [{ ca_file: f('nope.pem') }, /ca_file.*cannot read/],
      [{ verify_peer: true }, /ca_file/],
      [{ ...base, verify: true }, /unknown setting "verify"/],
    ];
    for (const [pki, re] of cases) {
      await assert.rejects(startDriver({ coap: {}, devices: [dev('x', fast(at0(), pki))] }), re);
    }
    await assert.rejects(startDriver({ coap: {}, devices: [dev('x', { uri: at0(), pki: base, psk: { identity: 'a', key: 'b' } })] }), /either/);
  });

  it('driver exits cleanly', async () => {
    assert.deepEqual(await driver.quit(), { code: 0, signal: null });
  });

  function at0() { return `coaps://127.0.0.1:${ports.sim}/cmd`; }
});

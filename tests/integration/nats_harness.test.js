// The NATS harness of the cluster tests (tests/lib/nats.js) checked on its
// own, against the real nats-server: three servers clustered with JetStream
// on loopback (one meta leader, two routes each), client authentication,
// messages crossing servers, subscriptions seen per server, a replicated
// (R3) KV-style stream written through one server and read through another,
// the meta leader killed (the other two elect another and stay healthy, the
// data still readable) and restarted (it rejoins), TLS to a server, and no
// server outliving the test process, whether it exits or is SIGKILLed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { natsConnect, natsServerVersion, serverState, startNatsCluster, subscriptions } from '../lib/nats.js';
import { ROOT, sleep, tempDir, until } from '../lib/vigil.js';

const USER = 'vigil';
const PASS = 'harness-pass-0123';

const version = natsServerVersion();
// Nothing of vigil's runs here: the ASan+UBSan pass of the integration tests
// would only repeat the same.
const skip = (!version && 'nats-server is not installed')
  || (process.env.VIGIL_SANITIZED && 'no vigil here: once is enough (release pass)');

describe('tests/lib/nats.js', { skip, timeout: 60000 }, () => {
  let nats;
  const conns = [];
  const connect = async (i, opts = {}) => {
    const c = await natsConnect(nats.urls[i], { user: USER, pass: PASS, ...opts });
    conns.push(c);
    return c;
  };

  before(async () => { nats = await startNatsCluster({ n: 3, user: USER, pass: PASS }); });
  after(async () => {
    for (const c of conns) c.close();
    const st = await nats?.stop();
    // SIGINT: nats-server shuts down cleanly, exit 0.
    assert.deepEqual(st, [0, 1, 2].map(() => ({ code: 0, signal: null })), nats?.log());
  });

  it('three servers: JetStream ready, one meta leader, two routes each', async () => {
    assert.match(version, /^2\./);
    assert.equal(nats.servers.length, 3);
    assert.deepEqual(nats.urls, nats.servers.map((s) => `nats://127.0.0.1:${s.port}`));
    const states = await Promise.all(nats.servers.map((s) => serverState(s.monitorUrl)));
    for (const st of states) {
      assert.equal(st.healthy, true, JSON.stringify(st));
      assert.equal(st.routes, 2, JSON.stringify(st));
      assert.equal(st.clusterSize, 3, JSON.stringify(st));
    }
    assert.equal(new Set(states.map((st) => st.leader)).size, 1, JSON.stringify(states));
    assert.ok(await nats.leader() >= 0);
    // Ports are all distinct.
    const ports = nats.servers.flatMap((s) => [s.port, s.clusterPort, s.monitorPort]);
    assert.equal(new Set(ports).size, 9);
  });

  it('client authentication: without the password a connection is refused', async () => {
    await assert.rejects(natsConnect(nats.urls[0], { user: USER, pass: 'wrong' }), /Authorization Violation/);
    await assert.rejects(natsConnect(nats.urls[0]), /Authorization Violation/);
  });

  it('messages cross servers; subscriptions() sees each on its own server', async () => {
    const a = await connect(0, { name: 'harness-a' });
    const b = await connect(2, { name: 'harness-b' });
    const sub = b.subscribe('vigil.harness.>');
    const q = b.subscribe('vigil.harness.work', { queue: 'workers' });
    await b.flush();
    // The interest reaches server 0 over the route a moment later: publish
    // until one arrives.
    let n = 0;
    await until(async () => {
      a.publish(`vigil.harness.ping.${n++}`, { n });
      await a.flush();
      return sub.messages.length > 0;
    }, 5000, () => 'a message from server 0 on server 2');
    const m = await sub.next();
    assert.match(m.subject, /^vigil\.harness\.ping\.\d+$/);
    assert.equal(typeof m.json().n, 'number');
    a.publish('vigil.harness.work', 'job', { headers: { 'X-Test': 'yes' } });
    const w = await q.next();
    assert.equal(w.data.toString(), 'job');
    assert.deepEqual(w.headers['X-Test'], ['yes']);

    const onB = await subscriptions(nats.servers[2].monitorUrl, { name: 'harness-b' });
    assert.deepEqual(onB.map((s) => [s.subject, s.queue]).sort(),
      [['vigil.harness.>', null], ['vigil.harness.work', 'workers']]);
    assert.deepEqual(await subscriptions(nats.servers[0].monitorUrl, { name: 'harness-b' }), []);
    const all = await nats.subscriptions({ name: /^harness-/ });
    assert.deepEqual(all.map((s) => [s.server, s.name, s.subject]).sort(),
      [[2, 'harness-b', 'vigil.harness.>'], [2, 'harness-b', 'vigil.harness.work']]);

    // Request/reply across servers.
    const svc = b.subscribe('vigil.harness.echo');
    await b.flush();
    await sleep(100);
    const reply = a.request('vigil.harness.echo', 'hi', { timeoutMs: 3000 });
    const req = await svc.next();
    b.publish(req.reply, `echo ${req.data}`);
    assert.equal((await reply).data.toString(), 'echo hi');
    await assert.rejects(a.request('harness.nobody', 'x', { timeoutMs: 2000 }), /no responders/);
  });

  it('a replicated KV-style stream: written through server 0, read through server 1', async () => {
    const a = await connect(0);
    const b = await connect(1);
    const info = await a.js('INFO');
    assert.equal(typeof info.memory, 'number');
    // What a KV bucket "t" is made of (nats.c's kvStore_Create does the same).
    await a.js('STREAM.CREATE.KV_t', {
      name: 'KV_t', subjects: ['$KV.t.>'], num_replicas: 3, max_msgs_per_subject: 1,
      discard: 'new', deny_delete: true, allow_rollup_hdrs: true, storage: 'file',
    });
    const si = await b.js('STREAM.INFO.KV_t');
    assert.equal(si.config.num_replicas, 3);
    assert.equal(si.cluster.replicas.length, 2, JSON.stringify(si.cluster));
    // A KV put is a publish on $KV.<bucket>.<key>; a request gets the ack.
    const ack = (await a.request('$KV.t.lease.door', JSON.stringify({ node: 'n1' }))).json();
    assert.equal(ack.stream, 'KV_t');
    await a.request('$KV.t.lease.gone', 'x');
    await a.request('$KV.t.lease.gone', '', { headers: { 'KV-Operation': 'DEL' } });
    const e = await b.kvGet('t', 'lease.door');
    assert.equal(e.operation, 'PUT');
    assert.deepEqual(JSON.parse(e.text), { node: 'n1' });
    assert.equal(e.revision, ack.seq);
    assert.equal((await b.kvGet('t', 'lease.gone')).operation, 'DEL');
    assert.equal(await b.kvGet('t', 'never'), null);
    assert.deepEqual(await b.kvKeys('t'), ['lease.door']);
  });

  it('the meta leader killed: the other two elect another and stay healthy; restarted, it rejoins', async () => {
    const leader = await nats.leader();
    assert.ok(leader >= 0);
    const survivor = (leader + 1) % 3;
    const c = await connect(survivor);
    assert.deepEqual(await nats.kill(leader), { code: null, signal: 'SIGKILL' });
    const states = await nats.waitHealthy({ timeoutMs: 15000 });
    assert.equal(states.length, 2);
    for (const st of states) {
      assert.equal(st.routes, 1);
      assert.notEqual(st.leader, nats.servers[leader].name);
    }
    // R3 with two of three: the data is still there.
    assert.equal((await c.kvGet('t', 'lease.door'))?.operation, 'PUT');
    // The killed server's client port is closed.
    await assert.rejects(natsConnect(nats.urls[leader], { user: USER, pass: PASS, timeoutMs: 1000 }));

    await nats.restart(leader);
    for (const s of nats.servers) assert.equal((await serverState(s.monitorUrl)).routes, 2);
    const back = await connect(leader);
    // It caught up with the stream while it was away, from its own store.
    assert.equal((await back.kvGet('t', 'lease.door'))?.operation, 'PUT');
  });
});

describe('tests/lib/nats.js: TLS', { skip, timeout: 30000 }, () => {
  it('tls: a tls:// server, and natsConnect speaking TLS to it with the CA', async (t) => {
    const dir = tempDir('vigil-nats-certs-');
    const r = spawnSync(path.join(ROOT, 'certs/make-certs.sh'), ['-o', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const nats = await startNatsCluster({
      n: 1, token: 'tok-123', tls: { cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') },
    });
    t.after(() => nats.stop());
    assert.match(nats.urls[0], /^tls:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(path.join(dir, 'ca.pem'));
    const c = await natsConnect(nats.urls[0], { token: 'tok-123', ca });
    assert.equal(c.info.tls_required, true);
    const s = c.subscribe('x');
    c.publish('x', 'over tls');
    assert.equal((await s.next()).data.toString(), 'over tls');
    c.close();
    // Without the CA the certificate is not trusted.
    await assert.rejects(natsConnect(nats.urls[0], { token: 'tok-123' }), /TLS/);
  });
});

describe('tests/lib/nats.js: no server outlives the test process', { skip, timeout: 30000 }, () => {
  // A child node process starts a one-server "cluster", prints its pid and
  // then ends as asked: process.exit(1) (the exit handler kills) or SIGKILL
  // to itself (nothing of it runs: setpriv's parent-death signal kills).
  const gone = (pid) => {
    try {
      // A zombie waiting for its reaper is as good as gone.
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z';
    } catch { return true; }
  };
  for (const how of ['exit', 'sigkill']) {
    it(`the test process ends by ${how}`, async () => {
      const dir = tempDir('vigil-nats-child-');
      const script = path.join(dir, 'child.mjs');
      writeFileSync(script, `
        import { startNatsCluster } from ${JSON.stringify(path.join(ROOT, 'tests/lib/nats.js'))};
        const n = await startNatsCluster({ n: 1 });
        console.log(JSON.stringify({ pid: n.servers[0].proc.pid }));
        ${how === 'exit' ? 'process.exit(1);' : "process.kill(process.pid, 'SIGKILL');"}
      `);
      // Its temp dirs inside ours, removed with it even after a SIGKILL.
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      const st = await new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      assert.deepEqual(st, how === 'exit' ? { code: 1, signal: null } : { code: null, signal: 'SIGKILL' }, out);
      const { pid } = JSON.parse(out.split('\n').find((l) => l.startsWith('{')));
      await until(() => gone(pid), 5000, () => `nats-server ${pid} gone`);
    });
  }
});

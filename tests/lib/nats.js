// Test harness for vigil's cluster mode: real nats-server processes (Debian's
// nats-server 2.9) clustered with JetStream on loopback, and a minimal NATS
// client (the text protocol over node:net, no npm package) to watch what
// vigil publishes and subscribes and read its KV bucket.
//
//   const nats = await startNatsCluster({ n: 3, user: 'vigil', pass: 'pw' });
//   t.after(() => nats.stop());
//   ... config.cluster = { node_id: 'n1', nats: nats.urls, user: 'vigil', password: 'pw' } ...
//   await nats.kill(0);                 // SIGKILL; the other two elect a meta leader
//   await nats.waitHealthy();           // every live server healthy again
//   await nats.restart(0);              // same ports and store: rejoins
//   // vigil names its connection "vigil <node_id>" (cluster/cluster.c):
//   const subs = await nats.subscriptions({ name: 'vigil n1' });
//   //   -> [{server, cid, name, subject, queue, sid, msgs}], e.g. subject 'vigil.main.ctl.>'
//   const c = await natsConnect(nats.urls[1], { user: 'vigil', pass: 'pw' });
//   const e = await c.kvGet('vigil_main', 'stream.door');  // {text, revision, operation, ...} | null
//   const frames = c.subscribe('vigil.main.media.door');   // what the holder publishes
//
// Every server: client port, route (cluster) port and monitoring port from
// ports.js, its own store directory (-sd) in a temp dir, server name
// nats-<i> (JetStream clustering needs stable names; restart keeps it).
// Ready means, on every live server: GET /healthz is {"status":"ok"} (in
// 2.9.10 that already requires contact with a JetStream meta leader;
// ?js-enabled-only=true does not, it is ok as soon as JetStream is on),
// /routez num_routes is the number of other live servers, and /jsz
// meta_cluster.leader names a live server, the same one on all.
//
// The servers die with the test process: each is spawned through
// `setpriv --pdeathsig KILL` (util-linux), so even a SIGKILLed test leaves
// none behind, and an 'exit' handler kills them too (where setpriv is
// missing, only that handler).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { freeTcpPort } from './ports.js';
import { SLOW, sleep, tempDir } from './vigil.js';

export const NATS_SERVER = process.env.NATS_SERVER || 'nats-server';

const SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

// Every server process this test process started, killed at exit.
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

// nats-server's version as "2.9.10" (null when it is not installed): a test
// can skip with it.
export function natsServerVersion() {
  const r = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return /v?(\d+\.\d+\.\d+)/.exec(r.stdout + r.stderr)?.[1] ?? null;
}

// One monitoring endpoint: {http (the HTTP status), json}; null if the
// server does not answer. What 2.9.10 returns, as used here:
//   /healthz  200 {"status":"ok"} | 503 {"status":"unavailable","error":"JetStream has
//             not established contact with a meta leader"} (or "... is not current
//             with the meta leader")
//   /routez   {"num_routes": N, "routes": [...]}
//   /jsz      {"meta_cluster": {"name", "leader" (absent until elected), "cluster_size",
//             "replicas" (on the leader only)}, "config": {...}, "streams", ...}
//             (no meta_cluster at all on a server that is not clustered)
//   /connz?subs=detail  {"connections": [{"cid", "name", "subscriptions_list_detail":
//             [{"subject", "qgroup" (absent without one), "sid", "msgs"}]}]}
// (/subsz?subs=1 lists internal subscriptions too, and only a server's own.)
export async function monitor(monitorUrl, p) {
  try {
    const r = await fetch(`${monitorUrl}${p}`, { signal: AbortSignal.timeout(2000) });
    return { http: r.status, json: await r.json() };
  } catch {
    return null;
  }
}

// The subscriptions of the client connections on one server (routes and the
// server's own internal subscriptions are not listed; interest a client
// holds on another server is not either: ask each server, or use the
// cluster's subscriptions()). From /connz?subs=detail: one entry per
// subscription, {cid, name (the client's connection name), subject, queue
// (null when none), sid, msgs}. `name`: only connections of that name
// (a string or a RegExp).
export async function subscriptions(monitorUrl, { name } = {}) {
  const j = (await monitor(monitorUrl, '/connz?subs=detail&limit=100000'))?.json;
  if (!j || !Array.isArray(j.connections)) throw new Error(`no /connz from ${monitorUrl}`);
  const out = [];
  for (const c of j.connections) {
    if (name !== undefined && !(name instanceof RegExp ? name.test(c.name ?? '') : c.name === name)) continue;
    for (const s of c.subscriptions_list_detail ?? []) {
      out.push({ cid: c.cid, name: c.name ?? null, subject: s.subject, queue: s.qgroup ?? null, sid: s.sid, msgs: s.msgs });
    }
  }
  return out;
}

// What one server says about itself: {healthy, health (the /healthz
// error, if any), routes, leader (the meta leader's server name, or
// null), clusterSize}; null when it does not answer.
export async function serverState(monitorUrl) {
  const [h, r, j] = (await Promise.all([
    monitor(monitorUrl, '/healthz'), monitor(monitorUrl, '/routez'), monitor(monitorUrl, '/jsz'),
  ])).map((x) => x?.json);
  if (!h || !r || !j) return null;
  return {
    healthy: h.status === 'ok',
    health: h.error ?? null,
    routes: r.num_routes ?? 0,
    leader: j.meta_cluster?.leader ?? null,
    clusterSize: j.meta_cluster?.cluster_size ?? null,
  };
}

// Starts n nats-servers, clustered (n > 1) with JetStream, and waits until
// the cluster is ready (see the top). Options: user/pass or token (client
// authentication; routes stay unauthenticated, loopback only), tls
// ({cert, key, ca?}: clients must use TLS, urls become tls://; with ca,
// client certificates are verified), cluster (the NATS cluster name),
// args (more nats-server flags for every server), timeoutMs.
export async function startNatsCluster({
  n = 3, user, pass, token, tls: tlsOpts, cluster = 'vigil-test', args = [], timeoutMs = 20000,
} = {}) {
  const dir = tempDir('vigil-nats-');
  const servers = [];
  for (let i = 0; i < n; i++) {
    const port = await freeTcpPort();
    const clusterPort = await freeTcpPort();
    const monitorPort = await freeTcpPort();
    const storeDir = path.join(dir, `s${i}`);
    mkdirSync(storeDir);
    servers.push({
      index: i,
      name: `nats-${i}`,
      port, clusterPort, monitorPort, storeDir,
      url: `${tlsOpts ? 'tls' : 'nats'}://127.0.0.1:${port}`,
      monitorUrl: `http://127.0.0.1:${monitorPort}`,
      proc: null,
      exited: null,
      text: '',
      log() { return this.text; },
    });
  }

  const argv = (s) => {
    const a = ['-a', '127.0.0.1', '-p', String(s.port), '-m', String(s.monitorPort), '-n', s.name,
      '-js', '-sd', s.storeDir];
    if (n > 1) {
      a.push('--cluster_name', cluster, '--cluster', `nats://127.0.0.1:${s.clusterPort}`,
        '--routes', servers.filter((o) => o !== s).map((o) => `nats://127.0.0.1:${o.clusterPort}`).join(','));
    }
    if (user !== undefined) a.push('--user', user, '--pass', pass ?? '');
    if (token !== undefined) a.push('--auth', token);
    if (tlsOpts) {
      a.push('--tls', '--tlscert', tlsOpts.cert, '--tlskey', tlsOpts.key);
      if (tlsOpts.ca) a.push('--tlsverify', '--tlscacert', tlsOpts.ca);
    }
    return [...a, ...args];
  };

  const launch = (s) => {
    const [cmd, a] = SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', '--', NATS_SERVER, ...argv(s)]] : [NATS_SERVER, argv(s)];
    const proc = spawn(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    s.proc = proc;
    s.exited = null;
    live.add(proc);
    const keep = (d) => { s.text = (s.text + d).slice(-65536); };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    s.exit = new Promise((resolve) => proc.on('exit', (code, signal) => {
      live.delete(proc);
      s.exited = { code, signal };
      resolve(s.exited);
    }));
    proc.on('error', (e) => { s.text += `\nspawn ${NATS_SERVER}: ${e.message}\n`; });
  };

  const alive = () => servers.filter((s) => s.proc && !s.exited);
  const logs = (list = servers) => list.map((s) => `--- ${s.name} (${s.url})${s.exited ? ` exited ${JSON.stringify(s.exited)}` : ''}:\n${s.text.slice(-3000)}`).join('\n');

  // The states of the live servers when the cluster (or `which`, a list of
  // indexes among them) is ready, else null.
  const readyStates = async (which) => {
    const up = alive();
    const check = which ? up.filter((s) => which.includes(s.index)) : up;
    if (which && check.length !== which.length) return null;
    const states = await Promise.all(check.map((s) => serverState(s.monitorUrl)));
    if (states.some((st) => !st || !st.healthy)) return null;
    if (n === 1) return states;
    const names = new Set(up.map((s) => s.name));
    const leader = states[0].leader;
    if (!leader || !names.has(leader)) return null;
    if (states.some((st) => st.leader !== leader || st.routes !== up.length - 1)) return null;
    return states;
  };

  const handle = {
    servers,
    urls: servers.map((s) => s.url),
    dir,
    // Waits until every live server (or those of `which`, indexes) is ready:
    // healthy, routed to all other live servers, agreeing on a live meta
    // leader. Resolves with their serverState()s.
    async waitHealthy({ which, timeoutMs: ms = timeoutMs } = {}) {
      const deadline = Date.now() + ms * SLOW;
      for (;;) {
        const dead = servers.filter((s) => s.exited && s.expectAlive);
        if (dead.length) throw new Error(`nats-server exited:\n${logs(dead)}`);
        const st = await readyStates(which);
        if (st) return st;
        if (Date.now() > deadline) {
          const now = await Promise.all(alive().map(async (s) => `${s.name}: ${JSON.stringify(await serverState(s.monitorUrl))}`));
          throw new Error(`nats cluster not ready:\n${now.join('\n')}\n${logs(alive())}`);
        }
        await sleep(100);
      }
    },
    // The meta leader's index (as the live servers see it), or -1.
    async leader() {
      const up = alive();
      if (!up.length) return -1;
      const st = await serverState(up[0].monitorUrl);
      return servers.findIndex((s) => s.name === st?.leader);
    },
    // Sends `signal` to server i and resolves with its exit status ({code,
    // signal}; null if it was not running). SIGINT is the clean shutdown
    // (exit 0), SIGTERM exits 1, SIGKILL is a crash.
    async kill(i, signal = 'SIGKILL') {
      const s = servers[i];
      if (!s.proc || s.exited) return s.exited;
      s.expectAlive = false;
      s.proc.kill(signal);
      const t = setTimeout(() => s.proc.kill('SIGKILL'), 10000);
      const st = await s.exit;
      clearTimeout(t);
      return st;
    },
    // Starts server i again (killed first if it still runs) on the same
    // ports with the same store, and waits until the cluster is ready.
    async restart(i, { wait = true } = {}) {
      await handle.kill(i, 'SIGINT');
      launch(servers[i]);
      servers[i].expectAlive = true;
      if (wait) await handle.waitHealthy();
    },
    // Every client subscription on every live server, each with `server`
    // (the index); `name` as for subscriptions().
    async subscriptions(opts = {}) {
      const all = await Promise.all(alive().map(async (s) => (await subscriptions(s.monitorUrl, opts)).map((x) => ({ server: s.index, ...x }))));
      return all.flat();
    },
    log: () => logs(),
    // SIGINT to all (SIGKILL after 10 s); resolves with their exit statuses
    // (null for one already dead). SIGINT, not SIGTERM: nats-server 2.9.10
    // shuts down the same on both but exits 0 only on SIGINT (1 on SIGTERM).
    async stop() {
      return Promise.all(servers.map((s, i) => handle.kill(i, 'SIGINT')));
    },
  };

  for (const s of servers) { launch(s); s.expectAlive = true; }
  try {
    await handle.waitHealthy();
  } catch (e) {
    await handle.stop();
    throw e;
  }
  return handle;
}

// ---- A minimal NATS client (enough for tests) --------------------------------

// Parses "NATS/1.0[ status[ description]]\r\nKey: value\r\n...\r\n\r\n".
function parseHeaders(buf) {
  const lines = buf.toString('utf8').split('\r\n');
  const m = /^NATS\/1\.0(?:\s+(\d+))?(?:\s+(.*))?$/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) (headers[l.slice(0, i).trim()] ??= []).push(l.slice(i + 1).trim());
  }
  return { status: m?.[1] ? Number(m[1]) : null, description: m?.[2] ?? null, headers };
}

function encodeHeaders(h) {
  let s = 'NATS/1.0\r\n';
  for (const [k, v] of Object.entries(h)) for (const x of [].concat(v)) s += `${k}: ${x}\r\n`;
  return Buffer.from(`${s}\r\n`);
}

// Connects to one server. Options: user/pass, token, name (the connection
// name /connz shows), ca/cert/key (PEM, for tls:// servers), timeoutMs.
// The connection: subscribe(subject, {queue}) -> {messages, next(ms), unsubscribe()},
// publish(subject, data, {reply, headers}), request(subject, data, {timeoutMs, headers}),
// flush(), js(api, body) (a JetStream API request: '$JS.API.' + api, JSON
// in and out, throws on an error response), kvGet(bucket, key),
// kvKeys(bucket), close(). A message: {subject, reply, data (Buffer),
// headers ({name: [values]}), status (a header status such as 503, or null),
// json()}.
export async function natsConnect(url, { user, pass, token, name = 'vigil-test', ca, cert, key, timeoutMs = 5000 } = {}) {
  const u = new URL(url);
  const port = Number(u.port || 4222);
  let sock = net.connect(port, u.hostname);
  let buf = Buffer.alloc(0);
  let info = null;
  let closed = null;
  let lastError = null;
  let sockError = null;
  let sid = 0;
  const subs = new Map();
  const pongs = [];
  const waiters = new Set();
  const poke = () => { for (const w of [...waiters]) w(); };

  // Resolves when pred() is truthy; rejects on close or timeout.
  const waitFor = (pred, ms, what) => new Promise((resolve, reject) => {
    const check = () => {
      const v = pred();
      if (v) { done(); resolve(v); return; }
      if (closed) { done(); reject(new Error(`nats connection closed (${closed}) waiting for ${what}`)); }
    };
    const t = setTimeout(() => { done(); reject(new Error(`nats: timeout waiting for ${what}`)); }, ms);
    const done = () => { clearTimeout(t); waiters.delete(check); };
    waiters.add(check);
    check();
  });

  const write = (b) => { if (!closed) sock.write(b); };

  const onData = (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    for (;;) {
      const eol = buf.indexOf('\r\n');
      if (eol < 0) break;
      const line = buf.subarray(0, eol).toString('utf8');
      const [op, ...rest] = line.split(' ');
      const OP = op.toUpperCase();
      if (OP === 'MSG' || OP === 'HMSG') {
        // MSG subject sid [reply] size | HMSG subject sid [reply] hsize size
        const a = rest.filter(Boolean);
        const total = Number(a[a.length - 1]);
        const hsize = OP === 'HMSG' ? Number(a[a.length - 2]) : 0;
        const fixed = OP === 'HMSG' ? 4 : 3;
        const reply = a.length > fixed ? a[2] : null;
        if (buf.length < eol + 2 + total + 2) break;
        const body = buf.subarray(eol + 2, eol + 2 + total);
        buf = buf.subarray(eol + 2 + total + 2);
        const h = hsize ? parseHeaders(body.subarray(0, hsize)) : { status: null, description: null, headers: {} };
        const data = Buffer.from(body.subarray(hsize));
        const msg = { subject: a[0], reply, data, headers: h.headers, status: h.status, description: h.description, json: () => JSON.parse(data.toString('utf8')) };
        const sub = subs.get(a[1]);
        if (sub) sub.deliver(msg);
        continue;
      }
      buf = buf.subarray(eol + 2);
      if (OP === 'INFO') info = JSON.parse(rest.join(' '));
      else if (OP === 'PING') write('PONG\r\n');
      else if (OP === 'PONG') pongs.shift()?.();
      else if (OP === '-ERR') lastError = rest.join(' ');
    }
    poke();
  };
  // An -ERR before the close says why (e.g. 'Authorization Violation'),
  // better than the ECONNRESET that may come with it.
  const onClose = () => { closed ??= lastError ?? sockError ?? 'socket closed'; poke(); };
  const onError = (e) => { sockError ??= e.message; };
  sock.on('data', onData);
  sock.on('error', onError);
  sock.on('close', onClose);

  await waitFor(() => info, timeoutMs, `INFO from ${url}`);
  if (info.tls_required || u.protocol === 'tls:') {
    // TLS starts after INFO: hand the raw socket over.
    sock.removeListener('data', onData);
    sock.removeListener('close', onClose);
    buf = Buffer.alloc(0);
    const raw = sock;
    sock = tls.connect({ socket: raw, host: u.hostname, servername: net.isIP(u.hostname) ? undefined : u.hostname, ca, cert, key });
    await new Promise((resolve, reject) => {
      sock.once('secureConnect', resolve);
      sock.once('error', (e) => { raw.destroy(); reject(new Error(`nats TLS to ${url}: ${e.message}`)); });
    });
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('close', onClose);
  }
  const connect = {
    verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1,
    lang: 'node-test', version: '0', name,
    ...(user !== undefined ? { user, pass } : {}), ...(token !== undefined ? { auth_token: token } : {}),
  };
  write(`CONNECT ${JSON.stringify(connect)}\r\n`);

  const conn = {
    info,
    get closed() { return closed; },
    // The last -ERR the server sent (e.g. "'Permissions Violation ...'").
    get lastError() { return lastError; },
    // A round trip: everything sent before it has been processed by the server.
    flush(ms = timeoutMs) {
      let got = false;
      pongs.push(() => { got = true; });
      write('PING\r\n');
      return waitFor(() => got, ms, 'PONG');
    },
    subscribe(subject, { queue } = {}) {
      const id = String(++sid);
      const sub = {
        subject,
        messages: [],
        deliver(m) { sub.messages.push(m); },
        // The next message not yet taken by next().
        async next(ms = timeoutMs) {
          await waitFor(() => sub.messages.length > sub.taken, ms, `a message on ${subject}`);
          return sub.messages[sub.taken++];
        },
        taken: 0,
        unsubscribe() { subs.delete(id); write(`UNSUB ${id}\r\n`); },
      };
      subs.set(id, sub);
      write(`SUB ${subject}${queue ? ` ${queue}` : ''} ${id}\r\n`);
      return sub;
    },
    publish(subject, data = '', { reply, headers } = {}) {
      const payload = Buffer.isBuffer(data) ? data : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
      const r = reply ? ` ${reply}` : '';
      if (headers) {
        const hb = encodeHeaders(headers);
        write(Buffer.concat([Buffer.from(`HPUB ${subject}${r} ${hb.length} ${hb.length + payload.length}\r\n`), hb, payload, Buffer.from('\r\n')]));
      } else {
        write(Buffer.concat([Buffer.from(`PUB ${subject}${r} ${payload.length}\r\n`), payload, Buffer.from('\r\n')]));
      }
    },
    // One reply; rejects on a 503 (no responders) or after timeoutMs.
    async request(subject, data = '', { timeoutMs: ms = timeoutMs, headers } = {}) {
      const inbox = `_INBOX.${randomBytes(8).toString('hex')}`;
      const sub = conn.subscribe(inbox);
      try {
        conn.publish(subject, data, { reply: inbox, headers });
        const m = await sub.next(ms);
        if (m.status === 503) throw new Error(`no responders on ${subject}`);
        return m;
      } finally {
        sub.unsubscribe();
      }
    },
    async js(api, body = '') {
      const m = await conn.request(`$JS.API.${api}`, body);
      const j = m.json();
      if (j.error) throw Object.assign(new Error(`$JS.API.${api}: ${j.error.description ?? JSON.stringify(j.error)}`), { api: j.error });
      return j;
    },
    // The latest entry of `key` in the KV bucket (read from its stream
    // KV_<bucket>): {key, value (Buffer), text, revision, operation ('PUT',
    // 'DEL' or 'PURGE'), time, headers}; null when the key never existed.
    async kvGet(bucket, k) {
      let j;
      try {
        j = await conn.js(`STREAM.MSG.GET.KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${k}` });
      } catch (e) {
        if (e.api?.code === 404) return null;
        throw e;
      }
      const m = j.message;
      const h = m.hdrs ? parseHeaders(Buffer.from(m.hdrs, 'base64')).headers : {};
      const value = Buffer.from(m.data ?? '', 'base64');
      return { key: k, value, text: value.toString('utf8'), revision: m.seq, operation: h['KV-Operation']?.[0] ?? 'PUT', time: m.time, headers: h };
    },
    // The keys of the bucket whose latest entry is a PUT.
    async kvKeys(bucket) {
      const j = await conn.js(`STREAM.INFO.KV_${bucket}`, { subjects_filter: `$KV.${bucket}.>` });
      const prefix = `$KV.${bucket}.`;
      const keys = Object.keys(j.state?.subjects ?? {}).map((s) => s.slice(prefix.length));
      const out = [];
      for (const k of keys) if ((await conn.kvGet(bucket, k))?.operation === 'PUT') out.push(k);
      return out.sort();
    },
    close() {
      closed ??= 'closed';
      sock.destroy();
      poke();
    },
  };
  // CONNECT is answered with nothing (verbose false) or -ERR: a PING tells.
  try {
    await conn.flush();
  } catch (e) {
    conn.close();
    throw new Error(`nats connect to ${url}: ${closed ?? e.message}`);
  }
  return conn;
}

// The cluster's NATS connection is authenticated and, off the host,
// encrypted: a node that gives NATS the right token over TLS (verifying the
// server against the configured CA) joins and ingests; a wrong token, or a
// server whose certificate the CA did not sign, leaves it cut off -- it says
// so in /api/health and its log, keeps running, and serves nothing it does
// not ingest. Bad cluster fields are refused at start, by name.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  ROOT, startVigil, httpRequest, mintToken, until, tempDir, VIGIL_BIN,
} from '../lib/vigil.js';
import { startNatsCluster } from '../lib/nats.js';
import { freeTcpPort } from '../lib/ports.js';

const MAKE_CERTS = path.join(ROOT, 'certs/make-certs.sh');
const ADMIN = mintToken({ role: 'admin' });
const TOKEN = 'nats-token-0123456789';

let dir, other, nats;
const f = (name) => path.join(dir, name);

function makeCerts(args) {
  const r = spawnSync('bash', [MAKE_CERTS, ...args], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `make-certs.sh ${args.join(' ')}: ${r.stderr}`);
}

async function api(vigil, p) {
  const r = await httpRequest(`${vigil.base}${p}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  return { status: r.status, body: JSON.parse(r.body) };
}

function nodeConfig(port, cluster) {
  return {
    streams: [{ id: 'cam', source: 'test://', options: { width: 320, height: 240, fps: 15 } }],
    cluster: { node_id: 'a1', nats: nats.urls, advertise_url: `http://127.0.0.1:${port}/`, ...cluster },
  };
}

describe('cluster: the NATS connection', () => {
  before(async () => {
    dir = tempDir('vigil-nats-tls-');
    other = tempDir('vigil-nats-other-');
    makeCerts(['-o', dir]);
    makeCerts(['-o', other, '--ca-only']);
    nats = await startNatsCluster({ n: 1, token: TOKEN, tls: { cert: f('server.pem'), key: f('server.key') } });
  });
  after(async () => { await nats?.stop(); });

  it('joins with the token over TLS verified against its CA, and ingests', async () => {
    const port = await freeTcpPort();
    const v = await startVigil({ port, config: nodeConfig(port, { token: TOKEN, ca_file: f('ca.pem') }) });
    try {
      await until(async () => (await api(v, '/api/health')).body.cluster?.connected === true,
        10000, () => 'connected to NATS');
      const h = await api(v, '/api/health');
      assert.equal(h.body.status, 'ok');
      assert.deepEqual(h.body.cluster, { node: 'a1', connected: true });
      await until(async () => {
        const s = (await api(v, '/api/streams')).body[0];
        return s.node === 'a1' && s.state === 'live';
      }, 15000, () => 'the stream live, ingested here');
      const c = await api(v, '/api/cluster');
      assert.equal(c.status, 200);
      assert.match(c.body.nats, /^tls:\/\/127\.0\.0\.1:/);
      assert.deepEqual(c.body.nodes.find((n) => n.self).ingests, ['cam']);
    } finally {
      const st = await v.stop();
      assert.equal(st.code, 0, `vigil did not stop cleanly (${JSON.stringify(st)}):\n${v.log()}`);
    }
  });

  it('a wrong token: cut off, degraded, says why, keeps serving HTTP', async () => {
    const port = await freeTcpPort();
    const v = await startVigil({ port, config: nodeConfig(port, { token: 'not-the-token', ca_file: f('ca.pem') }) });
    try {
      await until(() => /cluster: .*[Aa]uthorization/.test(v.log()), 10000,
        () => `an authorization error in the log:\n${v.log()}`);
      const h = await api(v, '/api/health');
      assert.equal(h.status, 200);
      assert.equal(h.body.status, 'degraded');
      assert.deepEqual(h.body.cluster, { node: 'a1', connected: false });
      const s = (await api(v, '/api/streams')).body[0];
      assert.equal(s.state, 'retrying');
      assert.equal(s.node, null, 'nobody ingests it as far as this node knows');
    } finally {
      const st = await v.stop();
      assert.equal(st.code, 0, `vigil did not stop cleanly (${JSON.stringify(st)}):\n${v.log()}`);
    }
  });

  it('a server certificate its CA did not sign: cut off, says why', async () => {
    const port = await freeTcpPort();
    const v = await startVigil({ port, config: nodeConfig(port, { token: TOKEN, ca_file: path.join(other, 'ca.pem') }) });
    try {
      await until(() => /cluster: .*(certificate|SSL|TLS|handshake)/i.test(v.log()), 10000,
        () => `a TLS error in the log:\n${v.log()}`);
      const h = await api(v, '/api/health');
      assert.equal(h.body.status, 'degraded');
      assert.equal(h.body.cluster.connected, false);
    } finally {
      const st = await v.stop();
      assert.equal(st.code, 0, `vigil did not stop cleanly (${JSON.stringify(st)}):\n${v.log()}`);
    }
  });

  it('bad cluster fields are refused at start, by name', () => {
    const cases = [
      [{ node_id: 'n 1', nats: ['nats://127.0.0.1:4222'] }, 'cluster.node_id'],
      [{ node_id: 'n1', nats: ['http://127.0.0.1:4222'] }, 'cluster.nats[0]'],
      [{ node_id: 'n1', nats: ['nats://127.0.0.1:4222'], ca_file: path.join(dir, 'missing.pem') }, 'missing.pem'],
    ];
    for (const [cluster, field] of cases) {
      const cfg = path.join(tempDir('vigil-bad-cluster-'), 'c.json');
      spawnSync('bash', ['-c', `cat > ${cfg}`], { input: JSON.stringify({ streams: [{ id: 'cam', source: 'test://' }], cluster }) });
      const r = spawnSync(VIGIL_BIN, ['--config', cfg, '--port', '0'], { encoding: 'utf8', timeout: 10000 });
      assert.notEqual(r.status, 0, `${field}: vigil should refuse to start`);
      assert.ok((r.stdout + r.stderr).includes(field), `${field} not named in: ${r.stdout}${r.stderr}`);
    }
  });
});

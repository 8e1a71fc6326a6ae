// A camera that dials in (vigil-agent, publish:// plus a device served over
// the same connection) in a cluster: it is ingested, and its device
// controlled, by whichever node the agent is connected to. When the agent
// comes back on another node, the stream's and the device's leases move
// there (the epoch rises), viewers on every node go on over their own
// WebSocket, and commands from any node reach the agent where it is now.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { Client, startVigil, mintToken, until, SLOW, tempDir } from '../lib/vigil.js';
import { freeTcpPort } from '../lib/ports.js';
import { startNatsCluster } from '../lib/nats.js';
import { AgentProc, script } from '../lib/agent.js';

const SETUP = 3, AU = 4; // WebCodecs: decoder configuration, access unit
const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
const deviceToken = () => mintToken({ sub: 'agent-door', role: 'device', streams: ['door'], devices: ['door'] });
const operator = () => mintToken({ sub: 'op', role: 'operator' });

let nats, handlers;
const nodes = [];
const agents = [];
const clients = [];

async function api(v, p) {
  const r = await v.fetch(p);
  const text = await r.text();
  assert.equal(r.status, 200, `${v.id} ${p}: ${r.status} ${text}`);
  return JSON.parse(text);
}
const door = async (v) => (await api(v, '/api/streams')).find((s) => s.id === 'door');

function logs() {
  return nodes.map((v) => `--- vigil ${v.id}:\n${v.log().slice(-2500)}`).join('\n') +
    agents.map((a, i) => `\n--- agent ${i}:\n${a.text.slice(-1500)}`).join('');
}

async function startNode(id) {
  const port = await freeTcpPort();
  const v = await startVigil({
    port,
    config: {
      streams: [{ id: 'door', source: 'publish://' }],
      control: { timeout_ms: 4000 },
      devices: [{ id: 'door', transport: 'agent', stream: 'door', commands: { light: { on: { type: 'bool' } } } }],
      cluster: { node_id: id, nats: nats.urls, advertise_url: `http://127.0.0.1:${port}/`, lease_ms: 3000 },
    },
    timeoutMs: 15000 * SLOW,
  });
  v.id = id;
  nodes.push(v);
  return v;
}

function startAgent(v) {
  const a = new AgentProc({
    token: deviceToken(),
    config: {
      server: v.wsBase,
      reconnect: { min_s: 1, max_s: 2, refused_s: 4 },
      stream: { id: 'door', source: 'test://', width: 320, height: 240, fps: 15, bitrate_kbps: 300 },
      device: { id: 'door', commands: { light: { exec: [script(handlers, 'light.sh', 'read -r req\necho \'{"lit":true}\'')] } } },
    },
  });
  agents.push(a);
  return a;
}

async function client(v, token) {
  const c = await new Client(v.wsUrl).open();
  clients.push(c);
  if (token) await c.request({ type: 'hello', token });
  return c;
}

// Both nodes agree that `id` ingests the door and controls its device.
async function agreed(id, minEpoch = 0) {
  let seen;
  return until(async () => {
    seen = await Promise.all(nodes.map(async (v) => {
      const s = await door(v);
      const c = await api(v, '/api/cluster');
      return { s, dev: c.leases['device.door']?.node };
    }));
    const ok = seen.every(({ s, dev }) => s.node === id && s.state === 'live' && s.epoch > minEpoch && dev === id);
    return ok ? seen[0].s.epoch : null;
  }, 20000, () => `both nodes naming ${id} for the door: ${JSON.stringify(seen)}\n${logs()}`);
}

// A command on node v's connection (an operator's), to its final status.
async function command(v) {
  const c = await client(v, operator());
  const r = await c.request({ type: 'command', device: 'door', name: 'light', params: { on: true } });
  assert.equal(r.type, 'command', JSON.stringify(r));
  const fin = await c.waitFor((m) => m.type === 'command.status' && m.command_id === r.command_id && FINAL.includes(m.status),
    10000 * SLOW, 'the final status');
  c.close();
  return { reply: r, fin };
}

// Frames of the door on viewer c that came after index `from`: a setup
// frame, then an access unit that is a keyframe.
const restarted = (c, from) => {
  const f = c.frames.slice(from);
  const s = f.findIndex((x) => x.kind === SETUP);
  return s >= 0 && f.slice(s + 1).some((x) => x.kind === AU && (x.flags & 1));
};

describe('cluster: a camera that dials in', { timeout: 120000 * SLOW }, () => {
  before(async () => {
    handlers = tempDir('vigil-cluster-handlers-');
    chmodSync(handlers, 0o755);
    nats = await startNatsCluster({ n: 1 });
    await startNode('n1');
    await startNode('n2');
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const a of agents) await a.stop();
    for (const v of nodes) await v.stop();
    await nats?.stop();
  });

  it('is ingested where its agent connects, and moves with it', async () => {
    const [n1, n2] = nodes;
    // Nobody publishes: nobody ingests, and both say so.
    for (const v of nodes) {
      const s = await door(v);
      assert.equal(s.node, null);
      assert.equal(s.state, 'retrying');
    }
    const a1 = startAgent(n1);
    await a1.waitLog(/publishing stream 'door'/, 15000 * SLOW);
    const epoch1 = await agreed('n1');
    assert.deepEqual((await api(n1, '/api/cluster')).nodes.find((x) => x.self).devices, ['door']);

    // A viewer on each node, and a command from the node without the agent.
    const viewers = [];
    for (const v of nodes) {
      const c = await client(v);
      const r = await c.request({ type: 'subscribe', stream: 'door', mode: 'webcodecs' });
      assert.equal(r.node, 'n1', JSON.stringify(r));
      viewers.push(c);
    }
    await until(() => viewers.every((c) => restarted(c, 0)), 10000, () => `each viewer's setup frame and keyframe\n${logs()}`);
    const { reply, fin } = await command(n2);
    assert.equal(reply.node, 'n1');
    assert.equal(fin.status, 'acknowledged', JSON.stringify(fin));
    assert.deepEqual(fin.result, { lit: true });

    // The agent comes back on the other node.
    const marks = viewers.map((c) => c.frames.length);
    const t0 = Date.now();
    assert.equal((await a1.stop()).code, 0);
    const a2 = startAgent(n2);
    await a2.waitLog(/publishing stream 'door'/, 15000 * SLOW);
    const epoch2 = await agreed('n2', epoch1);
    assert.ok(epoch2 > epoch1, `epoch ${epoch1} -> ${epoch2}`);
    await until(() => viewers.every((c, i) => restarted(c, marks[i])), 10000,
      () => `each viewer's new setup frame and keyframe\n${logs()}`);
    console.log(`cluster: the agent moved from n1 to n2: both viewers playing again ${Date.now() - t0} ms after it left n1`);
    for (const c of viewers) assert.equal(c.closed, null, 'the viewers keep their WebSocket');
    const state = viewers[0].messages.filter((m) => m.type === 'stream.state' && m.node === 'n2');
    assert.ok(state.length > 0 && state.every((m) => m.epoch === epoch2), JSON.stringify(viewers[0].messages.slice(-5)));

    // Commands from the node the agent left now go to the one it is on.
    const again = await command(n1);
    assert.equal(again.reply.node, 'n2');
    assert.equal(again.fin.status, 'acknowledged', JSON.stringify(again.fin));
    assert.deepEqual((await api(n2, '/api/cluster')).nodes.find((x) => x.self).devices, ['door']);
  });
});

// vigil-agent (agent/) against a real vigil on loopback, over wss with the
// certificate checked against a CA made by certs/make-certs.sh:
//  - test:// published and played: init, then fragments from a keyframe;
//  - commands run by handler scripts: acknowledged with the script's
//    result, rejected with its message, timeout when it runs over (and it
//    is killed); telemetry from a handler; the device online while connected;
//  - vigil restarted under the agent: it connects again by itself and a
//    viewer of the new vigil plays the stream again, from a keyframe;
//  - RTSP cameras on the device's network passed through, H.264 and H.265
//    (B-frames, checked with ffprobe);
//  - a refused token and a refused certificate: said clearly, retried slowly.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT, SLOW, Client, freePort, mintToken, sleep, startVigil, tempDir, until,
} from '../lib/vigil.js';
import { AgentProc, script } from '../lib/agent.js';
import { CAMERA_COMMANDS } from './control_peers.js';
import { startCamera } from '../tools/camera.js';
import { probeFmp4, fmp4Of } from '../lib/media_probe.js';

const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
const INIT = 1, MEDIA = 2;
let certs, other, handlers, ca;

const deviceToken = () => mintToken({ sub: 'agent-door', role: 'device', streams: ['door', 'rtsp*', 'sound'], devices: ['door'] });
const f = (name) => path.join(certs, name);

function vigilConfig() {
  return {
    server: { bind: '127.0.0.1' },
    streams: [
      { id: 'door', source: 'publish://' },
      { id: 'rtsp264', source: 'publish://' },
      { id: 'rtsp265', source: 'publish://', options: { codec: 'h265' } },
      { id: 'sound', source: 'publish://', options: { audio: 'opus' } },
    ],
    control: { timeout_ms: 4000 },
    devices: [{ id: 'door', name: 'Door', transport: 'agent', stream: 'door', commands: CAMERA_COMMANDS }],
  };
}

async function startTlsVigil(port) {
  return startVigil({
    ca, port, config: vigilConfig(),
    args: ['--tls-cert', f('server.pem'), '--tls-key', f('server.key')],
    timeoutMs: 15000 * SLOW,
  });
}

function agentConfig(vigil, extra = {}) {
  return {
    server: vigil.wsBase,
    ca_file: f('ca.pem'),
    reconnect: { min_s: 1, max_s: 2, refused_s: 4 },
    ...extra,
  };
}

// GET as an admin over https (trusting our CA), parsed.
async function api(vigil, p) {
  const r = await vigil.get(p);
  assert.equal(r.status, 200, `${p}: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

const waitStreamState = (vigil, id, state, timeoutMs) => until(async () => {
  const s = (await api(vigil, '/api/streams')).find((x) => x.id === id);
  return s?.state === state ? s : null;
}, timeoutMs, `stream ${id} ${state}`);

const waitOnline = (vigil, id, timeoutMs = 10000 * SLOW) => until(
  async () => (await api(vigil, `/api/devices/${id}`)).online === true || null, timeoutMs, `${id} online`);

// Subscribes and resolves once an init segment and `n` fragments arrived.
async function watch(vigil, stream, { n = 10, accept, timeoutMs = 20000 * SLOW } = {}) {
  const c = await new Client(vigil.wsUrl, { ca }).open();
  const r = await c.request({ type: 'subscribe', stream, ...(accept ? { accept } : {}) });
  assert.equal(r.type, 'subscribe', JSON.stringify(r));
  await until(() => c.frames.filter((fr) => fr.kind === MEDIA).length >= n || null, timeoutMs, `${n} fragments of ${stream}`);
  return c;
}

before(() => {
  certs = tempDir('vigil-agent-certs-');
  other = tempDir('vigil-agent-other-');
  for (const args of [['-o', certs], ['-o', other, '--ca-only']]) {
    const r = spawnSync('bash', [path.join(ROOT, 'certs/make-certs.sh'), ...args], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, r.stderr);
  }
  ca = readFileSync(f('ca.pem'));
  handlers = tempDir('vigil-agent-handlers-');
  chmodSync(handlers, 0o755);
});

describe('vigil-agent publishes and serves over one wss connection', { timeout: 180000 * SLOW }, () => {
  let vigil, agent, watcher, port;
  before(async () => {
    port = await freePort();
    vigil = await startTlsVigil(port);
    const dev = {
      id: 'door',
      commands: {
        light: { exec: [script(handlers, 'light.sh', 'read -r req\nprintf \'{"handled":%s}\\n\' "$req"')] },
        reboot: { exec: [script(handlers, 'reboot.sh', 'echo "relay stuck at $(date +%s)" >&2\necho "motor jammed" >&2\nexit 3')] },
        ptz: {
          exec: [script(handlers, 'ptz.sh', `echo $$ > ${handlers}/ptz.pid\nsleep 30\necho '{}'`)],
          timeout_ms: 600,
        },
      },
      telemetry: { exec: [script(handlers, 'telemetry.sh', 'echo \'{"temperature_c":21.5}\'')], interval_s: 1 },
    };
    agent = new AgentProc({
      token: deviceToken(),
      config: agentConfig(vigil, {
        stream: { id: 'door', source: 'test://', width: 320, height: 240, fps: 15, bitrate_kbps: 400 },
        device: dev,
      }),
    });
    watcher = await new Client(vigil.wsUrl, { ca }).open();
    await watcher.request({ type: 'devices', watch: true });
  });
  after(async () => {
    watcher?.close();
    const st = await agent?.stop();
    await vigil?.stop();
    if (st) assert.equal(st.code, 0, `the agent stops cleanly on SIGTERM:\n${agent.text.slice(-2000)}`);
  });

  it('the stream goes live and a viewer plays it from a keyframe', async () => {
    await agent.waitLog(/publishing stream 'door'/, 15000 * SLOW);
    await waitStreamState(vigil, 'door', 'live', 15000 * SLOW);
    const v = await watch(vigil, 'door');
    const media = v.frames.filter((fr) => fr.kind === MEDIA);
    assert.ok(v.frames.findIndex((fr) => fr.kind === INIT) < v.frames.indexOf(media[0]), 'init first');
    assert.ok(media[0].flags & 1, 'the first fragment is a keyframe');
    const probe = probeFmp4(fmp4Of(v.frames));
    assert.equal(probe.streams[0].codec_name, 'h264');
    assert.equal(probe.streams[0].width, 320);
    v.close();
  });

  it('a command runs its handler and is acknowledged with its result', async () => {
    await waitOnline(vigil, 'door');
    const state = await until(async () => (await api(vigil, '/api/devices/door')).state?.agent && (await api(vigil, '/api/devices/door')).state, 5000 * SLOW, 'the agent reports its state');
    assert.match(state.agent, /^vigil-agent \d/);
    assert.deepEqual([...state.commands].sort(), ['light', 'ptz', 'reboot']);
    assert.equal(state.stream, 'door');
    const r = await watcher.request({ type: 'command', device: 'door', name: 'light', params: { on: true } });
    const done = await watcher.waitFor((m) => m.command_id === r.command_id && FINAL.includes(m.status), 8000 * SLOW);
    assert.equal(done.status, 'acknowledged', JSON.stringify(done));
    assert.deepEqual(done.result.handled.params, { on: true });
    assert.equal(done.result.handled.command, 'light');
    assert.equal(done.result.handled.command_id, r.command_id);
    const seen = watcher.messages.filter((m) => m.type === 'command.status' && m.command_id === r.command_id).map((m) => m.status);
    assert.deepEqual(seen, ['queued', 'sent', 'delivered', 'acknowledged']);
  });

  it('a failing handler is rejected with its message, a slow one times out and is killed', async () => {
    const r1 = await watcher.request({ type: 'command', device: 'door', name: 'reboot', params: {} });
    const d1 = await watcher.waitFor((m) => m.command_id === r1.command_id && FINAL.includes(m.status), 8000 * SLOW);
    assert.equal(d1.status, 'rejected');
    assert.equal(d1.error, 'motor jammed');
    assert.equal(d1.code, 3);
    const r2 = await watcher.request({ type: 'command', device: 'door', name: 'ptz', params: { pan: 0.2, tilt: 0 } });
    const d2 = await watcher.waitFor((m) => m.command_id === r2.command_id && FINAL.includes(m.status), 8000 * SLOW);
    assert.equal(d2.status, 'timeout', JSON.stringify(d2));
    assert.ok(d2.at_ms < 3000 * SLOW, `the agent said timeout (${d2.at_ms} ms), before vigil's own 4 s`);
    const pid = Number(readFileSync(path.join(handlers, 'ptz.pid'), 'utf8'));
    assert.ok(!existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 'the handler was killed');
  });

  it('telemetry from the handler reaches the dashboard', async () => {
    const t = await watcher.waitFor((m) => m.type === 'telemetry' && m.device === 'door', 8000 * SLOW, 'telemetry');
    assert.deepEqual(t.data, { temperature_c: 21.5 });
  });

  it('vigil restarted: the agent connects again and the stream plays again', async () => {
    watcher.close();
    const from = agent.lines.length;
    const st = await vigil.stop();
    assert.equal(st.code, 0);
    await agent.waitLog(/connection to vigil lost/, 10000, from);
    vigil = await startTlsVigil(port);
    await agent.waitLog(/publishing stream 'door'/, 20000 * SLOW, from);
    await waitStreamState(vigil, 'door', 'live', 15000 * SLOW);
    const v = await watch(vigil, 'door', { n: 5 });
    assert.ok(v.frames.find((fr) => fr.kind === MEDIA).flags & 1, 'resumes from a keyframe');
    v.close();
    watcher = await new Client(vigil.wsUrl, { ca }).open();
    await waitOnline(vigil, 'door');
    const r = await watcher.request({ type: 'command', device: 'door', name: 'light', params: { on: false } });
    const d = await watcher.waitFor((m) => m.command_id === r.command_id && FINAL.includes(m.status), 8000 * SLOW);
    assert.equal(d.status, 'acknowledged');
  });
});

describe('vigil-agent passes RTSP cameras through', { timeout: 120000 * SLOW }, () => {
  let vigil;
  before(async () => { vigil = await startTlsVigil(); });
  after(async () => { await vigil?.stop(); });

  for (const codec of ['h264', 'h265']) {
    it(`an ${codec.toUpperCase()} camera on the device's network, not re-encoded`, async () => {
      const camera = await startCamera({ port: await freePort(), codec, width: 320, height: 240, fps: 15 });
      const stream = `rtsp${codec.slice(1)}`;
      const agent = new AgentProc({
        token: deviceToken(),
        config: agentConfig(vigil, { stream: { id: stream, source: camera.url } }),
      });
      try {
        await agent.waitLog(new RegExp(`publishing stream '${stream}'`), 20000 * SLOW);
        const v = await watch(vigil, stream, { n: 20, accept: [codec === 'h264' ? 'avc1' : 'hvc1', 'avc1'] });
        const probe = probeFmp4(fmp4Of(v.frames));
        assert.equal(probe.streams[0].codec_name, codec === 'h264' ? 'h264' : 'hevc');
        assert.equal(probe.streams[0].width, 320);
        const dts = probe.packets.map((p) => Number(p.dts_time));
        assert.ok(dts.every((t, i) => i === 0 || t >= dts[i - 1]), 'decode times never go back');
        v.close();
      } finally {
        const st = await agent.stop();
        await camera.stop();
        assert.equal(st.code, 0, `the agent stops cleanly:\n${agent.text.slice(-2000)}`);
      }
    });
  }
});

describe('vigil-agent with sound', { timeout: 60000 * SLOW }, () => {
  let vigil;
  before(async () => { vigil = await startTlsVigil(); });
  after(async () => { await vigil?.stop(); });

  it('Opus beside the picture, on one clock: the stream carries both tracks', async () => {
    const agent = new AgentProc({
      token: deviceToken(),
      config: agentConfig(vigil, { stream: { id: 'sound', source: 'test://', width: 320, height: 240, fps: 15, bitrate_kbps: 300, audio: 'test' } }),
    });
    try {
      await agent.waitLog(/publishing stream 'sound'/, 20000 * SLOW);
      const live = await waitStreamState(vigil, 'sound', 'live', 15000 * SLOW);
      const s = await until(async () => {
        const x = (await api(vigil, '/api/streams')).find((y) => y.id === 'sound');
        return x?.codecs?.includes(',') ? x : null;
      }, 10000 * SLOW, 'sound with two codecs');
      assert.match(s.codecs, /^avc1\.[0-9A-Fa-f]{6},opus$/, JSON.stringify(live));
      const v = await watch(vigil, 'sound', { n: 30 });
      const probe = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', '-'],
        { input: fmp4Of(v.frames), encoding: 'buffer', maxBuffer: 64 << 20 });
      const streams = JSON.parse(probe.stdout.toString()).streams.map((x) => x.codec_name).sort();
      assert.deepEqual(streams, ['h264', 'opus']);
      v.close();
    } finally {
      const st = await agent.stop();
      assert.equal(st.code, 0, `the agent stops cleanly:\n${agent.text.slice(-2000)}`);
    }
  });
});

describe('vigil-agent telemetry from a named pipe', { timeout: 60000 * SLOW }, () => {
  let vigil;
  before(async () => { vigil = await startTlsVigil(); });
  after(async () => { await vigil?.stop(); });

  it('each JSON line written to the FIFO reaches the dashboard; other lines are dropped', async () => {
    const fifo = path.join(tempDir('vigil-agent-fifo-'), 'telemetry');
    const agent = new AgentProc({
      token: deviceToken(),
      config: agentConfig(vigil, { device: { id: 'door', telemetry: { fifo } } }),
    });
    const watcher = await new Client(vigil.wsUrl, { ca }).open();
    try {
      await watcher.request({ type: 'devices', watch: true });
      await waitOnline(vigil, 'door');
      writeFileSync(fifo, '{"lux":12}\nnot json\n[1,2]\n');
      writeFileSync(fifo, '{"lux":13}\n');
      const t = await watcher.waitFor((m) => m.type === 'telemetry' && m.data?.lux === 13, 8000 * SLOW, 'lux 13');
      const seen = watcher.messages.filter((m) => m.type === 'telemetry').map((m) => m.data);
      assert.deepEqual(seen.filter((d) => 'lux' in d), [{ lux: 12 }, { lux: 13 }], JSON.stringify(t));
      // The agent's log and the dashboard's WebSocket are two channels: its
      // lines about the dropped ones may come after lux 13 did.
      await until(() => agent.count(/telemetry pipe .*not a JSON object/) >= 2, 5000,
        () => `the agent's two "not a JSON object" lines:\n${agent.text.slice(-2000)}`);
      assert.equal(agent.count(/telemetry pipe .*not a JSON object/), 2);
    } finally {
      watcher.close();
      const st = await agent.stop();
      assert.equal(st.code, 0, `the agent stops cleanly:\n${agent.text.slice(-2000)}`);
    }
  });
});

describe('vigil-agent refused', { timeout: 60000 * SLOW }, () => {
  let vigil;
  before(async () => { vigil = await startTlsVigil(); });
  after(async () => { await vigil?.stop(); });

  it('a wrong token is said clearly and retried slowly', async () => {
    const agent = new AgentProc({
      token: mintToken({ role: 'device', devices: ['door'] }, 'another-secret-entirely-0123456789'),
      config: agentConfig(vigil, { device: { id: 'door' } }),
    });
    try {
      const l = await agent.waitLog(/vigil refused the token/, 10000 * SLOW);
      assert.equal(l.level, 'error');
      assert.match(l.msg, /bad signature/);
      await sleep(5000);
      const tries = agent.count(/^connected to/);
      assert.ok(tries >= 1 && tries <= 2, `${tries} connections in ~6 s with refused_s 4: not a tight loop`);
    } finally {
      const st = await agent.stop();
      assert.equal(st.code, 0, `the agent stops cleanly:\n${agent.text.slice(-2000)}`);
    }
  });

  it('a certificate not signed by the CA given is refused, said clearly and retried slowly', async () => {
    const agent = new AgentProc({
      token: deviceToken(),
      config: { ...agentConfig(vigil, { device: { id: 'door' } }), ca_file: path.join(other, 'ca.pem') },
    });
    try {
      const l = await agent.waitLog(/TLS: vigil's certificate was not accepted/, 10000 * SLOW);
      assert.equal(l.level, 'error');
      await sleep(5000);
      const tries = agent.count(/TLS: vigil's certificate was not accepted/);
      assert.ok(tries >= 1 && tries <= 2, `${tries} attempts in ~6 s with refused_s 4`);
      assert.equal(agent.count(/^connected to/), 0, 'never connected');
    } finally {
      const st = await agent.stop();
      assert.equal(st.code, 0, `the agent stops cleanly:\n${agent.text.slice(-2000)}`);
    }
  });
});

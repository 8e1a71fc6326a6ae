// The reach proof of vigil-agent: a camera and a device behind NAT, on the
// dashboard through the one wss connection the agent opens itself.
//
// The device is a network namespace joined to this one by a veth pair on a
// private /30, behind an nftables input chain that lets in nothing but
// loopback and the answers to connections it opened (tests/lib/netns.js, as
// in nat.test.js). vigil (TLS) runs here, in the test's own namespace, on
// every interface; build/vigil-agent runs inside the device's namespace with
// a test:// camera and a handler for the "light" command. Proved:
//  1. the agent's stream goes live and the dashboard in Chromium plays it
//     (the tile's picture advances);
//  2. the light switch of the device's panel on the dashboard reaches the
//     handler inside the namespace (what it read on stdin is checked) and
//     ends `acknowledged` on the panel and in GET /api/commands/{id};
//  3. nothing here can open a connection to the device: connects to the
//     local port of the agent's own connection and to a random port time
//     out, and the drop rule counts them, while the agent keeps sending;
//  4. with the device's uplink throttled below the video's bitrate (tc tbf
//     on the device's veth, ~6 s) the agent drops frames (its stats count
//     dropped_video and skips) instead of queueing them: the latency a
//     viewer here measures (arrival wall clock minus the frame's
//     presentation time, in WebCodecs mode, relative to a baseline) stays
//     bounded during the limit and is back near the baseline soon after it
//     is lifted. An agent that buffered without bound would show seconds of
//     lag growing through the limit (6 s of ~300 kbit/s through 100 kbit/s:
//     ~4 s by its end).
// Where a namespace cannot be made (not root) it says so and skips.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT, SLOW, Client, mintToken, sleep, startVigil, tempDir, until,
} from '../lib/vigil.js';
import { AgentProc, script } from '../lib/agent.js';
import { DeviceNet, probe } from '../lib/netns.js';
import { launchChromium } from '../browser/harness.js';

const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
const STREAM = 'yard';
const DEVICE = 'yard';
const PANEL = `.device-panel[data-device="${DEVICE}"]`;
const TILE = `.tile[data-stream="${STREAM}"]`;
const VIDEO = { width: 640, height: 360, fps: 25, bitrate_kbps: 800, keyframe_s: 1, max_latency_ms: 500 };
// The uplink's rate during the limit, well below the video's: x264 makes
// only ~300 kbit/s of this test picture whatever bitrate_kbps asks (its
// quantizer floor), so 250 kbit/s would hardly bite; 100 is a third of it.
const LIMIT_KBIT = 100;
const LIMIT_MS = 6000;         // how long
const BASELINE_MS = 3000;      // the relative latency's zero: its median over this, before the limit
// Bounds on the relative latency (ms over the baseline). During the limit:
// the agent drops frames older than max_latency_ms (500), plus what the
// network and a loaded machine add; an agent queueing without bound passes
// 2 s about 3 s into the limit. After it: back within 300 ms within 5 s.
const PEAK_MAX_MS = 2000;
const RECOVERED_MS = 300;
const RECOVERY_WITHIN_MS = 5000 * SLOW;

const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

// The agent's connection to `peer` as ss sees it inside the namespace:
// {sendQ, notsent, cwnd} (bytes, bytes, packets), or null.
async function socketState(device, peer) {
  const out = await new Promise((resolve) => execFile(device.prefix[0], [...device.prefix.slice(1), 'ss', '-Htni', 'state', 'established'],
    { timeout: 5000 }, (err, stdout) => resolve(err ? '' : stdout)));
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fld = lines[i].trim().split(/\s+/);
    if (fld.length >= 4 && fld[3] === peer) {
      const info = lines[i + 1] ?? '';
      return {
        sendQ: Number(fld[1]),
        notsent: Number(/notsent:(\d+)/.exec(info)?.[1] ?? 0),
        cwnd: Number(/cwnd:(\d+)/.exec(info)?.[1] ?? 0),
      };
    }
  }
  return null;
}

describe('vigil-agent behind NAT: seen and commanded on the dashboard, never reached, bounded latency on a poor uplink',
  { timeout: 170000 }, () => {
    const device = new DeviceNet();
    let skip = null;
    let certs, ca, handlers, lightIn, vigil, agent, browser, page, shaped = false;
    const pageLog = [];

    const f = (name) => path.join(certs, name);
    const vigilPeer = () => `${device.host}:${vigil.port}`;
    // The agent's stats line (statsS 1) logged after time t (ms).
    const statsAfter = async (t, what) => {
      const l = await until(() => [...agent.lines].reverse().find((x) => x.at > t && /^stats \{/.test(x.msg ?? '')),
        5000, () => `a stats line of the agent after ${what}:\n${agent.text.slice(-1500)}`);
      return { ...JSON.parse(l.msg.slice('stats '.length)), at: l.at };
    };
    const unshape = () => {
      if (!shaped) return;
      device.exec(['tc', 'qdisc', 'del', 'dev', device.vethDev, 'root'], { must: false });
      shaped = false;
    };
    const diagnostics = () => `\n--- page console ---\n${pageLog.slice(-30).join('\n')}`
      + `\n--- vigil-agent ---\n${agent ? agent.text.slice(-2500) : ''}`
      + `\n--- vigil ---\n${vigil ? vigil.log().slice(-2500) : ''}`;
    const withDiagnostics = async (fn) => {
      try {
        await fn();
      } catch (err) {
        err.message += diagnostics();
        throw err;
      }
    };
    // One Chromium page on the dashboard (signed in as an admin), for the
    // first two tests; closed after the second (the throttle measurement is
    // better off without it) and in after().
    const dashboard = async () => {
      if (page) return page;
      browser = await launchChromium();
      // The Node clients check vigil's certificate against the test CA;
      // Chromium cannot be given one, so it is told not to check.
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
      page = await context.newPage();
      page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
      await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
      return page;
    };
    const closeDashboard = async () => {
      if (browser) await browser.close().catch(() => {});
      browser = null;
      page = null;
    };

    // Killed or dying before after(): vigil goes too (the namespace, and the
    // agent in it, go with tests/lib/netns.js).
    process.on('exit', () => { vigil?.proc.kill('SIGKILL'); });

    before(async () => {
      skip = device.up();
      if (skip) return;
      device.firewall();
      assert.equal(device.dropped(), 0);

      // wss: a certificate naming this side's veth address, signed by a test CA.
      certs = tempDir('vigil-reach-certs-');
      const mk = spawnSync('bash', [path.join(ROOT, 'certs/make-certs.sh'), '-o', certs, device.host],
        { encoding: 'utf8', timeout: 30000 });
      assert.equal(mk.status, 0, mk.stderr);
      chmodSync(certs, 0o755);
      for (const n of ['ca.pem', 'server.pem']) chmodSync(f(n), 0o644);
      ca = readFileSync(f('ca.pem'));

      // vigil on every interface: the agent reaches it on the veth address,
      // the viewers here on 127.0.0.1.
      vigil = await startVigil({
        ca,
        args: ['--tls-cert', f('server.pem'), '--tls-key', f('server.key')],
        timeoutMs: 15000 * SLOW,
        config: {
          server: { bind: '0.0.0.0' },
          streams: [{ id: STREAM, source: 'publish://' }],
          control: { history: 16, timeout_ms: 8000 },
          devices: [{
            id: DEVICE, name: 'Yard camera', transport: 'agent', stream: STREAM,
            commands: { light: { on: { type: 'bool' } } },
          }],
        },
      });

      // The light's handler: what it reads on stdin goes to a file the test
      // reads; it answers that the light is on.
      handlers = tempDir('vigil-reach-handlers-');
      chmodSync(handlers, 0o755);
      lightIn = path.join(handlers, 'light.in');
      const light = script(handlers, 'light.sh', `cat > ${lightIn}.tmp && mv ${lightIn}.tmp ${lightIn}\necho '{"light":true}'`);

      agent = new AgentProc({
        token: mintToken({ sub: 'agent-yard', role: 'device', streams: [STREAM], devices: [DEVICE] }),
        prefix: device.prefix,
        statsS: 1,
        config: {
          server: `wss://${device.host}:${vigil.port}/ws`,
          ca_file: f('ca.pem'),
          stream: { id: STREAM, source: 'test://', ...VIDEO },
          device: { id: DEVICE, commands: { light: { exec: [light], timeout_ms: 5000 } } },
          reconnect: { min_s: 1, max_s: 2 },
        },
      });
    }, { timeout: 60000 * SLOW });

    after(async () => {
      unshape();
      await closeDashboard();
      const st = await agent?.stop();
      const vst = await vigil?.stop();
      device.down();
      if (st) assert.equal(st.code, 0, `the agent stops cleanly on SIGTERM: ${JSON.stringify(st)}\n${agent.text.slice(-3000)}`);
      if (vst) assert.equal(vst.code, 0, `vigil exit ${JSON.stringify(vst)}\n${vigil.log().slice(-3000)}`);
    }, { timeout: 60000 });

    it('the agent\'s stream goes live over its one connection and the dashboard plays it', async (t) => {
      if (skip) return t.skip(skip);
      await withDiagnostics(async () => {
        await agent.waitLog(new RegExp(`publishing stream '${STREAM}'`), 20000 * SLOW);
        await until(async () => {
          const s = JSON.parse((await vigil.get('/api/streams')).body).find((x) => x.id === STREAM);
          return s?.state === 'live' || null;
        }, 15000, () => `stream ${STREAM} live`);
        // Its one connection, from inside the namespace to vigil's veth address.
        assert.equal(device.portsTo(vigilPeer()).length, 1, `the agent's connections: ${device.exec(['ss', '-Htn']).out}`);

        const p = await dashboard();
        await p.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.decoded) >= 25,
          TILE, { timeout: 30000 * SLOW, polling: 100 });
        // The picture advances: the video's clock (MSE) or the frames drawn
        // (WebCodecs) move on over two seconds.
        const shown = () => p.$eval(TILE, (el) => ({
          mode: el.dataset.mode,
          decoded: Number(el.dataset.decoded),
          drawn: Number(el.dataset.drawn ?? 0),
          time: el.querySelector('video')?.currentTime ?? 0,
          latencyMs: el.dataset.latencyMs,
          state: el.dataset.state,
        }));
        const a = await shown();
        await sleep(2000);
        const b = await shown();
        console.log(`dashboard tile: ${JSON.stringify({ before: a, after: b })}`);
        assert.equal(b.state, 'live', JSON.stringify(b));
        assert.ok(b.decoded >= a.decoded + 10, `frames decoded ${a.decoded} -> ${b.decoded}`);
        if (b.mode === 'webcodecs') assert.ok(b.drawn >= a.drawn + 10, `frames drawn ${a.drawn} -> ${b.drawn}`);
        else assert.ok(b.time >= a.time + 1, `video time ${a.time} -> ${b.time}`);
      });
    });

    it('the light switch on the dashboard reaches the handler behind NAT and ends acknowledged', async (t) => {
      if (skip) return t.skip(skip);
      try {
        await withDiagnostics(async () => {
          const p = await dashboard();
          // The device's panel sits beside its stream's tile, online, served by an agent.
          await p.waitForSelector(`.tile-slot[data-stream="${STREAM}"] .tile-side ${PANEL}[data-online="true"]`,
            { timeout: 15000 * SLOW });
          const dev = JSON.parse((await vigil.get(`/api/devices/${DEVICE}`)).body);
          assert.equal(dev.transport, 'agent', JSON.stringify(dev));
          assert.equal(dev.online, true, JSON.stringify(dev));
          const meta = await p.textContent(`${PANEL} .device-meta`).catch(() => null);

          const sw = `${PANEL} [data-control="light.on"]`;
          const before0 = await p.$$eval(`${PANEL} .cmd`, (els) => els.map((e) => e.dataset.commandId));
          const t0 = Date.now();
          await p.click(sw);
          const row = await (await p.waitForFunction(({ panel, before: b, final }) => {
            const r = [...document.querySelectorAll(`${panel} .cmd[data-name="light"]`)].find((x) => !b.includes(x.dataset.commandId));
            if (!r || !final.includes(r.dataset.status)) return null;
            return {
              id: r.dataset.commandId,
              status: r.dataset.status,
              chips: [...r.querySelectorAll('.chip[data-status]')].map((c) => c.dataset.status),
              params: r.querySelector('.cmd-params')?.textContent ?? null,
              result: r.querySelector('.cmd-result')?.textContent ?? null,
              error: r.querySelector('.cmd-error')?.textContent ?? null,
            };
          }, { panel: PANEL, before: before0, final: FINAL }, { timeout: 15000 * SLOW, polling: 50 })).jsonValue();
          console.log(`dashboard command: ${JSON.stringify({ ...row, ms: Date.now() - t0, meta })}`);
          assert.equal(row.status, 'acknowledged', JSON.stringify(row));
          assert.deepEqual(row.chips, ['queued', 'sent', 'delivered', 'acknowledged']);
          assert.equal(row.params, 'on true');
          assert.match(row.result ?? '', /light true/);

          // The handler inside the namespace got exactly this command.
          assert.ok(existsSync(lightIn), 'the handler ran');
          const got = JSON.parse(readFileSync(lightIn, 'utf8'));
          assert.deepEqual(got, { command: 'light', params: { on: true }, device: DEVICE, command_id: row.id });

          // And the REST API tells the same story.
          const r = await vigil.get(`/api/commands/${encodeURIComponent(row.id)}`);
          assert.equal(r.status, 200, r.body);
          const cmd = JSON.parse(r.body);
          assert.equal(cmd.status, 'acknowledged', r.body);
          assert.equal(cmd.device, DEVICE, r.body);
          assert.deepEqual(cmd.params, { on: true }, r.body);
          assert.deepEqual(cmd.result, { light: true }, r.body);
          assert.deepEqual(cmd.timeline.map((s) => s.status), ['queued', 'sent', 'delivered', 'acknowledged'], r.body);
          const st = await statsAfter(Date.now(), 'the command');
          assert.equal(st.commands.acknowledged, 1, JSON.stringify(st));
        });
      } finally {
        await closeDashboard();
      }
    });

    it('nothing here can open a connection to the device: every connect times out and is counted as dropped', async (t) => {
      if (skip) return t.skip(skip);
      await withDiagnostics(async () => {
        const own = device.portsTo(vigilPeer());
        assert.equal(own.length, 1, `the agent's connection: ${own}`);
        const ports = [own[0], 1024 + randomInt(60000)];
        const before0 = device.dropped();
        const s0 = await statsAfter(Date.now(), 'the probes began');
        for (const port of ports) assert.equal(await probe(device.dev, port, 1500), 'timeout', `connect to ${device.dev}:${port}`);
        const d = device.dropped();
        // Each connect sends at least one SYN, each dropped there.
        assert.ok(d >= before0 + ports.length, `drop counter ${before0} -> ${d}`);
        // The agent's own connection goes on: the same one, still sending.
        const s1 = await statsAfter(Date.now(), 'the probes');
        assert.ok(s1.connected && s1.publishing, JSON.stringify(s1));
        assert.equal(s1.connects, s0.connects, 'no new connection');
        assert.ok(s1.frames_sent > s0.frames_sent, `frames sent ${s0.frames_sent} -> ${s1.frames_sent}`);
        assert.deepEqual(device.portsTo(vigilPeer()), own);
        console.log(`probes: ports ${ports.join(', ')} timed out; drop counter ${before0} -> ${d}`);
      });
    });

    it('an uplink slower than the video: the agent drops frames, the latency stays bounded and recovers', async (t) => {
      if (skip) return t.skip(skip);
      const viewer = await new Client(`wss://127.0.0.1:${vigil.port}/ws?access_token=${vigil.adminToken}`, { ca }).open();
      try {
        await withDiagnostics(async () => {
          // Every access unit: when it arrived here, and its presentation
          // time on the camera's clock (the agent's pts, rebased by vigil).
          const samples = [];
          let configs = 0;
          let channel = null;
          viewer.onFrame = (h) => {
            if (h.channel !== channel) return;
            if (h.kind === 3) configs++;
            if (h.kind !== 4) return;
            const at = Number(h.arrivalUs / 1000n);
            samples.push({
              at, pts: Number(h.payload.readBigInt64BE(0)) / 1000, key: (h.flags & 1) === 1,
              relay: at - Number(h.timeUs / 1000n), // from vigil's parser to here
            });
          };
          const r = await viewer.request({ type: 'subscribe', stream: STREAM, mode: 'webcodecs' });
          assert.equal(r.type, 'subscribe', JSON.stringify(r));
          channel = r.channel;
          await until(() => samples.length >= 25, 10000, () => `access units (${samples.length})`);
          // Past the GOP cache's burst, then the baseline.
          await sleep(1000);
          const b0 = Date.now();
          const sb0 = await statsAfter(b0, 'the baseline began');
          await sleep(BASELINE_MS);
          const b1 = Date.now();
          const sb1 = await statsAfter(b1 - 100, 'the baseline');
          const inWindow = (from, to) => samples.filter((s) => s.at >= from && s.at < to);
          const base = inWindow(b0, b1);
          assert.ok(base.length >= VIDEO.fps * (BASELINE_MS / 1000) * 0.5, `${base.length} units in the ${BASELINE_MS} ms baseline`);
          const offset = median(base.map((s) => s.at - s.pts));
          const rel = (s) => s.at - s.pts - offset;
          const baseKbps = ((sb1.bytes_sent - sb0.bytes_sent) * 8) / (sb1.at - sb0.at);
          const baseJitter = quantile(base.map(rel), 0.95);
          // The throttle must bite: the video needs well over the limit.
          // (An agent queueing without bound would then lag, at the limit's
          // end, LIMIT_MS * (1 - LIMIT_KBIT / baseKbps) >= 3.6 s behind.)
          assert.ok(baseKbps >= 2.5 * LIMIT_KBIT, `the video sends ${baseKbps.toFixed(0)} kbit/s, not enough over ${LIMIT_KBIT} kbit/s`);

          // The limit, on the device's uplink (its veth's egress).
          const s0 = await statsAfter(Date.now(), 'before the limit');
          device.exec(['tc', 'qdisc', 'add', 'dev', device.vethDev, 'root', 'tbf',
            'rate', `${LIMIT_KBIT}kbit`, 'burst', '8kb', 'latency', '50ms']);
          shaped = true;
          const on = Date.now();
          // What the agent's socket holds meanwhile (ss: Send-Q, the bytes
          // sent but not acknowledged plus those not sent yet; notsent; cwnd).
          const sockets = [];
          while (Date.now() - on < LIMIT_MS) {
            const ss = await socketState(device, vigilPeer());
            if (ss) sockets.push(ss);
            await sleep(500);
          }
          const qdisc = device.exec(['tc', '-s', 'qdisc', 'show', 'dev', device.vethDev]).out;
          unshape();
          const off = Date.now();

          // Back within RECOVERED_MS of the baseline: the median of the last second.
          let recoveredAt = null;
          let afterMedian = null;
          while (Date.now() - off < RECOVERY_WITHIN_MS) {
            await sleep(200);
            const now = Date.now();
            const last = inWindow(now - 1000, now);
            // A full second after the lift, with frames flowing again.
            if (now - off >= 1000 && last.length >= VIDEO.fps / 2) {
              afterMedian = median(last.map(rel));
              if (afterMedian <= RECOVERED_MS) { recoveredAt = now; break; }
            }
          }
          const s1 = await statsAfter(Date.now(), 'the limit');

          const during = inWindow(on, off);
          // What arrived during the limit and in the second after it (what
          // was in flight when it was lifted).
          const hit = inWindow(on, off + 1000);
          const peak = Math.max(...hit.map(rel));
          const gaps = during.slice(1).map((s, i) => s.pts - during[i].pts);
          const figures = {
            baseline: {
              offsetMs: Math.round(offset), p95RelMs: Math.round(baseJitter), units: base.length,
              kbps: Math.round(baseKbps), droppedVideo: sb1.media.dropped_video - sb0.media.dropped_video,
            },
            during: {
              peakRelMs: Math.round(peak), medianRelMs: Math.round(median(during.map(rel))), units: during.length,
              keyframes: during.filter((s) => s.key).length, maxPtsGapMs: Math.round(Math.max(0, ...gaps)),
              droppedVideo: s1.media.dropped_video - s0.media.dropped_video, skips: s1.media.skips - s0.media.skips,
              framesSent: s1.frames_sent - s0.frames_sent,
              // How much of it vigil and the way here account for.
              maxRelayMs: Math.max(0, ...hit.map((x) => x.relay)),
            },
            after: {
              medianRelMs: afterMedian === null ? null : Math.round(afterMedian),
              recoveredInMs: recoveredAt === null ? null : recoveredAt - off,
            },
          };
          console.log(`reach latency (ms over the baseline): ${JSON.stringify(figures)}`);
          // The relative latency through the limit, per half second from its
          // start: the largest in each (- where nothing arrived).
          const series = [];
          for (let t0 = on - 1000; t0 < (recoveredAt ?? Date.now()); t0 += 500) {
            const xs = inWindow(t0, t0 + 500).map(rel);
            series.push(xs.length ? Math.round(Math.max(...xs)) : '-');
          }
          console.log(`relative latency per 500 ms, from 1 s before the limit (max, ms): ${series.join(' ')}`);
          console.log(`the agent's socket during the limit (Send-Q/notsent/cwnd): ${sockets.map((x) => `${x.sendQ}/${x.notsent}/${x.cwnd}`).join(' ')}`);
          console.log(`agent stats before/after the limit: ${JSON.stringify(s0)} ${JSON.stringify(s1)}`);
          console.log(`qdisc during the limit: ${qdisc.trim().replace(/\s+/g, ' ')}`);

          // The limit did bite: the agent dropped frames and skipped to keyframes...
          assert.ok(s1.media.dropped_video > s0.media.dropped_video,
            `dropped_video ${s0.media.dropped_video} -> ${s1.media.dropped_video}`);
          assert.ok(s1.media.skips >= s0.media.skips + 1, `skips ${s0.media.skips} -> ${s1.media.skips}`);
          // ... which the viewer sees as jumps in the presentation times
          // (frames that never came), not as late frames.
          assert.ok(figures.during.maxPtsGapMs >= 200, `largest pts gap during the limit: ${figures.during.maxPtsGapMs} ms`);
          // The picture stayed live: frames kept coming through the limit.
          assert.ok(during.length >= 3, `${during.length} units during the ${LIMIT_MS} ms limit`);
          // And recovered once lifted.
          assert.ok(recoveredAt !== null,
            `the latency's 1 s median was ${afterMedian === null ? 'not measurable' : `${Math.round(afterMedian)} ms over its baseline`} `
            + `${RECOVERY_WITHIN_MS} ms after the limit was lifted (want <= ${RECOVERED_MS})`);
          // All on one connection and one run of the source: no reconnect,
          // no new decoder configuration (which would restart the pts).
          assert.equal(s1.connects, s0.connects, 'the agent kept its connection');
          assert.equal(configs, 1, 'one decoder configuration');
          // Bounded: never PEAK_MAX_MS over the baseline, what an agent that
          // drops rather than queues keeps to (its own queue's 500 ms, the
          // link's queue, a keyframe's time on the wire, a retransmission).
          assert.ok(peak <= PEAK_MAX_MS, `the latency rose ${Math.round(peak)} ms over its baseline during the limit `
            + `(bound ${PEAK_MAX_MS} ms; series above)`);
        });
      } finally {
        unshape();
        viewer.close();
      }
    });
  });

// agent.mjs -- `make bench-agent`: what vigil-agent costs on this machine
// and the latency from its camera to the dashboard (docs/PERFORMANCE.md,
// "vigil-agent").
//
//   node bench/agent.mjs          (about 2 minutes)
//   BENCH_DURATION=S              the measured window per case (default 20)
//
// CPU and memory of the agent process alone (its /proc/PID/stat and status),
// publishing 720p30 to a vigil on loopback:
//   pass-through  an RTSP camera (build/tools/rtsp_camera, x264 at 720p30)
//                 on the device's network, passed through as it is;
//   encode        test:// (videotestsrc standing in for a V4L2 camera),
//                 encoded by the agent with x264 zerolatency at 2 Mbit/s.
// Then glass to glass: the agent's test:// picture carries its capture time
// (latency_mark), read back by the dashboard in Chromium, WebCodecs and MSE.
// Results: stdout and build/bench/agent.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, freePort, mintToken, sleep, startVigil } from '../tests/lib/vigil.js';
import { AgentProc } from '../tests/lib/agent.js';
import { startCamera } from '../tests/tools/camera.js';
import { collect, table } from '../tests/lib/glass.js';

// playwright-core is one of the tests' npm packages (tests/node_modules).
const { chromium } = createRequire(path.join(ROOT, 'tests/package.json'))('playwright-core');
const DURATION_S = +(process.env.BENCH_DURATION ?? 20);
const TICK = 100; // USER_HZ on Linux
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

// utime + stime in seconds, and the resident set now and at its peak (KiB).
function proc(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1]);
  return { cpuS: (Number(f[11]) + Number(f[12])) / TICK, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

async function startServer() {
  return startVigil({ config: { server: { bind: '127.0.0.1' }, streams: [{ id: 'demo', source: 'publish://' }] } });
}

const token = () => mintToken({ sub: 'bench-agent', role: 'device', streams: ['demo'], devices: [] });

// Runs the agent with `stream` and measures it over DURATION_S once live.
async function cost(name, stream) {
  const vigil = await startServer();
  const agent = new AgentProc({ token: token(), config: { server: vigil.wsBase, stream: { id: 'demo', ...stream } }, statsS: 5 });
  try {
    await agent.waitLog(/publishing stream 'demo'/, 20000);
    await sleep(3000); // warm-up
    const a = proc(agent.proc.pid);
    const t0 = Date.now();
    await sleep(DURATION_S * 1000);
    const b = proc(agent.proc.pid);
    const s = agent.stats();
    const wall = (Date.now() - t0) / 1000;
    return {
      case: name, seconds: +wall.toFixed(1), cpu_percent_of_one_core: +(100 * (b.cpuS - a.cpuS) / wall).toFixed(1),
      rss_mib: +(b.rssKiB / 1024).toFixed(1), peak_rss_mib: +(b.hwmKiB / 1024).toFixed(1),
      frames_sent: s?.frames_sent, dropped_video: s?.media?.dropped_video,
    };
  } finally {
    await agent.stop();
    await vigil.stop();
  }
}

async function glass() {
  const vigil = await startServer();
  const agent = new AgentProc({
    token: token(),
    config: { server: vigil.wsBase, stream: { id: 'demo', source: 'test://', width: 1280, height: 720, fps: 30, bitrate_kbps: 2000, latency_mark: true } },
  });
  let browser;
  try {
    await agent.waitLog(/publishing stream 'demo'/, 20000);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.addInitScript(() => {
      window.vigilMeasureLatency = true;
      if (!sessionStorage.getItem('latency-started')) {
        sessionStorage.setItem('latency-started', '1');
        localStorage.setItem('vigil.mode.demo', 'webcodecs');
      }
    });
    const TILE = '.tile[data-stream="demo"]';
    await page.goto(`${vigil.base}/#token=${vigil.adminToken}`);
    await page.waitForSelector(`${TILE}[data-mode="webcodecs"]`, { timeout: 15000 });
    await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.drawn) >= 60, TILE, { timeout: 20000, polling: 200 });
    const wc = await collect(page, 'demo', 'webcodecs', 8000);
    await page.click(`${TILE} .mode-toggle`);
    await page.waitForSelector(`${TILE}[data-mode="mse"]`, { timeout: 5000 });
    await page.waitForFunction((sel) => document.querySelector(`${sel} video`)?.getVideoPlaybackQuality().totalVideoFrames >= 60, TILE, { timeout: 20000, polling: 200 });
    await sleep(2000);
    const mse = await collect(page, 'demo', 'mse', 8000);
    return [wc, mse];
  } finally {
    if (browser) await browser.close().catch(() => {});
    await agent.stop();
    await vigil.stop();
  }
}

const results = { date: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, cost: [] };
const camera = await startCamera({ port: await freePort(), width: 1280, height: 720, fps: 30 });
try {
  results.cost.push(await cost('pass-through (RTSP H.264 720p30)', { source: camera.url }));
} finally {
  await camera.stop();
}
results.cost.push(await cost('encode (test:// 720p30, x264 2 Mbit/s)', { source: 'test://', width: 1280, height: 720, fps: 30, bitrate_kbps: 2000 }));
for (const c of results.cost) console.log(`${c.case.padEnd(42)} CPU ${String(c.cpu_percent_of_one_core).padStart(5)} % of a core   RSS ${c.rss_mib} MiB (peak ${c.peak_rss_mib})   frames ${c.frames_sent}, dropped ${c.dropped_video}`);
results.glass = await glass();
console.log(table(results.glass));
const file = path.join(ROOT, 'build/bench/agent.json');
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(results, null, 2));
console.log(`written to ${path.relative(ROOT, file)}`);

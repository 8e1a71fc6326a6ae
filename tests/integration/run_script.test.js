// `make run` (scripts/run.sh): the demo server with a simulated device to
// control, so a first look at the dashboard has both live video and a device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, freePort, sleep } from '../lib/vigil.js';

// The simulators the script started: its children running vigil-devsim.
const children = (pid) => {
  try { return execFileSync('pgrep', ['-P', String(pid), '-f', 'vigil-devsim'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean); } catch { return []; }
};
const alive = (pid) => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };

test('scripts/run.sh starts vigil with a simulated device that answers commands, and stops both', { timeout: 60000 }, async () => {
  const port = await freePort();
  const proc = spawn(path.join(ROOT, 'scripts/run.sh'), ['--port', String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  let sims = [];
  try {
    let cam;
    const deadline = Date.now() + 20000;
    let auth;
    while (!cam?.online) {
      assert.ok(Date.now() < deadline, `cam1 never came online:\n${log}`);
      await sleep(200);
      // The script prints an operator link: http://localhost:PORT/#token=...
      const m = /#token=(\S+)/.exec(log);
      if (!m) continue;
      auth = { authorization: `Bearer ${m[1]}` };
      try { cam = (await (await fetch(`${base}/api/devices`, { headers: auth })).json()).find((d) => d.id === 'cam1'); } catch { /* not up yet */ }
    }
    // Anyone may watch the demo stream; the devices need the token.
    assert.deepEqual((await (await fetch(`${base}/api/streams`)).json()).map((s) => s.id), ['demo']);
    assert.deepEqual(await (await fetch(`${base}/api/devices`)).json(), []);
    assert.equal(cam.stream, 'demo');
    assert.match(log, /run: (no )?MQTT broker/);
    const r = await fetch(`${base}/api/devices/cam1/commands`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'light', params: { on: true } }) });
    assert.equal(r.status, 202);
    const loc = r.headers.get('location');
    let c;
    for (let i = 0; i < 50 && !['acknowledged', 'rejected', 'failed', 'timeout'].includes(c?.status); i++) {
      await sleep(100);
      c = await (await fetch(`${base}${loc}`, { headers: auth })).json();
    }
    assert.equal(c.status, 'acknowledged', JSON.stringify(c));
    sims = children(proc.pid);
    assert.ok(sims.length >= 1, `no simulator running under the script:\n${log}`);
    assert.equal(c.result.light, true);
  } finally {
    proc.kill('SIGTERM');
  }
  const st = await exited;
  assert.equal(st.code, 143, `run.sh exit ${JSON.stringify(st)}\n${log}`);
  await sleep(300);
  assert.deepEqual(sims.filter(alive), [], 'simulators left running');
  assert.match(log, /stopped/);
});

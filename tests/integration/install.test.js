// `make install` (deploy/module.mk) into a DESTDIR: the files land where they
// should with the right modes, the installed binary runs and serves with the
// installed config, web root and secret, a second install keeps an edited
// config and the secret, and systemd-analyze verify passes on the installed
// unit (and fails on a broken one, so it is really checking). The same for
// vigil-agent: its binary, example handlers, example config and unit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, freePort, sleep, tempDir } from '../lib/vigil.js';

const dest = tempDir('vigil-install-');
const at = (p) => path.join(dest, p);
const mode = (p) => (statSync(at(p)).mode & 0o777).toString(8);

function makeInstall() {
  const r = spawnSync('make', ['-s', 'install', `DESTDIR=${dest}`, 'PREFIX=/usr'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `make install failed:\n${r.stdout}\n${r.stderr}`);
}

// systemd-analyze verify on `unitText`, with the binary's path pointed at the
// DESTDIR copy (verify wants ExecStart's program to exist). {status, output}.
function verify(unitText, name = 'vigil.service') {
  const dir = tempDir('vigil-unit-');
  const file = path.join(dir, name);
  writeFileSync(file, unitText.replaceAll('/usr/bin/vigil', at('usr/bin/vigil')));
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', cwd: dir });
  if (r.error?.code === 'ENOENT')
    assert.fail('systemd-analyze is missing: install the Debian package "systemd" (scripts/deps.sh does)');
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

test('make install DESTDIR=… PREFIX=/usr puts everything in place', { timeout: 120000 }, () => {
  makeInstall();
  assert.equal(mode('usr/bin/vigil'), '755');
  for (const f of ['index.html', 'js/connection.js'])
    assert.ok(existsSync(at(`usr/share/vigil/web/${f}`)), `web/${f} installed`);
  assert.equal(mode('usr/share/vigil/web/index.html'), '644');
  assert.equal(mode('etc/vigil/vigil.json'), '644');
  assert.deepEqual(JSON.parse(readFileSync(at('etc/vigil/vigil.json'), 'utf8')),
    JSON.parse(readFileSync(path.join(ROOT, 'deploy/vigil.json'), 'utf8')));
  assert.equal(mode('etc/vigil/secret'), '600');
  assert.match(readFileSync(at('etc/vigil/secret'), 'utf8'), /^[0-9a-f]{64}\n$/);
  assert.equal(mode('usr/lib/systemd/system/vigil.service'), '644');

  const unit = readFileSync(at('usr/lib/systemd/system/vigil.service'), 'utf8');
  const lines = new Set(unit.split('\n'));
  for (const l of [
    'ExecStart=/usr/bin/vigil --config /etc/vigil/vigil.json --web-root /usr/share/vigil/web --auth-secret-file %d/secret',
    'ExecReload=/bin/kill -HUP $MAINPID', 'Restart=on-failure', 'DynamicUser=yes', 'NoNewPrivileges=yes',
    'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'CapabilityBoundingSet=',
    'AmbientCapabilities=', 'KillSignal=SIGTERM', 'SystemCallFilter=@system-service',
    'LoadCredential=secret:/etc/vigil/secret',
  ]) assert.ok(lines.has(l), `the unit has "${l}"`);
  // Longer than the drain's default bound (server.shutdown_timeout_s 10).
  assert.ok(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)[1]) > 10);
  assert.doesNotMatch(unit, /\/usr\/local/, 'every path follows PREFIX');

  const help = spawnSync(at('usr/bin/vigil'), ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: vigil/);
  assert.match(help.stdout, /--log-format/);
});

test('the installed binary serves the installed dashboard with the installed config and secret', { timeout: 60000 }, async () => {
  assert.ok(existsSync(at('usr/bin/vigil')), 'installed by the test above');
  const port = await freePort();
  const proc = spawn(at('usr/bin/vigil'), ['--config', at('etc/vigil/vigil.json'), '--port', String(port),
    '--web-root', at('usr/share/vigil/web'), '--auth-secret-file', at('etc/vigil/secret')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  try {
    let health;
    const deadline = Date.now() + 15000;
    while (!health) {
      assert.equal(proc.exitCode, null, `exited early:\n${log}`);
      try { const r = await fetch(`http://127.0.0.1:${port}/api/health`); if (r.status === 200) health = await r.json(); } catch { /* not up */ }
      if (Date.now() > deadline) assert.fail(`did not come up:\n${log}`);
      if (!health) await sleep(100);
    }
    assert.equal(health.status, 'ok');
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), readFileSync(path.join(ROOT, 'web/index.html'), 'utf8'));
    // The installed secret is used: no throw-away admin token was printed.
    assert.doesNotMatch(log, /no auth secret configured/);
  } finally {
    proc.kill('SIGTERM');
  }
  assert.equal(await exited, 0, log);
});

test('a second make install keeps an edited config and the secret, and puts the example beside it', { timeout: 120000 }, () => {
  const edited = '{"server":{"port":9999},"streams":[{"id":"mine","source":"test://"}]}\n';
  writeFileSync(at('etc/vigil/vigil.json'), edited);
  const secret = readFileSync(at('etc/vigil/secret'), 'utf8');
  makeInstall();
  assert.equal(readFileSync(at('etc/vigil/vigil.json'), 'utf8'), edited);
  assert.equal(readFileSync(at('etc/vigil/secret'), 'utf8'), secret);
  assert.deepEqual(JSON.parse(readFileSync(at('etc/vigil/vigil.json.example'), 'utf8')),
    JSON.parse(readFileSync(path.join(ROOT, 'deploy/vigil.json'), 'utf8')));
});

test('systemd-analyze verify passes on the installed unit, and fails on a broken copy', { timeout: 60000 }, () => {
  const unit = readFileSync(at('usr/lib/systemd/system/vigil.service'), 'utf8');
  const good = verify(unit);
  assert.equal(good.status, 0, good.output);
  assert.equal(good.output, '', 'no warnings either');
  // The same check on a unit with a bad setting and a missing binary: it must complain.
  const bad = verify(unit.replace('ProtectSystem=strict', 'ProtectSystem=sometimes')
    .replace('ExecReload=/bin/kill', 'ExecReload=/no/such/kill'));
  assert.notEqual(bad.output, '', 'verify complained');
  assert.match(bad.output, /ProtectSystem|\/no\/such\/kill/);
});

test('make install puts vigil-agent, its handlers, its config and its hardened unit in place, and keeps an edited config', { timeout: 120000 }, () => {
  assert.equal(mode('usr/bin/vigil-agent'), '755');
  for (const h of ['light', 'telemetry']) assert.equal(mode(`usr/lib/vigil-agent/${h}`), '755');
  // The example config with its paths set to PREFIX (installed by the first
  // test's install; the second one put the example beside it).
  const example = readFileSync(path.join(ROOT, 'deploy/agent/agent.json'), 'utf8').replaceAll('/usr/local/lib/', '/usr/lib/');
  assert.equal(mode('etc/vigil-agent/agent.json'), '644');
  assert.deepEqual(JSON.parse(readFileSync(at('etc/vigil-agent/agent.json'), 'utf8')), JSON.parse(example));
  const cfg = JSON.parse(example);
  // The token as the unit's credential; the handlers where they were installed.
  assert.equal(cfg.token_file, '/run/credentials/vigil-agent.service/token');
  for (const h of [cfg.device.commands.light, cfg.device.telemetry]) assert.ok(existsSync(at(h.exec[0])), h.exec[0]);
  const light = spawnSync(at(cfg.device.commands.light.exec[0]), [], {
    input: '{"command":"light","params":{"on":true},"device":"yard","command_id":"c1"}', encoding: 'utf8',
  });
  assert.equal(light.status, 0, light.stderr);
  assert.deepEqual(JSON.parse(light.stdout), { light: true });

  const unit = readFileSync(at('usr/lib/systemd/system/vigil-agent.service'), 'utf8');
  assert.equal(mode('usr/lib/systemd/system/vigil-agent.service'), '644');
  const lines = new Set(unit.split('\n'));
  for (const l of [
    'ExecStart=/usr/bin/vigil-agent --config /etc/vigil-agent/agent.json', 'Restart=on-failure',
    'LoadCredential=token:/etc/vigil-agent/token', 'DynamicUser=yes', 'NoNewPrivileges=yes',
    'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'AmbientCapabilities=',
    'SystemCallFilter=@system-service', 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK',
    'DeviceAllow=char-video4linux rw', 'SupplementaryGroups=video',
  ]) assert.ok(lines.has(l), `the unit has "${l}"`);
  // The camera is a device node: not PrivateDevices=yes, which would hide it.
  assert.ok(!lines.has('PrivateDevices=yes'));
  assert.doesNotMatch(unit, /\/usr\/local/, 'every path follows PREFIX');
  const good = verify(unit, 'vigil-agent.service');
  assert.equal(good.status, 0, good.output);
  assert.equal(good.output, '', 'no warnings either');

  const help = spawnSync(at('usr/bin/vigil-agent'), ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /vigil-agent --config FILE/);

  // An edited config is kept; the example goes beside it.
  const edited = '{"server":"wss://mine.example/ws","token_file":"/etc/vigil-agent/token","device":{"id":"mine"}}\n';
  writeFileSync(at('etc/vigil-agent/agent.json'), edited);
  makeInstall();
  assert.equal(readFileSync(at('etc/vigil-agent/agent.json'), 'utf8'), edited);
  assert.deepEqual(JSON.parse(readFileSync(at('etc/vigil-agent/agent.json.example'), 'utf8')), JSON.parse(example));
});

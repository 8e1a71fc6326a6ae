// The container deployment without a Docker engine: docker-compose.yml must
// validate and say what the README promises (port 8080, health check on
// /api/health, config mounted read-only), the Dockerfile must keep its
// shape, and config/vigil.json — the file the container runs with — must be
// a configuration the real build/vigil accepts and serves.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startVigil, waitStreamState } from '../lib/vigil.js';

const SLOW = process.env.VIGIL_SANITIZED ? 2 : 1;
const CONFIG = path.join(ROOT, 'config/vigil.json');
const CONTAINER_CONFIG = '/etc/vigil/vigil.json';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 30000, ...opts });
  if (r.error) throw r.error;
  return r;
}

// `docker-compose config` prints YAML and 1.29 has no JSON output. PyYAML is
// a dependency of Debian's docker-compose, under the python it runs with.
function composeConfig() {
  const r = run('docker-compose', ['-f', 'docker-compose.yml', 'config']);
  assert.equal(r.status, 0, r.stderr);
  const j = run('/usr/bin/python3', ['-c',
    'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: r.stdout });
  assert.equal(j.status, 0, j.stderr);
  return JSON.parse(j.stdout);
}

// Compose normalises volumes to "src:dst[:mode]" strings or long-form
// objects depending on version; accept both.
function volumeMounts(service) {
  return (service.volumes || []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target, readOnly: !!v.read_only };
    const [source, target, mode = ''] = v.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

// Ports likewise: "8080:8080" or {published, target}.
function portPairs(service) {
  return (service.ports || []).map((p) => {
    if (typeof p !== 'string') return `${p.published}:${p.target}`;
    return p.replace(/\/tcp$/, '').split(':').slice(-2).join(':');
  });
}

describe('docker-compose.yml', () => {
  it('validates with docker-compose config -q', () => {
    const r = run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
    assert.equal(r.status, 0, `docker-compose config -q failed:\n${r.stderr}`);
  });

  it('relay: built from the Dockerfile, port 8080, health check, config mounted read-only', () => {
    const relay = composeConfig().services?.relay;
    assert.ok(relay, 'a service named relay');
    assert.equal(relay.build?.context, ROOT);
    assert.equal(relay.build?.dockerfile ?? 'Dockerfile', 'Dockerfile');
    assert.ok(portPairs(relay).includes('8080:8080'), `ports: ${JSON.stringify(relay.ports)}`);

    const test = relay.healthcheck?.test;
    assert.ok(test, 'a healthcheck');
    assert.match([].concat(test).join(' '), /curl .*http:\/\/(127\.0\.0\.1|localhost):8080\/api\/health/);

    const cfg = volumeMounts(relay).find((m) => m.target === CONTAINER_CONFIG);
    assert.ok(cfg, `a mount at ${CONTAINER_CONFIG}: ${JSON.stringify(relay.volumes)}`);
    assert.equal(cfg.source, CONFIG);
    assert.ok(cfg.readOnly, 'the config is mounted read-only');
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  // Instructions with their continuation lines joined.
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const instr = (name) => lines.filter((l) => l.toUpperCase().startsWith(`${name} `));

  it('builds on bookworm, runs as vigil with the config the compose file mounts', () => {
    const froms = instr('FROM');
    assert.equal(froms.length, 2, 'a build stage and a runtime stage');
    for (const f of froms) assert.match(f, /debian:bookworm/);
    assert.match(froms[0], / AS build$/i);
    assert.ok(instr('RUN').some((l) => /\bmake\b/.test(l)), 'the build stage runs make');
    assert.ok(instr('COPY').some((l) => /--from=build .*build\/vigil/.test(l)), 'copies build/vigil');
    assert.ok(instr('COPY').some((l) => /^COPY web\/? /.test(l)), 'copies web/');
    assert.deepEqual(instr('USER'), ['USER vigil']);
    assert.deepEqual(instr('EXPOSE'), ['EXPOSE 8080']);
    assert.match(instr('HEALTHCHECK').join(), /curl .*\/api\/health/);
    assert.deepEqual(instr('CMD'), [`CMD ["vigil", "--config", "${CONTAINER_CONFIG}"]`]);
  });

  // No engine to build with here, but this Debian 12 machine's apt lists can
  // at least tell a misspelt or non-bookworm package name.
  it('installs only packages bookworm has', (t) => {
    const pkgs = instr('RUN').flatMap((l) => {
      const m = l.match(/apt-get install -y --no-install-recommends ([^&]+)/);
      return m ? m[1].trim().split(/\s+/) : [];
    });
    assert.ok(pkgs.length > 10, `parsed packages: ${pkgs}`);
    const probe = spawnSync('apt-cache', ['policy', 'libc6'], { encoding: 'utf8' });
    if (probe.error || !/Candidate: (?!\(none\))/.test(probe.stdout)) {
      t.skip('no apt lists on this machine');
      return;
    }
    const r = run('apt-cache', ['policy', ...pkgs]);
    const blocks = r.stdout.split(/\n(?=\S)/);
    for (const p of pkgs) {
      const b = blocks.find((x) => x.startsWith(`${p}:`));
      assert.ok(b && /Candidate: (?!\(none\))/.test(b), `package ${p} is not installable on this machine`);
    }
  });
});

describe('config/vigil.json', { timeout: 45000 * SLOW }, () => {
  it('is the demo stream on 0.0.0.0:8080', () => {
    const cfg = JSON.parse(readFileSync(CONFIG, 'utf8'));
    // The container must listen beyond its own loopback, on the port that
    // EXPOSE, the health check and the compose port mapping use.
    assert.equal(cfg.server.bind, '0.0.0.0');
    assert.equal(cfg.server.port, 8080);
    assert.deepEqual(cfg.streams.map((s) => [s.id, s.source]), [['demo', 'test://']]);
  });

  it('starts the real server, which reports healthy and the demo stream live', async () => {
    // startVigil adds --port <free>, which overrides the file's 8080, so the
    // test does not collide with a running `make run`.
    const vigil = await startVigil({ args: ['--config', CONFIG], timeoutMs: 15000 * SLOW });
    let st;
    try {
      const r = await fetch(`${vigil.base}/api/health`);
      assert.equal(r.status, 200);
      const health = await r.json();
      assert.equal(health.status, 'ok');
      assert.equal(health.streams, 1);
      const s = await waitStreamState(vigil.base, 'demo', 'live', 20000 * SLOW);
      assert.match(String(s.codecs), /^avc1\./);
    } finally {
      st = await vigil.stop();
    }
    assert.deepEqual(st, { code: 0, signal: null }, `vigil exit status; log tail:\n${vigil.log().slice(-4000)}`);
  });
});

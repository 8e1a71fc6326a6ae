// The container deployment without a Docker engine: docker-compose.yml must
// validate and say what the README promises (port 8080, health check on
// /api/health, config mounted read-only; an MQTT broker and a device
// simulator beside the relay), the Dockerfile must keep its shape, and the
// files the containers run with must work with the real programs:
// config/vigil.json in build/vigil, config/mosquitto.conf in mosquitto 2.0
// (on a free loopback port) with build/vigil-devsim, run with the compose
// file's own flags, publishing to it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startVigil, waitStreamState } from '../lib/vigil.js';
import { LineProc, Procs, brokerDir, freeTcpPort, startBroker, startSim } from './control_peers.js';

const SLOW = process.env.VIGIL_SANITIZED ? 2 : 1;
const CONFIG = path.join(ROOT, 'config/vigil.json');
const CONTAINER_CONFIG = '/etc/vigil/vigil.json';
const MOSQUITTO_CONF = path.join(ROOT, 'config/mosquitto.conf');
const MOSQUITTO_CONTAINER_CONF = '/mosquitto/config/mosquitto.conf';

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

// depends_on: a list, or (as 1.29 prints it) {name: {condition}}.
function dependsOn(service) {
  const d = service.depends_on || [];
  return Array.isArray(d) ? d : Object.keys(d);
}

// The value after `flag` in a command list.
function flagValue(command, flag) {
  const i = command.indexOf(flag);
  return i >= 0 ? command[i + 1] : undefined;
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

  it('broker: eclipse-mosquitto 2 with config/mosquitto.conf mounted read-only', () => {
    const broker = composeConfig().services?.broker;
    assert.ok(broker, 'a service named broker');
    assert.equal(broker.image, 'eclipse-mosquitto:2');
    assert.equal(broker.build, undefined, 'the broker is the upstream image, not built here');
    const cfg = volumeMounts(broker).find((m) => m.target === MOSQUITTO_CONTAINER_CONF);
    assert.ok(cfg, `a mount at ${MOSQUITTO_CONTAINER_CONF}: ${JSON.stringify(broker.volumes)}`);
    assert.equal(cfg.source, MOSQUITTO_CONF);
    assert.ok(cfg.readOnly, 'the broker config is mounted read-only');
    // Anonymous access: not published on the host (nor would a host's own
    // mosquitto on 1883 let it be).
    assert.deepEqual(broker.ports ?? [], [], 'the broker port is not published');
  });

  it('devsim: built from the Dockerfile, runs vigil-devsim against broker:1883, depends on broker', () => {
    const services = composeConfig().services;
    const sim = services?.devsim;
    assert.ok(sim, 'a service named devsim');
    assert.equal(sim.build?.context, ROOT);
    assert.equal(sim.build?.dockerfile ?? 'Dockerfile', 'Dockerfile');
    assert.equal(sim.image, services.relay.image, 'the same image as the relay');
    assert.deepEqual(dependsOn(sim), ['broker']);
    const cmd = [].concat(sim.command ?? []);
    assert.equal(cmd[0], 'vigil-devsim', `command: ${JSON.stringify(sim.command)}`);
    assert.equal(flagValue(cmd, '--mqtt-host'), 'broker');
    assert.equal(flagValue(cmd, '--mqtt-port'), '1883');
    // The example device of control/registry.c, under the MQTT plugin's
    // default prefix.
    assert.equal(flagValue(cmd, '--id'), 'cam1');
    assert.equal(flagValue(cmd, '--prefix') ?? 'vigil', 'vigil');
    // The image's HEALTHCHECK probes the relay on 8080; the simulator has no
    // such port and must not inherit it.
    assert.deepEqual(sim.healthcheck?.test, ['NONE'], `healthcheck: ${JSON.stringify(sim.healthcheck)}`);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  // Instructions with their continuation lines joined.
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const instr = (name) => lines.filter((l) => l.toUpperCase().startsWith(`${name} `));
  // The packages the runtime (second) stage installs.
  const runtimePackages = () => {
    const runtime = text.slice(text.search(/^FROM (?!.* AS build)/im));
    const m = runtime.replace(/\\\n/g, ' ').match(/apt-get install -y --no-install-recommends ([^&]+)/);
    return m ? m[1].trim().split(/\s+/) : [];
  };

  it('builds on bookworm, runs as vigil with the config the compose file mounts', () => {
    const froms = instr('FROM');
    assert.equal(froms.length, 2, 'a build stage and a runtime stage');
    for (const f of froms) assert.match(f, /debian:bookworm/);
    assert.match(froms[0], / AS build$/i);
    assert.ok(instr('RUN').some((l) => /\bmake\b/.test(l)), 'the build stage runs make');
    assert.ok(instr('COPY').some((l) => /--from=build .*build\/vigil /.test(l)), 'copies build/vigil');
    assert.ok(instr('COPY').some((l) => /--from=build .*build\/vigil-devsim \/usr\/local\/bin\//.test(l)),
      'copies build/vigil-devsim onto the PATH');
    assert.ok(instr('COPY').some((l) => /^COPY web\/? /.test(l)), 'copies web/');
    assert.deepEqual(instr('USER'), ['USER vigil']);
    assert.deepEqual(instr('EXPOSE'), ['EXPOSE 8080']);
    assert.match(instr('HEALTHCHECK').join(), /curl .*\/api\/health/);
    assert.deepEqual(instr('CMD'), [`CMD ["vigil", "--config", "${CONTAINER_CONFIG}"]`]);
  });

  it("the runtime stage installs vigil-devsim's libraries", () => {
    const pkgs = runtimePackages();
    // From `ldd build/vigil-devsim` on bookworm.
    for (const p of ['libmosquitto1', 'libcoap3', 'libjansson4', 'libssl3']) {
      assert.ok(pkgs.includes(p), `runtime stage lacks ${p}: ${pkgs}`);
    }
  });

  // Every element vigil creates (read from media/*.c) must come from a
  // package the runtime stage installs: found through the plugin file that
  // gst-inspect names and the package dpkg says owns it.
  it('the runtime stage carries the plugin of every GStreamer element vigil builds', () => {
    const pkgs = runtimePackages();
    const mediaDir = path.join(ROOT, 'media');
    const elements = new Set();
    for (const f of readdirSync(mediaDir).filter((n) => n.endsWith('.c'))) {
      const src = readFileSync(path.join(mediaDir, f), 'utf8');
      for (const m of src.matchAll(/(?:make\(p, |gst_element_factory_make\()"([a-z0-9]+)"/g)) elements.add(m[1]);
    }
    assert.ok(elements.has('mp4mux') && elements.has('x264enc') && elements.has('rtspsrc'), [...elements].join());
    for (const el of elements) {
      const info = run('gst-inspect-1.0', [el]).stdout;
      const file = info.match(/^\s*Filename\s+(\S+)/m)?.[1];
      assert.ok(file, `gst-inspect-1.0 ${el} names no plugin file`);
      // Merged /usr: GStreamer may report /lib/..., dpkg knows /usr/lib/...
      const candidates = [file, file.replace(/^\/lib\//, '/usr/lib/')];
      const found = candidates.map((c) => spawnSync('dpkg', ['-S', c], { encoding: 'utf8' }))
        .find((r) => r.status === 0);
      assert.ok(found, `no package owns ${file} (element ${el})`);
      const owner = found.stdout.split(':')[0];
      assert.ok(pkgs.includes(owner), `element ${el} comes from ${owner}, which the runtime stage does not install`);
    }
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

  it("declares the compose devsim's device: cam1 over MQTT via broker:1883, on the demo camera", () => {
    const cfg = JSON.parse(readFileSync(CONFIG, 'utf8'));
    const cmd = [].concat(composeConfig().services.devsim.command);
    assert.equal(cfg.mqtt.host, 'broker');
    assert.equal(cfg.mqtt.port, 1883);
    assert.equal(cfg.mqtt.prefix ?? 'vigil', flagValue(cmd, '--prefix') ?? 'vigil');
    const dev = cfg.devices.find((d) => d.id === flagValue(cmd, '--id'));
    assert.ok(dev, `a device for the simulator's --id: ${JSON.stringify(cfg.devices)}`);
    assert.equal(dev.transport, 'mqtt');
    assert.equal(dev.stream, 'demo');
  });

  it('starts the real server, which reports healthy and the demo stream live', async () => {
    // startVigil adds --port <free>, which overrides the file's 8080, so the
    // test does not collide with a running `make run`.
    const vigil = await startVigil({ args: ['--config', CONFIG], timeoutMs: 15000 * SLOW });
    let st;
    try {
      const r = await vigil.fetch(`/api/health`);
      assert.equal(r.status, 200);
      const health = await r.json();
      assert.equal(health.status, 'ok');
      assert.equal(health.streams, 1);
      const s = await waitStreamState(vigil, 'demo', 'live', 20000 * SLOW);
      assert.match(String(s.codecs), /^avc1\./);
    } finally {
      st = await vigil.stop();
    }
    assert.deepEqual(st, { code: 0, signal: null }, `vigil exit status; log tail:\n${vigil.log().slice(-4000)}`);
  });
});

describe('config/mosquitto.conf', { timeout: 30000 }, () => {
  const text = readFileSync(MOSQUITTO_CONF, 'utf8');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('is the demo broker: listener 1883, anonymous (said to be for the demo), persistence on', () => {
    assert.deepEqual(lines.filter((l) => l.startsWith('listener ')), ['listener 1883']);
    assert.ok(lines.includes('allow_anonymous true'));
    assert.match(text, /#[^\n]*anonymous[^\n]*\n(#[^\n]*\n)*allow_anonymous true/i, 'a comment on allow_anonymous');
    assert.match(text, /#[^\n]*local demo/i);
    assert.ok(lines.includes('persistence true'));
    assert.deepEqual(lines.filter((l) => l.startsWith('persistence_location ')), ['persistence_location /mosquitto/data/']);
  });

  it("runs in mosquitto 2.0 (on a free port), and the compose devsim's state reaches it", async (t) => {
    const version = spawnSync('mosquitto', ['-h'], { encoding: 'utf8' });
    assert.match(version.stdout + version.stderr, /mosquitto version 2\./, 'mosquitto 2.x is installed');
    const port = await freeTcpPort();
    const dir = brokerDir();
    // The same file, on 127.0.0.1:<free port> instead of 1883 on every
    // interface, keeping its database in a directory of the test's own.
    const copy = text
      .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
      .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`);
    assert.match(copy, new RegExp(`^listener ${port} 127\\.0\\.0\\.1$`, 'm'));
    const procs = new Procs();
    t.after(() => procs.killAll());
    const broker = procs.add(await startBroker(port, dir, copy));

    // The simulator with the compose file's flags, the broker's address
    // swapped for the test's.
    const cmd = [].concat(composeConfig().services.devsim.command);
    const args = cmd.slice(1).map((a, i, all) => {
      if (all[i - 1] === '--mqtt-host') return '127.0.0.1';
      if (all[i - 1] === '--mqtt-port') return String(port);
      return a;
    });
    const sim = procs.add(await startSim(args));
    const topic = `${flagValue(cmd, '--prefix') ?? 'vigil'}/${flagValue(cmd, '--id')}/state`;
    const sub = procs.add(new LineProc('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-C', '1', '-W', '5', '-t', topic]));
    const st = await sub.exit;
    assert.deepEqual(st, { code: 0, signal: null }, `mosquitto_sub on ${topic}: ${sub.text}\nsim: ${sim.text}\nbroker: ${broker.text}`);
    const state = sub.lines[0];
    assert.equal(state?.online, true, `retained state: ${sub.text}`);

    assert.deepEqual(await sim.kill('SIGTERM'), { code: 0, signal: null });
    await broker.kill('SIGTERM');
    assert.ok(existsSync(path.join(dir, 'mosquitto.db')), `persistence: no mosquitto.db after SIGTERM: ${broker.text.slice(-500)}`);
  });
});

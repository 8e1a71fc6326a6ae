// The container deployment without a Docker engine: docker-compose.yml must
// validate and say what the README promises (https on 8443 with the
// redirect on 8080, certificates made by a one-shot certs service into a
// volume the relay mounts read-only, health check over https on
// /api/health, config mounted read-only; an MQTT broker, a device simulator
// and an SRTP camera simulator beside the relay), the Dockerfile must keep
// its shape, and the files the containers run with must work with the real
// programs: the certs service's make-certs.sh command and config/vigil.json
// in build/vigil over https, also fed by the camera simulator's own
// gst-launch-1.0 command line (on loopback), config/mosquitto.conf in
// mosquitto 2.0 (on a free loopback port) with build/vigil-devsim, run with
// the compose file's own flags, publishing to it, and the agent's services:
// the secret service's script, the relay's command line with that secret,
// the agent-token service's `vigil token` and build/vigil-agent with
// config/agent.json and the image's example handlers, publishing the stream
// "yard" and serving the device "yard" (its light command answered).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT, SLOW, VIGIL_BIN, freePort, httpRequest, mintToken, sleep, startVigil, tempDir, until, waitStreamState,
} from '../lib/vigil.js';
import { AgentProc } from '../lib/agent.js';
import { composeConfig, mountOf, run, volumeMounts } from '../lib/compose.js';
import { LineProc, Procs, brokerDir, freeTcpPort, startBroker, startSim } from './control_peers.js';
import { freeUdpPort } from '../tools/push_camera.js';

const CONFIG = path.join(ROOT, 'config/vigil.json');
const CONTAINER_CONFIG = '/etc/vigil/vigil.json';
const CONTAINER_CERTS = '/etc/vigil/certs';
const AGENT_CONFIG = path.join(ROOT, 'config/agent.json');
const AGENT_CONTAINER_CONFIG = '/etc/vigil-agent/agent.json';
// Where the Dockerfile puts deploy/agent/handlers/.
const CONTAINER_HANDLERS = '/usr/local/lib/vigil-agent';
const FINAL = ['acknowledged', 'rejected', 'failed', 'timeout'];
const MOSQUITTO_CONF = path.join(ROOT, 'config/mosquitto.conf');
const MOSQUITTO_CONTAINER_CONF = '/mosquitto/config/mosquitto.conf';

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

// The elements of a gst-launch-1.0 command line: the first word of each
// "!"-separated part that is not a caps string, and its key=value properties.
function launchElements(args) {
  const parts = [[]];
  for (const a of args) {
    if (a === '!') parts.push([]);
    else parts[parts.length - 1].push(a);
  }
  return parts.filter((p) => p.length && !p[0].includes('/')).map((p) => ({
    name: p[0],
    props: Object.fromEntries(p.slice(1).map((kv) => kv.split('=', 2))),
  }));
}

// The camera simulator's command and what it says: its elements, where its
// udpsink sends and with which srtpenc key.
function camsim(services) {
  const cmd = [].concat(services.camsim?.command ?? []);
  const els = launchElements(cmd.slice(1).filter((a) => a !== '-q' && a !== '-e'));
  const find = (n) => els.find((e) => e.name === n);
  return { cmd, els, sink: find('udpsink'), srtp: find('srtpenc'), pay: find('rtph264pay') };
}

// Ports likewise: "8080:8080" or {published, target}; UDP ones end in /udp.
function portPairs(service) {
  return (service.ports || []).map((p) => {
    if (typeof p !== 'string') {
      const proto = p.protocol && p.protocol !== 'tcp' ? `/${p.protocol}` : '';
      return `${p.published}:${p.target}${proto}`;
    }
    return p.replace(/\/tcp$/, '').split(':').slice(-2).join(':');
  });
}

// A one-shot service's `sh -c` script.
function shScript(service) {
  const cmd = [].concat(service?.command ?? []);
  assert.deepEqual(cmd.slice(0, 2), ['sh', '-c'], `command: ${JSON.stringify(service?.command)}`);
  assert.equal(cmd.length, 3, `one script: ${JSON.stringify(service.command)}`);
  return cmd[2];
}

// Container paths to the test's: each container directory of `dirs` (no
// trailing slash) swapped for its local one wherever a path starts with it.
function mapPaths(text, dirs) {
  let out = text;
  for (const [from, to] of Object.entries(dirs)) out = out.replaceAll(`${from}/`, `${to}/`);
  return out;
}

// The token secret the relay reads: its command's --auth-secret-file.
function relaySecretFile(services) {
  const file = flagValue([].concat(services.relay.command ?? []), '--auth-secret-file');
  assert.ok(file, `the relay's command names its secret: ${JSON.stringify(services.relay.command)}`);
  return file;
}

// The agent-token service's `vigil token` words and the file it writes.
function agentTokenCommand(services) {
  const m = /^umask 077 && (vigil token [^>]+?) > (\S+)$/.exec(shScript(services['agent-token']));
  assert.ok(m, `agent-token: umask 077 && vigil token ... > FILE: ${JSON.stringify(services['agent-token'].command)}`);
  return { argv: m[1].split(/\s+/), out: m[2] };
}

describe('docker-compose.yml', () => {
  it('validates with docker-compose config -q', () => {
    const r = run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
    assert.equal(r.status, 0, `docker-compose config -q failed:\n${r.stderr}`);
  });

  it('relay: built from the Dockerfile, https on 8443 and the redirect on 8080, https health check, config mounted read-only', () => {
    const relay = composeConfig().services?.relay;
    assert.ok(relay, 'a service named relay');
    assert.equal(relay.build?.context, ROOT);
    assert.equal(relay.build?.dockerfile ?? 'Dockerfile', 'Dockerfile');
    assert.ok(portPairs(relay).includes('8443:8443'), `ports: ${JSON.stringify(relay.ports)}`);
    assert.ok(portPairs(relay).includes('8080:8080'), `ports: ${JSON.stringify(relay.ports)}`);

    const test = relay.healthcheck?.test;
    assert.ok(test, 'a healthcheck');
    // Over https, checking the certificate against the CA (not -k).
    assert.match([].concat(test).join(' '),
      new RegExp(`curl .*--cacert ${CONTAINER_CERTS}/ca\\.pem .*https://(127\\.0\\.0\\.1|localhost):8443/api/health`));
    assert.doesNotMatch([].concat(test).join(' '), / (-k|--insecure)\b/);

    const cfg = volumeMounts(relay).find((m) => m.target === CONTAINER_CONFIG);
    assert.ok(cfg, `a mount at ${CONTAINER_CONFIG}: ${JSON.stringify(relay.volumes)}`);
    assert.equal(cfg.source, CONFIG);
    assert.ok(cfg.readOnly, 'the config is mounted read-only');
  });

  it('camsim: the same image, gst-launch-1.0 pushing SRTP to the relay stream with the same key', () => {
    const services = composeConfig().services;
    const sim = services?.camsim;
    assert.ok(sim, 'a service named camsim');
    assert.equal(sim.build?.context, ROOT);
    assert.equal(sim.image, services.relay.image, 'the same image as the relay');
    assert.deepEqual(dependsOn(sim), ['relay']);
    assert.deepEqual(sim.healthcheck?.test, ['NONE'], `healthcheck: ${JSON.stringify(sim.healthcheck)}`);
    const { cmd, sink, srtp, pay } = camsim(services);
    assert.equal(cmd[0], 'gst-launch-1.0', `command: ${JSON.stringify(sim.command)}`);
    assert.ok(pay && sink && srtp, `rtph264pay, srtpenc, udpsink in ${cmd.join(' ')}`);
    assert.equal(sink.props.host, 'relay');

    // The relay's compose config has an srtp:// stream on that port, with
    // that key (base64 there, hex for srtpenc) and profile.
    const cfg = JSON.parse(readFileSync(CONFIG, 'utf8'));
    const door = cfg.streams.find((st) => st.source === `srtp://0.0.0.0:${sink.props.port}`);
    assert.ok(door, `a stream listening on srtp://0.0.0.0:${sink.props.port}: ${JSON.stringify(cfg.streams)}`);
    assert.equal(Buffer.from(door.options.key, 'base64').toString('hex'), srtp.props.key);
    assert.equal(door.options.profile ?? 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(srtp.props['rtp-cipher'], 'aes-128-icm');
    assert.equal(srtp.props['rtp-auth'], 'hmac-sha1-80');
    assert.equal(String(door.options.payload_type ?? 96), pay.props.pt);
    // Reachable from cameras on the LAN too.
    assert.ok(portPairs(services.relay).includes(`${sink.props.port}:${sink.props.port}/udp`),
      `relay ports: ${JSON.stringify(services.relay.ports)}`);
  });

  it('certs: a one-shot make-certs.sh into a volume the relay mounts read-only; the CA key stays out of the relay', () => {
    const services = composeConfig().services;
    const certs = services?.certs;
    assert.ok(certs, 'a service named certs');
    assert.equal(certs.image, services.relay.image, 'the same image as the relay');
    const cmd = [].concat(certs.command ?? []);
    assert.equal(cmd[0], 'make-certs.sh', `command: ${JSON.stringify(certs.command)}`);
    assert.equal(flagValue(cmd, '-o'), CONTAINER_CERTS);
    const caDir = flagValue(cmd, '--ca-dir');
    assert.ok(caDir, 'the CA kept apart with --ca-dir');
    assert.equal(certs.restart ?? 'no', 'no');
    assert.deepEqual(certs.healthcheck?.test, ['NONE']);

    const out = volumeMounts(certs).find((m) => m.target === CONTAINER_CERTS);
    const relayCerts = volumeMounts(services.relay).find((m) => m.target === CONTAINER_CERTS);
    assert.ok(out && relayCerts, `both mount ${CONTAINER_CERTS}`);
    assert.equal(relayCerts.source, out.source, 'the same volume');
    assert.ok(relayCerts.readOnly, 'read-only in the relay');
    const ca = volumeMounts(certs).find((m) => m.target === caDir);
    assert.ok(ca, `the CA directory ${caDir} is a volume`);
    assert.ok(!volumeMounts(services.relay).some((m) => m.source === ca.source || m.target === caDir),
      'the relay does not mount the CA volume');
    // The relay starts once the certificates exist.
    assert.deepEqual(services.relay.depends_on?.certs, { condition: 'service_completed_successfully' });
  });

  it("secret: a one-shot openssl rand, made once, into a volume the relay mounts read-only and reads with --auth-secret-file", () => {
    const services = composeConfig().services;
    const secret = services?.secret;
    assert.ok(secret, 'a service named secret');
    assert.equal(secret.build?.context, ROOT);
    assert.equal(secret.image, services.relay.image, 'the same image as the relay');
    assert.equal(secret.restart ?? 'no', 'no');
    assert.deepEqual(secret.healthcheck?.test, ['NONE']);
    // The relay runs the image's CMD with the secret file added.
    const file = relaySecretFile(services);
    assert.deepEqual([].concat(services.relay.command), ['vigil', '--config', CONTAINER_CONFIG, '--auth-secret-file', file]);
    const script = shScript(secret);
    assert.match(script, /^umask 077 && /, 'the secret is 0600');
    assert.equal(/openssl rand -hex 32 > ([^\s;]+)/.exec(script)?.[1], file, script);
    assert.ok(script.includes(`[ -s ${file} ] || `), `only when there is none yet: ${script}`);
    const made = mountOf(secret, file), read = mountOf(services.relay, file);
    assert.ok(made && read, `both mount the directory of ${file}`);
    assert.equal(read.source, made.source, 'the same volume');
    assert.ok(!made.source.includes('/'), `a named volume, not a host directory: ${made.source}`);
    assert.ok(!made.readOnly && read.readOnly, 'written by the secret service, read-only in the relay');
    assert.deepEqual(services.relay.depends_on?.secret, { condition: 'service_completed_successfully' });
    assert.deepEqual(Object.keys(services.relay.depends_on).sort(), ['certs', 'secret']);
  });

  it("agent-token: the same image, a one-shot `vigil token --role device` for yard signed with the relay's secret, into a volume the agent mounts read-only", () => {
    const services = composeConfig().services;
    const tok = services?.['agent-token'];
    assert.ok(tok, 'a service named agent-token');
    assert.equal(tok.build?.context, ROOT);
    assert.equal(tok.image, services.relay.image, 'the same image as the relay');
    assert.equal(tok.restart ?? 'no', 'no');
    assert.deepEqual(tok.healthcheck?.test, ['NONE']);
    const { argv, out } = agentTokenCommand(services);
    assert.deepEqual(argv.slice(0, 2), ['vigil', 'token']);
    assert.equal(flagValue(argv, '--role'), 'device');
    assert.equal(flagValue(argv, '--streams'), 'yard');
    assert.equal(flagValue(argv, '--devices'), 'yard');
    assert.equal(flagValue(argv, '--ttl'), '31536000');
    // Signed with the secret the relay reads, from the same volume (read-only here).
    const file = relaySecretFile(services);
    assert.equal(flagValue(argv, '--secret-file'), file, "signed with the relay's secret");
    const secretMount = mountOf(tok, file);
    assert.equal(secretMount?.source, mountOf(services.relay, file).source, 'the secret volume');
    assert.ok(secretMount.readOnly, 'the secret is read-only in agent-token');
    // Written into a named volume, which the agent mounts read-only and
    // config/agent.json reads the token from.
    const written = mountOf(tok, out), read = mountOf(services.agent, out);
    assert.ok(written && read, `both mount the directory of ${out}`);
    assert.equal(read.source, written.source, 'the same volume');
    assert.ok(!written.source.includes('/'), `a named volume, not a host directory: ${written.source}`);
    assert.ok(!written.readOnly && read.readOnly, 'written by agent-token, read-only in the agent');
    assert.equal(JSON.parse(readFileSync(AGENT_CONFIG, 'utf8')).token_file, out);
    assert.deepEqual(tok.depends_on, { secret: { condition: 'service_completed_successfully' } });
  });

  it('agent: the same image, vigil-agent with config/agent.json read-only, to wss://relay checked with the CA of vigil-certs, after a healthy relay and its token', () => {
    const services = composeConfig().services;
    const agent = services?.agent;
    assert.ok(agent, 'a service named agent');
    assert.equal(agent.build?.context, ROOT);
    assert.equal(agent.image, services.relay.image, 'the same image as the relay');
    assert.deepEqual([].concat(agent.command ?? []), ['vigil-agent', '--config', AGENT_CONTAINER_CONFIG]);
    const cfgMount = volumeMounts(agent).find((m) => m.target === AGENT_CONTAINER_CONFIG);
    assert.ok(cfgMount, `a mount at ${AGENT_CONTAINER_CONFIG}: ${JSON.stringify(agent.volumes)}`);
    assert.equal(cfgMount.source, AGENT_CONFIG);
    assert.ok(volumeMounts(agent).every((m) => m.readOnly), `every mount read-only: ${JSON.stringify(agent.volumes)}`);

    const cfg = JSON.parse(readFileSync(AGENT_CONFIG, 'utf8'));
    // The relay by its compose name, on its port, over wss; its certificate
    // names "relay" and is checked against the CA beside it in vigil-certs.
    const port = JSON.parse(readFileSync(CONFIG, 'utf8')).server.port;
    assert.equal(cfg.server, `wss://relay:${port}/ws`);
    assert.ok([].concat(services.certs.command).includes('relay'), 'the certificate names relay');
    assert.equal(cfg.ca_file, `${CONTAINER_CERTS}/ca.pem`);
    assert.equal(mountOf(agent, cfg.ca_file)?.source, mountOf(services.relay, cfg.ca_file).source, 'the vigil-certs volume');
    assert.ok(mountOf(agent, cfg.token_file), `the token's volume: ${cfg.token_file}`);
    // test:// as the stream yard; the device yard's light and telemetry by
    // the handlers the image carries.
    assert.equal(cfg.stream.id, 'yard');
    assert.equal(cfg.stream.source, 'test://');
    assert.equal(cfg.device.id, 'yard');
    assert.deepEqual(Object.keys(cfg.device.commands), ['light']);
    assert.deepEqual(cfg.device.commands.light.exec, [`${CONTAINER_HANDLERS}/light`]);
    assert.deepEqual(cfg.device.telemetry.exec, [`${CONTAINER_HANDLERS}/telemetry`]);
    assert.equal(cfg.device.telemetry.interval_s, 10);

    assert.deepEqual(agent.depends_on, {
      relay: { condition: 'service_healthy' },
      'agent-token': { condition: 'service_completed_successfully' },
    });
    // Only outbound; the image's HEALTHCHECK probes the relay's port, which
    // the agent does not have.
    assert.deepEqual(agent.ports ?? [], [], 'no ports');
    assert.deepEqual(agent.healthcheck?.test, ['NONE'], `healthcheck: ${JSON.stringify(agent.healthcheck)}`);
    assert.equal(agent.init, true);
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
    // The image's HEALTHCHECK probes the relay on 8443; the simulator has no
    // such port and must not inherit it.
    assert.deepEqual(sim.healthcheck?.test, ['NONE'], `healthcheck: ${JSON.stringify(sim.healthcheck)}`);
  });
});

// The Debian package owning a file, or undefined.
function packageOwning(file) {
  // Merged /usr: GStreamer may report /lib/..., dpkg knows /usr/lib/...
  const candidates = [file, file.replace(/^\/lib\//, '/usr/lib/')];
  const found = candidates.map((c) => spawnSync('dpkg', ['-S', c], { encoding: 'utf8' }))
    .find((r) => r.status === 0);
  return found?.stdout.split(':')[0];
}

// A GStreamer element's plugin file, as gst-inspect names it, must belong to
// a package of `pkgs`.
function assertFromRuntime(el, pkgs) {
  const info = run('gst-inspect-1.0', [el]).stdout;
  const file = info.match(/^\s*Filename\s+(\S+)/m)?.[1];
  assert.ok(file, `gst-inspect-1.0 ${el} names no plugin file`);
  const owner = packageOwning(file);
  assert.ok(owner, `no package owns ${file} (element ${el})`);
  assert.ok(pkgs.includes(owner), `element ${el} comes from ${owner}, which the runtime stage does not install`);
}

// The optional monitoring services (deploy/): docker-compose --profile metrics.
describe('docker-compose.yml, metrics profile', () => {
  const services = () => composeConfig(['--profile', 'metrics']).services;

  it('validates with docker-compose --profile metrics config -q', () => {
    const r = run('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'metrics', 'config', '-q']);
    assert.equal(r.status, 0, `docker-compose --profile metrics config -q failed:\n${r.stderr}`);
  });

  it("prometheus: the official image, only in the profile, scraping the relay's metrics_bind port with deploy/prometheus/", () => {
    const svc = services();
    const prom = svc.prometheus;
    assert.ok(prom, 'a service named prometheus');
    assert.match(prom.image, /^prom\/prometheus:/);
    assert.deepEqual(prom.profiles, ['metrics']);
    for (const f of ['prometheus.yml', 'alerts.yml']) {
      const m = volumeMounts(prom).find((x) => x.target === `/etc/prometheus/${f}`);
      assert.ok(m, `/etc/prometheus/${f} mounted: ${JSON.stringify(prom.volumes)}`);
      assert.equal(m.source, path.join(ROOT, 'deploy/prometheus', f));
      assert.ok(m.readOnly, f);
    }
    assert.ok([].concat(prom.command).includes('--config.file=/etc/prometheus/prometheus.yml'));
    // It scrapes the relay on the port of config/vigil.json's metrics_bind,
    // which the relay exposes on the compose network but does not publish.
    const bind = JSON.parse(readFileSync(CONFIG, 'utf8')).server.metrics_bind;
    assert.match(bind, /^0\.0\.0\.0:\d+$/);
    const mport = bind.split(':')[1];
    const scrape = readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8');
    assert.match(scrape, new RegExp(`targets: \\["relay:${mport}"\\]`));
    assert.ok((svc.relay.expose || []).map(String).includes(mport), `relay expose: ${JSON.stringify(svc.relay.expose)}`);
    assert.ok(!portPairs(svc.relay).some((p) => p.endsWith(`:${mport}`)), 'the metrics port is not published');
    assert.deepEqual(portPairs(prom), ['9090:9090']);
    assert.match(JSON.stringify(prom.ports), /127\.0\.0\.1/, 'Prometheus on the host loopback only');
  });

  it('grafana: the official image, only in the profile, provisioned with the Prometheus data source and the dashboard', () => {
    const svc = services();
    const g = svc.grafana;
    assert.ok(g, 'a service named grafana');
    assert.match(g.image, /^grafana\/grafana:/);
    assert.deepEqual(g.profiles, ['metrics']);
    const prov = volumeMounts(g).find((m) => m.target === '/etc/grafana/provisioning');
    assert.ok(prov && prov.readOnly, `provisioning mounted read-only: ${JSON.stringify(g.volumes)}`);
    assert.equal(prov.source, path.join(ROOT, 'deploy/grafana/provisioning'));
    // The dashboards provider reads the directory the dashboard is mounted in.
    const provider = readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/dashboards/vigil.yml'), 'utf8');
    const dir = /path: (\S+)/.exec(provider)[1];
    const dash = volumeMounts(g).find((m) => m.target === `${dir}/vigil-dashboard.json`);
    assert.ok(dash && dash.readOnly, `the dashboard in ${dir}: ${JSON.stringify(g.volumes)}`);
    assert.equal(dash.source, path.join(ROOT, 'deploy/grafana/vigil-dashboard.json'));
    // The data source is the prometheus service.
    const ds = readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8');
    assert.match(ds, /url: http:\/\/prometheus:9090/);
    assert.deepEqual(dependsOn(g), ['prometheus']);
    assert.match(JSON.stringify(g.ports), /127\.0\.0\.1/, 'Grafana on the host loopback only');
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
    assert.deepEqual(instr('EXPOSE'), ['EXPOSE 8443 8080']);
    assert.match(instr('HEALTHCHECK').join(), /curl .*--cacert \/etc\/vigil\/certs\/ca\.pem https:\/\/localhost:8443\/api\/health/);
    assert.ok(instr('COPY').some((l) => /^COPY certs\/make-certs\.sh \/usr\/local\/bin\//.test(l)),
      'copies make-certs.sh onto the PATH for the certs service');
    assert.deepEqual(instr('CMD'), [`CMD ["vigil", "--config", "${CONTAINER_CONFIG}"]`]);
  });

  it('.dockerignore lets make-certs.sh in, and no key or certificate', () => {
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    assert.ok(ignore.includes('!certs/make-certs.sh'));
    for (const p of ['certs/*', '**/*.key', '**/*.pem']) assert.ok(ignore.includes(p), `.dockerignore lacks ${p}`);
  });

  it("the runtime stage installs vigil-devsim's libraries, and openssl for make-certs.sh", () => {
    const pkgs = runtimePackages();
    assert.ok(pkgs.includes('openssl'), `runtime stage lacks openssl: ${pkgs}`);
    // From `ldd build/vigil-devsim` on bookworm.
    for (const p of ['libmosquitto1', 'libcoap3', 'libjansson4', 'libssl3']) {
      assert.ok(pkgs.includes(p), `runtime stage lacks ${p}: ${pkgs}`);
    }
  });

  it('carries vigil-agent on the PATH and the example handlers where config/agent.json names them', () => {
    assert.ok(instr('COPY').some((l) => /--from=build .*build\/vigil-agent \/usr\/local\/bin\//.test(l)),
      'copies build/vigil-agent onto the PATH');
    const copy = instr('COPY').map((l) => /^COPY deploy\/agent\/handlers\/? (\S+?)\/?$/.exec(l)).find(Boolean);
    assert.ok(copy, 'copies deploy/agent/handlers/');
    assert.equal(copy[1], CONTAINER_HANDLERS);
    // COPY keeps the mode the files have here.
    for (const h of readdirSync(path.join(ROOT, 'deploy/agent/handlers'))) {
      assert.equal(statSync(path.join(ROOT, 'deploy/agent/handlers', h)).mode & 0o755, 0o755, `${h} is executable`);
    }
    // The directories the secret and agent-token services' volumes are
    // mounted on start out owned by vigil, so that they can write there.
    const services = composeConfig().services;
    const dirs = [mountOf(services.secret, relaySecretFile(services)).target,
      mountOf(services['agent-token'], agentTokenCommand(services).out).target];
    const chown = instr('RUN').find((l) => /chown vigil:vigil /.test(l)) ?? '';
    for (const d of dirs) assert.ok(chown.split(/\s+/).includes(d), `${d} owned by vigil: ${chown}`);
  });

  it("the runtime stage installs vigil-agent's libraries", () => {
    const pkgs = runtimePackages();
    // Each library vigil-agent is linked with, by the package that has it:
    // one the runtime stage installs, or libc6, or one they depend on.
    // The release build: the image's (the ASan one links libasan too).
    const agentBin = path.join(ROOT, 'build/vigil-agent');
    const needed = [...run('readelf', ['-d', agentBin]).stdout.matchAll(/\(NEEDED\)\s+Shared library: \[(\S+)\]/g)].map((m) => m[1]);
    assert.ok(needed.includes('libwebsockets.so.17') && needed.includes('libjansson.so.4'), needed.join());
    const where = Object.fromEntries([...run('ldd', [agentBin]).stdout.matchAll(/^\s*(\S+) => (\S+)/gm)].map((m) => [m[1], m[2]]));
    const deps = new Set(pkgs.flatMap((p) => {
      const r = spawnSync('dpkg-query', ['-W', '--showformat=${Depends}', p], { encoding: 'utf8' });
      return r.status === 0 ? r.stdout.split(/,\s*/).map((d) => d.split(/[\s:]/)[0]) : [];
    }));
    for (const lib of needed) {
      const owner = packageOwning(where[lib]);
      assert.ok(owner, `no package owns ${lib} (${where[lib]})`);
      assert.ok(pkgs.includes(owner) || owner === 'libc6' || deps.has(owner),
        `${lib} comes from ${owner}, which the runtime stage does not install`);
    }
  });

  // The elements agent/media.c and media_build.c make: by name in add(m, "..."), or named as
  // an encoder, parser, depayloader, source or sink it picks.
  function agentElements() {
    const src = ['media.c', 'media_build.c'].map((f) => readFileSync(path.join(ROOT, 'agent', f), 'utf8')).join('\n');
    const elements = new Set();
    for (const m of src.matchAll(/(?:add\(m, |gst_element_factory_make\()"([a-z0-9]+)"/g)) elements.add(m[1]);
    for (const m of src.matchAll(/"([a-z0-9]+(?:enc|parse|depay|src|sink))"/g)) elements.add(m[1]);
    for (const e of ['videotestsrc', 'x264enc', 'h264parse', 'v4l2src', 'rtspsrc', 'appsink', 'opusenc']) {
      assert.ok(elements.has(e), `${e} in ${[...elements].join()}`);
    }
    return elements;
  }

  it('the runtime stage carries the plugin of every GStreamer element vigil-agent builds', () => {
    const pkgs = runtimePackages();
    // Not on this machine, so not found through gst-inspect: the package
    // that has it (the V4L2 plugin offers v4l2h264enc only on a device with
    // such an encoder), or null for one the image leaves out (VA-API
    // hardware; the agent falls back to x264enc).
    const elsewhere = { alsasrc: 'gstreamer1.0-alsa', v4l2h264enc: 'gstreamer1.0-plugins-good', vaapih264enc: null };
    for (const el of agentElements()) {
      if (spawnSync('gst-inspect-1.0', ['--exists', el]).status === 0) {
        assertFromRuntime(el, pkgs);
        continue;
      }
      assert.ok(el in elsewhere, `${el}: not installed here, and not known to come from elsewhere`);
      if (elsewhere[el]) assert.ok(pkgs.includes(elsewhere[el]), `${el} comes from ${elsewhere[el]}, which the runtime stage does not install`);
    }
  });

  // Every element vigil creates (read from media/*.c) must come from a
  // package the runtime stage installs: found through the plugin file that
  // gst-inspect names and the package dpkg says owns it.
  function mediaElements() {
    const mediaDir = path.join(ROOT, 'media');
    const elements = new Set();
    for (const f of readdirSync(mediaDir).filter((n) => n.endsWith('.c'))) {
      const src = readFileSync(path.join(mediaDir, f), 'utf8');
      for (const m of src.matchAll(/(?:make\(p, |gst_element_factory_make\()"([a-z0-9]+)"/g)) elements.add(m[1]);
      // parsers chosen by caps, returned by name (audio_branch.c)
      for (const m of src.matchAll(/return "([a-z0-9]+parse)"/g)) elements.add(m[1]);
    }
    assert.ok(elements.has('mp4mux') && elements.has('x264enc') && elements.has('rtspsrc'), [...elements].join());
    assert.ok(elements.has('appsrc') && elements.has('rtpjitterbuffer') && elements.has('opusparse'), [...elements].join());
    return elements;
  }

  it('the runtime stage carries the plugin of every GStreamer element vigil builds', () => {
    const pkgs = runtimePackages();
    for (const el of mediaElements()) assertFromRuntime(el, pkgs);
  });

  // vigil forgets every plugin that provides none of vg_gst_factories[] at
  // start (media/gst_plugins.c): an element missing there would fail only
  // when a stream that needs it starts.
  it('every element media/ builds is in the plugin keep-list of media/gst_plugins.c', () => {
    const src = readFileSync(path.join(ROOT, 'media', 'gst_plugins.c'), 'utf8');
    const table = src.slice(src.indexOf('vg_gst_factories[] = {'), src.indexOf('NULL,'));
    const keep = new Set([...table.matchAll(/"([a-z0-9]+)"/g)].map((m) => m[1]));
    assert.ok(keep.size > 20, [...keep].join());
    for (const el of mediaElements()) assert.ok(keep.has(el), `${el} is built by media/ but not kept by media/gst_plugins.c`);
  });

  it('the runtime stage carries gst-launch-1.0 and every element the camsim service runs', () => {
    const pkgs = runtimePackages();
    const { els } = camsim(composeConfig().services);
    assert.ok(els.length >= 5, JSON.stringify(els));
    assert.equal(packageOwning('/usr/bin/gst-launch-1.0'), 'gstreamer1.0-tools');
    assert.ok(pkgs.includes('gstreamer1.0-tools'), `runtime stage lacks gstreamer1.0-tools: ${pkgs}`);
    for (const el of els) assertFromRuntime(el.name, pkgs);
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

// The certs service's command, its directories swapped for the test's:
// {certs, ca}, the directories of its volumes vigil-certs and vigil-ca.
function runCertsService() {
  const cmd = [].concat(composeConfig().services.certs.command);
  const certs = tempDir('vigil-compose-certs-'), ca = tempDir('vigil-compose-ca-');
  const args = cmd.slice(1).map((a, i, all) => {
    if (all[i - 1] === '-o') return certs;
    if (all[i - 1] === '--ca-dir') return ca;
    return a;
  });
  const made = spawnSync('bash', [path.join(ROOT, 'certs', cmd[0]), ...args], { encoding: 'utf8', timeout: 30000 });
  assert.equal(made.status, 0, made.stderr);
  for (const f of ['server.pem', 'server.key', 'ca.pem']) assert.ok(existsSync(path.join(certs, f)), f);
  assert.ok(!existsSync(path.join(certs, 'ca.key')), 'the CA key is not beside the server certificate');
  assert.ok(existsSync(path.join(ca, 'ca.key')));
  return { certs, ca };
}

// config/vigil.json with the certificate paths and the redirect port
// swapped (startVigil adds --port <free>, which overrides the file's 8443),
// so the test does not collide with a running vigil: {file, redirect, metrics}.
async function relayConfigFile(certs) {
  const redirect = await freePort();
  const metrics = await freePort();
  const text = readFileSync(CONFIG, 'utf8')
    .replaceAll(`${CONTAINER_CERTS}/`, `${certs}/`)
    .replace(/"http_redirect_port": 8080/, `"http_redirect_port": ${redirect}`)
    .replace(/"metrics_bind": "0\.0\.0\.0:\d+"/, `"metrics_bind": "127.0.0.1:${metrics}"`);
  assert.ok(text.includes(`${certs}/server.pem`) && text.includes(`"http_redirect_port": ${redirect}`)
    && text.includes(`"metrics_bind": "127.0.0.1:${metrics}"`));
  const file = path.join(tempDir('vigil-compose-config-'), 'vigil.json');
  writeFileSync(file, text);
  return { file, redirect, metrics };
}

describe('config/vigil.json', { timeout: 45000 * SLOW }, () => {
  it("is the demo stream, the camsim's srtp:// stream and the agent's publish:// stream (all open to anonymous viewers), on 0.0.0.0:8443 over TLS from /etc/vigil/certs, redirecting 8080", () => {
    const cfg = JSON.parse(readFileSync(CONFIG, 'utf8'));
    // The container must listen beyond its own loopback, on the ports that
    // EXPOSE, the health check and the compose port mapping use.
    assert.equal(cfg.server.bind, '0.0.0.0');
    assert.equal(cfg.server.port, 8443);
    assert.equal(cfg.server.http_redirect_port, 8080);
    assert.equal(cfg.server.tls_cert, `${CONTAINER_CERTS}/server.pem`);
    assert.equal(cfg.server.tls_key, `${CONTAINER_CERTS}/server.key`);
    assert.deepEqual(cfg.streams.map((s) => s.id), ['demo', 'door', 'yard']);
    assert.equal(cfg.streams[0].source, 'test://');
    assert.match(cfg.streams[1].source, /^srtp:\/\/0\.0\.0\.0:\d+$/);
    assert.equal(cfg.streams[2].source, 'publish://');
    assert.deepEqual(cfg.auth.anonymous.streams, ['demo', 'door', 'yard']);
    // No secret in the file: the compose relay gets it with --auth-secret-file.
    assert.equal(cfg.auth.secret, undefined);
    assert.equal(cfg.auth.secret_file, undefined);
  });

  it("declares the compose agent's device: yard over the agent transport, on its own stream, with the light command its config serves", () => {
    const cfg = JSON.parse(readFileSync(CONFIG, 'utf8'));
    const agent = JSON.parse(readFileSync(AGENT_CONFIG, 'utf8'));
    const dev = cfg.devices.find((d) => d.id === agent.device.id);
    assert.ok(dev, `a device for config/agent.json's device: ${JSON.stringify(cfg.devices)}`);
    assert.equal(dev.transport, 'agent');
    assert.equal(dev.stream, agent.stream.id);
    assert.deepEqual(dev.commands, { light: { on: { type: 'bool' } } });
    assert.deepEqual(Object.keys(dev.commands), Object.keys(agent.device.commands));
    assert.equal(cfg.streams.find((s) => s.id === agent.stream.id)?.source, 'publish://');
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

  it("starts the real server with the certs service's certificates: healthy over https, the demo stream live, 8080 redirecting", async () => {
    const { certs } = runCertsService();
    const { file, redirect, metrics } = await relayConfigFile(certs);
    const vigil = await startVigil({ args: ['--config', file], ca: readFileSync(path.join(certs, 'ca.pem')), timeoutMs: 15000 * SLOW });
    let st;
    try {
      const r = await vigil.get('/api/health');
      assert.equal(r.status, 200);
      const health = JSON.parse(r.body);
      assert.equal(health.status, 'ok');
      assert.equal(health.streams, 3);
      // What the health check does: https://localhost, the CA from the volume.
      const byName = await httpRequest(`https://localhost:${vigil.port}/api/health`, { ca: readFileSync(path.join(certs, 'ca.pem')) });
      assert.equal(byName.status, 200);
      const deadline = Date.now() + 20000 * SLOW;
      let s;
      for (;;) {
        s = JSON.parse((await vigil.get('/api/streams')).body).find((x) => x.id === 'demo');
        if (s?.state === 'live' || Date.now() > deadline) break;
        await sleep(100);
      }
      assert.equal(s?.state, 'live', JSON.stringify(s));
      assert.match(String(s.codecs), /^avc1\./);
      const moved = await httpRequest(`http://127.0.0.1:${redirect}/`);
      assert.equal(moved.status, 308);
      assert.equal(moved.headers.location, `https://127.0.0.1:${vigil.port}/`);
      // What the metrics profile's Prometheus scrapes: plain HTTP, no token,
      // while the main port speaks TLS.
      const scraped = await httpRequest(`http://127.0.0.1:${metrics}/metrics`);
      assert.equal(scraped.status, 200);
      assert.match(scraped.body, /^vigil_stream_state\{stream="demo",variant="main",state="live"\} 1$/m);
      assert.match(scraped.body, /^vigil_stream_rtp_packets_total\{stream="door",variant="main"\} 0$/m);
    } finally {
      st = await vigil.stop();
    }
    assert.deepEqual(st, { code: 0, signal: null }, `vigil exit status; log tail:\n${vigil.log().slice(-4000)}`);
  });

  it("brings the door stream live with the camsim's own command line", async () => {
    const cfg = JSON.parse(readFileSync(CONFIG, 'utf8'));
    // Only the media part: no MQTT broker to reach from here, and plain
    // HTTP (the TLS test above covers the certificates).
    delete cfg.mqtt;
    delete cfg.devices;
    for (const k of ['tls_cert', 'tls_key', 'http_redirect_port', 'metrics_bind']) delete cfg.server[k];
    const { cmd } = camsim(composeConfig().services);
    // The same files on loopback: the relay's listen address and the
    // camera's destination swapped for 127.0.0.1 and a free port.
    const port = await freeUdpPort();
    const door = cfg.streams.find((s) => s.id === 'door');
    door.source = `srtp://127.0.0.1:${port}`;
    cfg.server.bind = '127.0.0.1';
    const args = cmd.slice(1).map((a) => (a === 'host=relay' ? 'host=127.0.0.1'
      : a.startsWith('port=') ? `port=${port}` : a));
    assert.ok(args.includes('host=127.0.0.1') && args.includes(`port=${port}`), args.join(' '));
    const vigil = await startVigil({ config: cfg, timeoutMs: 15000 * SLOW });
    const cam = spawn(cmd[0], args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let camLog = '';
    cam.stderr.on('data', (d) => { camLog += d; });
    let st;
    try {
      const s = await waitStreamState(vigil, 'door', 'live', 20000 * SLOW).catch((e) => {
        throw new Error(`${e.message}\ncamera: ${camLog}`);
      });
      assert.match(String(s.codecs), /^avc1\./);
      assert.ok(s.ingest.packets > 0 && s.ingest.auth_failed === 0, JSON.stringify(s.ingest));
    } finally {
      cam.kill('SIGKILL');
      st = await vigil.stop();
    }
    assert.deepEqual(st, { code: 0, signal: null }, `vigil exit status; log tail:\n${vigil.log().slice(-4000)}`);
  });
});

describe('config/agent.json', { timeout: 90000 * SLOW }, () => {
  it("the secret, relay, agent-token and agent services' own command lines: yard live, the device online with telemetry, light acknowledged with {light: true}", async () => {
    const services = composeConfig().services;
    const { certs } = runCertsService();
    const ca = readFileSync(path.join(certs, 'ca.pem'));
    // Each service's volumes, as directories of the test's.
    const secretFile = relaySecretFile(services);
    const token = agentTokenCommand(services);
    const dirs = {
      [mountOf(services.secret, secretFile).target]: tempDir('vigil-compose-secret-'),
      [mountOf(services['agent-token'], token.out).target]: tempDir('vigil-compose-token-'),
      [CONTAINER_CERTS]: certs,
      [CONTAINER_HANDLERS]: path.join(ROOT, 'deploy/agent/handlers'),
    };
    // The image's programs by the names the commands use.
    const bin = tempDir('vigil-compose-bin-');
    symlinkSync(VIGIL_BIN, path.join(bin, 'vigil'));
    const sh = (service) => spawnSync('sh', ['-c', mapPaths(shScript(service), dirs)],
      { encoding: 'utf8', timeout: 30000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });

    // The secret service: a 0600 secret, made once and then kept.
    let r = sh(services.secret);
    assert.equal(r.status, 0, r.stderr);
    const localSecret = mapPaths(secretFile, dirs);
    const secret = readFileSync(localSecret, 'utf8');
    assert.match(secret, /^[0-9a-f]{64}\n$/);
    assert.equal(statSync(localSecret).mode & 0o777, 0o600);
    r = sh(services.secret);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(localSecret, 'utf8'), secret, 'the secret is kept');

    // The relay's command line with that secret (the config's certificates
    // and ports swapped as above).
    const { file } = await relayConfigFile(certs);
    const args = [].concat(services.relay.command).slice(1).map((a) => (a === CONTAINER_CONFIG ? file : mapPaths(a, dirs)));
    assert.ok(args.includes(localSecret), args.join(' '));
    const vigil = await startVigil({ args, ca, secretFlag: false, timeoutMs: 15000 * SLOW });
    // The admin's requests, with a token signed with that secret.
    const admin = mintToken({ sub: 'compose-test', role: 'admin' }, secret.trim());
    const api = (p, opts = {}) => vigil.get(p, { ...opts, headers: { authorization: `Bearer ${admin}`, ...(opts.headers || {}) } });
    let agent, st, agentSt;
    try {
      // The agent-token service: a device token for yard, 0600.
      r = sh(services['agent-token']);
      assert.equal(r.status, 0, r.stderr);
      const tokenFile = mapPaths(token.out, dirs);
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
      const minted = readFileSync(tokenFile, 'utf8').trim();
      const claims = JSON.parse(Buffer.from(minted.split('.')[1], 'base64url').toString());
      assert.equal(claims.role, 'device');
      assert.deepEqual(claims.streams, ['yard']);
      assert.deepEqual(claims.devices, ['yard']);
      assert.equal(claims.exp - claims.iat, 31536000);

      // The agent: config/agent.json with its paths mapped and the relay's
      // address (relay:8443 on the compose network) swapped for the test's.
      const cfg = JSON.parse(readFileSync(AGENT_CONFIG, 'utf8'));
      const mapped = JSON.parse(mapPaths(JSON.stringify(cfg), dirs));
      const url = new URL(cfg.server);
      assert.equal(url.hostname, 'relay');
      mapped.server = `wss://127.0.0.1:${vigil.port}${url.pathname}`;
      assert.equal(mapped.token_file, tokenFile);
      assert.doesNotMatch(JSON.stringify(mapped), /"\/(etc|var|usr)\//, 'every container path mapped');
      assert.deepEqual([].concat(services.agent.command), ['vigil-agent', '--config', AGENT_CONTAINER_CONFIG]);
      agent = new AgentProc({ token: minted, config: mapped });
      await agent.waitLog(/publishing stream 'yard'/, 20000 * SLOW);

      // The stream goes live, seen by an admin and by anonymous viewers.
      const yard = await until(async () => JSON.parse((await api('/api/streams')).body)
        .find((x) => x.id === 'yard' && x.state === 'live'), 20000, () => `yard live:\n${agent.text.slice(-2000)}`);
      assert.match(String(yard.codecs), /^avc1\./);
      const anon = JSON.parse((await httpRequest(`${vigil.base}/api/streams`, { ca })).body);
      assert.ok(anon.some((x) => x.id === 'yard'), `anonymous viewers see yard: ${JSON.stringify(anon)}`);

      // The device is online, with the telemetry handler's reading.
      const dev = await until(async () => {
        const d = JSON.parse((await api('/api/devices/yard')).body);
        return d.online === true && d.telemetry ? d : null;
      }, 15000, () => `yard online with telemetry:\n${agent.text.slice(-2000)}`);
      assert.ok(Number.isInteger(dev.telemetry.uptime_s) && dev.telemetry.uptime_s > 0, JSON.stringify(dev.telemetry));
      assert.equal(typeof dev.telemetry.load_1m, 'number', JSON.stringify(dev.telemetry));

      // The light command through REST, answered by the light handler.
      for (const on of [true, false]) {
        const post = await api('/api/devices/yard/commands', {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'light', params: { on } }),
        });
        assert.equal(post.status, 202, post.body);
        const id = JSON.parse(post.body).command_id;
        const done = await until(async () => {
          const c = JSON.parse((await api(`/api/commands/${id}`)).body);
          return FINAL.includes(c.status) ? c : null;
        }, 10000, () => `command ${id} done:\n${agent.text.slice(-2000)}`);
        assert.equal(done.status, 'acknowledged', JSON.stringify(done));
        assert.deepEqual(done.result, { light: on });
      }
    } finally {
      agentSt = await agent?.stop();
      st = await vigil.stop();
    }
    assert.deepEqual(agentSt, { code: 0, signal: null }, `vigil-agent exit status:\n${agent.text.slice(-2000)}`);
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

// The monitoring kit of deploy/ (README "Metrics") against a running vigil
// and the real Prometheus (Debian package `prometheus`): the scrape configs
// pass `promtool check config`, the alert rules `promtool check rules`; the
// real Prometheus, started on deploy/prometheus/prometheus.yml (its target
// and intervals swapped for the test's), scrapes vigil's server.metrics_bind
// listener, loads the alert rules without errors, and answers every PromQL
// expression of the Grafana dashboard (deploy/grafana/vigil-dashboard.json);
// and every metric family the dashboard and the rules name is one vigil
// exports (taken from a scrape of that vigil, which has every kind of
// stream, variant and device).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, SLOW, startVigil, freePort, tempDir, until } from '../lib/vigil.js';
import { freeUdpPort, CAMERA_COMMANDS } from './control_peers.js';

const DEPLOY = path.join(ROOT, 'deploy');
const DASHBOARD = JSON.parse(readFileSync(path.join(DEPLOY, 'grafana/vigil-dashboard.json'), 'utf8'));
// How many alert rules alerts.yml has: promtool and the real Prometheus must load every one.
const ALERTS = (readFileSync(path.join(DEPLOY, 'prometheus/alerts.yml'), 'utf8').match(/^\s*- alert: /gm) || []).length;
let v, mport, exported, prom;

// Families a scrape declares (# TYPE lines), with their types.
function familiesOf(text) {
  const out = new Map();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1], m[2]);
  return out;
}

// The vigil families an expression names: a histogram's _bucket, _sum and
// _count are its family's.
function namedFamilies(expr) {
  return [...expr.matchAll(/\bvigil_[a-z0-9_]+/g)].map(([n]) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return base !== n && exported.get(base) === 'histogram' ? base : n;
  });
}

// Every PromQL expression of the dashboard: panel targets and template
// variable queries (label_values(metric, label) names a metric too).
function dashboardExprs() {
  const exprs = [];
  for (const p of DASHBOARD.panels) for (const t of p.targets || []) exprs.push({ where: p.title, expr: t.expr });
  for (const v2 of DASHBOARD.templating.list) exprs.push({ where: `$${v2.name}`, expr: v2.query.query ?? v2.query });
  return exprs;
}

function promtool(args, opts = {}) {
  return spawnSync('promtool', args, { encoding: 'utf8', timeout: 30000, ...opts });
}

before(async () => {
  mport = await freePort();
  v = await startVigil({
    config: {
      server: { bind: '127.0.0.1', metrics_bind: `127.0.0.1:${mport}` },
      streams: [
        { id: 'door', source: 'test://', options: { width: 160, height: 120, fps: 10, bitrate_kbps: 100 },
          variants: { sub: { source: 'test://', options: { width: 96, height: 64, fps: 10 } } } },
        { id: 'push', source: `rtp://127.0.0.1:${await freeUdpPort()}`, options: { payload_type: 96 } },
      ],
      mqtt: { host: '127.0.0.1', port: await freePort(), reconnect_min_s: 1, reconnect_max_s: 2, connect_timeout_s: 1 },
      devices: [{ id: 'cam', transport: 'mqtt', commands: CAMERA_COMMANDS }],
    },
  });
  const r = await fetch(`http://127.0.0.1:${mport}/metrics`);
  assert.equal(r.status, 200);
  exported = familiesOf(await r.text());
});

after(async () => {
  if (prom && prom.exitCode === null) {
    prom.kill('SIGTERM');
    await new Promise((resolve) => prom.on('exit', resolve));
  }
  const st = await v.stop();
  assert.equal(st.code, 0, `vigil exit ${JSON.stringify(st)}\n${v.log().slice(-2000)}`);
});

test('the scrape configs pass promtool check config, the alert rules promtool check rules', () => {
  const dir = tempDir('vigil-prom-');
  copyFileSync(path.join(DEPLOY, 'prometheus/alerts.yml'), path.join(dir, 'alerts.yml'));
  copyFileSync(path.join(DEPLOY, 'prometheus/prometheus.yml'), path.join(dir, 'prometheus.yml'));
  let r = promtool(['check', 'config', 'prometheus.yml'], { cwd: dir });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  // The token example reads its token from a file (promtool wants it there).
  const token = readFileSync(path.join(DEPLOY, 'prometheus/prometheus-token.yml'), 'utf8');
  assert.match(token, /credentials_file: \/etc\/prometheus\/vigil-metrics-token/);
  writeFileSync(path.join(dir, 'vigil-metrics-token'), 'scrape-me-0123456789abcdef\n');
  writeFileSync(path.join(dir, 'token.yml'), token.replaceAll('/etc/prometheus/', `${dir}/`));
  r = promtool(['check', 'config', 'token.yml'], { cwd: dir });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  r = promtool(['check', 'rules', path.join(DEPLOY, 'prometheus/alerts.yml')]);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.ok(ALERTS >= 8, `alerts.yml has ${ALERTS} rules`);
  assert.match(r.stdout, new RegExp(`SUCCESS: ${ALERTS} rules found`));
});

test('the alert rules and the dashboard name only families vigil exports, and cover what the issue asks', () => {
  assert.ok(exported.size > 30, [...exported.keys()].join(' '));
  const rules = readFileSync(path.join(DEPLOY, 'prometheus/alerts.yml'), 'utf8');
  for (const name of namedFamilies(rules)) assert.ok(exported.has(name), `alerts.yml: ${name} is not exported`);
  const used = new Set();
  for (const { where, expr } of dashboardExprs())
    for (const name of namedFamilies(expr)) {
      assert.ok(exported.has(name), `dashboard "${where}": ${name} is not exported`);
      used.add(name);
    }
  for (const name of ['vigil_stream_state', 'vigil_stream_viewers', 'vigil_stream_in_bytes_per_second',
    'vigil_stream_bytes_out_total', 'vigil_stream_frames_per_second', 'vigil_stream_keyframe_interval_seconds',
    'vigil_stream_skips_total', 'vigil_stream_restarts_total', 'vigil_connections', 'vigil_service_loop_lag_seconds',
    'vigil_process_resident_memory_bytes', 'vigil_process_open_fds', 'vigil_device_commands_total',
    'vigil_device_command_latency_seconds'])
    assert.ok(used.has(name), `the dashboard shows ${name}`);
  // Every panel asks the provisioned data source.
  const ds = readFileSync(path.join(DEPLOY, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8');
  const uid = /uid: (\S+)/.exec(ds)[1];
  for (const p of DASHBOARD.panels.filter((x) => x.type !== 'row')) assert.equal(p.datasource?.uid, uid, p.title);
});

test('the real Prometheus scrapes vigil on metrics_bind, loads the alert rules and answers every dashboard query', { timeout: 90000 * SLOW }, async () => {
  const dir = tempDir('vigil-prom-run-');
  const port = await freePort();
  copyFileSync(path.join(DEPLOY, 'prometheus/alerts.yml'), path.join(dir, 'alerts.yml'));
  const conf = readFileSync(path.join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')
    .replace(/scrape_interval: 15s/, 'scrape_interval: 1s')
    .replace(/evaluation_interval: 15s/, 'evaluation_interval: 1s')
    .replace('"relay:9464"', `"127.0.0.1:${mport}"`);
  assert.ok(conf.includes(`127.0.0.1:${mport}`) && conf.includes('scrape_interval: 1s'));
  writeFileSync(path.join(dir, 'prometheus.yml'), conf);
  let log = '';
  prom = spawn('prometheus', [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`,
    `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  prom.stdout.on('data', (d) => { log += d; });
  prom.stderr.on('data', (d) => { log += d; });
  const api = async (p) => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/${p}`);
      return await r.json();
    } catch { return null; }
  };
  const query = (q) => api(`query?query=${encodeURIComponent(q)}`);

  await until(async () => (await query('up{job="vigil"} == 1'))?.data?.result?.length === 1
    && (await query('vigil_stream_frames_in_total{stream="door",variant="main"}'))?.data?.result?.[0]?.value?.[1] > 0,
  30000, () => `Prometheus scraping vigil:\n${log.slice(-2000)}`);
  // A few more scrapes, so that rate() has two points.
  await until(async () => (await query('count_over_time(up{job="vigil"}[1m])'))?.data?.result?.[0]?.value?.[1] >= 4,
    20000, () => 'four scrapes');

  for (const { where, expr } of dashboardExprs()) {
    if (expr.startsWith('label_values(')) {
      const [, metric, lbl] = /^label_values\((\w+), (\w+)\)$/.exec(expr);
      const r = await api(`label/${lbl}/values?match[]=${metric}`);
      assert.equal(r?.status, 'success', `${where}: ${JSON.stringify(r)}`);
      assert.deepEqual(r.data.sort(), ['door', 'push'], where);
      continue;
    }
    const r = await query(expr.replaceAll('$stream', '.*'));
    assert.equal(r?.status, 'success', `${where}: ${expr}: ${JSON.stringify(r)}`);
    assert.ok(r.data.result.length > 0, `${where}: ${expr} has no result`);
  }
  // The rules loaded and evaluate without error.
  await until(async () => {
    const r = await api('rules');
    const rules = r?.data?.groups?.flatMap((g) => g.rules) ?? [];
    return rules.length === ALERTS && rules.every((x) => x.health === 'ok');
  }, 15000, () => `the ${ALERTS} alert rules healthy:\n${log.slice(-2000)}`);
});

// docker-compose.yml as the tests read it: the config compose resolves
// (no engine needed), and what a service mounts. Shared by compose.test.js
// and compose_cluster.test.js.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROOT } from './vigil.js';

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 30000, ...opts });
  if (r.error) throw r.error;
  return r;
}

// `docker-compose config` prints YAML and 1.29 has no JSON output. PyYAML is
// a dependency of Debian's docker-compose, under the python it runs with.
export function composeConfig(profileArgs = []) {
  const r = run('docker-compose', ['-f', 'docker-compose.yml', ...profileArgs, 'config']);
  assert.equal(r.status, 0, r.stderr);
  const j = run('/usr/bin/python3', ['-c',
    'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: r.stdout });
  assert.equal(j.status, 0, j.stderr);
  return JSON.parse(j.stdout);
}

// Compose normalises volumes to "src:dst[:mode]" strings or long-form
// objects depending on version; accept both.
export function volumeMounts(service) {
  return (service.volumes || []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target, readOnly: !!v.read_only };
    const [source, target, mode = ''] = v.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

// The mount a container path `file` lies in (the deepest one).
export function mountOf(service, file) {
  return volumeMounts(service).filter((m) => file === m.target || file.startsWith(`${m.target}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
}

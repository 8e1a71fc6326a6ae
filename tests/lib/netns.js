// A "device" behind NAT for tests, made of Linux network namespaces: a
// namespace joined to this one by a veth pair on a private /30 (this side .1,
// the device .2), whose nftables input chain drops every packet but loopback
// and replies to connections the device opened itself (what a NAT or a
// stateful firewall leaves a device), with a counter on the drop rule.
// Needs root; where a namespace cannot be made, up() says why and the test
// skips. What up() made is taken down by down(), and also when the test
// process exits or is killed by SIGINT/SIGTERM (a test that failed between
// before() and after(), or a runner that timed out): the process then exits
// with status 128 + the signal's number, after its 'exit' handlers.
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';

// Runs a command (argv) and returns {status, out}; `must` throws on failure.
export function run(argv, { must = true, input, timeoutMs = 15000 } = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input, timeout: timeoutMs });
  const out = `${r.stdout || ''}${r.stderr || ''}${r.error ? r.error.message : ''}`;
  if (must && r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${out}`);
  return { status: r.status, out };
}

// Whether a TCP connect from here to host:port completes within ms:
// 'connected', 'refused' (a RST came back: the packet reached a stack) or
// 'timeout' (nothing came back).
export function probe(host, port, ms) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (what) => { clearTimeout(t); s.destroy(); resolve(what); };
    const t = setTimeout(() => done('timeout'), ms);
    s.once('connect', () => done('connected'));
    s.once('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : `error ${e.code}`));
  });
}

// The device's input chain: loopback and the answers to its own connections
// pass; everything else is counted by the last rule and dropped.
const RULES = `table inet vgdev {
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
    counter drop comment "inbound"
  }
}
`;

// Every DeviceNet that is up, for the exit and signal handlers.
const live = new Set();
let hooked = false;
function hook() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => { for (const d of [...live]) d.down(); });
  // Killed: exit (running every 'exit' handler: this one, the temporary
  // directories', a test's own) with the status a shell gives a signal's death.
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15]]) process.once(sig, () => process.exit(128 + n));
}

export class DeviceNet {
  constructor() {
    const tag = randomBytes(3).toString('hex');
    this.ns = `vg-dev-${tag}`;
    this.vethHost = `vgh-${tag}`; // interface names: at most 15 characters
    this.vethDev = `vgd-${tag}`;
    this.host = null; // this side's address on the veth pair
    this.dev = null; // the device's
  }

  // argv that runs a command inside the device's namespace.
  get prefix() { return ['ip', 'netns', 'exec', this.ns]; }

  // Runs argv inside the namespace (as run()).
  exec(argv, opts) { return run([...this.prefix, ...argv], opts); }

  // Makes the namespace, the veth pair and the addresses, links up (no
  // firewall yet). Returns null, or why it cannot (the test skips).
  up() {
    const made = run(['ip', 'netns', 'add', this.ns], { must: false });
    if (made.status !== 0) return `needs root and ip netns: cannot create a network namespace (${made.out.trim()})`;
    live.add(this);
    hook();
    const { host, dev } = pickSubnet();
    this.host = host;
    this.dev = dev;
    run(['ip', 'link', 'add', this.vethHost, 'type', 'veth', 'peer', 'name', this.vethDev]);
    run(['ip', 'link', 'set', this.vethDev, 'netns', this.ns]);
    run(['ip', 'addr', 'add', `${host}/30`, 'dev', this.vethHost]);
    run(['ip', 'link', 'set', this.vethHost, 'up']);
    this.exec(['ip', 'addr', 'add', `${dev}/30`, 'dev', this.vethDev]);
    this.exec(['ip', 'link', 'set', this.vethDev, 'up']);
    this.exec(['ip', 'link', 'set', 'lo', 'up']);
    return null;
  }

  // Puts the device behind its firewall (RULES above).
  firewall() { this.exec(['nft', '-f', '-'], { input: RULES }); }

  // Packets the "inbound" rule dropped so far.
  dropped() {
    const text = this.exec(['nft', 'list', 'chain', 'inet', 'vgdev', 'input']).out;
    const m = /counter packets (\d+) bytes \d+ drop comment "inbound"/.exec(text);
    if (!m) throw new Error(`no drop counter in:\n${text}`);
    return Number(m[1]);
  }

  // The device side's local ports of its established TCP connections to
  // `peer` (an "ip:port"), from ss inside the namespace.
  portsTo(peer) {
    const out = this.exec(['ss', '-Htn', 'state', 'established']).out;
    const ports = [];
    for (const line of out.split('\n')) {
      const f = line.trim().split(/\s+/);
      // Recv-Q Send-Q Local:Port Peer:Port
      if (f.length >= 4 && f[3] === peer) ports.push(Number(f[2].split(':').pop()));
    }
    return ports;
  }

  // Takes it all down: what still runs in the namespace (processes the test
  // started there and did not stop) is killed, then the namespace goes (and
  // with it the device's end of the veth pair, its qdiscs and rules), then
  // this side's end. Synchronous, so it can run on exit; idempotent.
  down() {
    if (!live.has(this)) return;
    live.delete(this);
    const pids = run(['ip', 'netns', 'pids', this.ns], { must: false }).out.split(/\s+/).filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone already */ }
    }
    run(['ip', 'netns', 'del', this.ns], { must: false });
    run(['ip', 'link', 'del', this.vethHost], { must: false });
  }
}

// A /30 on 10.200.0.0/16 that no interface here uses: .1 this side, .2 the device.
function pickSubnet() {
  const used = run(['ip', '-4', '-o', 'addr', 'show']).out;
  for (;;) {
    const base = `10.200.${randomInt(256)}.${4 * randomInt(64)}`;
    const [a, b, c, d] = base.split('.');
    if (!used.includes(`${a}.${b}.${c}.`)) return { host: `${a}.${b}.${c}.${+d + 1}`, dev: `${a}.${b}.${c}.${+d + 2}` };
  }
}

// vigil-agent as a test peer: writes its config (and token) to a temp dir,
// runs build/vigil-agent (the ASan build under VIGIL_SANITIZED), keeps its
// JSON log lines ({"ts","level","msg"}) and lets a test wait for one.
import { spawn } from 'node:child_process';
import { writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './vigil.js';

export const AGENT_BIN = process.env.VIGIL_AGENT_BIN
  || path.join(ROOT, process.env.VIGIL_SANITIZED ? 'build/asan/vigil-agent' : 'build/vigil-agent');

// Writes an executable script (a command or telemetry handler) and returns its path.
export function script(dir, name, body) {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

export class AgentProc {
  // config: the agent's JSON config without token_file (token: the token
  // itself); prefix: argv before the agent (e.g. ['ip','netns','exec',NS]).
  constructor({ token, config, prefix = [], statsS = 1, env }) {
    this.dir = tempDir('vigil-agent-');
    const tokenFile = path.join(this.dir, 'token');
    writeFileSync(tokenFile, `${token}\n`);
    this.configFile = path.join(this.dir, 'agent.json');
    writeFileSync(this.configFile, JSON.stringify({ token_file: tokenFile, ...config }, null, 2));
    const argv = [...prefix, AGENT_BIN, '--config', this.configFile, '--log-format', 'json',
      '--stats-interval', String(statsS)];
    this.lines = [];
    this.text = '';
    this.waiters = [];
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
    this.exit = new Promise((resolve) => this.proc.on('close', (code, signal) => {
      this.exited = { code, signal };
      this.poke();
      resolve(this.exited);
    }));
    let buf = '';
    const take = (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.text += `${line}\n`;
        let l;
        try { l = JSON.parse(line); } catch { l = { msg: line }; }
        l.at = Date.now();
        this.lines.push(l);
      }
      this.poke();
    };
    this.proc.stderr.on('data', take);
    this.proc.stdout.on('data', take);
  }
  poke() { for (const w of [...this.waiters]) w(); }
  // The first log line (from index `from`) whose msg matches re.
  waitLog(re, timeoutMs = 10000, from = 0) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const l = this.lines.slice(from).find((x) => re.test(x.msg ?? ''));
        if (l) { done(); resolve(l); return true; }
        if (this.exited) { done(); reject(new Error(`vigil-agent exited ${JSON.stringify(this.exited)} waiting for ${re}:\n${this.text.slice(-3000)}`)); return true; }
        return false;
      };
      const done = () => { clearTimeout(t); this.waiters = this.waiters.filter((w) => w !== check); };
      const t = setTimeout(() => { done(); reject(new Error(`timeout waiting for ${re} in the agent's log:\n${this.text.slice(-3000)}`)); }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }
  count(re) { return this.lines.filter((x) => re.test(x.msg ?? '')).length; }
  // The newest "stats {...}" line, parsed (null before the first).
  stats() {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const m = /^stats (\{.*\})$/.exec(this.lines[i].msg ?? '');
      if (m) return JSON.parse(m[1]);
    }
    return null;
  }
  async stop(signal = 'SIGTERM') {
    if (this.exited) return this.exited;
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    const st = await this.exit;
    clearTimeout(t);
    return st;
  }
}

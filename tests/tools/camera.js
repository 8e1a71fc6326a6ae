// Runs build/tools/rtsp_camera (tests/tools/rtsp_camera.c) from a test: start
// it on a given loopback port, wait for its "ready" line, kill it, restart it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../lib/vigil.js';

export const CAMERA_BIN = path.join(ROOT, 'build/tools/rtsp_camera');

// Every camera started here, so a crashed test run does not leave encoders
// burning the shared machine's CPU.
const live = new Set();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

// Resolves once the camera prints its ready line; rejects with its output if
// it exits first or stays silent for timeoutMs.
// `audio`: 'none' (default), 'pcmu', 'pcma', 'aac' or 'opus', a test tone
// as a second RTP stream. `bframes` > 0: H.264 with that many B-frames
// between references, in `profile` 'main' (default) or 'high'. `codec`
// 'h265': x265 (with B-frames) over rtph265pay.
export function startCamera({ port, path: mount = '/cam', width = 320, height = 240, fps = 25,
  audio = 'none', bframes = 0, profile = 'main', codec = 'h264', timeoutMs = 10000 } = {}) {
  if (!existsSync(CAMERA_BIN)) {
    return Promise.reject(new Error(`${CAMERA_BIN} is missing: run make build/tools/rtsp_camera`));
  }
  const args = ['--port', String(port), '--path', mount,
    '--width', String(width), '--height', String(height), '--fps', String(fps), '--audio', audio,
    '--bframes', String(bframes), '--profile', profile, '--codec', codec];
  const proc = spawn(CAMERA_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let log = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    live.delete(proc);
    resolve({ code, signal });
  }));
  const cam = {
    proc,
    url: `rtsp://127.0.0.1:${port}${mount}`,
    log: () => log,
    // Sends `signal` and resolves with the exit status.
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const st = await exited;
      clearTimeout(t);
      return st;
    },
  };
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`rtsp_camera not ready:\n${log}`)); },
      timeoutMs);
    proc.stderr.on('data', (d) => { log += d; });
    proc.stdout.on('data', (d) => {
      log += d;
      if (log.includes(`rtsp_camera ready ${cam.url}`)) { clearTimeout(t); resolve(cam); }
    });
    exited.then((st) => { clearTimeout(t); reject(new Error(`rtsp_camera exited ${JSON.stringify(st)}:\n${log}`)); });
  });
}

// A stand-in for the vigil server, for working on the dashboard without the
// C build: serves web/ and speaks a subset of vigil.v1 (hello, list,
// subscribe, unsubscribe, stats) on /ws, replaying a fragmented MP4 made by
// GStreamer as stream "demo" at 30 fps, looping (each loop is announced as a
// source restart with a fresh init segment; with several files each loop
// plays the next one, as if the camera came back with other settings).
// Not used by the tests.
//
//   gst-launch-1.0 videotestsrc num-buffers=300 ! video/x-raw,width=1280,height=720,framerate=30/1 \
//     ! x264enc tune=zerolatency key-int-max=30 ! h264parse \
//     ! mp4mux fragment-duration=1 streamable=true ! filesink location=/tmp/t.mp4
//   node tests/browser/dev/mock_vigil.js /tmp/t.mp4[,/tmp/other.mp4] [port]

import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { ROOT } from '../../lib/vigil.js';

const files = (process.argv[2] || '/tmp/t.mp4').split(',');
const port = Number(process.argv[3] || 8099);
const sources = files.map(load);
let current = 0;
let { init, frames, codecs } = sources[0];

// Splits the top-level boxes: ftyp+moov is the init, each moof+mdat a frame.
function boxes(buf, start = 0, end = buf.length) {
  const out = [];
  for (let i = start; i + 8 <= end;) {
    const size = buf.readUInt32BE(i);
    out.push({ type: buf.toString('latin1', i + 4, i + 8), start: i, end: i + size });
    i += size;
  }
  return out;
}
function load(file) {
const mp4 = readFileSync(file);
const top = boxes(mp4);
const moovEnd = top.find((b) => b.type === 'moov').end;
const init = mp4.subarray(0, moovEnd);
const frames = [];
for (let i = 0; i < top.length; i++) {
  if (top[i].type !== 'moof') continue;
  frames.push({ data: mp4.subarray(top[i].start, top[i + 1].end), key: isKeyframe(top[i]) });
}
const avcC = mp4.indexOf('avcC', 0, 'latin1');
const codecs = `avc1.${mp4.subarray(avcC + 5, avcC + 8).toString('hex')}`;
return { init, frames, codecs };

function isKeyframe(moof) {
  const traf = boxes(mp4, moof.start + 8, moof.end).find((b) => b.type === 'traf');
  const kids = boxes(mp4, traf.start + 8, traf.end);
  const tfhd = kids.find((b) => b.type === 'tfhd');
  const trun = kids.find((b) => b.type === 'trun');
  let flags = 0;
  const tf = mp4.readUInt32BE(tfhd.start + 8) & 0xffffff;
  let o = tfhd.start + 16;
  for (const [bit, len] of [[1, 8], [2, 4], [8, 4], [0x10, 4]]) if (tf & bit) o += len;
  if (tf & 0x20) flags = mp4.readUInt32BE(o);
  const rf = mp4.readUInt32BE(trun.start + 8) & 0xffffff;
  o = trun.start + 16;
  if (rf & 1) o += 4;
  if (rf & 4) flags = mp4.readUInt32BE(o);
  else if (rf & 0x400) flags = mp4.readUInt32BE(o + (rf & 0x100 ? 4 : 0) + (rf & 0x200 ? 4 : 0));
  return (flags & 0x10000) === 0;
}
}

function frame(kind, flags, channel, payload) {
  const h = Buffer.alloc(16);
  h[0] = 1; h[1] = kind; h[2] = flags;
  h.writeUInt32BE(channel, 4);
  h.writeBigUInt64BE(BigInt(Date.now()) * 1000n, 8);
  return Buffer.concat([h, payload]);
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/api/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', version: '0.0.0', streams: 1 }));
    return;
  }
  const rel = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
  const p = path.join(ROOT, 'web', path.normalize(rel));
  if (!p.startsWith(path.join(ROOT, 'web')) || !existsSync(p)) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-type': MIME[path.extname(p)] || 'application/octet-stream' });
  res.end(readFileSync(p));
});

const wss = new WebSocketServer({ server, path: '/ws', handleProtocols: (p) => (p.has('vigil.v1') ? 'vigil.v1' : false) });
const viewers = new Set();
let gop = []; // frames since the last keyframe
let pos = 0;
setInterval(() => {
  if (pos === frames.length) {
    pos = 0;
    current = (current + 1) % sources.length;
    ({ init, frames, codecs } = sources[current]);
    for (const v of viewers) {
      v.ws.send(JSON.stringify({ type: 'stream.state', stream: 'demo', channel: v.channel, state: 'live', codecs }));
      v.ws.send(frame(1, 0, v.channel, init));
    }
  }
  const f = frames[pos++];
  if (f.key) gop = [];
  gop.push(f);
  for (const v of viewers) v.ws.send(frame(2, f.key ? 1 : 0, v.channel, f.data));
}, 1000 / 30);

wss.on('connection', (ws) => {
  let nextChannel = 1;
  const mine = new Map();
  ws.on('message', (data, binary) => {
    if (binary) return;
    const m = JSON.parse(data);
    const reply = (o) => ws.send(JSON.stringify({ ...o, type: m.type, id: m.id }));
    if (m.type === 'hello') reply({ server: 'vigil-mock', version: '0.0.0', protocol: 'vigil.v1', limits: { max_subscriptions: 16 } });
    else if (m.type === 'list') reply({ streams: [{ id: 'demo', state: 'live', codecs, viewers: viewers.size, fps: 30, bitrate_bps: 0 }] });
    else if (m.type === 'subscribe') {
      const v = { ws, channel: nextChannel++ };
      reply({ stream: 'demo', mode: 'mse', channel: v.channel, state: 'live', codecs, mime: `video/mp4; codecs="${codecs}"` });
      ws.send(frame(1, 0, v.channel, init));
      for (const f of gop) ws.send(frame(2, f.key ? 1 : 0, v.channel, f.data));
      viewers.add(v); mine.set(v.channel, v);
    } else if (m.type === 'unsubscribe') { viewers.delete(mine.get(m.channel)); reply({ channel: m.channel }); }
    else if (m.type === 'stats') reply({ channels: [...mine.values()].map((v) => ({ channel: v.channel, stream: 'demo', frames_skipped: 0 })), errors: 0 });
    else ws.send(JSON.stringify({ type: 'error', id: m.id, code: 'unknown_type', message: m.type }));
  });
  ws.on('close', () => { for (const v of mine.values()) viewers.delete(v); });
});

// Like the real server: going-away close for every viewer, exit 0.
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.close(1001);
  server.close();
  setTimeout(() => process.exit(0), 100);
});

server.listen(port, '127.0.0.1', () => console.log(`mock vigil on http://127.0.0.1:${port}/ (${frames.length} frames, ${codecs})`));

// A publish:// camera as its own process (PROTOCOL.md "Publishing"), for
// tests that need the publisher somewhere the test process is not, e.g. in
// another network namespace (tests/integration/nat.test.js runs it with
// `ip netns exec`). It encodes a clip with GStreamer (publisher.js
// makeClip), connects to vigil's /ws (wss:// trusting --ca), signs in with
// --token, publishes --stream and sends the clip's access units in real
// time, looping, until SIGTERM. It prints JSON lines on stdout:
//   {"pub":"publishing","channel":N}   the publish request was accepted
//   {"pub":"sent","frames":N}          every second while sending
//   {"pub":"error","error":"..."}      then it exits 1
//
//   node publish_cli.js --url wss://HOST:PORT/ws --stream ID --token T [--ca FILE]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client } from '../lib/vigil.js';
import { makeClip, publishRequest, streamClip } from './publisher.js';

const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const fail = (err) => { say({ pub: 'error', error: String(err?.message ?? err) }); process.exit(1); };

const { values: o } = parseArgs({
  options: { url: { type: 'string' }, stream: { type: 'string' }, token: { type: 'string' }, ca: { type: 'string' } },
});
if (!o.url || !o.stream || !o.token) fail('usage: publish_cli.js --url URL --stream ID --token T [--ca FILE]');

try {
  const clip = makeClip({ frames: 60, fps: 30, keyInt: 30 });
  const c = await new Client(o.url, o.ca ? { ca: readFileSync(o.ca) } : {}).open();
  const hello = await c.request({ type: 'hello', token: o.token });
  if (hello.type === 'error') fail(`hello: ${JSON.stringify(hello)}`);
  const reply = await c.request(publishRequest(o.stream, clip));
  if (reply.type !== 'publish') fail(`publish: ${JSON.stringify(reply)}`);
  say({ pub: 'publishing', channel: reply.channel });
  const s = streamClip(c, reply.channel, clip);
  const tick = setInterval(() => say({ pub: 'sent', frames: s.sent }), 1000);
  c.ws.on('close', (code) => fail(`closed by the server (${code})`));
  process.on('SIGTERM', () => { s.stop(); clearInterval(tick); c.ws.removeAllListeners('close'); c.close(); process.exit(0); });
} catch (err) {
  fail(err);
}

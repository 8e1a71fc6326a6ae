// An RTSP camera end to end: vigil pulls H.264 from a real RTSP server
// (build/tools/rtsp_camera), a vigil.v1 client gets init + fragments, then
// the camera dies, the stream must go "retrying", and when the camera comes
// back on the same port the stream must go live again and frames flow.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVigil, freePort, waitStreamState, sleep, Client, SLOW, until, streamInfo } from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';

const KEYFRAME = 1;

describe('rtsp:// source', { timeout: 60000 * SLOW }, () => {
  let port;
  let camera;
  let vigil;
  let client;
  let channel;
  // Text messages and binary frames of the client in arrival order, so the
  // test can check what came before what.
  const events = [];

  before(async () => {
    port = await freePort();
    camera = await startCamera({ port });
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1', log_level: 'info' },
        streams: [{ id: 'cam', source: camera.url }],
      },
    });
  });

  after(async () => {
    if (client) client.close();
    if (vigil) await vigil.stop();
    if (camera) await camera.stop('SIGKILL');
  });

  it('goes live with an avc1 codec string', async () => {
    const s = await waitStreamState(vigil, 'cam', 'live', 20000 * SLOW);
    assert.equal(s.source, camera.url);
    assert.match(String(s.codecs), /^avc1\./, `codecs: ${s.codecs}`);
  });

  it('sends the init segment and then ≥ 20 fragments starting at a keyframe', async () => {
    client = await new Client(vigil.wsUrl).open();
    client.ws.on('message', (data, isBinary) => {
      events.push(isBinary ? { frame: client.frames[client.frames.length - 1] }
        : { msg: client.messages[client.messages.length - 1] });
    });
    const reply = await client.request({ type: 'subscribe', stream: 'cam' });
    assert.equal(reply.type, 'subscribe', JSON.stringify(reply));
    assert.equal(reply.state, 'live');
    assert.match(String(reply.codecs), /^avc1\./);
    channel = reply.channel;
    assert.equal(typeof channel, 'number');

    const mine = () => client.frames.filter((f) => f.channel === channel);
    await until(() => mine().filter((f) => f.kind === 2).length >= 20, 10000,
      () => `20 fragments, have ${mine().length} frames`);
    const frames = mine();
    for (const f of frames) assert.equal(f.version, 1);
    assert.equal(frames[0].kind, 1, 'the first frame is the init segment');
    assert.equal(frames[0].payload.toString('latin1', 4, 8), 'ftyp');
    const media = frames.filter((f) => f.kind === 2);
    assert.ok(media[0].flags & KEYFRAME, `first fragment flags ${media[0].flags}`);
    assert.equal(media[0].payload.toString('latin1', 4, 8), 'moof');
  });

  it('goes retrying when the camera dies', async (t) => {
    // SIGKILL: the camera vanishes without an RTSP TEARDOWN, like a power cut
    // (the kernel still closes its sockets).
    await camera.stop('SIGKILL');
    camera = null;
    let seen;
    await until(async () => {
      const ev = client.messages.find((m) => m.type === 'stream.state' && m.state === 'retrying');
      if (ev) { seen = `event ${JSON.stringify(ev)}`; return true; }
      const s = await streamInfo(vigil, 'cam');
      if (s.state === 'retrying') { seen = `api ${JSON.stringify(s)}`; return true; }
      return false;
    }, 20000, () => 'state retrying');
    t.diagnostic(`retrying seen via ${seen}`);
    // The subscriber is told, on its channel.
    const ev = await client.waitFor((m) => m.type === 'stream.state' && m.state === 'retrying', 5000 * SLOW,
      'stream.state retrying');
    assert.equal(ev.stream, 'cam');
    assert.equal(ev.channel, channel);
  });

  it('comes back live when the camera returns on the same port, and frames flow', async (t) => {
    const mark = events.length;
    camera = await startCamera({ port });
    await waitStreamState(vigil, 'cam', 'live', 25000 * SLOW);

    const since = () => events.slice(mark);
    const fragments = () => since().filter((e) => e.frame && e.frame.channel === channel && e.frame.kind === 2);
    await until(() => fragments().length >= 20, 10000,
      () => `20 fragments after the restart, have ${fragments().length}`);

    // The subscriber is told the stream is live again, on its channel.
    const live = since().find((e) => e.msg && e.msg.type === 'stream.state' && e.msg.state === 'live');
    assert.ok(live, `no stream.state live after restart: ${JSON.stringify(since().filter((e) => e.msg))}`);
    assert.equal(live.msg.channel, channel);
    assert.match(String(live.msg.codecs), /^avc1\./);

    // PROTOCOL.md: a new init segment comes only after the codecs that
    // describe it, and the decoder must get a keyframe right after it.
    // The restarted source is a new encoder: a new init segment must come.
    const evs = since();
    const initAt = evs.findIndex((e) => e.frame && e.frame.channel === channel && e.frame.kind === 1);
    assert.ok(initAt >= 0, 'a new init segment after the restart');
    const liveAt = evs.indexOf(live);
    assert.ok(liveAt < initAt, 'stream.state live precedes the new init segment');
    const next = evs.slice(initAt).find((e) => e.frame && e.frame.channel === channel && e.frame.kind === 2);
    assert.ok(next && next.frame.flags & KEYFRAME, `first fragment after the new init: flags ${next && next.frame.flags}`);
    const s = await streamInfo(vigil, 'cam');
    assert.ok(s.restarts >= 1, `restarts: ${s.restarts}`);
  });

  it('shuts down cleanly', async () => {
    client.close();
    const v = vigil;
    vigil = null;
    const st = await v.stop();
    // Under ASan a leak or UB report turns into a non-zero exit: show it.
    assert.deepEqual(st, { code: 0, signal: null }, `vigil exit status; log tail:\n${v.log().slice(-4000)}`);
  });
});

// Hot reload (server/reload.h): SIGHUP and POST /api/admin/reload re-read the
// config file and apply it in place. Unchanged streams keep delivering
// without a gap, added ones start, removed ones end for their viewers with
// stream.removed, changed ones restart under their viewers; a config that
// does not validate changes nothing; a new auth secret leaves the previous
// one valid for auth.rotation_grace_s; devices restart only when their
// sections changed (a real mosquitto broker and the device simulator).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import {
  startVigil, Client, mintToken, until, sleep, streamInfo, waitStreamState, SLOW, TEST_SECRET,
} from '../lib/vigil.js';
import { Procs, startBroker, startSim, freeTcpPort, CAMERA_COMMANDS } from './control_peers.js';

const procs = new Procs();
const servers = [];
// Every server must stop cleanly: under ASan+UBSan a leak or an error is a
// non-zero exit status.
after(async () => {
  const bad = [];
  for (const v of servers) {
    const st = await v.stop();
    if (st.code !== 0) bad.push(`exit ${st.code}/${st.signal}:\n${v.log().slice(-3000)}`);
  }
  await procs.killAll();
  assert.deepEqual(bad, []);
});

const small = (extra = {}) => ({ source: 'test://', options: { width: 320, height: 240, fps: 30, ...extra } });
const write = (vigil, config) => writeFileSync(vigil.configFile, JSON.stringify(config, null, 2));
const reload = async (vigil, token = vigil.adminToken) => {
  const r = await fetch(`${vigil.base}/api/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: await r.json() };
};

async function start(config, opts = {}) {
  const v = await startVigil({ config, ...opts });
  servers.push(v);
  return v;
}

async function viewer(vigil, stream, mode = 'webcodecs') {
  const c = await new Client(vigil.wsUrl).open();
  await c.request({ type: 'hello' });
  const r = await c.request({ type: 'subscribe', stream, mode });
  assert.equal(r.type, 'subscribe', JSON.stringify(r));
  return { c, channel: r.channel };
}

// Frames of one channel as {arrival ms, kind, time us}.
const framesOf = (c, channel) => c.frames.filter((f) => f.channel === channel)
  .map((f) => ({ at: Number(f.arrivalUs / 1000n), kind: f.kind, t: f.timeUs }));

test('streams: an unchanged one flows on without a gap, added starts, removed ends, changed restarts', async () => {
  const config = { streams: [{ id: 'keep', ...small() }, { id: 'gone', ...small() }, { id: 'edit', ...small() }] };
  const vigil = await start(config);
  for (const id of ['keep', 'gone', 'edit']) await waitStreamState(vigil, id, 'live');
  const keep = await viewer(vigil, 'keep');
  const keepMse = await viewer(vigil, 'keep', 'mse');
  const gone = await viewer(vigil, 'gone');
  const edit = await viewer(vigil, 'edit');
  await until(() => framesOf(keep.c, keep.channel).length > 20 && framesOf(edit.c, edit.channel).length > 5, 10000, () => 'frames before the reload');

  write(vigil, { streams: [{ id: 'keep', ...small() }, { id: 'edit', ...small({ width: 480, height: 272 }) }, { id: 'new', ...small() }] });
  const before = framesOf(keep.c, keep.channel).length;
  const beforeMse = framesOf(keepMse.c, keepMse.channel).length;
  const { status, body } = await reload(vigil);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.reloaded, true);
  assert.deepEqual(body.streams.added, ['new']);
  assert.deepEqual(body.streams.removed, ['gone']);
  assert.deepEqual(body.streams.restarted, ['edit']);
  assert.equal(body.streams.unchanged, 1);
  assert.equal(body.devices.control, 'unchanged');

  // The removed stream's viewer is told, with its channel, and its frames stop.
  const removed = await gone.c.waitFor((m) => m.type === 'stream.removed', 5000 * SLOW, 'stream.removed');
  assert.equal(removed.stream, 'gone');
  assert.equal(removed.channel, gone.channel);
  assert.match(removed.reason, /removed from the configuration/);
  const changed = await gone.c.waitFor((m) => m.type === 'streams.changed', 5000 * SLOW, 'streams.changed');
  assert.deepEqual([changed.added, changed.removed, changed.restarted], [['new'], ['gone'], ['edit']]);
  const goneFrames = framesOf(gone.c, gone.channel).length;
  await sleep(600 * SLOW);
  assert.equal(framesOf(gone.c, gone.channel).length, goneFrames, 'no frame after stream.removed');
  const again = await gone.c.request({ type: 'subscribe', stream: 'gone' });
  assert.equal(again.code, 'unknown_stream', JSON.stringify(again));

  // The changed stream restarts under its viewer: same channel, a new
  // decoder configuration of the new size, frames again.
  await edit.c.waitFor((m) => m.type === 'stream.state' && m.stream === 'edit' && m.state === 'starting', 5000 * SLOW, 'edit starting');
  await edit.c.waitFor((m) => m.type === 'stream.state' && m.stream === 'edit' && m.state === 'live', 10000 * SLOW, 'edit live again');
  const editCount = framesOf(edit.c, edit.channel).length;
  await until(() => framesOf(edit.c, edit.channel).length > editCount + 10, 10000, () => 'frames of the restarted stream');
  const info = await streamInfo(vigil, 'edit');
  assert.equal(info.state, 'live');

  // The added stream is live and can be watched.
  await waitStreamState(vigil, 'new', 'live');
  const added = await viewer(vigil, 'new');
  await until(() => framesOf(added.c, added.channel).length > 5, 10000, () => 'frames of the added stream');

  // The unchanged stream's frames went on: no new setup frame (kind 1 or 3)
  // after the reload, timestamps rising one frame at a time, and no pause
  // longer than a few frame intervals around the reload.
  await sleep(1000);
  for (const [who, count, setupKind] of [[keep, before, 3], [keepMse, beforeMse, 1]]) {
    const all = framesOf(who.c, who.channel);
    const after = all.slice(count - 1);
    assert.ok(after.length > 20, `frames after the reload: ${after.length}`);
    assert.equal(after.filter((f) => f.kind === setupKind).length, 0, 'no new setup frame for an unchanged stream');
    for (let i = 1; i < after.length; i++) {
      const dt = Number(after[i].t - after[i - 1].t);
      if (after[i].kind !== 2 && after[i].kind !== 4) continue;
      assert.ok(dt > 0 && dt < 100000, `media time step ${dt} us at frame ${i}`);
      assert.ok(after[i].at - after[i - 1].at < 500 * SLOW, `a ${after[i].at - after[i - 1].at} ms pause at frame ${i}`);
    }
  }
  for (const v of [keep, keepMse, gone, edit, added]) v.c.close();
});

test('a config that does not validate is refused as a whole; the running one stays', async () => {
  const vigil = await start({ streams: [{ id: 'a', ...small() }] });
  await waitStreamState(vigil, 'a', 'live');
  const a = await viewer(vigil, 'a');
  write(vigil, { streams: [{ id: 'a', ...small() }, { id: 'b', ...small() }, { id: 'c', source: 'bogus://x' }] });
  const { status, body } = await reload(vigil);
  assert.equal(status, 400, JSON.stringify(body));
  assert.equal(body.error, 'invalid_config');
  assert.match(body.message, /streams\[2\]/, 'the message names the field');
  const ids = (await (await vigil.fetch('/api/streams')).json()).map((s) => s.id);
  assert.deepEqual(ids, ['a'], 'nothing of the refused file was applied');
  const n = framesOf(a.c, a.channel).length;
  await until(() => framesOf(a.c, a.channel).length > n + 10, 5000, () => 'frames after a refused reload');
  assert.equal(a.c.messages.filter((m) => m.type === 'streams.changed' || m.type === 'stream.removed').length, 0);
  // Broken JSON too.
  writeFileSync(vigil.configFile, '{"streams": [');
  const broken = await reload(vigil);
  assert.equal(broken.status, 400);
  assert.match(broken.body.message, /config\.json:\d+:\d+/);
  assert.match(vigil.log(), /reload refused, the running configuration stays/);
  const metrics = await (await vigil.fetch('/metrics')).text();
  assert.match(metrics, /^vigil_config_reloads_refused_total 2$/m);
  assert.match(metrics, /^vigil_config_reloads_total 0$/m);
  a.c.close();
});

test('SIGHUP reloads; settings apply to the next client; listener settings wait for a restart', async () => {
  const config = { server: { max_subscriptions: 4 }, streams: [{ id: 'a', ...small() }] };
  const vigil = await start(config);
  write(vigil, { server: { max_subscriptions: 7, bind: '127.0.0.1' }, streams: [{ id: 'a', ...small() }, { id: 'b', ...small() }] });
  vigil.proc.kill('SIGHUP');
  await until(async () => (await streamInfo(vigil, 'b'))?.state === 'live', 15000, () => 'stream b after SIGHUP');
  assert.equal(vigil.proc.exitCode, null, 'still running');
  assert.match(vigil.log(), /configuration reloaded: .*"restart_needed":\["server\.bind"\]/);
  assert.match(vigil.log(), /"settings_changed":\["server\.max_subscriptions"\]/);
  const c = await new Client(vigil.wsUrl).open();
  const hello = await c.request({ type: 'hello' });
  assert.equal(hello.limits.max_subscriptions, 7);
  c.close();
  // The port stays the running one: this request reached it.
  const { body } = await reload(vigil);
  assert.deepEqual(body.restart_needed, ['server.bind']);
});

test('only an admin may reload', async () => {
  const vigil = await start({ streams: [{ id: 'a', ...small() }] });
  const viewerTok = mintToken({ sub: 'v', role: 'viewer' });
  assert.equal((await reload(vigil, viewerTok)).status, 403);
  const none = await fetch(`${vigil.base}/api/admin/reload`, { method: 'POST' });
  assert.equal(none.status, 401);
  // A body is not needed, and one sent anyway is ignored.
  const withBody = await vigil.fetch('/api/admin/reload', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(withBody.status, 200);
  assert.equal((await withBody.json()).reloaded, true);
});

test('a new secret signs from now on; the previous one stays valid for rotation_grace_s', async () => {
  const NEW = 'the-new-secret-after-rotation-0123456789abcdef';
  const config = (secret) => ({ auth: { secret, rotation_grace_s: 3, anonymous: { streams: ['open', 'both'] } },
    streams: [{ id: 'open', ...small() }, { id: 'both', ...small() }] });
  const vigil = await start(config(TEST_SECRET), { secretFlag: false });
  const oldTok = mintToken({ sub: 'old', role: 'viewer' });
  const newTok = mintToken({ sub: 'new', role: 'viewer' }, NEW);
  const status = async (tok) => (await fetch(`${vigil.base}/api/streams`, { headers: { authorization: `Bearer ${tok}` } })).status;
  assert.equal(await status(oldTok), 200);
  assert.equal(await status(newTok), 401);

  // An anonymous viewer of a stream the new config closes to anonymous viewers.
  await waitStreamState(vigil, 'both', 'live');
  const anon = await new Client(vigil.wsBase).open();
  await anon.request({ type: 'hello' });
  const sub = await anon.request({ type: 'subscribe', stream: 'both' });
  assert.equal(sub.type, 'subscribe', JSON.stringify(sub));

  const next = config(NEW);
  next.auth.anonymous.streams = ['open'];
  write(vigil, next);
  const { status: st, body } = await reload(vigil, mintToken({ sub: 'a', role: 'admin' }));
  assert.equal(st, 200, JSON.stringify(body));
  assert.equal(body.auth.secret, 'rotated');
  assert.equal(body.auth.previous_valid_s, 3);
  assert.equal(body.auth.anonymous_changed, true);
  const gone = await anon.waitFor((m) => m.type === 'stream.removed', 5000, 'anonymous viewer unsubscribed');
  assert.equal(gone.stream, 'both');
  assert.match(gone.reason, /anonymous/);
  anon.close();

  assert.equal(await status(newTok), 200, 'the new secret signs');
  assert.equal(await status(oldTok), 200, 'the previous secret, within its grace');
  const ws = await new Client(`${vigil.wsBase}?access_token=${oldTok}`).open();
  assert.equal((await ws.request({ type: 'hello' })).type, 'hello');
  ws.close();
  await sleep(3500);
  assert.equal(await status(oldTok), 401, 'the previous secret, after its grace');
  assert.equal(await status(newTok), 200);
});

test('devices: control restarts only when its sections change; unfinished commands end failed', async (t) => {
  const port = await freeTcpPort();
  procs.add(await startBroker(port));
  procs.add(await startSim(['--id', 'cam1', '--mqtt-port', String(port), '--prefix', 'rl']));
  const mqtt = { host: '127.0.0.1', port, prefix: 'rl', keepalive: 5, reconnect_min_s: 1, reconnect_max_s: 2 };
  const dev = (id, extra = {}) => ({ id, name: `Sim ${id}`, transport: 'mqtt', commands: CAMERA_COMMANDS, ...extra });
  const config = { mqtt, streams: [{ id: 'a', ...small() }], devices: [dev('cam1'), dev('silent', { timeout_ms: 60000 })] };
  const vigil = await start(config);
  const devices = async () => (await (await vigil.fetch('/api/devices')).json()).map((d) => d.id).sort();
  await until(async () => (await (await vigil.fetch('/api/devices/cam1')).json()).online === true, 10000, () => 'cam1 online');

  // A stream-only change leaves device control alone.
  write(vigil, { ...config, streams: [{ id: 'a', ...small() }, { id: 'b', ...small() }] });
  let r = await reload(vigil);
  assert.equal(r.body.devices.control, 'unchanged');

  // A command nobody answers ('silent' has no simulator), then a device added.
  const cmd = await vigil.fetch('/api/devices/silent/commands', { method: 'POST', body: JSON.stringify({ name: 'reboot', params: {} }) });
  assert.equal(cmd.status, 202, await cmd.clone().text());
  const { command_id: id } = await cmd.json();
  const ws = await new Client(vigil.wsUrl).open();
  await ws.request({ type: 'hello' });
  await ws.request({ type: 'devices' });
  write(vigil, { ...config, streams: [{ id: 'a', ...small() }, { id: 'b', ...small() }], devices: [...config.devices, dev('cam2')] });
  r = await reload(vigil);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.devices.control, 'restarted');
  assert.equal(r.body.devices.commands_failed, 1);
  const ev = await ws.waitFor((m) => m.type === 'command.status' && m.command_id === id && m.status === 'failed', 5000, 'the unfinished command failed');
  assert.match(ev.error, /device configuration reloaded/);
  assert.deepEqual(await devices(), ['cam1', 'cam2', 'silent']);
  await until(async () => (await (await vigil.fetch('/api/devices/cam1')).json()).online === true, 10000, () => 'cam1 online again');
  const ack = await vigil.fetch('/api/devices/cam1/commands', { method: 'POST', body: JSON.stringify({ name: 'ptz', params: { pan: 0.5, tilt: 0 } }) });
  const { command_id: id2 } = await ack.json();
  await until(async () => (await (await vigil.fetch(`/api/commands/${id2}`)).json()).status === 'acknowledged', 10000, () => 'a command after the reload acknowledged');

  // A device naming a stream that is not there refuses the whole reload.
  write(vigil, { ...config, devices: [dev('cam1', { stream: 'nope' })] });
  r = await reload(vigil);
  assert.equal(r.status, 400);
  assert.match(r.body.message, /devices\[0\].*stream.*nope/);
  assert.deepEqual(await devices(), ['cam1', 'cam2', 'silent']);
  ws.close();
  t.diagnostic('device control restarted by reload, unfinished command failed, new device live');
});

test('variants keep their viewers across a restart of their stream; a removed variant tells its viewers', async () => {
  const sub = { source: 'test://', options: { width: 160, height: 120, fps: 15 } };
  const config = { streams: [{ id: 'cam', ...small(), variants: { sub, low: sub } }] };
  const vigil = await start(config);
  await waitStreamState(vigil, 'cam', 'live');
  const c = await new Client(vigil.wsUrl).open();
  await c.request({ type: 'hello' });
  const subR = await c.request({ type: 'subscribe', stream: 'cam', variant: 'sub', mode: 'webcodecs' });
  const lowR = await c.request({ type: 'subscribe', stream: 'cam', variant: 'low', mode: 'webcodecs' });
  assert.equal(subR.variant, 'sub', JSON.stringify(subR));
  await until(() => framesOf(c, subR.channel).length > 5 && framesOf(c, lowR.channel).length > 5, 10000, () => 'variant frames');

  // The main stream's options change (a restart); "sub" stays, "low" goes.
  write(vigil, { streams: [{ id: 'cam', ...small({ width: 480, height: 272 }), variants: { sub } }] });
  const { body } = await reload(vigil);
  assert.deepEqual(body.streams.restarted, ['cam']);
  const gone = await c.waitFor((m) => m.type === 'stream.removed', 5000 * SLOW, 'the removed variant');
  assert.deepEqual([gone.stream, gone.variant, gone.channel], ['cam', 'low', lowR.channel]);
  const n = framesOf(c, subR.channel).length;
  await until(() => framesOf(c, subR.channel).length > n + 10, 15000, () => 'the kept variant on its channel after the reload');
  c.close();
});

test('publishers: a removed publish:// stream tells its publisher; a changed one closes it with 1012', async () => {
  const { makeClip, publishRequest, streamClip } = await import('../tools/publisher.js');
  const clip = makeClip({ frames: 60, fps: 30, keyInt: 30 });
  const config = { streams: [{ id: 'p1', source: 'publish://' }, { id: 'p2', source: 'publish://' }] };
  const vigil = await start(config);
  const pubs = [];
  for (const id of ['p1', 'p2']) {
    const c = await new Client(vigil.wsUrl).open();
    await c.request({ type: 'hello' });
    const reply = await c.request(publishRequest(id, clip));
    assert.equal(reply.type, 'publish', JSON.stringify(reply));
    pubs.push({ c, reply, sender: streamClip(c, reply.channel, clip) });
  }
  try {
    await waitStreamState(vigil, 'p1', 'live');
    await waitStreamState(vigil, 'p2', 'live');
    // p2 now also takes Opus sound: a change of its configuration.
    write(vigil, { streams: [{ id: 'p2', source: 'publish://', options: { audio: 'opus' } }] });
    const { status, body } = await reload(vigil);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.streams.removed, ['p1']);
    assert.deepEqual(body.streams.restarted, ['p2']);
    const ev = await pubs[0].c.waitFor((m) => m.type === 'stream.removed', 5000 * SLOW, 'stream.removed to the publisher');
    assert.equal(ev.channel, pubs[0].reply.channel);
    assert.equal((await pubs[1].c.waitClose(5000 * SLOW)).code, 1012);
  } finally {
    for (const p of pubs) { p.sender.stop(); p.c.close(); }
  }
});

// RTSP cameras with sound: build/tools/rtsp_camera serves H.264 and a test
// tone as PCMU (which vigil transcodes to Opus) or AAC (passed through).
// A vigil.v1 client must get one init segment declaring both tracks and
// fragments of both, video first from a keyframe and audio flagged as such
// (PROTOCOL.md, flags bit 2), never as a keyframe. The init segment and
// fragments, written end to end to a file, must be an MP4 that GStreamer's
// own gst-discoverer-1.0 (an independent reader) sees with an H.264 video
// track and an Opus or AAC audio track. A file:// MP4 with an AAC track
// gets the same, its audio passed through.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startVigil, freePort, waitStreamState, Client, SLOW, until, tempDir } from '../lib/vigil.js';
import { startCamera } from '../tools/camera.js';

const KEYFRAME = 1;
const AUDIO = 4;

const CASES = [
  { id: 'pcmu', audio: 'pcmu', codec: 'opus', discovered: /audio #\d+: Opus/ },
  { id: 'aac', audio: 'aac', codec: 'mp4a.40.2', discovered: /audio #\d+: MPEG-4 AAC/ },
];

describe('rtsp:// source with audio', { timeout: 60000 * SLOW }, () => {
  const cameras = {};
  let vigil;
  let silent;
  let clip;

  before(async () => {
    // A 2 s clip with H.264 and AAC, made once with GStreamer.
    clip = path.join(tempDir(), 'av.mp4');
    const made = spawnSync('gst-launch-1.0', ['-q', '-e', 'mp4mux', 'name=m', '!', 'filesink', `location=${clip}`,
      'videotestsrc', 'num-buffers=60', '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!',
      'x264enc', 'key-int-max=30', '!', 'h264parse', '!', 'm.video_0',
      'audiotestsrc', 'num-buffers=94', '!', 'audioconvert', '!', 'voaacenc', '!', 'aacparse', '!', 'm.audio_0'],
    { encoding: 'utf8', timeout: 30000 });
    assert.equal(made.status, 0, made.stderr);
    for (const c of CASES) {
      cameras[c.id] = await startCamera({ port: await freePort(), audio: c.audio });
    }
    silent = await startCamera({ port: await freePort(), audio: 'pcmu' });
    vigil = await startVigil({
      config: {
        server: { bind: '127.0.0.1' },
        streams: [
          ...CASES.map((c) => ({ id: c.id, source: cameras[c.id].url })),
          // The same camera with "audio": false: video only, as before.
          { id: 'mute', source: silent.url, options: { audio: false } },
          { id: 'clip', source: `file://${clip}` },
        ],
      },
    });
  });

  after(async () => {
    if (vigil) await vigil.stop();
    for (const cam of [...Object.values(cameras), silent]) if (cam) await cam.stop('SIGKILL');
  });

  for (const c of CASES) {
    it(`${c.audio.toUpperCase()}: codecs avc1…,${c.codec}, an init segment with both tracks, fragments of both`, async () => {
      const s = await waitStreamState(vigil, c.id, 'live', 20000 * SLOW);
      assert.match(String(s.codecs), new RegExp(`^avc1\\.[0-9A-F]{6},${c.codec.replace('.', '\\.')}$`, 'i'));
      // fps counts video frames only, not the ~50 audio fragments a second.
      const client = await new Client(vigil.wsUrl).open();
      try {
        const reply = await client.request({ type: 'subscribe', stream: c.id });
        assert.equal(reply.codecs, s.codecs);
        assert.equal(reply.mime, `video/mp4; codecs="${s.codecs}"`);
        const mine = () => client.frames.filter((f) => f.channel === reply.channel);
        const media = () => mine().filter((f) => f.kind === 2);
        await until(() => media().filter((f) => !(f.flags & AUDIO)).length >= 40 &&
          media().filter((f) => f.flags & AUDIO).length >= 40, 10000,
        () => `40 video and 40 audio fragments, have ${media().length} fragments`);

        const frames = mine();
        assert.equal(frames[0].kind, 1, 'the init segment first');
        assert.equal(frames.filter((f) => f.kind === 1).length, 1, 'one init segment');
        const m = media();
        assert.ok(!(m[0].flags & AUDIO) && m[0].flags & KEYFRAME, `the first fragment is a video keyframe: flags ${m[0].flags}`);
        for (const f of m) {
          if (f.flags & AUDIO) assert.equal(f.flags & KEYFRAME, 0, 'an audio fragment is never a keyframe');
          assert.equal(f.payload.toString('latin1', 4, 8), 'moof');
        }

        const file = path.join(tempDir(), `${c.id}.mp4`);
        writeFileSync(file, Buffer.concat(frames.map((f) => f.payload)));
        const r = spawnSync('gst-discoverer-1.0', [file], { encoding: 'utf8', timeout: 20000 });
        assert.equal(r.status, 0, `gst-discoverer-1.0: ${r.stderr}${r.stdout}`);
        assert.match(r.stdout, /video #\d+: H\.264/, r.stdout);
        assert.match(r.stdout, c.discovered, r.stdout);
      } finally {
        client.close();
      }
      // A one-second window can still hold the start-up burst (a slow,
      // sanitized server): wait for one that does not, up to a few seconds.
      let again;
      const settled = await until(async () => {
        again = await waitStreamState(vigil, c.id, 'live');
        return again.fps > 15 && again.fps < 35;
      }, 4000, () => 'fps').catch(() => false);
      assert.ok(settled, `fps ${again.fps} (video, 25 a second)`);
    });
  }

  it('"audio": false leaves the camera\'s audio out: video only', async () => {
    const s = await waitStreamState(vigil, 'mute', 'live', 20000 * SLOW);
    assert.match(String(s.codecs), /^avc1\.[0-9A-F]{6}$/i);
    const client = await new Client(vigil.wsUrl).open();
    try {
      const reply = await client.request({ type: 'subscribe', stream: 'mute' });
      await until(() => client.frames.filter((f) => f.kind === 2).length >= 30, 10000, () => '30 fragments');
      assert.ok(client.frames.every((f) => !(f.flags & AUDIO)), 'no audio fragments');
      assert.equal(reply.channel, client.frames[0].channel);
    } finally {
      client.close();
    }
  });

  it('file:// with an AAC track: both tracks, in real time, across loops', async () => {
    const s = await waitStreamState(vigil, 'clip', 'live', 20000 * SLOW);
    assert.match(String(s.codecs), /^avc1\.[0-9A-F]{6},mp4a\.40\.2$/i);
    const client = await new Client(vigil.wsUrl).open();
    try {
      const reply = await client.request({ type: 'subscribe', stream: 'clip' });
      const media = () => client.frames.filter((f) => f.channel === reply.channel && f.kind === 2);
      // 3 s of a 2 s clip: it loops, with sound.
      await until(() => media().filter((f) => !(f.flags & AUDIO)).length >= 90, 10000, () => `90 video frames, have ${media().length}`);
      const audio = media().filter((f) => f.flags & AUDIO);
      assert.ok(audio.length >= 60, `${audio.length} audio fragments`);
      assert.ok(audio.every((f) => !(f.flags & KEYFRAME)));
    } finally {
      client.close();
    }
  });

  it('shuts down cleanly', async () => {
    const v = vigil;
    vigil = null;
    const st = await v.stop();
    assert.deepEqual(st, { code: 0, signal: null }, `vigil exit status; log tail:\n${v.log().slice(-4000)}`);
  });
});

// A tile's recordings and their playback (PROTOCOL.md "Recordings"): a bar
// under the picture covering the last TIMELINE_HOURS, with what is recorded
// (segments, and clips marked apart) drawn from GET
// /api/streams/{id}/recordings, fetched again every REFRESH_MS. A click on
// the bar plays the recordings from that time in a <video> of its own over
// the live picture, through MSE: each file is fetched in Range requests
// (the server answers at most a MiB of it at a time, and says which bytes
// in Content-Range), appended to a SourceBuffer, and the video seeks to the
// clicked time inside the first; the next recordings follow. While it plays
// the tile says PLAYBACK with the time shown, never "live"; the speed
// buttons set 1x, 2x or 4x, and "Live" ends the playback and shows the
// live picture again (which kept playing beneath).
//
// For admins and operators (`canClip()`), the "Clip" button asks the server
// for a clip of the stream (PROTOCOL.md "Clips": the stream's pre-roll, and
// 20 s after), and the note beside the bar says which (data-clip-id) or why
// not (data-clip-error, the server's error code).
//
// A stream that records only clips ("events" mode) plays its clips the same
// way.
//
// The tile's element says what plays in data-* attributes: data-playback
// ("true" while playing a recording), and the playback <video> has
// data-recording (the id of the recording it started from) and
// data-position (the time shown, ms since the epoch).

import { mediaSourceType } from './media_support.js';

export const TIMELINE_HOURS = 2;
const REFRESH_MS = 10000;
const KEEP_BEHIND_S = 30; // buffered media kept behind the playhead
const AHEAD_S = 20; // fetch the next recording when less than this is buffered ahead
export const SPEEDS = [1, 2, 4];

export class Timeline {
  // `media`: the tile's picture element, where the playback <video> goes;
  // `headers()`: the REST requests' headers (the token); `onChange(playing)`:
  // playback started or ended.
  constructor(stream, media, { headers = () => ({}), onChange = () => {}, canClip = () => false } = {}) {
    this.stream = stream;
    this.media = media;
    this.headers = headers;
    this.onChange = onChange;
    this.canClip = canClip;
    this.recordings = [];
    this.session = null; // the playback under way
    this.el = build(stream);
    this.note = this.el.querySelector('.timeline-note');
    this.clipButton = this.el.querySelector('.timeline-make-clip');
    this.clipButton.addEventListener('click', () => this.makeClip());
    this.bar = this.el.querySelector('.timeline-bar');
    this.bar.addEventListener('click', (ev) => {
      const box = this.bar.getBoundingClientRect();
      const [from, to] = this.span();
      this.playAt(from + ((ev.clientX - box.left) / box.width) * (to - from));
    });
    this.el.querySelector('.timeline-live').addEventListener('click', () => this.backToLive());
    for (const b of this.el.querySelectorAll('.timeline-speed')) {
      b.addEventListener('click', () => this.setSpeed(Number(b.dataset.speed)));
    }
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.refresh();
  }

  get playing() {
    return this.session !== null;
  }

  // [from, to] of the bar, ms since the epoch.
  span() {
    const to = Date.now();
    return [to - TIMELINE_HOURS * 3600000, to];
  }

  async refresh() {
    const [from] = this.span();
    try {
      const r = await fetch(`${this.base()}?from=${new Date(from).toISOString()}`, { headers: this.headers(), cache: 'no-store' });
      if (!r.ok) return;
      this.recordings = (await r.json()).recordings;
      this.draw();
      this.clipButton.hidden = !this.canClip();
    } catch { /* the server is away: the next refresh tries again */ }
  }

  base() {
    return `/api/streams/${encodeURIComponent(this.stream)}/recordings`;
  }

  draw() {
    const [from, to] = this.span();
    const pct = (t) => `${Math.max(0, Math.min(100, ((t - from) / (to - from)) * 100))}%`;
    const spans = this.recordings.map((rec) => {
      const s = document.createElement('span');
      s.className = `timeline-span timeline-${rec.kind}`;
      s.style.left = pct(Date.parse(rec.start));
      s.style.right = `calc(100% - ${pct(Date.parse(rec.end))})`;
      s.title = `${rec.kind === 'clip' ? `clip ${rec.label || ''} ` : ''}${clock(Date.parse(rec.start))}–${clock(Date.parse(rec.end))}`;
      return s;
    });
    this.bar.replaceChildren(...spans);
    this.el.dataset.recordings = String(this.recordings.length);
  }

  // Asks for a clip of the stream now; the note says what came of it.
  async makeClip() {
    this.clipButton.disabled = true;
    delete this.note.dataset.clipId;
    delete this.note.dataset.clipError;
    try {
      const r = await fetch(`/api/streams/${encodeURIComponent(this.stream)}/clips`, {
        method: 'POST', headers: { ...this.headers(), 'content-type': 'application/json' }, body: '{}',
      });
      const body = await r.json().catch(() => ({}));
      if (r.status === 201) {
        this.note.dataset.clipId = body.id;
        this.note.textContent = `Clip from ${clock(Date.parse(body.start))}, ready at ${clock(Date.parse(body.end))}`;
        this.refresh();
      } else {
        this.note.dataset.clipError = body.error || String(r.status);
        this.note.textContent = `No clip: ${body.message || r.statusText}`;
      }
    } catch {
      this.note.dataset.clipError = 'network';
      this.note.textContent = 'No clip: the server is away';
    } finally {
      this.clipButton.disabled = false;
    }
  }

  // Plays from `t` (ms since the epoch): the segment holding it, else the
  // next one after it (a stream that records only clips: its clips).
  async playAt(t) {
    const kind = this.recordings.some((r) => r.kind === 'segment') ? 'segment' : 'clip';
    const segments = this.recordings.filter((r) => r.kind === kind);
    const i = segments.findIndex((r) => Date.parse(r.end) > t);
    if (i < 0) return;
    this.stop();
    const codecs = await this.codecs();
    const ms = mediaSourceType();
    if (!codecs || !ms) return;
    const first = segments[i];
    const offsetS = Math.max(0, (t - Date.parse(first.start)) / 1000);
    this.session = new Playback(this, segments.slice(i), offsetS, codecs, ms.type);
    this.el.dataset.playing = 'true';
    this.onChange(true);
  }

  // The stream's codecs (the recording is the main picture's, as recorded).
  async codecs() {
    try {
      const r = await fetch('/api/streams', { headers: this.headers() });
      const s = (await r.json()).find((x) => x.id === this.stream);
      return s?.codecs || null;
    } catch {
      return null;
    }
  }

  setSpeed(speed) {
    if (!SPEEDS.includes(speed)) return;
    this.speed = speed;
    for (const b of this.el.querySelectorAll('.timeline-speed')) b.setAttribute('aria-pressed', String(Number(b.dataset.speed) === speed));
    if (this.session) this.session.video.playbackRate = speed;
  }

  stop() {
    if (!this.session) return;
    this.session.destroy();
    this.session = null;
    this.el.dataset.playing = 'false';
  }

  backToLive() {
    if (!this.session) return;
    this.stop();
    this.onChange(false);
  }

  destroy() {
    clearInterval(this.timer);
    this.stop();
  }
}

// One playback: recordings appended one after the other to one SourceBuffer.
class Playback {
  constructor(timeline, queue, offsetS, codecs, MediaSourceType) {
    this.timeline = timeline;
    this.queue = queue;
    this.offsetS = offsetS;
    this.closed = false;
    this.fetching = false;
    this.video = document.createElement('video');
    this.video.className = 'tile-video tile-playback';
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.dataset.recording = queue[0].id;
    this.label = document.createElement('div');
    this.label.className = 'tile-playback-label';
    timeline.media.append(this.video, this.label);
    this.source = new MediaSourceType();
    this.url = URL.createObjectURL(this.source);
    this.video.src = this.url;
    this.source.addEventListener('sourceopen', () => {
      this.buffer = this.source.addSourceBuffer(`video/mp4; codecs="${codecs}"`);
      this.feed(true);
    }, { once: true });
    this.video.addEventListener('timeupdate', () => {
      this.show();
      this.feed(false);
    });
  }

  // What the label says: PLAYBACK and the time shown.
  show() {
    const rec = this.current();
    if (!rec) return;
    const at = Date.parse(rec.start) + (this.video.currentTime - rec.startS) * 1000;
    this.video.dataset.position = String(Math.round(at));
    this.label.textContent = `PLAYBACK ${clock(at)} · ${this.video.playbackRate}x`;
  }

  // The recording the playhead is in (the last one started before it).
  current() {
    let cur = null;
    for (const r of this.queue) if (r.startS !== undefined && this.video.currentTime >= r.startS - 0.5) cur = r;
    return cur;
  }

  // Appends the next recording when little is buffered ahead.
  async feed(first) {
    if (this.closed || this.fetching || !this.buffer) return;
    const b = this.buffer.buffered;
    const ahead = b.length ? b.end(b.length - 1) - this.video.currentTime : 0;
    const next = this.queue.find((r) => r.startS === undefined);
    if (!next || (!first && ahead > AHEAD_S)) return;
    this.fetching = true;
    try {
      const before = b.length ? b.end(b.length - 1) : null;
      await this.appendFile(next.url);
      if (this.closed) return;
      const after = this.buffer.buffered;
      // where this file's media starts on the media timeline
      next.startS = before === null && after.length ? after.start(0) : (before ?? 0);
      if (first) {
        this.video.currentTime = next.startS + this.offsetS;
        this.video.playbackRate = this.timeline.speed || 1;
        this.video.play().catch(() => {});
      }
      this.trim();
    } catch {
      /* a recording deleted meanwhile, or the page is going: stop fetching */
    } finally {
      this.fetching = false;
    }
  }

  // The file in Range requests, each appended as it comes.
  async appendFile(url) {
    for (let at = 0, size = Infinity; at < size && !this.closed;) {
      const r = await fetch(url, { headers: { ...this.timeline.headers(), range: `bytes=${at}-` } });
      if (r.status !== 206) throw new Error(`${url}: ${r.status}`);
      const m = /bytes (\d+)-(\d+)\/(\d+)/.exec(r.headers.get('content-range') || '');
      if (!m) throw new Error(`${url}: no Content-Range`);
      const data = await r.arrayBuffer();
      size = Number(m[3]);
      at = Number(m[2]) + 1;
      await this.append(data);
    }
  }

  append(data) {
    return new Promise((resolve, reject) => {
      if (this.closed) return resolve();
      const done = () => { this.buffer.removeEventListener('error', fail); resolve(); };
      const fail = () => { this.buffer.removeEventListener('updateend', done); reject(new Error('append failed')); };
      this.buffer.addEventListener('updateend', done, { once: true });
      this.buffer.addEventListener('error', fail, { once: true });
      this.buffer.appendBuffer(data);
    });
  }

  // Frees what is well behind the playhead.
  trim() {
    const b = this.buffer.buffered;
    const upTo = this.video.currentTime - KEEP_BEHIND_S;
    if (b.length && b.start(0) < upTo && !this.buffer.updating) this.buffer.remove(b.start(0), upTo);
  }

  destroy() {
    this.closed = true;
    this.video.pause();
    this.video.removeAttribute('src');
    this.video.load();
    URL.revokeObjectURL(this.url);
    this.video.remove();
    this.label.remove();
  }
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function build(stream) {
  const el = document.createElement('div');
  el.className = 'timeline';
  el.dataset.playing = 'false';
  const bar = document.createElement('div');
  bar.className = 'timeline-bar';
  bar.title = `Recordings of ${stream}, last ${TIMELINE_HOURS} h: click to play from there`;
  const controls = document.createElement('span');
  controls.className = 'timeline-controls';
  for (const s of SPEEDS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'timeline-speed';
    b.dataset.speed = String(s);
    b.textContent = `${s}x`;
    b.setAttribute('aria-pressed', String(s === 1));
    b.setAttribute('aria-label', `Play back at ${s}x`);
    controls.append(b);
  }
  const live = document.createElement('button');
  live.type = 'button';
  live.className = 'timeline-live';
  live.textContent = 'Live';
  live.setAttribute('aria-label', `Back to live: ${stream}`);
  controls.append(live);
  const clip = document.createElement('button');
  clip.type = 'button';
  clip.className = 'timeline-make-clip';
  clip.textContent = 'Clip';
  clip.title = 'Save a clip: the last seconds before now, and 20 s after';
  clip.setAttribute('aria-label', `Save a clip of ${stream}`);
  clip.hidden = true;
  controls.append(clip);
  const note = document.createElement('span');
  note.className = 'timeline-note muted';
  note.setAttribute('role', 'status');
  el.append(bar, controls, note);
  return el;
}

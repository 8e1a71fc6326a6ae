// A tile's still picture while it is not playing live: the stream's newest
// keyframe as a JPEG (GET /api/streams/{id}/snapshot.jpg, PROTOCOL.md
// "Snapshots"), asked again every SNAPSHOT_EVERY_MS while wanted. The
// request carries the token in its headers (an <img src> could not), and
// the picture is shown from a blob: URL, released when the next replaces
// it. A refusal (no keyframe yet, busy) leaves the last picture; nothing is
// asked while not wanted.
//
// The <img> says what it shows in data-* attributes: data-frame-time (the
// picture's X-Vigil-Frame-Time, ms since the epoch) and data-loads (pictures
// shown so far).

export const SNAPSHOT_EVERY_MS = 10000;

export class Snapshot {
  // `img`: the element to show it in; `headers()`: the request's headers
  // (the token); `width()`: the width to ask for, in pixels, or 0.
  constructor(stream, img, { headers = () => ({}), width = () => 0 } = {}) {
    this.stream = stream;
    this.img = img;
    this.headers = headers;
    this.width = width;
    this.wanted = false;
    this.timer = null;
    this.url = null;
    this.loads = 0;
    this.inFlight = false;
  }

  // Shown and kept fresh (true), or hidden and not asked for (false).
  setWanted(wanted) {
    if (wanted === this.wanted) return;
    this.wanted = wanted;
    clearInterval(this.timer);
    this.timer = null;
    this.img.hidden = !wanted || this.url === null;
    if (!wanted) return;
    // The first one once the tile is in the page and has a width.
    setTimeout(() => { if (this.wanted) this.refresh(); }, 0);
    this.timer = setInterval(() => this.refresh(), SNAPSHOT_EVERY_MS);
  }

  async refresh() {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const w = Math.round(this.width());
      const query = w >= 16 ? `?width=${Math.min(w, 3840)}` : '';
      const r = await fetch(`/api/streams/${encodeURIComponent(this.stream)}/snapshot.jpg${query}`,
        { headers: this.headers(), cache: 'no-store' });
      if (!r.ok) return;
      const blob = await r.blob();
      if (!this.wanted) return;
      const url = URL.createObjectURL(blob);
      if (this.url) URL.revokeObjectURL(this.url);
      this.url = url;
      this.img.src = url;
      this.img.dataset.frameTime = r.headers.get('x-vigil-frame-time') || '';
      this.img.dataset.loads = String(++this.loads);
      this.img.hidden = false;
    } catch {
      /* the server is away: the tile says so; the next refresh tries again */
    } finally {
      this.inFlight = false;
    }
  }

  destroy() {
    this.setWanted(false);
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }
}

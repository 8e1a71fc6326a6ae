// The clips a device's events made (README "Clips from device events"):
// the newest of them, from GET /api/streams/{stream}/recordings (the
// device's camera), kept to those whose `device` is this one. Each says
// when and why (its label), whether it is still being made, and opens the
// file when clicked (fetched with the dashboard's token). Fetched when the
// panel appears, soon after the device's telemetry changes (that is what
// makes clips), and every REFRESH_MS.
//
// For tests: .device-clips[data-count]; each item .device-clip[data-clip]
// [data-complete=true|false].

const REFRESH_MS = 10000;
const AFTER_TELEMETRY_MS = 1500;
const SHOWN = 5;
const SINCE_MS = 24 * 3600000;

export class DeviceClips {
  // `headers()`: the REST requests' headers (the token).
  constructor(deviceId, { headers = () => ({}) } = {}) {
    this.device = deviceId;
    this.headers = headers;
    this.stream = null;
    this.soon = null;
    this.el = document.createElement('ul');
    this.el.className = 'device-clips';
    this.el.dataset.count = '0';
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  // The device's camera (null: none, nothing to list).
  setStream(stream) {
    if (stream === this.stream) return;
    this.stream = stream;
    this.refresh();
  }

  // The device said something: a clip may have started.
  telemetryChanged() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.refresh(), AFTER_TELEMETRY_MS);
  }

  async refresh() {
    if (!this.stream) return this.show([]);
    const from = new Date(Date.now() - SINCE_MS).toISOString();
    try {
      const r = await fetch(`/api/streams/${encodeURIComponent(this.stream)}/recordings?from=${from}`,
        { headers: this.headers(), cache: 'no-store' });
      if (!r.ok) return;
      const all = (await r.json()).recordings;
      this.show(all.filter((x) => x.kind === 'clip' && x.device === this.device).slice(-SHOWN).reverse());
    } catch { /* the server is away: the next refresh tries again */ }
  }

  show(clips) {
    this.el.dataset.count = String(clips.length);
    if (!clips.length) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'No clips yet.';
      this.el.replaceChildren(li);
      return;
    }
    this.el.replaceChildren(...clips.map((c) => this.item(c)));
  }

  item(c) {
    const li = document.createElement('li');
    li.className = 'device-clip';
    li.dataset.clip = c.id;
    li.dataset.complete = String(c.complete === true);
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'link';
    const when = new Date(Date.parse(c.start)).toLocaleString();
    open.textContent = `${c.label || 'clip'} · ${when}`;
    open.title = `${c.id}: open the file`;
    open.addEventListener('click', () => this.open(c));
    const state = document.createElement('span');
    state.className = 'muted';
    state.textContent = c.complete ? '' : ' (being made)';
    li.append(open, state);
    return li;
  }

  // The file, fetched with the token (a plain link could not carry it).
  async open(c) {
    const r = await fetch(c.url, { headers: this.headers() });
    if (!r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `${c.id}.mp4`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  destroy() {
    clearInterval(this.timer);
    clearTimeout(this.soon);
  }
}

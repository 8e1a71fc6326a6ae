// One device's panel: its name, online badge and transport link state, a
// control per command (generated from the schema; the PTZ pad for a pan/tilt
// command), the error of a refused request next to its control, the recent
// commands with their status timelines, the latest telemetry with its age,
// everything the device last reported about itself, and the clips its
// events made of its camera (device_clips.js).
//
// Controls only for those who may send commands (operator, admin): for a
// viewer the panel is read-only (state, telemetry, command log) with a "view
// only" note, and an error the server still sent (e.g. `forbidden`) shows
// under that note.
//
// For tests and scripts: .device-panel[data-device][data-online=
// true|false|unknown][data-transport-connected=true|false|unknown]
// [data-stale][data-telemetry-age-ms][data-reason][data-view-only];
// .device-command[data-command] holds the control and
// .command-error[data-error-for][data-code].

import { CommandLog } from './command_log.js';
import { DeviceClips } from './device_clips.js';
import { FINAL_STATUSES } from './devices.js';
import { PtzPad, isPtzSchema } from './ptz_pad.js';
import { buildControl, formatValue, humanize, uniqueId } from './schema_controls.js';
import { iconButton } from './icons.js';

const ONLINE_TEXT = { true: 'online', false: 'offline', unknown: 'unknown' };

export class DevicePanel {
  // `canCommand()`: may this dashboard send commands (its role)?
  // `headers()`: the REST requests' headers (the token), for the clips.
  constructor(devices, id, { canCommand = () => true, headers = () => ({}) } = {}) {
    this.devices = devices;
    this.id = id;
    this.canCommand = canCommand;
    this.clips = new DeviceClips(id, { headers });
    this.telemetryAt = null;
    this.viewErrors = null; // the errors' place in a view-only panel
    this.controls = new Map(); // command name -> {control, error}
    this.schemaSig = '';
    this.el = this.build();
    this.render();
  }

  build() {
    const el = document.createElement('section');
    el.className = 'device-panel';
    el.dataset.device = this.id;
    const titleId = uniqueId(`device-${this.id}`);
    el.setAttribute('aria-labelledby', titleId);

    const head = document.createElement('header');
    head.className = 'device-head';
    this.title = document.createElement('h2');
    this.title.className = 'device-name';
    this.title.id = titleId;
    this.badge = document.createElement('span');
    this.badge.className = 'badge device-online';
    head.append(this.title, this.badge);

    this.meta = document.createElement('div');
    this.meta.className = 'device-meta muted';
    this.link = document.createElement('span');
    this.link.className = 'device-link';
    this.metaText = document.createElement('span');
    this.meta.append(this.metaText, this.link);

    this.commandsEl = document.createElement('div');
    this.commandsEl.className = 'device-commands';

    this.log = new CommandLog();
    const recent = section('Recent commands', this.log.el, true);

    this.telemetryList = document.createElement('dl');
    this.telemetryList.className = 'kv device-telemetry';
    this.age = document.createElement('span');
    this.age.className = 'telemetry-age muted';
    const telemetry = section('Telemetry', this.telemetryList, true, this.age);

    this.stateList = document.createElement('dl');
    this.stateList.className = 'kv device-state';
    const state = section('Device state', this.stateList, false);
    state.title = 'what the device last reported: its state, telemetry and command results';

    this.clipsSection = section('Clips', this.clips.el, true);
    el.append(head, this.meta, this.commandsEl, recent, telemetry, this.clipsSection, state);
    return el;
  }

  get device() {
    return this.devices.get(this.id);
  }

  // (Re)builds the controls when the command schemas changed.
  buildControls(dev) {
    const allowed = this.canCommand();
    const sig = JSON.stringify([allowed, dev.commands]);
    if (sig === this.schemaSig) return;
    this.schemaSig = sig;
    this.controls.clear();
    this.commandsEl.replaceChildren();
    this.el.dataset.viewOnly = String(!allowed);
    this.viewErrors = null;
    if (!allowed) {
      const note = document.createElement('p');
      note.className = 'device-viewonly';
      const b = document.createElement('b');
      b.textContent = 'View only';
      note.append(b, ': signed in without the right to send commands to this device.');
      this.viewErrors = document.createElement('div');
      this.viewErrors.className = 'device-errors';
      this.commandsEl.append(note, this.viewErrors);
      return;
    }
    for (const [name, schema] of Object.entries(dev.commands)) {
      const send = (params) => this.devices.send(this.id, name, params);
      const control = isPtzSchema(schema) ? new PtzPad(name, schema, send) : buildControl(name, schema, send);
      const box = document.createElement('div');
      box.className = 'device-command';
      box.dataset.command = name;
      const label = document.createElement('div');
      label.className = 'command-title';
      label.textContent = humanize(name);
      const error = document.createElement('p');
      error.className = 'command-error';
      error.dataset.errorFor = name;
      error.setAttribute('role', 'alert');
      error.hidden = true;
      const text = document.createElement('span');
      const dismiss = iconButton('close', `dismiss the ${humanize(name)} error`, 'error-dismiss');
      dismiss.addEventListener('click', () => this.devices.clearError(this.id, name));
      error.append(text, dismiss);
      box.append(label, control.el, error);
      this.commandsEl.append(box);
      this.controls.set(name, { control, error, text });
    }
  }

  render() {
    const dev = this.device;
    if (!dev) return;
    const stale = this.devices.stale;
    const online = dev.online === null ? 'unknown' : String(dev.online);
    const link = dev.transportConnected === null ? 'unknown' : String(dev.transportConnected);
    const d = this.el.dataset;
    d.online = online;
    d.transportConnected = link;
    d.stale = String(stale);

    this.title.textContent = dev.name;
    this.title.title = dev.id;
    this.badge.dataset.state = stale ? 'disconnected' : online === 'true' ? 'live' : online === 'false' ? 'failed' : 'unknown';
    this.badge.textContent = stale ? 'no server' : ONLINE_TEXT[online];
    this.badge.title = dev.reason ? `${ONLINE_TEXT[online]}: ${dev.reason}` : '';
    d.reason = dev.reason;
    // (issued/malformed are only sent in the devices reply, so they would go
    // stale here; they are not shown.)
    const why = dev.online === false && dev.reason ? ` (${dev.reason})` : '';
    this.metaText.textContent = `${dev.id} · ${dev.transport}${why} · `;
    this.link.dataset.connected = link;
    this.link.textContent = link === 'true' ? 'link up' : link === 'false' ? 'link down' : 'link unknown';
    this.link.title = dev.transportDetail || `vigil's ${dev.transport} link`;

    this.buildControls(dev);
    for (const [name, { control, error, text }] of this.controls) {
      const busy = dev.sending.has(name) || dev.commandsLog.some((c) => c.mine && c.name === name && !FINAL_STATUSES.has(c.status) && !c.lost);
      control.update(dev.known, busy, !stale);
      const err = dev.errors.get(name);
      error.hidden = !err;
      error.dataset.code = err ? err.code : '';
      text.textContent = err ? `${err.code}: ${err.message}` : '';
    }
    if (this.viewErrors) this.renderViewErrors(dev);

    this.log.render(dev.commandsLog);
    fillKv(this.telemetryList, dev.telemetry, 'No telemetry yet.');
    this.clipsSection.hidden = !dev.stream;
    this.clips.setStream(dev.stream);
    if (dev.telemetryAt !== this.telemetryAt) {
      this.telemetryAt = dev.telemetryAt;
      this.clips.telemetryChanged();
    }
    fillKv(this.stateList, dev.known, 'Nothing reported yet.');
    this.tick();
  }

  // A view-only panel has no controls to show errors beside: they go in a
  // list under the note.
  renderViewErrors(dev) {
    this.viewErrors.replaceChildren();
    for (const [name, err] of dev.errors) {
      const p = document.createElement('p');
      p.className = 'command-error';
      p.dataset.errorFor = name;
      p.dataset.code = err.code;
      p.setAttribute('role', 'alert');
      const text = document.createElement('span');
      text.textContent = `${humanize(name)}: ${err.code}: ${err.message}`;
      const dismiss = iconButton('close', `dismiss the ${humanize(name)} error`, 'error-dismiss');
      dismiss.addEventListener('click', () => this.devices.clearError(this.id, name));
      p.append(text, dismiss);
      this.viewErrors.append(p);
    }
  }

  // Updates what depends on the clock (the telemetry age).
  tick() {
    const dev = this.device;
    if (!dev) return;
    const ageMs = dev.telemetryAt === null ? null : Math.max(0, Date.now() - dev.telemetryAt);
    this.el.dataset.telemetryAgeMs = ageMs === null ? '' : String(ageMs);
    this.age.textContent = dev.telemetry === null ? '' : ageMs === null ? 'age unknown' : formatAge(ageMs);
    this.age.classList.toggle('old', ageMs !== null && ageMs > 30000);
  }

  destroy() {
    this.clips.destroy();
    this.el.remove();
  }
}

function section(title, body, open, extra) {
  const d = document.createElement('details');
  d.className = 'device-section';
  d.open = open;
  const s = document.createElement('summary');
  s.append(title);
  if (extra) s.append(' ', extra);
  d.append(s, body);
  return d;
}

// A <dl> of key/value pairs, reusing rows so a screen reader is not flooded.
function fillKv(dl, obj, emptyText) {
  const entries = obj ? Object.entries(obj) : [];
  if (entries.length === 0) {
    if (dl.dataset.empty !== 'true') {
      dl.dataset.empty = 'true';
      const dd = document.createElement('dd');
      dd.className = 'muted';
      dd.textContent = emptyText;
      dl.replaceChildren(dd);
    }
    return;
  }
  if (dl.dataset.empty === 'true') dl.replaceChildren();
  dl.dataset.empty = 'false';
  const keys = entries.map(([k]) => k).join('\n');
  if (dl.dataset.keys !== keys) {
    dl.dataset.keys = keys;
    dl.replaceChildren();
    for (const [k] of entries) {
      const dt = document.createElement('dt');
      dt.textContent = humanize(k);
      const dd = document.createElement('dd');
      dd.dataset.key = k;
      dl.append(dt, dd);
    }
  }
  for (const [k, v] of entries) {
    const dd = dl.querySelector(`dd[data-key="${CSS.escape(k)}"]`);
    const text = formatValue(v);
    if (dd.textContent !== text) dd.textContent = text;
  }
}

function formatAge(ms) {
  if (ms < 1000) return 'just now';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  return `${Math.round(m / 60)} h ago`;
}

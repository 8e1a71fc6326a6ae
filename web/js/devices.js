// Device state and the device half of vigil.v1 (PROTOCOL.md "devices",
// "command", "Events from the server"): keeps every device the server
// controls, its latest telemetry and its recent commands with their status
// timelines, and sends commands. It renders nothing.
//
// `known` is what the device last said about itself through any channel, in
// arrival order: its `state`, its telemetry, the result of an acknowledged
// command. The controls start from it (the light switch shows `light`, the
// PTZ pad steps from `pan`/`tilt`).
//
// On every (re)connection it sends `devices` again, which also (re)starts the
// device events for this connection. Commands still in flight when the
// connection dropped are looked up once through REST (GET /api/commands/{id})
// after reconnecting, since their events went to the old connection.
//
// Events (it is an EventTarget):
//   'devices' the set of devices or their descriptions changed (a devices reply)
//   'device'  detail {id}: something about one device changed (state,
//             telemetry, a command's status, an error reply)
//   'stale'   detail {stale}: the connection went down / the list is fresh again

export const STATUS_ORDER = ['queued', 'sent', 'delivered', 'acknowledged', 'rejected', 'failed', 'timeout'];
export const FINAL_STATUSES = new Set(['acknowledged', 'rejected', 'failed', 'timeout']);
const HISTORY = 12; // commands kept per device

// Position of a status in its life; all final statuses rank the same, so
// nothing replaces the first final one (a status never goes back).
export function statusRank(status) {
  if (FINAL_STATUSES.has(status)) return 3;
  const i = STATUS_ORDER.indexOf(status);
  return i < 0 ? -1 : i;
}

export class Devices extends EventTarget {
  // `fetchJson(path)` resolves with {status, body}; the default uses fetch()
  // against the page's origin. Tests pass their own.
  constructor(connection, { fetchJson = defaultFetchJson } = {}) {
    super();
    this.conn = connection;
    this.fetchJson = fetchJson;
    this.devices = new Map(); // id -> device record (see adopt())
    this.byCommand = new Map(); // command_id -> command record
    this.loaded = false; // a devices reply arrived on this connection
    this.stale = true;

    connection.addEventListener('open', () => this.refresh());
    connection.addEventListener('status', (ev) => {
      if (ev.detail.state !== 'open') this.setStale(true);
    });
    connection.addEventListener('message', (ev) => this.onEvent(ev.detail));
  }

  // Asks for the list (and the events that follow it).
  async refresh() {
    if (!this.conn.isOpen) return;
    let reply;
    try {
      reply = await this.conn.request('devices');
    } catch (err) {
      console.warn('vigil: devices failed', err);
      return;
    }
    this.adoptList(Array.isArray(reply.devices) ? reply.devices : []);
    this.loaded = true;
    this.setStale(false);
    this.reconcile();
  }

  get(id) {
    return this.devices.get(id);
  }

  list() {
    return [...this.devices.values()];
  }

  // Sends a command. Resolves with the command record, or with null when the
  // server refused it (the error is kept on the device: device.errors[name]).
  async send(deviceId, name, params, options = {}) {
    const dev = this.devices.get(deviceId);
    const fields = { device: deviceId, name };
    if (params !== undefined) fields.params = params;
    for (const k of ['qos', 'confirmable', 'timeout_ms']) if (options[k] !== undefined) fields[k] = options[k];
    if (dev) dev.sending.add(name);
    this.changed(deviceId);
    let reply;
    try {
      reply = await this.conn.request('command', fields);
    } catch (err) {
      if (dev) {
        dev.sending.delete(name);
        dev.errors.set(name, {
          code: err.code || 'not_sent',
          message: err.code ? err.message : `not sent: ${err.message}`,
          field: err.field,
          at: Date.now(),
        });
      }
      this.changed(deviceId);
      return null;
    }
    if (dev) {
      dev.sending.delete(name);
      dev.errors.delete(name);
    }
    const cmd = this.command(reply.command_id, deviceId, reply.name || name);
    cmd.params = params === undefined ? {} : params;
    cmd.mine = true;
    this.advance(cmd, { status: reply.status || 'queued', at_ms: 0 });
    this.changed(deviceId);
    return cmd;
  }

  clearError(deviceId, name) {
    const dev = this.devices.get(deviceId);
    if (dev && dev.errors.delete(name)) this.changed(deviceId);
  }

  // --- server events ---

  onEvent(msg) {
    switch (msg.type) {
      case 'device.state': return this.onDeviceState(msg);
      case 'telemetry': return this.onTelemetry(msg);
      case 'command.status': return this.onCommandStatus(msg);
      case 'transport.state': return this.onTransportState(msg);
      default:
    }
  }

  onDeviceState(msg) {
    const dev = this.devices.get(msg.device);
    if (!dev) return;
    if (msg.online !== undefined) dev.online = msg.online;
    if (isObject(msg.state)) {
      dev.state = msg.state;
      Object.assign(dev.known, msg.state);
    }
    dev.reason = reasonOf(msg);
    this.changed(dev.id);
  }

  onTelemetry(msg) {
    const dev = this.devices.get(msg.device);
    if (!dev || !isObject(msg.data)) return;
    dev.telemetry = msg.data;
    dev.telemetryAt = Date.now();
    Object.assign(dev.known, msg.data);
    this.changed(dev.id);
  }

  onCommandStatus(msg) {
    if (typeof msg.command_id !== 'string' && typeof msg.command_id !== 'number') return;
    const cmd = this.command(String(msg.command_id), msg.device, msg.name);
    this.advance(cmd, msg);
    this.changed(cmd.device);
  }

  onTransportState(msg) {
    for (const dev of this.devices.values()) {
      if (dev.transport !== msg.transport) continue;
      if (typeof msg.connected === 'boolean') dev.transportConnected = msg.connected;
      dev.transportDetail = typeof msg.detail === 'string' ? msg.detail : '';
      this.changed(dev.id);
    }
  }

  // --- bookkeeping ---

  adoptList(list) {
    const seen = new Set();
    for (const info of list) {
      if (!isObject(info) || typeof info.id !== 'string') continue;
      seen.add(info.id);
      let dev = this.devices.get(info.id);
      if (!dev) {
        dev = {
          id: info.id, commandsLog: [], errors: new Map(), sending: new Set(),
          known: {}, telemetry: null, telemetryAt: null, reason: '',
        };
        this.devices.set(info.id, dev);
      }
      dev.name = typeof info.name === 'string' && info.name ? info.name : info.id;
      dev.transport = typeof info.transport === 'string' ? info.transport : '';
      dev.stream = typeof info.stream === 'string' ? info.stream : null;
      dev.online = info.online === true || info.online === false ? info.online : null;
      dev.transportConnected = typeof info.transport_connected === 'boolean' ? info.transport_connected : null;
      dev.transportDetail = '';
      dev.state = isObject(info.state) ? info.state : {};
      if (isObject(info.telemetry)) Object.assign(dev.known, info.telemetry);
      Object.assign(dev.known, dev.state);
      dev.reason = reasonOf(info);
      dev.commands = isObject(info.commands) ? info.commands : {};
      dev.issued = Number.isFinite(info.issued) ? info.issued : null;
      dev.malformed = Number.isFinite(info.malformed) ? info.malformed : null;
      if (isObject(info.telemetry) && !sameJson(info.telemetry, dev.telemetry)) {
        dev.telemetry = info.telemetry;
        // The reply says how old it is only if the server adds telemetry_age_ms.
        dev.telemetryAt = Number.isFinite(info.telemetry_age_ms) ? Date.now() - info.telemetry_age_ms : null;
      }
    }
    for (const id of [...this.devices.keys()]) {
      if (seen.has(id)) continue;
      for (const cmd of this.devices.get(id).commandsLog) this.byCommand.delete(cmd.id);
      this.devices.delete(id);
    }
    this.dispatchEvent(new Event('devices'));
  }

  // The record of a command, made on first sight (its status events may come
  // before the reply to our request, or be another client's command).
  command(id, deviceId, name) {
    let cmd = this.byCommand.get(id);
    if (cmd) return cmd;
    cmd = {
      id, device: deviceId, name: name || '?', params: null, mine: false,
      status: null, timeline: [], code: null, error: null, result: undefined,
      lost: false, sentAt: Date.now(),
    };
    this.byCommand.set(id, cmd);
    const dev = this.devices.get(deviceId);
    if (dev) {
      dev.commandsLog.unshift(cmd);
      for (const old of dev.commandsLog.splice(HISTORY)) this.byCommand.delete(old.id);
    }
    return cmd;
  }

  // Applies one status report ({status, at_ms, code?, error?, result?}).
  advance(cmd, report) {
    const status = report.status;
    if (statusRank(status) < 0) return;
    // One final status per command: a later, different one is ignored.
    if (FINAL_STATUSES.has(status) && FINAL_STATUSES.has(cmd.status) && status !== cmd.status) return;
    if (!cmd.timeline.some((s) => s.status === status)) {
      const at = Number.isFinite(report.at_ms) ? report.at_ms : null;
      cmd.timeline.push({ status, at_ms: at });
      cmd.timeline.sort((a, b) => statusRank(a.status) - statusRank(b.status));
    }
    if (cmd.status === null || statusRank(status) > statusRank(cmd.status)) cmd.status = status;
    if (report.code !== undefined && report.code !== null) cmd.code = report.code;
    if (typeof report.error === 'string') cmd.error = report.error;
    if (report.result !== undefined && FINAL_STATUSES.has(status) && status === cmd.status) {
      cmd.result = report.result;
      // An acknowledged result is the device's own word on its state.
      const dev = this.devices.get(cmd.device);
      if (dev && status === 'acknowledged' && isObject(report.result)) Object.assign(dev.known, report.result);
    }
  }

  // After a reconnect: commands that were still in flight may have finished
  // while we were away; their events went to the old connection.
  async reconcile() {
    for (const cmd of this.byCommand.values()) {
      if (!cmd.status || FINAL_STATUSES.has(cmd.status) || cmd.reconciling) continue;
      cmd.reconciling = true;
      let r;
      try {
        r = await this.fetchJson(`/api/commands/${encodeURIComponent(cmd.id)}`);
      } catch {
        cmd.reconciling = false;
        continue;
      }
      cmd.reconciling = false;
      if (r.status === 404) {
        cmd.lost = true;
      } else if (r.status === 200 && isObject(r.body)) {
        for (const step of Array.isArray(r.body.timeline) ? r.body.timeline : []) this.advance(cmd, step);
        this.advance(cmd, { status: r.body.status, code: r.body.code, error: r.body.error, result: r.body.result });
        if (cmd.params === null && isObject(r.body.params)) cmd.params = r.body.params;
      }
      this.changed(cmd.device);
    }
  }

  setStale(stale) {
    if (this.stale === stale) return;
    this.stale = stale;
    if (stale) this.loaded = false;
    this.dispatchEvent(new CustomEvent('stale', { detail: { stale } }));
  }

  changed(id) {
    this.dispatchEvent(new CustomEvent('device', { detail: { id } }));
  }
}

// Why a device is offline, when the server says: `reason` beside or inside
// its state.
function reasonOf(msg) {
  if (typeof msg.reason === 'string') return msg.reason;
  if (isObject(msg.state) && typeof msg.state.reason === 'string') return msg.state.reason;
  return '';
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sameJson(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function defaultFetchJson(path) {
  const r = await fetch(path, { headers: { accept: 'application/json' } });
  let body = null;
  try {
    body = await r.json();
  } catch { /* not JSON */ }
  return { status: r.status, body };
}

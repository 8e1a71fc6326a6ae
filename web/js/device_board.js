// Places a DevicePanel per device: beside the tile of the device's stream
// when the dashboard has that tile, otherwise in the "Devices" area. Panels
// move when tiles come and go (sync() after every stream list), and are
// redrawn once per animation frame however many events arrive.

import { DevicePanel } from './device_panel.js';

const TICK_MS = 1000;

export class DeviceBoard {
  // `area`: the Devices section (hidden while empty); `list`: where panels
  // without a tile go; `sideFor(stream)`: the element beside that stream's
  // tile, or null; `canCommand()`: may this dashboard send commands (panels
  // are view-only otherwise; sync() after it changes); `headers()`: the
  // REST requests' headers (the token).
  constructor(devices, { area, list, sideFor, canCommand = () => true, headers = () => ({}) }) {
    this.devices = devices;
    this.canCommand = canCommand;
    this.headers = headers;
    this.area = area;
    this.list = list;
    this.sideFor = sideFor;
    this.panels = new Map(); // device id -> DevicePanel
    this.dirty = new Set();
    this.frame = null;

    devices.addEventListener('devices', () => this.sync());
    devices.addEventListener('device', (ev) => this.invalidate(ev.detail.id));
    devices.addEventListener('stale', () => { for (const id of this.panels.keys()) this.invalidate(id); });
    setInterval(() => { for (const p of this.panels.values()) p.tick(); }, TICK_MS);
  }

  // Creates, removes and moves panels to match the devices and tiles.
  sync() {
    const want = this.devices.list().sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const ids = new Set(want.map((d) => d.id));
    for (const [id, panel] of this.panels) {
      if (ids.has(id)) continue;
      panel.destroy();
      this.panels.delete(id);
    }
    for (const dev of want) {
      let panel = this.panels.get(dev.id);
      if (!panel) {
        panel = new DevicePanel(this.devices, dev.id, { canCommand: this.canCommand, headers: this.headers });
        this.panels.set(dev.id, panel);
      } else {
        panel.render();
      }
      const side = dev.stream ? this.sideFor(dev.stream) : null;
      const home = side || this.list;
      // Moving a node loses focus inside it: only move a panel that changed
      // place (append() then keeps each place sorted as devices come).
      if (panel.el.parentNode !== home) home.append(panel.el);
      panel.el.dataset.placement = side ? 'tile' : 'list';
    }
    this.area.hidden = this.list.children.length === 0;
  }

  invalidate(id) {
    this.dirty.add(id);
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      const ids = [...this.dirty];
      this.dirty.clear();
      for (const i of ids) {
        const p = this.panels.get(i);
        if (p) p.render();
      }
    });
  }
}

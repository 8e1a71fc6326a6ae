// The PTZ pad: the control for a command whose schema has bounded `pan` and
// `tilt` numbers (and optionally `zoom`). Arrow buttons step pan/tilt from
// the position last asked for, the centre button goes home (0, 0), a click
// in the position square goes there, a slider sets zoom. Every step sends
// the whole position (absolute values), clamped to the schema.
//
// Stable selectors: data-control="<cmd>.pad-up|pad-down|pad-left|pad-right|
// pad-home|pad-area|step|zoom", and "<cmd>.position" (the readout, with
// data-pan/data-tilt/data-zoom as the device last reported them).

import { clampParam, formatValue, humanize, stepFor } from './schema_controls.js';
import { iconButton } from './icons.js';

const STEPS = [['fine', 0.025], ['normal', 0.05], ['coarse', 0.125]]; // fraction of the axis span

// True when `schema` is one the pad can drive: pan and tilt bounded numbers,
// an optional bounded zoom, and no other required parameter.
export function isPtzSchema(schema) {
  if (!schema) return false;
  const bounded = (s) => s && (s.type === 'number' || s.type === 'integer') && Number.isFinite(s.min) && Number.isFinite(s.max) && s.max > s.min;
  if (!bounded(schema.pan) || !bounded(schema.tilt) || schema.pan.optional || schema.tilt.optional) return false;
  if (schema.zoom && !bounded(schema.zoom)) return false;
  return Object.entries(schema).every(([k, s]) => ['pan', 'tilt', 'zoom'].includes(k) || s.optional);
}

// The position one step in (dx, dy) from `from`, clamped to the schema.
export function stepPosition(schema, from, dx, dy, fraction) {
  const move = (axis, d) => {
    const s = schema[axis];
    const base = Number.isFinite(from[axis]) ? from[axis] : clampParam(s, 0);
    return clampParam(s, base + d * fraction * (s.max - s.min));
  };
  return { ...from, pan: move('pan', dx), tilt: move('tilt', dy) };
}

export class PtzPad {
  constructor(name, schema, send) {
    this.name = name;
    this.schema = schema;
    this.send = send;
    this.target = { pan: clampParam(schema.pan, 0), tilt: clampParam(schema.tilt, 0) };
    if (schema.zoom) this.target.zoom = clampParam(schema.zoom, 0);
    this.zoomKnown = false; // send zoom only once we know it or the user set it
    this.busy = false;
    this.enabled = true;
    this.el = this.build();
  }

  build() {
    const name = this.name;
    const el = document.createElement('div');
    el.className = 'control ptz';

    const pad = document.createElement('div');
    pad.className = 'ptz-pad';
    pad.setAttribute('role', 'group');
    pad.setAttribute('aria-label', `${humanize(name)} pan and tilt`);
    const arrows = [
      ['up', 0, 1, 'arrow-up', 'tilt up'], ['left', -1, 0, 'arrow-left', 'pan left'], ['home', 0, 0, 'home', 'home'],
      ['right', 1, 0, 'arrow-right', 'pan right'], ['down', 0, -1, 'arrow-down', 'tilt down'],
    ];
    this.buttons = [];
    for (const [dir, dx, dy, glyph, label] of arrows) {
      const b = iconButton(glyph, label, `ptz-btn ptz-${dir}`);
      b.dataset.control = `${name}.pad-${dir}`;
      b.addEventListener('click', () => (dir === 'home' ? this.home() : this.step(dx, dy)));
      this.buttons.push(b);
      pad.append(b);
    }

    // The position square: where the head points; click to go there.
    const area = document.createElement('div');
    area.className = 'ptz-area';
    area.dataset.control = `${name}.pad-area`;
    area.tabIndex = 0;
    area.setAttribute('role', 'group');
    area.setAttribute('aria-label', 'pan/tilt position: click to point there, arrow keys to step');
    this.dot = document.createElement('span');
    this.dot.className = 'ptz-dot';
    this.ghost = document.createElement('span');
    this.ghost.className = 'ptz-dot ptz-target';
    area.append(this.ghost, this.dot);
    area.addEventListener('click', (ev) => this.pointAt(area, ev));
    area.addEventListener('keydown', (ev) => {
      const keys = { ArrowUp: [0, 1], ArrowDown: [0, -1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
      if (ev.key === 'Home') { ev.preventDefault(); this.home(); return; }
      if (!keys[ev.key]) return;
      ev.preventDefault();
      this.step(...keys[ev.key]);
    });
    this.area = area;

    const side = document.createElement('div');
    side.className = 'ptz-side';
    const stepLabel = document.createElement('label');
    stepLabel.className = 'ptz-step';
    stepLabel.append('step ');
    this.stepSel = document.createElement('select');
    this.stepSel.dataset.control = `${name}.step`;
    for (const [label, f] of STEPS) {
      const o = document.createElement('option');
      o.value = String(f);
      o.textContent = label;
      this.stepSel.append(o);
    }
    this.stepSel.value = String(STEPS[1][1]);
    stepLabel.append(this.stepSel);
    side.append(stepLabel);

    if (this.schema.zoom) {
      const z = this.schema.zoom;
      const zl = document.createElement('label');
      zl.className = 'ptz-zoom';
      zl.append('zoom ');
      this.zoom = document.createElement('input');
      this.zoom.type = 'range';
      this.zoom.min = String(z.min);
      this.zoom.max = String(z.max);
      this.zoom.step = String(stepFor(z));
      this.zoom.value = String(this.target.zoom);
      this.zoom.dataset.control = `${name}.zoom`;
      this.zoomOut = document.createElement('output');
      this.zoomOut.textContent = formatValue(this.target.zoom);
      this.zoom.addEventListener('input', () => { this.zoomOut.textContent = formatValue(Number(this.zoom.value)); });
      this.zoom.addEventListener('change', () => {
        this.target.zoom = clampParam(z, this.zoom.value);
        this.zoomKnown = true;
        this.go(this.target);
      });
      zl.append(this.zoom, this.zoomOut);
      side.append(zl);
    }

    this.readout = document.createElement('div');
    this.readout.className = 'ptz-readout';
    this.readout.dataset.control = `${name}.position`;
    this.readout.setAttribute('aria-live', 'polite');
    side.append(this.readout);

    el.append(pad, area, side);
    return el;
  }

  fraction() {
    const f = Number(this.stepSel.value);
    return Number.isFinite(f) && f > 0 ? f : STEPS[1][1];
  }

  step(dx, dy) {
    this.go(stepPosition(this.schema, this.target, dx, dy, this.fraction()));
  }

  home() {
    this.go({ ...this.target, pan: clampParam(this.schema.pan, 0), tilt: clampParam(this.schema.tilt, 0) });
  }

  pointAt(area, ev) {
    const r = area.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return;
    const fx = (ev.clientX - r.left) / r.width;
    const fy = (ev.clientY - r.top) / r.height;
    const { pan, tilt } = this.schema;
    this.go({
      ...this.target,
      pan: clampParam(pan, pan.min + fx * (pan.max - pan.min)),
      tilt: clampParam(tilt, tilt.max - fy * (tilt.max - tilt.min)),
    });
  }

  go(pos) {
    if (!this.enabled) return;
    this.target = { ...pos };
    this.sentAt = Date.now();
    const params = { pan: pos.pan, tilt: pos.tilt };
    if (this.schema.zoom && this.zoomKnown && Number.isFinite(pos.zoom)) params.zoom = pos.zoom;
    this.place(this.ghost, pos);
    this.send(params);
  }

  // `known`: the device's last reported state; `busy`: a command of ours is
  // still in flight (then the target stays what we asked for).
  update(known, busy, enabled) {
    this.busy = busy;
    this.enabled = enabled;
    const have = (k) => known && Number.isFinite(known[k]);
    const pos = {
      pan: have('pan') ? known.pan : null,
      tilt: have('tilt') ? known.tilt : null,
      zoom: have('zoom') ? known.zoom : null,
    };
    if (!busy) {
      if (pos.pan !== null) this.target.pan = clampParam(this.schema.pan, pos.pan);
      if (pos.tilt !== null) this.target.tilt = clampParam(this.schema.tilt, pos.tilt);
      if (this.schema.zoom && pos.zoom !== null) {
        this.target.zoom = clampParam(this.schema.zoom, pos.zoom);
        this.zoomKnown = true;
        if (document.activeElement !== this.zoom) {
          this.zoom.value = String(this.target.zoom);
          this.zoomOut.textContent = formatValue(this.target.zoom);
        }
      }
    }
    const d = this.readout.dataset;
    d.pan = pos.pan === null ? '' : String(pos.pan);
    d.tilt = pos.tilt === null ? '' : String(pos.tilt);
    d.zoom = pos.zoom === null ? '' : String(pos.zoom);
    const parts = [`pan ${formatValue(pos.pan)}`, `tilt ${formatValue(pos.tilt)}`];
    if (this.schema.zoom) parts.push(`zoom ${formatValue(pos.zoom)}`);
    this.readout.textContent = parts.join(' · ');
    this.place(this.dot, { pan: pos.pan ?? this.target.pan, tilt: pos.tilt ?? this.target.tilt });
    this.place(this.ghost, this.target);
    this.ghost.hidden = !busy;
    for (const b of this.buttons) b.disabled = !enabled;
    if (this.zoom) this.zoom.disabled = !enabled;
    this.area.setAttribute('aria-disabled', String(!enabled));
    this.area.classList.toggle('disabled', !enabled);
    this.el.setAttribute('aria-busy', String(busy));
  }

  place(dot, pos) {
    const { pan, tilt } = this.schema;
    const x = (pos.pan - pan.min) / (pan.max - pan.min);
    const y = (tilt.max - pos.tilt) / (tilt.max - tilt.min);
    dot.style.left = `${(Math.min(1, Math.max(0, x)) * 100).toFixed(1)}%`;
    dot.style.top = `${(Math.min(1, Math.max(0, y)) * 100).toFixed(1)}%`;
  }
}

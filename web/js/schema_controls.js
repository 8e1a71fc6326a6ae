// Controls built from a command's parameter schema (PROTOCOL.md "devices",
// `commands`): a command without parameters is a button, one with a single
// bool parameter a switch that sends on click, any other a small form
// (bool → switch, number/integer with min and max → slider + number,
// string with values → select, other strings / unbounded numbers → input)
// with a Send button. Values are clamped to the schema before sending, so
// the form cannot ask for what the server would refuse.
//
// Every control element has data-control="<command>.<param>" (the switch, the
// slider), "<command>.<param>.value" (a slider's number box),
// "<command>.<param>.include" (an optional parameter's checkbox) or
// "<command>.send" (the button that sends).
//
// The top half is pure (no DOM) so node can test it.

// --- pure helpers ---

export function paramKind(spec) {
  switch (spec && spec.type) {
    case 'bool': return 'bool';
    case 'number':
    case 'integer':
      return Number.isFinite(spec.min) && Number.isFinite(spec.max) ? 'range' : 'number';
    case 'string': return Array.isArray(spec.values) && spec.values.length > 0 ? 'select' : 'text';
    default: return 'text';
  }
}

// The value `raw` made valid for `spec`, or null when it cannot be.
export function clampParam(spec, raw) {
  switch (spec && spec.type) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      return null;
    case 'number':
    case 'integer': {
      if (raw === '' || raw === null || raw === undefined || typeof raw === 'boolean') return null;
      let n = Number(raw);
      if (!Number.isFinite(n)) return null;
      if (spec.type === 'integer') n = Math.round(n);
      if (Number.isFinite(spec.min)) n = Math.max(spec.min, n);
      if (Number.isFinite(spec.max)) n = Math.min(spec.max, n);
      // Float noise from stepping (0.1 + 0.2) should not reach the device.
      return spec.type === 'integer' ? n : Number(n.toFixed(6));
    }
    case 'string': {
      if (typeof raw !== 'string') return null;
      if (Array.isArray(spec.values) && spec.values.length > 0) return spec.values.includes(raw) ? raw : null;
      return Number.isInteger(spec.max_length) ? raw.slice(0, spec.max_length) : raw;
    }
    default:
      return null;
  }
}

// A sensible starting value: the device's current one when valid, else the
// neutral value of the type.
export function defaultValue(spec, current) {
  const c = current === undefined ? null : clampParam(spec, current);
  if (c !== null && (spec.type !== 'string' || typeof current === 'string')) return c;
  switch (spec.type) {
    case 'bool': return false;
    case 'number':
    case 'integer': return clampParam(spec, 0);
    case 'string': return Array.isArray(spec.values) && spec.values.length ? spec.values[0] : '';
    default: return null;
  }
}

export function stepFor(spec) {
  if (spec.type === 'integer') return 1;
  if (paramKind(spec) !== 'range') return 'any';
  const span = spec.max - spec.min;
  return span > 0 ? Number((span / 100).toPrecision(2)) : 'any';
}

// Names for which a click asks to be confirmed.
export function isDestructive(name) {
  return /(reboot|restart|reset|shutdown|power_?off|erase|wipe|format|delete|factory)/i.test(name);
}

// 'button' | 'switch' | 'form' for a command's schema.
export function controlKind(schema) {
  const names = Object.keys(schema || {});
  if (names.length === 0) return 'button';
  if (names.length === 1 && schema[names[0]].type === 'bool' && !schema[names[0]].optional) return 'switch';
  return 'form';
}

// The current value of `param` of command `name` in the device's known
// state: the parameter's own key (pan), or for a lone bool the command's
// name (light {on} ↔ state.light).
export function knownValue(known, name, param, spec) {
  if (!known) return undefined;
  if (known[param] !== undefined && clampParam(spec, known[param]) !== null) return known[param];
  if (spec.type === 'bool' && typeof known[name] === 'boolean') return known[name];
  return undefined;
}

export function humanize(name) {
  return String(name).replace(/[_-]+/g, ' ');
}

export function formatValue(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
  if (v === null || v === undefined) return '–';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// --- DOM ---

// Builds the control of one command. `send(params)` sends it (returns a
// promise). Returns {el, update(known, busy, enabled)}.
export function buildControl(name, schema, send) {
  switch (controlKind(schema)) {
    case 'button': return buttonControl(name, send);
    case 'switch': return switchControl(name, Object.keys(schema)[0], schema, send);
    default: return formControl(name, schema, send);
  }
}

const CONFIRM_MS = 4000;

function buttonControl(name, send) {
  const el = document.createElement('div');
  el.className = 'control control-button';
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.className = 'btn';
  btn.dataset.control = `${name}.send`;
  const label = humanize(name);
  btn.textContent = label;
  const destructive = isDestructive(name);
  if (destructive) btn.classList.add('btn-danger');
  let armed = null; // confirmation timer
  const disarm = () => {
    clearTimeout(armed);
    armed = null;
    btn.textContent = label;
    delete btn.dataset.confirm;
  };
  btn.addEventListener('click', () => {
    if (destructive && !armed) {
      // Two clicks for a destructive command; no modal dialog.
      btn.textContent = `Confirm ${label}?`;
      btn.dataset.confirm = 'pending';
      armed = setTimeout(disarm, CONFIRM_MS);
      return;
    }
    disarm();
    send({});
  });
  btn.addEventListener('blur', () => { if (armed) disarm(); });
  el.append(btn);
  return {
    el,
    update(known, busy, enabled) {
      btn.disabled = !enabled;
      btn.setAttribute('aria-busy', String(busy));
    },
  };
}

function switchControl(name, param, schema, send) {
  const spec = schema[param];
  const el = document.createElement('div');
  el.className = 'control control-switch';
  const sw = makeSwitch(`${name}.${param}`, `${humanize(name)} ${humanize(param)}`);
  let value = false;
  sw.addEventListener('click', () => send({ [param]: !value }));
  const text = document.createElement('span');
  text.className = 'switch-label';
  text.setAttribute('aria-hidden', 'true'); // the switch itself says on/off
  el.append(sw, text);
  return {
    el,
    update(known, busy, enabled) {
      const v = knownValue(known, name, param, spec);
      value = v === undefined ? false : v;
      sw.setAttribute('aria-checked', String(value));
      sw.dataset.known = String(v !== undefined);
      text.textContent = v === undefined ? 'unknown' : value ? 'on' : 'off';
      sw.setAttribute('aria-busy', String(busy));
      sw.disabled = !enabled;
    },
  };
}

export function makeSwitch(control, label) {
  const sw = document.createElement('button');
  sw.type = 'button';
  sw.className = 'switch';
  sw.setAttribute('role', 'switch');
  sw.setAttribute('aria-checked', 'false');
  sw.setAttribute('aria-label', label);
  sw.dataset.control = control;
  const knob = document.createElement('span');
  knob.className = 'switch-knob';
  knob.setAttribute('aria-hidden', 'true');
  sw.append(knob);
  return sw;
}

function formControl(name, schema, send) {
  const form = document.createElement('form');
  form.className = 'control control-form';
  form.noValidate = true; // we clamp; the browser's bubbles would only get in the way
  const fields = Object.entries(schema).map(([param, spec]) => paramField(name, param, spec));
  for (const f of fields) form.append(f.el);
  const btn = document.createElement('button');
  btn.type = 'submit';
  btn.className = 'btn';
  btn.dataset.control = `${name}.send`;
  btn.textContent = 'Send';
  btn.setAttribute('aria-label', `Send ${humanize(name)}`);
  form.append(btn);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const params = {};
    for (const f of fields) {
      const v = f.read();
      if (v !== undefined) params[f.param] = v;
    }
    for (const f of fields) f.dirty = false;
    send(params);
  });
  return {
    el: form,
    update(known, busy, enabled) {
      for (const f of fields) f.follow(known);
      btn.disabled = !enabled;
      btn.setAttribute('aria-busy', String(busy));
    },
  };
}

// One parameter's input(s). read() gives the clamped value, or undefined for
// an optional parameter left out. Until the user edits it, it follows the
// device's known state.
function paramField(name, param, spec) {
  const id = `${name}.${param}`;
  const kind = paramKind(spec);
  const row = document.createElement('div');
  row.className = 'param';
  row.dataset.kind = kind;
  const label = document.createElement('label');
  label.textContent = humanize(param);
  const uid = uniqueId(id);
  label.htmlFor = uid;
  const f = { el: row, param, dirty: false };

  let include = null;
  if (spec.optional) {
    include = document.createElement('input');
    include.type = 'checkbox';
    include.dataset.control = `${id}.include`;
    include.setAttribute('aria-label', `include ${humanize(param)}`);
    include.title = 'optional: send this parameter';
  }

  let input;
  let box = null; // a range's number box
  if (kind === 'bool') {
    input = makeSwitch(id, humanize(param));
    input.addEventListener('click', () => {
      input.setAttribute('aria-checked', String(input.getAttribute('aria-checked') !== 'true'));
      f.dirty = true;
    });
  } else if (kind === 'select') {
    input = document.createElement('select');
    for (const v of spec.values) {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = v;
      input.append(o);
    }
  } else {
    input = document.createElement('input');
    if (kind === 'text') {
      input.type = 'text';
      if (Number.isInteger(spec.max_length)) input.maxLength = spec.max_length;
    } else {
      input.type = kind === 'range' ? 'range' : 'number';
      if (Number.isFinite(spec.min)) input.min = String(spec.min);
      if (Number.isFinite(spec.max)) input.max = String(spec.max);
      input.step = String(stepFor(spec));
    }
    if (kind === 'range') {
      box = document.createElement('input');
      box.type = 'number';
      box.className = 'param-value';
      box.min = String(spec.min);
      box.max = String(spec.max);
      box.step = String(stepFor(spec));
      box.dataset.control = `${id}.value`;
      box.setAttribute('aria-label', `${humanize(param)} value`);
      input.addEventListener('input', () => { box.value = input.value; });
      box.addEventListener('change', () => {
        const v = clampParam(spec, box.value);
        box.value = String(v === null ? input.value : v);
        input.value = box.value;
        f.dirty = true;
      });
    }
  }
  input.id = uid;
  if (kind !== 'bool') input.dataset.control = id;
  input.addEventListener('input', () => { f.dirty = true; if (include) include.checked = true; });
  if (kind === 'number' || kind === 'text') {
    input.addEventListener('change', () => {
      const v = clampParam(spec, input.value);
      if (v !== null) input.value = String(v);
    });
  }

  const set = (v) => {
    if (kind === 'bool') input.setAttribute('aria-checked', String(v === true));
    else input.value = v === null ? '' : String(v);
    if (box) box.value = input.value;
  };
  set(defaultValue(spec, undefined));

  f.read = () => {
    if (include && !include.checked) return undefined;
    const raw = kind === 'bool' ? input.getAttribute('aria-checked') === 'true' : input.value;
    const v = clampParam(spec, raw);
    return v === null ? defaultValue(spec, undefined) : v;
  };
  f.follow = (known) => {
    if (f.dirty || document.activeElement === input || document.activeElement === box) return;
    const v = knownValue(known, name, param, spec);
    if (v !== undefined) set(defaultValue(spec, v));
  };

  const head = document.createElement('div');
  head.className = 'param-head';
  if (include) head.append(include);
  head.append(label);
  if (spec.type === 'integer' || spec.type === 'number') {
    const range = document.createElement('span');
    range.className = 'muted param-range';
    if (kind === 'range') range.textContent = `${spec.min}…${spec.max}`;
    head.append(range);
  }
  const body = document.createElement('div');
  body.className = 'param-input';
  body.append(input);
  if (box) body.append(box);
  row.append(head, body);
  return f;
}

let seq = 0;
export function uniqueId(base) {
  seq += 1;
  return `ctl-${String(base).replace(/[^A-Za-z0-9_-]/g, '-')}-${seq}`;
}

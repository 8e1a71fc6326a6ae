// A device's recent commands, newest first: name, parameters, a chip per
// status reached (queued → sent → delivered → acknowledged / rejected /
// failed / timeout) with its at_ms, and the result or the error and code.
// Rows carry data-command-id, data-name, data-status, data-code and
// data-outcome ("pending" | "ok" | "error") for tests and styling.

import { FINAL_STATUSES } from './devices.js';
import { formatValue } from './schema_controls.js';

const ERROR_STATUSES = new Set(['rejected', 'failed', 'timeout']);

export class CommandLog {
  constructor() {
    this.el = document.createElement('ol');
    this.el.className = 'cmd-log';
    this.el.setAttribute('aria-label', 'recent commands');
    this.el.setAttribute('aria-live', 'polite');
    this.el.tabIndex = 0; // it scrolls: reachable from the keyboard
    this.rows = new Map(); // command id -> {li, sig}
    this.empty = document.createElement('li');
    this.empty.className = 'cmd-empty muted';
    this.empty.textContent = 'No commands yet.';
    this.el.append(this.empty);
  }

  // `commands`: the device's commandsLog (newest first).
  render(commands) {
    const keep = new Set(commands.map((c) => c.id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.li.remove();
        this.rows.delete(id);
      }
    }
    let prev = null;
    for (const cmd of commands) {
      let row = this.rows.get(cmd.id);
      if (!row) {
        row = { li: document.createElement('li'), sig: '' };
        row.li.className = 'cmd';
        this.rows.set(cmd.id, row);
      }
      const sig = signature(cmd);
      if (sig !== row.sig) {
        row.sig = sig;
        fill(row.li, cmd);
      }
      // Keep DOM order = newest first without re-inserting unchanged rows.
      const want = prev ? prev.nextSibling : this.el.firstChild;
      if (want !== row.li) this.el.insertBefore(row.li, want);
      prev = row.li;
    }
    this.empty.hidden = commands.length > 0;
    if (this.empty.parentNode !== this.el || this.el.lastChild !== this.empty) this.el.append(this.empty);
  }
}

function signature(cmd) {
  return JSON.stringify([cmd.status, cmd.timeline, cmd.code, cmd.error, cmd.result, cmd.params, cmd.lost]);
}

function outcome(cmd) {
  if (ERROR_STATUSES.has(cmd.status)) return 'error';
  if (cmd.status === 'acknowledged') return 'ok';
  return 'pending';
}

function fill(li, cmd) {
  const d = li.dataset;
  d.commandId = cmd.id;
  d.name = cmd.name;
  d.status = cmd.status || '';
  d.code = cmd.code === null ? '' : String(cmd.code);
  d.outcome = outcome(cmd);
  d.mine = String(cmd.mine);
  li.replaceChildren();

  const head = document.createElement('div');
  head.className = 'cmd-head';
  const name = document.createElement('span');
  name.className = 'cmd-name';
  name.textContent = cmd.name;
  const params = document.createElement('span');
  params.className = 'cmd-params';
  params.textContent = cmd.params === null ? '' : summarize(cmd.params) || 'no parameters';
  head.append(name, params);
  if (!cmd.mine) {
    const by = document.createElement('span');
    by.className = 'cmd-by muted';
    by.textContent = 'other client';
    head.append(by);
  }
  const time = document.createElement('time');
  time.className = 'cmd-time muted';
  const at = new Date(cmd.sentAt);
  time.dateTime = at.toISOString();
  time.textContent = at.toLocaleTimeString([], { hour12: false });
  head.append(time);

  const chips = document.createElement('ol');
  chips.className = 'chips';
  chips.setAttribute('aria-label', `${cmd.name} status: ${cmd.status || 'unknown'}`);
  for (const step of cmd.timeline) {
    const chip = document.createElement('li');
    chip.className = 'chip';
    chip.dataset.status = step.status;
    if (ERROR_STATUSES.has(step.status)) chip.classList.add('chip-error');
    chip.append(step.status);
    if (step.at_ms !== null) {
      const ms = document.createElement('small');
      ms.textContent = ` ${step.at_ms} ms`;
      chip.append(ms);
    }
    chips.append(chip);
  }
  if (!FINAL_STATUSES.has(cmd.status)) {
    const wait = document.createElement('li');
    wait.className = 'chip chip-wait';
    wait.textContent = cmd.lost ? 'outcome unknown' : '…';
    if (cmd.lost) wait.title = 'the connection dropped and the server no longer knows this command';
    chips.append(wait);
  }
  li.append(head, chips);

  if (ERROR_STATUSES.has(cmd.status) || cmd.error) {
    const err = document.createElement('div');
    err.className = 'cmd-error';
    const code = cmd.code !== null ? ` (code ${cmd.code})` : '';
    err.textContent = `${cmd.error || cmd.status}${code}`;
    li.append(err);
  }
  if (cmd.result !== undefined && cmd.result !== null) {
    const res = document.createElement('div');
    res.className = 'cmd-result';
    const text = typeof cmd.result === 'object' ? summarize(cmd.result) : formatValue(cmd.result);
    res.textContent = `result: ${text}`;
    res.title = JSON.stringify(cmd.result);
    li.append(res);
  }
}

// "pan 0.5, tilt -0.25" for a flat object.
export function summarize(obj) {
  if (obj === null || typeof obj !== 'object') return formatValue(obj);
  return Object.entries(obj).map(([k, v]) => `${k} ${formatValue(v)}`).join(', ');
}

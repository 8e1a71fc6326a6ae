// The dashboard's button icons, drawn as inline SVG so they show on any
// machine: font glyphs such as 🔇 or ▶ depend on the fonts installed (on a
// Debian box with only DejaVu the speaker came out as an empty box). Each
// icon is a 24×24 drawing in currentColor, hidden from screen readers: the
// button's aria-label says what it does.

const NS = 'http://www.w3.org/2000/svg';

// name -> paths; a path drawn with `fill` is filled, the others are stroked.
const ICONS = {
  'sound-on': [{ d: 'M4 9h4l5-4v14l-5-4H4z', fill: true }, { d: 'M16.5 8.5a5 5 0 0 1 0 7' }, { d: 'M19 5.5a9 9 0 0 1 0 13' }],
  'sound-off': [{ d: 'M4 9h4l5-4v14l-5-4H4z', fill: true }, { d: 'M16 9.5l5 5M21 9.5l-5 5' }],
  // Playback modes: WebCodecs (decoded and drawn at once: a bolt) and MSE (a film strip).
  webcodecs: [{ d: 'M13 2L5 13.5h6L10 22l8-11.5h-6z', fill: true }],
  mse: [{ d: 'M4 5h16v14H4zM8 5v14M16 5v14M4 9.5h4M4 14.5h4M16 9.5h4M16 14.5h4' }],
  'arrow-up': [{ d: 'M12 6l7 11H5z', fill: true }],
  'arrow-down': [{ d: 'M12 18L5 7h14z', fill: true }],
  'arrow-left': [{ d: 'M6 12l11-7v14z', fill: true }],
  'arrow-right': [{ d: 'M18 12L7 5v14z', fill: true }],
  home: [{ d: 'M12 7a5 5 0 1 0 0 10a5 5 0 1 0 0-10z', fill: true }],
  close: [{ d: 'M6 6l12 12M18 6L6 18' }],
  // A tile enlarged to the grid's width, and back: corners out, corners in.
  enlarge: [{ d: 'M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5' }],
  shrink: [{ d: 'M9 4v5H4M15 4v5h5M9 20v-5H4M15 20v-5h5' }],
};

// A new <svg> of the named icon.
export function icon(name) {
  const paths = ICONS[name];
  if (!paths) throw new Error(`no icon named ${name}`);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const { d, fill } of paths) {
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    if (fill) p.setAttribute('class', 'icon-fill');
    svg.append(p);
  }
  return svg;
}

const shown = new WeakMap(); // button -> what setIcon last put in it

// Shows icon `name` in `button`, followed by `text` if given. Cheap when
// nothing changed (tiles re-render twice a second); data-icon names the icon.
export function setIcon(button, name, text = '') {
  const key = `${name}\n${text}`;
  if (shown.get(button) === key) return;
  shown.set(button, key);
  button.dataset.icon = name;
  const parts = [icon(name)];
  if (text) {
    const label = document.createElement('span');
    label.className = 'icon-text';
    label.textContent = text;
    parts.push(label);
  }
  button.replaceChildren(...parts);
}

// A button showing only icon `name`, named for screen readers by `label`
// (also its tooltip).
export function iconButton(name, label, className) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.setAttribute('aria-label', label);
  b.title = label;
  setIcon(b, name);
  return b;
}

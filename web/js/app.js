// The dashboard: one vigil.v1 connection, a tile per stream in the server's
// list. It lists the streams on every (re)connection and then periodically
// so new streams appear, and asks for per-channel stats to show skipped frames.
// A reload of the server's configuration lists them again at once: its
// streams.changed event (streams added, removed or restarted), or a
// stream.removed one ending a tile's channel (tile.js). Tiles of streams
// still listed stay as they are, playing; the others go.
// Each tile sits in a slot with room beside it for the panels of the devices
// that belong to its stream; the other devices go to the Devices area.
//
// Every connection starts with a hello carrying the token (auth.js); what the
// server lists is what that token may see, and the device panels get their
// controls only when its role may send commands. When the server refuses
// us, the view is cleared and the sign-in dialog (signin.js) says why.

import { Connection } from './connection.js';
import { Subscriptions } from './subscriptions.js';
import { Tile } from './tile.js';
import { StatusBar } from './status_bar.js';
import { Devices } from './devices.js';
import { DeviceBoard } from './device_board.js';
import { Auth } from './auth.js';
import { AccountArea } from './account.js';
import { SignInDialog } from './signin.js';

const LIST_EVERY_MS = 5000;
const STATS_EVERY_MS = 2000;
const RENDER_EVERY_MS = 500;
const DEFAULT_MAX_SUBSCRIPTIONS = 16;

const auth = new Auth();
auth.adoptFromLocation(); // #token=... → storage, and out of the address bar
const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
const conn = new Connection(`${scheme}//${location.host}/ws`, { handshake: (request) => auth.handshake(request) });
const subs = new Subscriptions(conn);
const tiles = new Map(); // stream id -> Tile
const slots = new Map(); // stream id -> the tile's slot element (tile + side)
const grid = document.getElementById('grid');
const empty = document.getElementById('empty');
const bar = new StatusBar(document.body);
let maxSubscriptions = DEFAULT_MAX_SUBSCRIPTIONS;
const devices = new Devices(conn, { fetchJson });
const board = new DeviceBoard(devices, {
  area: document.getElementById('devices'),
  list: document.getElementById('device-list'),
  sideFor: (stream) => (slots.has(stream) ? slots.get(stream).querySelector('.tile-side') : null),
  canCommand: () => auth.canCommand,
  headers: () => auth.headers(),
});
const signin = new SignInDialog(document.getElementById('signin'), auth, {
  onSignIn: (token, remember) => switchIdentity(() => auth.signIn(token, { remember })),
  onAnonymous: () => switchIdentity(() => auth.signOut()),
});
new AccountArea(document.getElementById('account'), auth, {
  onSignIn: () => signin.show(auth.refused),
  onSignOut: () => switchIdentity(() => auth.signOut()),
});

// A new token (or none): nothing the last one could see stays on screen, and
// a fresh connection says hello with the new one.
function switchIdentity(change) {
  change();
  clearView();
  conn.restart();
}

// Publishers and admins may send a camera from this browser (publish.html).
const publishLink = document.getElementById('publish-link');

auth.addEventListener('change', () => {
  publishLink.hidden = !(auth.access && ['publisher', 'admin'].includes(auth.access.role));
  document.body.dataset.auth = auth.access ? (auth.access.anonymous ? 'anonymous' : 'signed-in') : auth.refused ? 'refused' : 'pending';
  // The role decides whether panels have controls.
  board.sync();
});

// The server refused the token (hello) or dropped us for it (4003, e.g. the
// token expired): no retry until the user signs in again.
conn.addEventListener('unauthorized', (ev) => {
  if (!auth.refused) auth.refuse(ev.detail.reason);
  clearView();
  signin.show(auth.refused);
});

// A sign-in link opened in this tab again, with another token.
window.addEventListener('hashchange', () => {
  if (auth.adoptFromLocation()) {
    signin.close();
    clearView();
    conn.restart();
  }
});

conn.addEventListener('status', (ev) => {
  bar.connection(ev.detail);
  const up = ev.detail.state === 'open';
  const restarting = ev.detail.restarting === true;
  for (const tile of tiles.values()) tile.setConnected(up, restarting);
  document.body.dataset.connection = up ? 'connected' : restarting ? 'restarting'
    : ev.detail.state === 'connecting' ? 'connecting' : 'disconnected';
});

conn.addEventListener('open', () => {
  // The hello went out in the handshake (auth.js).
  const hello = conn.hello;
  bar.setServer(hello);
  const max = hello && hello.limits && hello.limits.max_subscriptions;
  if (Number.isInteger(max) && max > 0) maxSubscriptions = max;
  if (signin.isOpen && auth.access && !auth.access.anonymous) signin.close();
  refreshList();
});

// One list at a time; asked for meanwhile, one more follows it (the one in
// flight may predate what made us ask, e.g. a reload).
let listing = false;
let listAgain = false;
async function refreshList() {
  if (listing) {
    listAgain = true;
    return;
  }
  listing = true;
  try {
    await listStreams();
  } finally {
    listing = false;
  }
  if (listAgain) {
    listAgain = false;
    refreshList();
  }
}

async function listStreams() {
  if (!conn.isOpen) return;
  let reply;
  try {
    reply = await conn.request('list');
  } catch (err) {
    console.warn('vigil: list failed', err);
    return;
  }
  const streams = Array.isArray(reply.streams) ? reply.streams.filter((s) => s && typeof s.id === 'string') : [];
  const seen = new Set();
  for (const info of streams) {
    seen.add(info.id);
    let tile = tiles.get(info.id);
    if (!tile) {
      const id = info.id;
      tile = new Tile(id, { subs, onFocusChange, onRemoved: onStreamRemoved, headers: () => auth.headers(), canClip: () => auth.canCommand });
      tiles.set(info.id, tile);
      placeTile(tile);
    }
    tile.listed(info);
    // Stay under the server's subscription limit; the rest show "not watched".
    // A browser that cannot play video does not pull it.
    if (!subs.has(info.id) && tile.playable) {
      if (subscribedCount() < maxSubscriptions) subs.add(info.id, tile);
      else tile.onFailed({ code: 'too_many_subscriptions', message: 'subscription limit reached' });
    }
  }
  for (const id of [...tiles.keys()]) if (!seen.has(id)) removeTile(id);
  board.sync();
  subs.retry();
  bar.setSummary(streams);
  empty.hidden = streams.length > 0;
}

// A reload changed the server's streams (PROTOCOL.md, streams.changed):
// added ones get tiles and removed ones lose theirs now, not at the next
// periodic list. Devices may name the streams: they are asked for again too.
function onStreamsChanged() {
  refreshList();
  devices.refresh();
}

// A reload ended a tile's channel (its stream, its variant, or our access
// to it): the list says which, and a tile still listed subscribes again.
function onStreamRemoved() {
  refreshList();
}

conn.addEventListener('message', (ev) => {
  if (ev.detail.type === 'streams.changed') onStreamsChanged();
});

// One tile enlarged at a time; it spans the grid's width and comes into view.
function onFocusChange(tile) {
  if (!tile.focused) return;
  for (const other of tiles.values()) if (other !== tile) other.setFocused(false);
  tile.el.scrollIntoView({ block: 'nearest' });
}

// Escape puts an enlarged tile back (unless a dialog has the key).
document.addEventListener('keydown', (ev) => {
  if (ev.key !== 'Escape' || ev.defaultPrevented || signin.isOpen) return;
  for (const tile of tiles.values()) tile.setFocused(false);
});

function removeTile(id) {
  subs.remove(id);
  tiles.get(id).destroy();
  tiles.delete(id);
  slots.get(id).remove();
  slots.delete(id);
}

// Empties the page: no tiles, no device panels.
function clearView() {
  for (const id of [...tiles.keys()]) removeTile(id);
  devices.clear();
  empty.hidden = true;
}

// REST with the token (the device store looks up commands after a reconnect).
async function fetchJson(path) {
  const r = await fetch(path, { headers: { accept: 'application/json', ...auth.headers() } });
  let body = null;
  try {
    body = await r.json();
  } catch { /* not JSON */ }
  return { status: r.status, body };
}

function subscribedCount() {
  let n = 0;
  for (const id of tiles.keys()) if (subs.has(id)) n++;
  return n;
}

// Tiles stay sorted by stream id so the grid does not reshuffle. Each goes
// into a slot: the tile, then the device panels of its stream beside it.
function placeTile(tile) {
  const slot = document.createElement('div');
  slot.className = 'tile-slot';
  slot.dataset.stream = tile.stream;
  const side = document.createElement('div');
  side.className = 'tile-side';
  slot.append(tile.el, side);
  slots.set(tile.stream, slot);
  const after = [...tiles.values()]
    .filter((t) => t !== tile && t.stream > tile.stream)
    .sort((a, b) => (a.stream < b.stream ? -1 : 1))[0];
  grid.insertBefore(slot, after ? slots.get(after.stream) : null);
}

async function refreshStats() {
  if (!conn.isOpen || tiles.size === 0) return;
  let reply;
  try {
    reply = await conn.request('stats');
  } catch {
    return;
  }
  for (const ch of reply.channels || []) {
    const tile = tiles.get(ch.stream);
    if (tile) tile.serverStats(ch);
  }
}

setInterval(refreshList, LIST_EVERY_MS);
setInterval(refreshStats, STATS_EVERY_MS);
setInterval(() => {
  for (const tile of tiles.values()) tile.render();
  // stream.state events change the tiles between two lists: the count follows.
  if (conn.isOpen && tiles.size) bar.setSummary([...tiles.values()]);
}, RENDER_EVERY_MS);

// For debugging from the console, and for tests (devices.test.js drives
// window.vigil.devices and closes window.vigil.conn.ws); the page itself
// does not use it.
window.vigil = { conn, subs, tiles, devices, board, auth };
document.body.dataset.auth = 'pending';
conn.start();

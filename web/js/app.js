// The dashboard: one vigil.v1 connection, a tile per stream in the server's
// list. It lists the streams on every (re)connection and then periodically
// so new streams appear, and asks for per-channel stats to show skipped frames.
// Each tile sits in a slot with room beside it for the panels of the devices
// that belong to its stream; the other devices go to the Devices area.

import { Connection } from './connection.js';
import { Subscriptions } from './subscriptions.js';
import { Tile } from './tile.js';
import { StatusBar } from './status_bar.js';
import { Devices } from './devices.js';
import { DeviceBoard } from './device_board.js';

const LIST_EVERY_MS = 5000;
const STATS_EVERY_MS = 2000;
const RENDER_EVERY_MS = 500;
const DEFAULT_MAX_SUBSCRIPTIONS = 16;

const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
const conn = new Connection(`${scheme}//${location.host}/ws`);
const subs = new Subscriptions(conn);
const tiles = new Map(); // stream id -> Tile
const slots = new Map(); // stream id -> the tile's slot element (tile + side)
const grid = document.getElementById('grid');
const empty = document.getElementById('empty');
const bar = new StatusBar(document.body);
let maxSubscriptions = DEFAULT_MAX_SUBSCRIPTIONS;
const devices = new Devices(conn);
const board = new DeviceBoard(devices, {
  area: document.getElementById('devices'),
  list: document.getElementById('device-list'),
  sideFor: (stream) => (slots.has(stream) ? slots.get(stream).querySelector('.tile-side') : null),
});

conn.addEventListener('status', (ev) => {
  bar.connection(ev.detail);
  const up = ev.detail.state === 'open';
  for (const tile of tiles.values()) tile.setConnected(up);
  document.body.dataset.connection = up ? 'connected' : ev.detail.state === 'connecting' ? 'connecting' : 'disconnected';
});

conn.addEventListener('open', async () => {
  try {
    const hello = await conn.request('hello');
    bar.setServer(hello);
    const max = hello.limits && hello.limits.max_subscriptions;
    if (Number.isInteger(max) && max > 0) maxSubscriptions = max;
  } catch (err) {
    // hello is optional in vigil.v1; the dashboard works without it.
    if (!err.code) return; // connection went away
  }
  refreshList();
});

async function refreshList() {
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
      tile = new Tile(info.id);
      tiles.set(info.id, tile);
      placeTile(tile);
    }
    tile.listed(info);
    // Stay under the server's subscription limit; the rest show "not watched".
    if (!subs.has(info.id)) {
      if (subscribedCount() < maxSubscriptions) subs.add(info.id, tile);
      else tile.onFailed({ code: 'too_many_subscriptions', message: 'subscription limit reached' });
    }
  }
  for (const [id, tile] of tiles) {
    if (seen.has(id)) continue;
    subs.remove(id);
    tile.destroy();
    tiles.delete(id);
    slots.get(id).remove();
    slots.delete(id);
  }
  board.sync();
  subs.retry();
  bar.setSummary(streams);
  empty.hidden = streams.length > 0;
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
setInterval(() => { for (const tile of tiles.values()) tile.render(); }, RENDER_EVERY_MS);

// For debugging from the console, and for tests (devices.test.js drives
// window.vigil.devices and closes window.vigil.conn.ws); the page itself
// does not use it.
window.vigil = { conn, subs, tiles, devices, board };
conn.start();

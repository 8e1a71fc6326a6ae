// Reads the capture time a test:// source with "latency_mark": true burns
// into every frame (media/source.c, docs/LATENCY.md): a row of squares along
// the bottom-left edge, 4 sync squares (black, white, black, white) then 32
// data bits, most significant first, white = 1: the wall clock at capture in
// milliseconds modulo 2^32. The square's size is min(16, floor(width / 36)).
//
// Only the latency measurement uses this (tiles with measuring on); nothing
// else in the dashboard depends on a mark being there.

export const MARK_SYNC = 4;
export const MARK_BITS = 32;
const SQUARES = MARK_SYNC + MARK_BITS;
const MOD = 2 ** 32;

export function markBlock(width) {
  return Math.max(1, Math.min(16, Math.floor(width / SQUARES)));
}

// The strip of the picture the mark occupies: {x, y, w, h} in pixels of a
// width x height picture (one row through the middle of the squares).
export function markStrip(width, height) {
  const b = markBlock(width);
  return { x: 0, y: height - Math.ceil(b / 2), w: SQUARES * b, h: 1, block: b };
}

// Decodes the mark from RGBA pixels of that strip (ImageData.data). Returns
// the capture time in ms since the epoch, unwrapped around `nowMs`, or null
// when the sync squares are not there (no mark, or a picture too damaged).
export function decodeMark(rgba, block, nowMs = Date.now()) {
  const bits = [];
  for (let i = 0; i < SQUARES; i++) {
    const x = i * block + Math.floor(block / 2);
    const r = rgba[x * 4];
    const g = rgba[x * 4 + 1];
    const b = rgba[x * 4 + 2];
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    if (luma > 100 && luma < 156) return null; // neither black nor white: no mark here
    bits.push(luma >= 128 ? 1 : 0);
  }
  if (bits[0] !== 0 || bits[1] !== 1 || bits[2] !== 0 || bits[3] !== 1) return null;
  let v = 0;
  for (let i = MARK_SYNC; i < SQUARES; i++) v = v * 2 + bits[i];
  // The newest time <= now (plus a little slack for clock jitter) whose low
  // 32 bits are v.
  const nowMod = ((nowMs % MOD) + MOD) % MOD;
  let back = (nowMod - v + MOD) % MOD;
  if (back > MOD - 1000) back -= MOD; // a capture "from the future" by < 1 s: clock jitter
  return nowMs - back;
}

// Reads the mark from a 2D context holding the whole picture (width x
// height). Returns capture ms or null.
export function readMark(ctx, width, height, nowMs = Date.now()) {
  const s = markStrip(width, height);
  if (s.w > width || s.y < 0) return null;
  const data = ctx.getImageData(s.x, s.y, s.w, s.h).data;
  return decodeMark(data, s.block, nowMs);
}

// Which picture of a stream a tile asks for: the `variant` of a subscribe
// (signaling/PROTOCOL.md). A stream may have substreams (a camera's smaller
// streams, listed lightest first) and a transcode beside its main picture.
// A grid tile is small: the first substream this browser can decode, so a
// wall of cameras does not pull every camera's full picture; one whose
// source is down is passed over (the main picture beats an offline tile).
// A focused (enlarged) tile wants the main picture when the browser decodes
// it. Otherwise the server's own pick (main, else a decodable substream,
// else the transcode) is the best there is. null means "say no variant":
// the server picks, and a stream without variants is asked for as it
// always was.
//
// Codecs not known yet (a variant that never ran lists `codecs: null`) count
// as decodable: the tile learns them from the channel's stream.state event
// and asks again if it cannot decode them.

// The codec family of an RFC 6381 codecs string's video (its first entry):
// "avc1.64001f,opus" → "avc1". avc3 is avc1 and hev1 is hvc1, as for
// `accept`. null when there is no string.
export function familyOf(codecs) {
  if (typeof codecs !== 'string' || codecs.trim() === '') return null;
  const family = codecs.split(',')[0].trim().split('.')[0].toLowerCase();
  if (family === 'avc3') return 'avc1';
  if (family === 'hev1') return 'hvc1';
  return family;
}

// True when `codecs` is unknown (null) or of a family in `accept`.
export function mayDecode(codecs, accept) {
  const family = familyOf(codecs);
  return family === null || accept.includes(family);
}

// True when `codecs` is known and of a family not in `accept`.
export function cannotDecode(codecs, accept) {
  return !mayDecode(codecs, accept);
}

// `info`: the stream as `list` describes it (codecs, and `variants`:
// [{name, kind, codecs, ...}] in config order, transcode last).
// `accept`: the codec families this browser decodes in the tile's mode.
// `focused`: the tile is enlarged. `known`: codecs the page learnt since
// that list (variant name → codecs), which win over it. `avoid`: names not
// to ask for now (refused, or a switch to them failed).
// Returns a variant name, or null to let the server pick.
export function chooseVariant(info, { accept = [], focused = false, known = {}, avoid = [] } = {}) {
  const variants = info && Array.isArray(info.variants) ? info.variants.filter(usable) : [];
  if (variants.length === 0) return null;
  const codecsOf = (name, listed) => (Object.hasOwn(known, name) ? known[name] : listed);
  // Only a main picture known to decode is worth asking for by name.
  const mainFamily = familyOf(codecsOf('main', info.codecs));
  const main = mainFamily !== null && accept.includes(mainFamily) && !avoid.includes('main') ? 'main' : null;
  if (focused) return main;
  const sub = variants.find((v) => v.kind === 'substream' && !avoid.includes(v.name) && !DOWN.has(v.state)
    && mayDecode(codecsOf(v.name, v.codecs), accept));
  return sub ? sub.name : main;
}

// A variant in these states has lost its source (it retries while watched).
const DOWN = new Set(['retrying', 'failed']);

function usable(v) {
  return v !== null && typeof v === 'object' && typeof v.name === 'string' && v.name !== '';
}

// How long a variant that was refused, or that a switch to failed, is not
// asked for again (unless the tile is enlarged or shrunk meanwhile).
export const AVOID_MS = 30000;

// What a tile chooses with: the stream's last list entry, the codecs the
// page learnt since (a stream.state event), whether the tile is focused,
// and the variants not to ask for a while.
export class VariantPicker {
  constructor({ now = () => Date.now(), avoidMs = AVOID_MS } = {}) {
    this.now = now;
    this.avoidMs = avoidMs;
    this.info = null;
    this.focused = false;
    this.known = {};
    this.avoided = new Map(); // name -> until (ms)
  }

  // A new list entry: it already holds whatever the page learnt before it.
  listed(info) {
    this.info = info;
    this.known = {};
  }

  // `variant` announced `codecs` on its channel.
  learn(variant, codecs) {
    if (typeof variant === 'string' && typeof codecs === 'string') this.known[variant] = codecs;
  }

  // Not `variant` for a while: the server refused it, or it did not play.
  avoid(variant) {
    if (typeof variant === 'string') this.avoided.set(variant, this.now() + this.avoidMs);
  }

  // Enlarged or back in the grid: a new choice, with a clean slate.
  setFocused(focused) {
    this.focused = focused;
    this.avoided.clear();
  }

  // The variant to ask for (chooseVariant), or null.
  choose(accept) {
    const now = this.now();
    const avoid = [];
    for (const [name, until] of this.avoided) {
      if (until > now) avoid.push(name);
      else this.avoided.delete(name);
    }
    return chooseVariant(this.info, { accept, focused: this.focused, known: this.known, avoid });
  }
}

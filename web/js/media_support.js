// What this browser can play live video with: WebCodecs (VideoDecoder), and
// Media Source Extensions, either MediaSource or, where that is missing,
// ManagedMediaSource (Safari on iPhone since iOS 17.1, which has no
// MediaSource there). Looked up at each call, so a page script that hides
// or adds them (tests) is seen.

export const NO_PLAYBACK = 'This browser cannot play live video: no WebCodecs or Media Source Extensions';

export function hasWebCodecs() {
  return typeof globalThis.VideoDecoder === 'function' && typeof globalThis.EncodedVideoChunk === 'function';
}

// {type, managed}: the MediaSource constructor to use, and whether it is a
// ManagedMediaSource (the browser says when it wants data); null without MSE.
export function mediaSourceType() {
  if (typeof globalThis.MediaSource === 'function') return { type: globalThis.MediaSource, managed: false };
  if (typeof globalThis.ManagedMediaSource === 'function') return { type: globalThis.ManagedMediaSource, managed: true };
  return null;
}

export function canPlayLive() {
  return hasWebCodecs() || mediaSourceType() !== null;
}

// Codec families the dashboard may meet, each with a codec string to ask the
// browser about (RFC 6381; a common profile and level of each).
const FAMILIES = [
  ['avc1', 'avc1.42E01E'],
  ['hvc1', 'hvc1.1.6.L93.B0'],
];
const accepted = new Map(); // mode -> Promise of the families

async function decodes(mode, codec) {
  try {
    if (mode === 'webcodecs') {
      if (!hasWebCodecs()) return false;
      return (await globalThis.VideoDecoder.isConfigSupported({ codec })).supported === true;
    }
    const ms = mediaSourceType();
    return ms !== null && ms.type.isTypeSupported(`video/mp4; codecs="${codec}"`);
  } catch {
    return false;
  }
}

// The codec families this browser can decode in `mode` ("mse" or
// "webcodecs"), asked once per page: the `accept` of a subscribe
// (PROTOCOL.md), so that a camera it cannot decode is refused with a reason
// instead of showing black.
export function acceptedFamilies(mode) {
  if (!accepted.has(mode)) {
    accepted.set(mode, Promise.all(FAMILIES.map(([family, codec]) => decodes(mode, codec)))
      .then((ok) => FAMILIES.filter((_, i) => ok[i]).map(([family]) => family)));
  }
  return accepted.get(mode);
}

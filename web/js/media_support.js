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

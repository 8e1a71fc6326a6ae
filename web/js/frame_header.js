// Parses the 16-byte big-endian header that starts every binary frame of
// vigil.v1 (signaling/PROTOCOL.md, "Binary frames").

export const HEADER_BYTES = 16;
export const KIND_INIT = 1;
export const KIND_FRAGMENT = 2;
export const FLAG_KEYFRAME = 0x01;
export const FLAG_AFTER_SKIP = 0x02;
export const FLAG_AUDIO = 0x04; // a fragment of the audio track, never a keyframe

// Returns {version, kind, flags, channel, timeUs, keyframe, afterSkip, audio,
// payload}
// or null when the frame is too short or of a header version we do not know.
// timeUs is a Number: microseconds since 1970 fit in 2^53 until year 2255.
export function parseFrameHeader(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < HEADER_BYTES) return null;
  const view = new DataView(buffer);
  const version = view.getUint8(0);
  if (version !== 1) return null;
  const flags = view.getUint8(2);
  return {
    version,
    kind: view.getUint8(1),
    flags,
    channel: view.getUint32(4, false),
    timeUs: Number(view.getBigUint64(8, false)),
    keyframe: (flags & FLAG_KEYFRAME) !== 0,
    afterSkip: (flags & FLAG_AFTER_SKIP) !== 0,
    audio: (flags & FLAG_AUDIO) !== 0,
    // A view, not a copy: appendBuffer accepts it directly.
    payload: new Uint8Array(buffer, HEADER_BYTES),
  };
}

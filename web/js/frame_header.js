// Parses the 16-byte big-endian header that starts every binary frame of
// vigil.v1 (signaling/PROTOCOL.md, "Binary frames").

export const HEADER_BYTES = 16;
export const KIND_INIT = 1;
export const KIND_FRAGMENT = 2;
export const KIND_DECODER_CONFIG = 3; // mode "webcodecs"
export const KIND_ACCESS_UNIT = 4; // mode "webcodecs"
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

// Kind 3 payload: a 2-byte big-endian length J, J bytes of UTF-8 JSON
// {codec, coded_width, coded_height, format}, then the avcC record (the
// VideoDecoder's `description`). Returns {codec, codedWidth, codedHeight,
// format, description} or null when malformed.
export function parseDecoderConfig(payload) {
  if (!(payload instanceof Uint8Array) || payload.byteLength < 2) return null;
  const jlen = (payload[0] << 8) | payload[1];
  if (2 + jlen > payload.byteLength) return null;
  let info;
  try {
    info = JSON.parse(new TextDecoder().decode(payload.subarray(2, 2 + jlen)));
  } catch {
    return null;
  }
  if (!info || typeof info.codec !== 'string') return null;
  return {
    codec: info.codec,
    codedWidth: Number.isInteger(info.coded_width) && info.coded_width > 0 ? info.coded_width : undefined,
    codedHeight: Number.isInteger(info.coded_height) && info.coded_height > 0 ? info.coded_height : undefined,
    format: info.format || 'avc',
    description: payload.slice(2 + jlen), // a copy: it outlives the message
  };
}

// Kind 4 payload: the presentation time (signed 64-bit big-endian,
// microseconds on the stream's timeline), then one H.264 access unit in avc
// format (length-prefixed NAL units). Returns {ptsUs, data} or null.
export function parseAccessUnit(payload) {
  if (!(payload instanceof Uint8Array) || payload.byteLength < 8) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, 8);
  return { ptsUs: Number(view.getBigInt64(0, false)), data: payload.subarray(8) };
}

/* codec_string.h -- the RFC 6381 codecs string of an H.264 or H.265 access
 * unit, from its sequence parameter set as GStreamer's own parsers
 * (gstreamer-codecparsers) read it: "avc1.PPCCLL" (RFC 6381 §3.3) or
 * "hvc1.P.C.TL.B..." (ISO/IEC 14496-15 annex E). The agent names its video
 * by it in `publish` (media.c).
 *
 * Thread: any; no state. */
#ifndef VIGIL_AGENT_CODEC_STRING_H
#define VIGIL_AGENT_CODEC_STRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* From an Annex-B access unit (start codes) holding the SPS (and for H.265
 * the VPS before it): true with the string in out, false when it has none
 * that parses. */
bool ag_codec_string(bool hevc, const uint8_t *au, size_t len, char *out, size_t outlen);

#endif

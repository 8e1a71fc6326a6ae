/* source.h -- the kinds of camera source a stream can have, and the GStreamer
 * elements each one needs to produce parsed H.264.
 *
 *   test://          built-in pattern with a burnt-in clock, x264enc zerolatency
 *   file:///a.mp4    an H.264 MP4 replayed in real time in a loop, no re-encoding
 *   rtsp://host/...  rtspsrc, depayload, parse; no re-encoding
 *
 * Each kind validates its options at config time (so a bad config stops
 * start-up with a message naming the field) and builds its elements into the
 * stream's pipeline. Adding a kind means adding one entry to the table in
 * source.c. */
#ifndef VIGIL_MEDIA_SOURCE_H
#define VIGIL_MEDIA_SOURCE_H

#include <gst/gst.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Checks a source URI and its options object (may be NULL). On error writes a
 * message naming the offending option into err and returns -1. */
int vg_source_validate(const char *uri, const json_t *options, char *err, size_t errlen);

/* Adds the source's elements to `pipeline` and returns (borrowed) the element
 * whose src pad gives parsed H.264 (byte-aligned access units); NULL with err
 * set on failure. Sources with dynamic pads link themselves when pads appear.
 * `loop_seek` is set (borrowed) to the element that takes segment seeks
 * when the source loops (file://), else NULL. Seeks go straight to it:
 * mp4mux downstream has a byte segment and cannot take a time seek. */
GstElement *vg_source_build(GstPipeline *pipeline, const char *uri, const json_t *options,
                            GstElement **loop_seek, char *err, size_t errlen);

/* Writes the URI without user:password into out (for logs and the API). */
void vg_source_redact(const char *uri, char *out, size_t outlen);

#endif

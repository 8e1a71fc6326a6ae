/* variant.h -- the other pictures of a stream: substreams and the transcode.
 *
 * A camera usually offers a second, small stream beside its main one, and a
 * browser may be unable to decode the main one at all (H.265 in Chromium
 * without a hardware decoder). A stream may therefore have variants, each
 * a vg_stream of its own (own pipeline, own relays, own state and errors)
 * that points at its main stream (`parent`):
 *
 *   - a substream (config "variants"): the camera's other stream, pulled
 *     (rtsp://, file://, test://) like any source;
 *   - the transcode (config "transcode"): vigil's own H.264 of the main
 *     stream, a transcode:// source (media/source.h) whose feed
 *     (media/publish.h, as for a publisher) takes the main stream's access
 *     units as they reach its WebCodecs relay, decodes, scales and encodes
 *     them. It follows the main stream: it waits while the main is down and
 *     restarts with each new decoder configuration (a main restart).
 *
 * A variant runs only while watched: the first viewer starts it
 * (vg_variant_demand), and it stops VG_VARIANT_LINGER_US after its last
 * viewer left (vg_variant_tick), so a grid tile enlarged and back again
 * finds it still running. Its failures are its own: they show in its
 * last_error and never touch the main stream or its viewers.
 *
 * Thread: lws service thread only, as the streams. */
#ifndef VIGIL_MEDIA_VARIANT_H
#define VIGIL_MEDIA_VARIANT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/frame.h"

struct vg_stream;

#define VG_VARIANT_LINGER_US 10000000LL

/* Adds a variant to main stream `main` (stopped until demanded): a
 * substream `name` from `source`/`options`, or the transcode when source is
 * transcode://. `channel` tags its frames: unique among all streams. The
 * main stream owns it from then on. -1 on OOM. */
int vg_variant_add(struct vg_stream *main, const char *name, const char *source,
                   json_t *options, uint32_t channel);

/* The variant called `name` of main stream `main` ("main": `main` itself),
 * or NULL. */
struct vg_stream *vg_variant_find(struct vg_stream *main, const char *name);

/* "substream" or "transcode". */
const char *vg_variant_kind(const struct vg_stream *v);
/* True while it runs or waits to (it has been demanded and not stopped). */
bool vg_variant_running(const struct vg_stream *v);

/* A viewer subscribes to variant `v`: starts it if it was stopped (a
 * transcode from the main stream's current configuration and GOP, so its
 * first picture comes at once). A no-op on a main stream. */
void vg_variant_demand(struct vg_stream *v, int64_t now_us);

/* Periodic, for variant `v`: stops it once unwatched for the linger time. */
void vg_variant_tick(struct vg_stream *v, int64_t now_us);

/* A frame main stream `main` published to its WebCodecs relay: its
 * transcode, if running, follows (a configuration restarts it; access units
 * feed it). */
void vg_variant_follow_main(struct vg_stream *main, vg_frame *f, int64_t now_us);
/* Main stream `main` lost its pipeline: its transcode waits for the next. */
void vg_variant_main_down(struct vg_stream *main, int64_t now_us);

#endif

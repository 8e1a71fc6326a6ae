/* au_tap.h -- the WebCodecs output of a pipeline: the parsed H.264 on its
 * way into mp4mux, taken as it is by a pad probe.
 *
 * The caps give a decoder configuration frame (kind 3: codec string from
 * gst_codec_utils_caps_get_mime_codec, the avcC or hvcC from codec_data), and every
 * buffer an access unit frame (kind 4), posted to the inbox at once for the
 * stream's WebCodecs relay (media/relay.h): mp4mux holds each frame until the
 * next one arrives, and this output does not wait for it. Frames are numbered
 * 1, 2, 3 ... per pipeline run, so the relay sees what the inbox dropped.
 *
 * Thread: set up and freed on the lws service thread with its pipeline; the
 * fields marked (parser) are touched only by the thread that pushes parsed
 * H.264 into mp4mux, in the probe, while the pipeline runs. */
#ifndef VIGIL_MEDIA_AU_TAP_H
#define VIGIL_MEDIA_AU_TAP_H

#include <gst/gst.h>
#include <stdint.h>

#include "media/audio_branch.h"
#include "media/frame.h"
#include "media/inbox.h"

struct vg_stream;

typedef struct vg_au_tap {
    /* immutable after vg_au_tap_init */
    vg_inbox *inbox;
    struct vg_stream *stream; /* posted with every event */
    uint64_t generation;
    uint32_t channel;
    size_t max_frame_bytes;
    vg_audio *audio; /* the pipeline's audio side: its codec joins the codecs string */
    const char *format; /* the configuration's "format" ("avc", "hevc"): set by attach */
    /* (parser) */
    GstSegment segment; /* for the running time of each unit */
    vg_frame *config;   /* the newest configuration (a reference) */
    char *config_codecs; /* its codecs string, until it is posted (malloc'd), else NULL */
    uint64_t posted;    /* numbers the frames it posts, from 1 */
    int64_t last_pts_us; /* for units without a timestamp */
} vg_au_tap;

void vg_au_tap_init(vg_au_tap *t, vg_inbox *inbox, struct vg_stream *stream, uint64_t generation,
                    uint32_t channel, size_t max_frame_bytes, vg_audio *audio);
/* Takes every buffer and caps event leaving `pad`, whose units are in
 * `format` ("avc": H.264, "hevc": H.265, length-prefixed NAL units). Before
 * data flows on the pad. */
void vg_au_tap_attach(vg_au_tap *t, GstPad *pad, const char *format);
/* Drops what it holds. After the pipeline has stopped. */
void vg_au_tap_clear(vg_au_tap *t);

#endif

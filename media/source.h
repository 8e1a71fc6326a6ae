/* source.h -- the kinds of camera source a stream can have, and the GStreamer
 * elements each one needs to produce parsed video (H.264 or H.265,
 * media/video_codec.h).
 *
 *   test://          built-in pattern with a burnt-in clock, x264enc zerolatency,
 *                    and a test tone with "audio": true
 *   file:///a.mp4    an H.264 MP4 (and its Opus or AAC audio) replayed in real
 *                    time in a loop, no re-encoding
 *   rtsp://host/...  rtspsrc, depayload, parse; no re-encoding (Opus and AAC
 *                    audio pass through, G.711 becomes Opus)
 *   srtp://ip:port   SRTP pushed by a camera: media/rtp_ingest.c receives and
 *                    decrypts it into an appsrc; jitter buffer, depayload, parse
 *   rtp://ip:port    the same, unencrypted
 *   publish://       a WebSocket publisher sends H.264 access units
 *                    (media/publish.c feeds them into an appsrc); parse.
 *                    Its Opus or AAC frames go into an appsrc of the audio
 *                    branch, added by the feed
 *   transcode://     a stream's own H.264 of another stream (media/variant.h):
 *                    its access units into an appsrc, decode, scale, x264
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

#include "media/video_codec.h"

/* Checks a source URI and its options object (may be NULL). On error writes a
 * message naming the offending option into err and returns -1. */
int vg_source_validate(const char *uri, const json_t *options, char *err, size_t errlen);

/* Where a source hands over its parsed video (the pipeline's shared tail):
 * `link` is called once per source run with the element whose src pad gives
 * parsed access units of `codec`: while the source is built when it knows
 * its codec then (test://, srtp://, rtp://, publish://), or later, from a
 * streaming thread, when the camera says what it sends (rtsp://: the SDP;
 * file://: the demuxer). `has_dts`: the units carry decode times already
 * (an encoder's or a demuxer's); RTP and publishers give presentation times
 * only, and the tail rebuilds the decode times. False when it cannot be
 * linked. Lives as long as the pipeline. */
typedef struct vg_video_out {
    bool (*link)(void *ctx, GstElement *parsed, const vg_video_codec *codec, bool has_dts);
    void *ctx;
} vg_video_out;

/* Elements of a built source that the pipeline needs to reach (borrowed). */
typedef struct vg_source_elems {
    /* takes segment seeks when the source loops (file://), else NULL. Seeks
     * go straight to it: mp4mux downstream has a byte segment and cannot
     * take a time seek. */
    GstElement *loop_seek;
    /* the appsrc a push source's receiver feeds RTP packets into (srtp://,
     * rtp://), or a publisher's feed its access units (publish://), else
     * NULL */
    GstElement *push_src;
    /* the appsrc a push source's sound goes to (audio_payload_type), else NULL */
    GstElement *push_audio_src;
    /* the video codec when the source knows it as it is built, else NULL
     * (it tells the vg_video_out later), and whether its units carry
     * decode times (see vg_video_out) */
    const vg_video_codec *codec;
    bool has_dts;
} vg_source_elems;

/* Adds the source's elements to `pipeline`; its video goes to `video` (now or
 * once the camera says its codec). 0, or -1 with err set. `out` receives the
 * elements above. */
int vg_source_build(GstPipeline *pipeline, const char *uri, const json_t *options,
                    const vg_video_out *video, vg_source_elems *out, char *err, size_t errlen);

/* True for sources that the camera pushes to vigil (srtp://, rtp://): they
 * have a UDP receiver (media/rtp_ingest.c) that lives as long as the stream
 * runs, and their loss is UDP silence rather than an error. */
bool vg_source_is_push(const char *uri);

/* True for publish://: a WebSocket publisher feeds the stream (media/publish.h);
 * without one the stream has no pipeline. */
bool vg_source_is_publish(const char *uri);

/* True for transcode://, the source of a stream's transcode (media/variant.h):
 * its feed is the main stream's access units, like a publisher's; vigil
 * makes it from the stream's "transcode" config, never from a camera URI. */
bool vg_source_is_transcode(const char *uri);

/* Writes the URI without user:password into out (for logs and the API). */
void vg_source_redact(const char *uri, char *out, size_t outlen);

#endif

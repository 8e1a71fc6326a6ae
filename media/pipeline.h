/* pipeline.h -- one stream's GStreamer pipeline: source -> parser (H.264
 * or H.265, media/video_codec.h) -> timestamper (decode times for B-frames)
 * -> mp4mux -> appsink. The tail from the parser on is the same for every
 * source kind; it is linked when the source knows its codec (at once, or
 * when an RTSP camera or a file says it).
 *
 * It has one output per relay of its stream (media/relay.h), each numbering
 * the frames it posts on its own: the fMP4 init segments and fragments from
 * the appsink (MSE), and the parsed H.264 taken by a pad probe on its way
 * into mp4mux (WebCodecs, media/au_tap.h).
 *
 * All the pipeline's state lives in vg_pipeline. The appsink runs callbacks
 * (sync=false) on its streaming thread: each buffer goes through the fMP4
 * assembler, and every finished init segment or fragment is posted to the
 * inbox with the codecs string; bus errors and end-of-stream go the same way
 * (a sync bus handler, so no GLib main loop is needed). Nothing here blocks a
 * streaming thread or calls lws.
 *
 * Thread: created, started and freed on the lws service thread; the fields
 * marked (streaming) are touched only by the appsink's streaming thread while
 * the pipeline runs. */
#ifndef VIGIL_MEDIA_PIPELINE_H
#define VIGIL_MEDIA_PIPELINE_H

#include <gst/gst.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/au_tap.h"
#include "media/fmp4_assembler.h"
#include "media/inbox.h"
#include "media/source.h"

struct vg_stream;

typedef struct vg_pipeline {
    GstElement *pipeline;
    GstElement *mux;
    /* gives the parsed video; its caps give the codecs. Set once, by the
     * thread that links the video (g_atomic_pointer), before data flows. */
    GstElement *parse_out;
    atomic_bool video_linked; /* the source's video has its tail */
    vg_video_out video_out;   /* what sources link their video with (media/source.h) */
    GstElement *appsink;
    GstElement *loop_seek;      /* takes the looping segment seeks (file://), or NULL */
    GstElement *push_src;       /* the appsrc a push source's receiver feeds, or NULL */
    GstElement *push_audio_src; /* the same for its sound, or NULL */
    struct vg_audio *audio;     /* the audio track's side (media/audio_branch.h) */
    atomic_bool loop_started;   /* the first segment seek was asked for (bus threads) */
    vg_inbox *inbox;
    struct vg_stream *stream; /* posted with every event */
    uint64_t generation;
    /* the MSE output */
    vg_fmp4_assembler fmp4;    /* (streaming) */
    uint64_t fragments_posted; /* (streaming) numbers the frames it posts, from 1 */
    /* the WebCodecs output; its own thread, see au_tap.h */
    vg_au_tap au_tap;
} vg_pipeline;

/* Builds the pipeline for a source; NULL with err set (naming the reason).
 * Events carry `stream` and `generation` so stale ones can be told apart. */
vg_pipeline *vg_pipeline_new(const char *uri, const json_t *options, uint32_t channel,
                             size_t max_frame_bytes, vg_inbox *inbox, struct vg_stream *stream,
                             uint64_t generation, char *err, size_t errlen);

/* Sets it PLAYING; -1 with err set if that fails at once. */
int vg_pipeline_start(vg_pipeline *p, char *err, size_t errlen);

/* Stops the pipeline (waits for its streaming threads to finish) and frees it. */
void vg_pipeline_free(vg_pipeline *p);

#endif

/* pipeline.c -- builds, runs and tears down one stream's pipeline (see
 * pipeline.h). */
#include "media/pipeline.h"

#include <gst/app/gstappsink.h>
#include <gst/pbutils/pbutils.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/audio_branch.h"
#include "media/au_tap.h"
#include "media/gst_build.h"
#include "media/source.h"

static char *dup_str(const char *s) {
    return s ? strdup(s) : NULL;
}

/* (streaming) The assembler finished an init segment or a fragment. */
static void on_frame(void *ctx, vg_frame *f) {
    vg_pipeline *p = ctx;
    if (f->kind == VG_FRAME_INIT) {
        /* The codecs string travels ahead of the init segment it describes. */
        GstElement *video = g_atomic_pointer_get(&p->parse_out);
        GstPad *pad = video ? gst_element_get_static_pad(video, "src") : NULL;
        GstCaps *caps = pad ? gst_pad_get_current_caps(pad) : NULL;
        gchar *codecs = caps ? gst_codec_utils_caps_get_mime_codec(caps) : NULL;
        vg_inbox_post(p->inbox, VG_EVENT_CODECS, p->stream, p->generation, NULL,
                      vg_audio_codecs_after(p->audio, codecs ? codecs : "avc1"));
        g_free(codecs);
        if (caps) gst_caps_unref(caps);
        if (pad) gst_object_unref(pad);
    }
    vg_inbox_post_frame(p->inbox, p->stream, p->generation, VG_RELAY_MSE, ++p->fragments_posted,
                        f);
}

/* (streaming) appsink callback: one mp4mux output buffer. */
static GstFlowReturn on_new_sample(GstAppSink *sink, gpointer user) {
    vg_pipeline *p = user;
    GstSample *sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_EOS;
    GstBuffer *buf = gst_sample_get_buffer(sample);
    GstFlowReturn ret = GST_FLOW_OK;
    GstMapInfo map;
    if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
        bool is_sample = GST_BUFFER_PTS_IS_VALID(buf);
        bool is_delta = GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
        if (vg_fmp4_assembler_push(&p->fmp4, map.data, map.size, is_sample, is_delta,
                                   g_get_real_time()) < 0) {
            GST_ELEMENT_ERROR(sink, STREAM, DEMUX, ("mp4mux output was not fragmented MP4"),
                              (NULL));
            ret = GST_FLOW_ERROR;
        }
        gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
    return ret;
}

/* (GStreamer's async thread pool) Loops a file source: a non-flushing
 * segment seek straight to the demuxer. Running time stays continuous across
 * loops, so mp4mux sees one unbroken stream, and no flush ever reaches the
 * muxer. Seeking can wait for the demuxer's stream lock, so it never runs on
 * the lws thread nor on the streaming thread that posted the message. */
static void loop_seek(GstElement *pipeline, gpointer user) {
    (void)pipeline;
    GstElement *demux = user;
    gst_element_seek(demux, 1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_SEGMENT, GST_SEEK_TYPE_SET, 0,
                     GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE);
}

static void request_loop(vg_pipeline *p) {
    gst_element_call_async(p->pipeline, loop_seek, gst_object_ref(p->loop_seek), gst_object_unref);
}

/* An error as users read it: GStreamer's message, then which element said it
 * and the last line of its debug text, where the reason is ("Internal data
 * stream error. (audio_src: streaming stopped, reason not-negotiated (-4))").
 * malloc'd, or NULL. */
static char *error_text(GstMessage *msg, const GError *e, const gchar *dbg) {
    const char *what = e && e->message ? e->message : "pipeline error";
    const char *why = dbg ? strrchr(dbg, '\n') : NULL;
    const char *who = GST_MESSAGE_SRC_NAME(msg);
    char *text = NULL;
    if (why && why[1] && who)
        text = g_strdup_printf("%s (%s: %s)", what, who, why + 1);
    else if (who)
        text = g_strdup_printf("%s (%s)", what, who);
    char *out = dup_str(text ? text : what);
    g_free(text);
    return out;
}

/* (any thread) Forwards the few bus messages that matter to the inbox, and
 * keeps a looping file source looping. */
static GstBusSyncReply on_bus_message(GstBus *bus, GstMessage *msg, gpointer user) {
    (void)bus;
    vg_pipeline *p = user;
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
        GError *e = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error(msg, &e, &dbg);
        vg_inbox_post(p->inbox, VG_EVENT_ERROR, p->stream, p->generation, NULL,
                      error_text(msg, e, dbg));
        g_clear_error(&e);
        g_free(dbg);
        break;
    }
    case GST_MESSAGE_EOS:
        vg_inbox_post(p->inbox, VG_EVENT_EOS, p->stream, p->generation, NULL, NULL);
        break;
    case GST_MESSAGE_SEGMENT_DONE:
        if (p->loop_seek) request_loop(p);
        break;
    case GST_MESSAGE_ASYNC_DONE:
        /* Prerolled: the first segment seek turns the file's end into a
         * SEGMENT_DONE instead of EOS. Only once: ASYNC_DONE can come again. */
        if (p->loop_seek && GST_MESSAGE_SRC(msg) == GST_OBJECT(p->pipeline) &&
            !atomic_exchange(&p->loop_started, true))
            request_loop(p);
        break;
    default: break;
    }
    /* Nobody else reads this bus. A sync handler that drops owns the message. */
    gst_message_unref(msg);
    return GST_BUS_DROP;
}

/* (while the source is built, or from a source's streaming thread once the
 * camera says its codec: media/source.h) The shared tail of every source's
 * video: parsed -> capsfilter (the codec in MP4's stream format, which the
 * parser converts to) -> timestamper -> mp4mux, with the WebCodecs tap on
 * the capsfilter. Decode times: RTP, RTSP and publishers give presentation
 * times only, and with B-frames mp4mux would then write decode times that go
 * backwards, which browsers refuse to decode; the timestamper rebuilds them
 * from the SPS's reorder depth, and without B-frames (no reordering) holds
 * nothing back. Units that carry their decode times (an encoder's, a
 * demuxer's) keep them and go straight to mp4mux. One video track per
 * pipeline. */
static bool link_video(void *ctx, GstElement *parsed, const vg_video_codec *codec, bool has_dts) {
    vg_pipeline *p = ctx;
    if (atomic_exchange(&p->video_linked, true)) return false;
    GstElement *caps = gst_element_factory_make("capsfilter", "videocaps");
    GstElement *stamp = has_dts ? NULL : gst_element_factory_make(codec->timestamper, "stamp");
    if (!caps || (!has_dts && !stamp)) {
        if (caps) gst_object_unref(caps);
        if (stamp) gst_object_unref(stamp);
        return false;
    }
    GstCaps *c = gst_caps_new_simple(codec->caps_name, "stream-format", G_TYPE_STRING,
                                     codec->stream_format, "alignment", G_TYPE_STRING, "au", NULL);
    g_object_set(caps, "caps", c, NULL);
    gst_caps_unref(c);
    gst_bin_add(GST_BIN(p->pipeline), caps);
    if (stamp) gst_bin_add(GST_BIN(p->pipeline), stamp);
    GstElement *into_mux = stamp ? stamp : caps;
    if (!gst_element_link(parsed, caps) || (stamp && !gst_element_link(caps, stamp)) ||
        !gst_element_link(into_mux, p->mux))
        return false;
    /* WebCodecs: the same parsed units, taken on their way into mp4mux, in
     * decode order with their presentation times, ahead of the timestamper:
     * a decoder needs no decode times, so it need not wait for them. */
    GstPad *pad = gst_element_get_static_pad(caps, "src");
    vg_au_tap_attach(&p->au_tap, pad, codec->au_format);
    gst_object_unref(pad);
    g_atomic_pointer_set(&p->parse_out, caps); /* its src caps are the ones mp4mux stores */
    if (stamp) gst_element_sync_state_with_parent(stamp);
    gst_element_sync_state_with_parent(caps);
    return true;
}

vg_pipeline *vg_pipeline_new(const char *uri, const json_t *options, uint32_t channel,
                             size_t max_frame_bytes, vg_inbox *inbox, struct vg_stream *stream,
                             uint64_t generation, char *err, size_t errlen) {
    vg_pipeline *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->inbox = inbox;
    p->stream = stream;
    p->generation = generation;
    max_frame_bytes = max_frame_bytes < 16 ? 16 : max_frame_bytes;
    vg_fmp4_assembler_init(&p->fmp4, channel, max_frame_bytes, on_frame, p);

    p->pipeline = gst_pipeline_new(NULL);
    if (!p->pipeline) {
        snprintf(err, errlen, "could not create a pipeline");
        goto fail;
    }
    GstElement *mux = gst_element_factory_make("mp4mux", "mux");
    p->appsink = gst_element_factory_make("appsink", "sink");
    if (!mux || !p->appsink) {
        snprintf(err, errlen, "GStreamer elements mp4mux/appsink are not available");
        if (mux) gst_object_unref(mux);
        if (p->appsink) gst_object_unref(p->appsink);
        p->appsink = NULL;
        goto fail;
    }
    gst_bin_add_many(GST_BIN(p->pipeline), mux, p->appsink, NULL);
    p->mux = mux;
    /* Before the source: its audio, if any, goes to this mp4mux. */
    p->audio = vg_audio_new(GST_PIPELINE(p->pipeline), mux);
    if (!p->audio) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* A fragment duration below the frame interval gives one fragment per frame. */
    g_object_set(mux, "fragment-duration", 1u, "streamable", TRUE, NULL);
    g_object_set(p->appsink, "sync", FALSE, "max-buffers", 0u, "drop", FALSE, NULL);
    if (!gst_element_link(mux, p->appsink)) {
        snprintf(err, errlen, "could not link mp4mux to the appsink");
        goto fail;
    }
    vg_au_tap_init(&p->au_tap, inbox, stream, generation, channel, max_frame_bytes, p->audio);
    p->video_out = (vg_video_out){.link = link_video, .ctx = p};
    vg_source_elems elems;
    if (vg_source_build(GST_PIPELINE(p->pipeline), uri, options, &p->video_out, &elems, err,
                        errlen))
        goto fail;
    p->loop_seek = elems.loop_seek;
    p->push_src = elems.push_src;
    p->push_audio_src = elems.push_audio_src;

    GstAppSinkCallbacks cbs = {0};
    cbs.new_sample = on_new_sample;
    gst_app_sink_set_callbacks(GST_APP_SINK(p->appsink), &cbs, p, NULL);

    GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(p->pipeline));
    gst_bus_set_sync_handler(bus, on_bus_message, p, NULL);
    gst_object_unref(bus);
    return p;

fail:
    vg_pipeline_free(p);
    return NULL;
}

int vg_pipeline_start(vg_pipeline *p, char *err, size_t errlen) {
    if (gst_element_set_state(p->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        snprintf(err, errlen, "the pipeline refused to start");
        return -1;
    }
    return 0;
}

void vg_pipeline_free(vg_pipeline *p) {
    if (!p) return;
    if (p->pipeline) {
        gst_element_set_state(p->pipeline, GST_STATE_NULL);
        vg_audio_stop(p->audio);
        GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(p->pipeline));
        gst_bus_set_sync_handler(bus, NULL, NULL, NULL);
        gst_object_unref(bus);
        gst_object_unref(p->pipeline);
    }
    vg_fmp4_assembler_reset(&p->fmp4);
    vg_au_tap_clear(&p->au_tap);
    free(p);
}

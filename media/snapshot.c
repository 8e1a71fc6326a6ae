/* snapshot.c -- a keyframe decoded and encoded as a JPEG (see snapshot.h). */
#include "media/snapshot.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/gst_build.h"
#include "media/video_codec.h"

/* How often the wait for the picture looks at the bus for an error. */
#define POLL_NS (20 * GST_MSECOND)

void vg_jpeg_clear(vg_jpeg *j) {
    free(j->data);
    *j = (vg_jpeg){0};
}

int vg_snapshot_parse_width(const char *text, int *width, char *err, size_t errlen) {
    int v = 0, digits = 0;
    for (const char *c = text; c && *c; c++) {
        /* More digits than the largest width has is nonsense, and could overflow. */
        if (*c < '0' || *c > '9' || ++digits > 4) goto bad;
        v = v * 10 + (*c - '0');
    }
    if (digits == 0 || v < VG_SNAPSHOT_MIN_WIDTH || v > VG_SNAPSHOT_MAX_WIDTH) goto bad;
    *width = v;
    return 0;
bad:
    snprintf(err, errlen, "width must be a whole number of pixels from %d to %d",
             VG_SNAPSHOT_MIN_WIDTH, VG_SNAPSHOT_MAX_WIDTH);
    return -1;
}

/* What a decoder configuration frame (kind 3, media/au_tap.c) says. */
typedef struct config_info {
    const vg_video_codec *codec;
    int width;           /* the picture's, 0 when not said */
    const uint8_t *data; /* the avcC or hvcC, inside the frame */
    size_t len;
} config_info;

static int read_config(vg_frame *config, config_info *ci, char *err, size_t errlen) {
    const uint8_t *d = vg_frame_payload(config);
    size_t n = config->payload_len;
    size_t jlen = n >= 2 ? (size_t)d[0] << 8 | d[1] : 0;
    if (config->kind != VG_FRAME_DECODER_CONFIG || n < 2 || 2 + jlen >= n) {
        snprintf(err, errlen, "no decoder configuration");
        return -1;
    }
    json_t *j = json_loadb((const char *)d + 2, jlen, 0, NULL);
    ci->codec = vg_video_codec_by_rfc6381(json_string_value(json_object_get(j, "codec")));
    ci->width = (int)json_integer_value(json_object_get(j, "coded_width"));
    json_decref(j);
    ci->data = d + 2 + jlen;
    ci->len = n - 2 - jlen;
    if (!ci->codec) {
        snprintf(err, errlen, "the decoder configuration names no codec vigil decodes");
        return -1;
    }
    return 0;
}

/* The pipeline and the two ends the worker talks to. */
typedef struct job_pipeline {
    GstElement *pipeline, *src, *sink;
} job_pipeline;

/* Builds appsrc ! parser ! decoder ! videoconvert ! videoscale ! capsfilter !
 * jpegenc ! appsink. 0, or -1 with err set (the caller unrefs jp->pipeline). */
static int build(job_pipeline *jp, const config_info *ci, int width, char *err, size_t errlen) {
    jp->pipeline = gst_pipeline_new("snapshot");
    if (!jp->pipeline) {
        snprintf(err, errlen, "could not create a pipeline");
        return -1;
    }
    GstPipeline *p = GST_PIPELINE(jp->pipeline);
    GstElement *chain[8];
    size_t n = 0;
    if (!(chain[n++] = jp->src = vg_gst_make(p, "appsrc", "src", err, errlen)) ||
        !(chain[n++] = vg_gst_make(p, ci->codec->parse, "parse", err, errlen)) ||
        !(chain[n++] = vg_gst_make(p, ci->codec->decoder, "decode", err, errlen)) ||
        !(chain[n++] = vg_gst_make(p, "videoconvert", "convert", err, errlen)) ||
        !(chain[n++] = vg_gst_make(p, "videoscale", "scale", err, errlen)) ||
        !(chain[n++] = vg_gst_make(p, "capsfilter", "size", err, errlen)) ||
        !(chain[n++] = vg_gst_make(p, "jpegenc", "jpeg", err, errlen)) ||
        !(chain[n++] = jp->sink = vg_gst_make(p, "appsink", "sink", err, errlen)))
        return -1;

    GstBuffer *cd = gst_buffer_new_memdup(ci->data, ci->len);
    GstCaps *in = gst_caps_new_simple(ci->codec->caps_name, "stream-format", G_TYPE_STRING,
                                      ci->codec->stream_format, "alignment", G_TYPE_STRING, "au",
                                      "codec_data", GST_TYPE_BUFFER, cd, NULL);
    gst_buffer_unref(cd);
    g_object_set(jp->src, "caps", in, "format", GST_FORMAT_TIME, "is-live", FALSE, NULL);
    gst_caps_unref(in);
    /* One core at most: snapshots must never take the CPU the relay needs. */
    g_object_set(chain[2], "max-threads", 1, NULL);
    /* Square pixels (a browser ignores a JPEG's aspect ratio); with a width
     * only, videoscale picks the height that keeps the picture's shape. */
    GstCaps *out =
        gst_caps_new_simple("video/x-raw", "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
    if (width) gst_caps_set_simple(out, "width", G_TYPE_INT, width, NULL);
    g_object_set(chain[5], "caps", out, NULL);
    gst_caps_unref(out);
    g_object_set(jp->sink, "sync", FALSE, "emit-signals", FALSE, NULL);
    return vg_gst_link_chain(chain, n, err, errlen);
}

/* Waits for the JPEG, an error on the bus, or the time limit. The caller
 * unrefs the sample. */
static GstSample *await_picture(job_pipeline *jp, char *err, size_t errlen) {
    GstBus *bus = gst_element_get_bus(jp->pipeline);
    gint64 deadline = g_get_monotonic_time() + VG_SNAPSHOT_TIMEOUT_US;
    GstSample *sample = NULL;
    while (!sample) {
        sample = gst_app_sink_try_pull_sample(GST_APP_SINK(jp->sink), POLL_NS);
        if (sample) break;
        GstMessage *m = bus ? gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) : NULL;
        if (m) {
            GError *e = NULL;
            gst_message_parse_error(m, &e, NULL);
            snprintf(err, errlen, "%s (%s)", e && e->message ? e->message : "pipeline error",
                     GST_MESSAGE_SRC_NAME(m));
            g_clear_error(&e);
            gst_message_unref(m);
            break;
        }
        if (gst_app_sink_is_eos(GST_APP_SINK(jp->sink))) {
            snprintf(err, errlen, "the decoder gave no picture for the keyframe");
            break;
        }
        if (g_get_monotonic_time() > deadline) {
            snprintf(err, errlen, "no picture within %lld ms",
                     (long long)(VG_SNAPSHOT_TIMEOUT_US / 1000));
            break;
        }
    }
    if (bus) gst_object_unref(bus);
    return sample;
}

static int copy_jpeg(GstSample *sample, vg_jpeg *out, char *err, size_t errlen) {
    GstBuffer *buf = gst_sample_get_buffer(sample);
    const GstStructure *st = vg_gst_caps_structure(gst_sample_get_caps(sample));
    GstMapInfo map;
    if (!buf || !st || !gst_buffer_map(buf, &map, GST_MAP_READ)) {
        snprintf(err, errlen, "jpegenc gave no JPEG");
        return -1;
    }
    *out = (vg_jpeg){.data = malloc(map.size ? map.size : 1), .len = map.size};
    if (out->data) memcpy(out->data, map.data, map.size);
    gst_buffer_unmap(buf, &map);
    gst_structure_get_int(st, "width", &out->width);
    gst_structure_get_int(st, "height", &out->height);
    if (!out->data) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int vg_snapshot_make(vg_frame *config, vg_frame *key, int width, vg_jpeg *out, char *err,
                     size_t errlen) {
    *out = (vg_jpeg){0};
    if (key->kind != VG_FRAME_ACCESS_UNIT || key->payload_len <= 8 || !vg_frame_is_keyframe(key)) {
        snprintf(err, errlen, "no keyframe");
        return -1;
    }
    config_info ci;
    if (read_config(config, &ci, err, errlen)) return -1;
    if (ci.width > 0 && width > ci.width) width = ci.width; /* never scaled up */
    job_pipeline jp = {0};
    int rc = -1;
    if (build(&jp, &ci, width, err, errlen)) goto done;
    if (gst_element_set_state(jp.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        snprintf(err, errlen, "the snapshot pipeline refused to start");
        goto done;
    }
    /* The access unit after its 8-byte presentation time (PROTOCOL.md, kind 4). */
    GstBuffer *au = gst_buffer_new_memdup(vg_frame_payload(key) + 8, key->payload_len - 8);
    GST_BUFFER_PTS(au) = GST_BUFFER_DTS(au) = 0;
    if (gst_app_src_push_buffer(GST_APP_SRC(jp.src), au) != GST_FLOW_OK ||
        gst_app_src_end_of_stream(GST_APP_SRC(jp.src)) != GST_FLOW_OK) {
        snprintf(err, errlen, "the snapshot pipeline did not take the keyframe");
        goto done;
    }
    GstSample *sample = await_picture(&jp, err, errlen);
    if (sample) {
        rc = copy_jpeg(sample, out, err, errlen);
        gst_sample_unref(sample);
    }
done:
    if (jp.pipeline) {
        gst_element_set_state(jp.pipeline, GST_STATE_NULL);
        gst_object_unref(jp.pipeline);
    }
    return rc;
}

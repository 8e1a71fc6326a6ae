/* au_tap.c -- decoder configurations and access units for WebCodecs viewers
 * (see au_tap.h; the payloads are in signaling/PROTOCOL.md, kinds 3 and 4). */
#include "media/au_tap.h"

#include <gst/pbutils/pbutils.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "media/gst_build.h"

void vg_au_tap_init(vg_au_tap *t, vg_inbox *inbox, struct vg_stream *stream, uint64_t generation,
                    uint32_t channel, size_t max_frame_bytes, vg_audio *audio) {
    *t = (vg_au_tap){.inbox = inbox,
                     .stream = stream,
                     .generation = generation,
                     .channel = channel,
                     .max_frame_bytes = max_frame_bytes,
                     .audio = audio};
    gst_segment_init(&t->segment, GST_FORMAT_TIME);
}

void vg_au_tap_clear(vg_au_tap *t) {
    vg_frame_unref(t->config);
    t->config = NULL;
    free(t->config_codecs);
    t->config_codecs = NULL;
}

/* (parser) A decoder configuration frame for these caps, or NULL when they
 * have no codec data yet. Payload: a 2-byte big-endian length J, J bytes of
 * JSON {"codec","coded_width","coded_height","format"}, then the avcC (H.264)
 * or hvcC (H.265). */
static vg_frame *make_config(vg_au_tap *t, GstCaps *caps, int64_t now_us, char **codec_out) {
    const GstStructure *st = vg_gst_caps_structure(caps);
    const GValue *cd = st ? gst_structure_get_value(st, "codec_data") : NULL;
    GstBuffer *avcc = cd && G_VALUE_HOLDS(cd, GST_TYPE_BUFFER) ? gst_value_get_buffer(cd) : NULL;
    gchar *codec = avcc ? gst_codec_utils_caps_get_mime_codec(caps) : NULL;
    if (!codec) return NULL;
    int w = 0, h = 0;
    gst_structure_get_int(st, "width", &w);
    gst_structure_get_int(st, "height", &h);
    json_t *j = json_pack("{s:s, s:i, s:i, s:s}", "codec", codec, "coded_width", w, "coded_height",
                          h, "format", t->format);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    size_t tlen = text ? strlen(text) : 0;
    size_t alen = gst_buffer_get_size(avcc);
    vg_frame *f = NULL;
    if (text && tlen <= 0xffff && 2 + tlen + alen <= t->max_frame_bytes)
        f = vg_frame_new(VG_FRAME_DECODER_CONFIG, 0, t->channel, now_us, 2 + tlen + alen);
    if (f) {
        uint8_t *d = vg_frame_payload(f);
        d[0] = (uint8_t)(tlen >> 8);
        d[1] = (uint8_t)tlen;
        memcpy(d + 2, text, tlen);
        gst_buffer_extract(avcc, 0, d + 2 + tlen, alen);
        *codec_out = strdup(codec);
    }
    free(text);
    g_free(codec);
    return f;
}

static bool same_payload(vg_frame *a, vg_frame *b) {
    return a && b && a->payload_len == b->payload_len &&
           !memcmp(vg_frame_payload(a), vg_frame_payload(b), a->payload_len);
}

/* (parser) New caps: a new decoder configuration, unless nothing a decoder
 * cares about changed. The codecs string goes ahead of it (the stream tells
 * its viewers the codecs when it goes live, whichever relay is first). */
static void on_caps(vg_au_tap *t, GstCaps *caps) {
    char *codec = NULL;
    vg_frame *f = make_config(t, caps, g_get_real_time(), &codec);
    if (!f || same_payload(f, t->config)) {
        vg_frame_unref(f);
        free(codec);
        return;
    }
    vg_frame_unref(t->config);
    t->config = f;
    free(t->config_codecs);
    t->config_codecs = codec;
}

/* (parser) The newest configuration goes out just before the first unit it
 * describes, not with the caps: caps can come long before any picture (a
 * publisher's, set from its publish request), and the stream must not say
 * live before it has one. */
static void post_config(vg_au_tap *t) {
    if (!t->config_codecs) return;
    vg_inbox_post(t->inbox, VG_EVENT_CODECS, t->stream, t->generation, NULL,
                  vg_audio_codecs_after(t->audio, t->config_codecs));
    free(t->config_codecs);
    t->config_codecs = NULL;
    vg_inbox_post_frame(t->inbox, t->stream, t->generation, VG_RELAY_WEBCODECS, ++t->posted,
                        vg_frame_ref(t->config));
}

/* (parser) One access unit: 8-byte big-endian PTS in microseconds (running
 * time: continuous for the pipeline's life), then the AU as mp4mux gets it. */
static void on_buffer(vg_au_tap *t, GstBuffer *buf) {
    if (!t->config) return; /* no decoder could use it */
    post_config(t);
    uint64_t seq = ++t->posted;
    GstClockTime ts = GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) : GST_BUFFER_DTS(buf);
    guint64 rt = GST_CLOCK_TIME_IS_VALID(ts)
                     ? gst_segment_to_running_time(&t->segment, GST_FORMAT_TIME, ts)
                     : GST_CLOCK_TIME_NONE;
    int64_t pts_us =
        GST_CLOCK_TIME_IS_VALID(rt) ? (int64_t)GST_TIME_AS_USECONDS(rt) : t->last_pts_us + 1;
    t->last_pts_us = pts_us;
    size_t len = gst_buffer_get_size(buf);
    /* Too large or no memory: the gap in the numbering makes the relay wait
     * for the next keyframe. */
    if (len > t->max_frame_bytes - 8) return;
    bool key = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
    vg_frame *f = vg_frame_new(VG_FRAME_ACCESS_UNIT, key ? VG_FRAME_KEYFRAME : 0, t->channel,
                               g_get_real_time(), 8 + len);
    if (!f) return;
    uint8_t *d = vg_frame_payload(f);
    for (int i = 0; i < 8; i++)
        d[i] = (uint8_t)((uint64_t)pts_us >> (56 - 8 * i));
    gst_buffer_extract(buf, 0, d + 8, len);
    /* Video only: mp4mux turns this unit into a fragment at once, and that
     * post wakes the service thread for both. With audio the fragment may
     * wait for audio, and WebCodecs viewers must not. */
    if (vg_audio_has_track(t->audio))
        vg_inbox_post_frame(t->inbox, t->stream, t->generation, VG_RELAY_WEBCODECS, seq, f);
    else
        vg_inbox_post_frame_quiet(t->inbox, t->stream, t->generation, VG_RELAY_WEBCODECS, seq, f);
}

/* (parser) Never blocks. */
static GstPadProbeReturn on_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
    (void)pad;
    vg_au_tap *t = user;
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        on_buffer(t, GST_PAD_PROBE_INFO_BUFFER(info));
    } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
        GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
        if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
            GstCaps *caps = NULL;
            gst_event_parse_caps(ev, &caps);
            if (caps) on_caps(t, caps);
        } else if (GST_EVENT_TYPE(ev) == GST_EVENT_SEGMENT) {
            const GstSegment *seg = NULL;
            gst_event_parse_segment(ev, &seg);
            if (seg && seg->format == GST_FORMAT_TIME) gst_segment_copy_into(seg, &t->segment);
        }
    }
    return GST_PAD_PROBE_OK;
}

void vg_au_tap_attach(vg_au_tap *t, GstPad *pad, const char *format) {
    t->format = format;
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                      on_probe, t, NULL);
}

/* publish.c -- a publish:// stream's feed from its WebSocket publisher (see
 * publish.h). */
#include "media/publish.h"

#include <gst/app/gstappsrc.h>
#include <gst/pbutils/pbutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/audio_branch.h"

/* The audio appsrc's bound: ~2 s of 256 kb/s audio. */
#define AUDIO_QUEUE_BYTES (64 * 1024)

struct vg_publish_feed {
    size_t queue_bytes;
    /* the publisher */
    void *owner; /* its session, NULL: nobody publishes */
    char sub[64], peer[48];
    vg_publish_config cfg;
    /* the current pipeline */
    GstElement *appsrc; /* our own reference, or NULL */
    bool await_key;
    bool have_base;
    uint64_t base_us;      /* publisher time of the first frame into this appsrc */
    GstClockTime newest_pts; /* the latest presentation time pushed into it */
    GstElement *audio_src; /* the publisher's audio track's appsrc (ref), or NULL */
    bool have_audio_pts;
    GstClockTime last_audio_pts;
    /* counters, since the publisher claimed the feed */
    uint64_t frames, bytes, keyframes, dropped, audio_frames, audio_bytes, audio_dropped;
    uint64_t malformed;
    int64_t last_frame_us;
    int64_t win_start_us;
    uint32_t win_frames;
    uint64_t win_bytes;
    double fps, bitrate_bps;
};

void vg_publish_config_clear(vg_publish_config *cfg) {
    free(cfg->description);
    free(cfg->audio_description);
    memset(cfg, 0, sizeof(*cfg));
}

vg_publish_feed *vg_publish_feed_new(size_t queue_bytes) {
    vg_publish_feed *f = calloc(1, sizeof(*f));
    if (f) f->queue_bytes = queue_bytes;
    return f;
}

void vg_publish_feed_free(vg_publish_feed *f) {
    if (!f) return;
    vg_publish_feed_attach(f, NULL, NULL, NULL, 0);
    vg_publish_config_clear(&f->cfg);
    free(f);
}

int vg_publish_feed_claim(vg_publish_feed *f, void *owner, const char *sub, const char *peer,
                          vg_publish_config *cfg) {
    if (f->owner && f->owner != owner) return -1;
    vg_publish_config_clear(&f->cfg);
    f->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg)); /* moved */
    f->owner = owner;
    snprintf(f->sub, sizeof(f->sub), "%s", sub ? sub : "");
    snprintf(f->peer, sizeof(f->peer), "%s", peer ? peer : "");
    f->frames = f->bytes = f->keyframes = f->dropped = 0;
    f->audio_frames = f->audio_bytes = f->audio_dropped = f->malformed = 0;
    f->last_frame_us = 0;
    f->win_start_us = 0;
    f->win_frames = 0;
    f->win_bytes = 0;
    f->fps = f->bitrate_bps = 0;
    return 0;
}

void vg_publish_feed_release(vg_publish_feed *f) {
    f->owner = NULL;
}

void *vg_publish_feed_owner(const vg_publish_feed *f) {
    return f->owner;
}

/* The appsrc's caps for what the publisher announced: Annex B, or
 * length-prefixed units with their avcC/hvcC. */
static GstCaps *caps_for(const vg_publish_config *c) {
    const vg_video_codec *codec = c->codec ? c->codec : &vg_codec_h264;
    if (!c->description)
        return gst_caps_new_simple(codec->caps_name, "stream-format", G_TYPE_STRING, "byte-stream",
                                   "alignment", G_TYPE_STRING, "au", NULL);
    GstBuffer *data = gst_buffer_new_memdup(c->description, c->description_len);
    GstCaps *caps = gst_caps_new_simple(codec->caps_name, "stream-format", G_TYPE_STRING,
                                        codec->stream_format, "alignment", G_TYPE_STRING, "au",
                                        "codec_data", GST_TYPE_BUFFER, data, NULL);
    gst_buffer_unref(data);
    return caps;
}

/* Opus: from the OpusHead when there is one, else mapping family 0 (mono
 * or stereo). Opus is decoded at 48 kHz whatever the input rate was, and
 * in MP4 the sample entry and the track's timescale say 48 kHz. */
static GstCaps *opus_caps(const vg_publish_config *c) {
    if (c->audio_description) {
        GstBuffer *head = gst_buffer_new_memdup(c->audio_description, c->audio_description_len);
        guint32 rate = 0;
        guint8 channels = 0, family = 0, streams = 0, coupled = 0, mapping[256];
        guint16 pre_skip = 0;
        gint16 gain = 0;
        GstCaps *caps = NULL;
        if (head && gst_codec_utils_opus_parse_header(head, &rate, &channels, &family, &streams,
                                                      &coupled, mapping, &pre_skip, &gain))
            caps = gst_codec_utils_opus_create_caps_from_header(head, NULL);
        if (head) gst_buffer_unref(head);
        return caps;
    }
    if (c->channels < 1 || c->channels > 2) return NULL;
    return gst_codec_utils_opus_create_caps(48000, (guint8)c->channels, 0, 1,
                                            c->channels == 2 ? 1 : 0, NULL);
}

/* AAC: raw frames (no ADTS), described by their AudioSpecificConfig. */
static GstCaps *aac_caps(const vg_publish_config *c) {
    if (!c->audio_description || c->audio_description_len < 2) return NULL;
    guint rate =
        gst_codec_utils_aac_get_sample_rate(c->audio_description, (guint)c->audio_description_len);
    guint channels =
        gst_codec_utils_aac_get_channels(c->audio_description, (guint)c->audio_description_len);
    if (!rate || !channels) return NULL;
    GstBuffer *asc = gst_buffer_new_memdup(c->audio_description, c->audio_description_len);
    if (!asc) return NULL;
    GstCaps *caps = gst_caps_new_simple("audio/mpeg", "mpegversion", G_TYPE_INT, 4, "stream-format",
                                        G_TYPE_STRING, "raw", "framed", G_TYPE_BOOLEAN, TRUE,
                                        "rate", G_TYPE_INT, (int)rate, "channels", G_TYPE_INT,
                                        (int)channels, "codec_data", GST_TYPE_BUFFER, asc, NULL);
    gst_buffer_unref(asc);
    return caps;
}

GstCaps *vg_publish_audio_caps(const vg_publish_config *cfg) {
    if (!strcmp(cfg->audio_codec, "opus")) return opus_caps(cfg);
    if (!strcmp(cfg->audio_codec, "aac")) return aac_caps(cfg);
    return NULL;
}

int vg_publish_feed_attach(vg_publish_feed *f, GstElement *appsrc, struct vg_audio *audio,
                           char *err, size_t errlen) {
    if (f->appsrc) gst_object_unref(f->appsrc);
    if (f->audio_src) gst_object_unref(f->audio_src);
    f->appsrc = appsrc ? gst_object_ref(appsrc) : NULL;
    f->audio_src = NULL;
    f->await_key = true;
    f->have_base = false;
    f->newest_pts = 0;
    f->have_audio_pts = false;
    f->last_audio_pts = 0;
    if (!appsrc) return 0;
    GstCaps *caps = caps_for(&f->cfg);
    g_object_set(appsrc, "caps", caps, "max-bytes", (guint64)f->queue_bytes, NULL);
    gst_caps_unref(caps);
    if (!audio || !f->cfg.audio_codec[0]) return 0;
    GstCaps *acaps = vg_publish_audio_caps(&f->cfg);
    if (!acaps) {
        snprintf(err, errlen, "the publisher's %s audio has no usable description",
                 f->cfg.audio_codec);
        return -1;
    }
    GstElement *src = vg_audio_add_appsrc(audio, acaps, AUDIO_QUEUE_BYTES, err, errlen);
    gst_caps_unref(acaps);
    if (!src) return -1;
    f->audio_src = gst_object_ref(src);
    return 0;
}

static void count_video(vg_publish_feed *f, size_t len, int64_t now_us) {
    f->frames++;
    f->bytes += len;
    f->last_frame_us = now_us;
    if (f->win_start_us == 0) f->win_start_us = now_us;
    f->win_frames++;
    f->win_bytes += len;
    int64_t elapsed = now_us - f->win_start_us;
    if (elapsed >= 1000000) {
        f->fps = f->win_frames * 1e6 / (double)elapsed;
        f->bitrate_bps = (double)f->win_bytes * 8e6 / (double)elapsed;
        f->win_start_us = now_us;
        f->win_frames = 0;
        f->win_bytes = 0;
    }
}

int vg_publish_feed_video(vg_publish_feed *f, const uint8_t *au, size_t len, bool keyframe,
                          uint64_t time_us, int64_t now_us) {
    count_video(f, len, now_us);
    if (keyframe) f->keyframes++;
    if (!f->appsrc) return VG_PUBLISH_NO_PIPELINE;
    if (!keyframe) {
        guint64 level = 0;
        g_object_get(f->appsrc, "current-level-bytes", &level, NULL);
        /* Behind: this frame and the rest of its group of pictures go. */
        if (level + len > f->queue_bytes / 4 * 3) f->await_key = true;
        if (f->await_key) {
            f->dropped++;
            return VG_PUBLISH_DROPPED;
        }
    }
    f->await_key = false;
    /* Presentation times on the publisher's clock, from 0 at the first frame
     * into this appsrc. With B-frames they come out of order (frames arrive in
     * decode order) by a few frames; decode times are rebuilt downstream
     * (h264timestamper, media/pipeline.c). A time that repeats the newest, or
     * falls more than a second behind it, is a clock that stalled or went
     * back: that frame goes right after the newest instead. */
    GstClockTime pts = 0;
    if (!f->have_base) {
        f->have_base = true;
        f->base_us = time_us;
    } else {
        pts = time_us > f->base_us ? (GstClockTime)(time_us - f->base_us) * GST_USECOND : 0;
        if (pts == f->newest_pts || pts + GST_SECOND <= f->newest_pts)
            pts = f->newest_pts + GST_USECOND;
    }
    if (pts > f->newest_pts) f->newest_pts = pts;
    GstBuffer *buf = gst_buffer_new_memdup(au, len);
    if (!buf) {
        f->dropped++;
        return VG_PUBLISH_DROPPED;
    }
    GST_BUFFER_PTS(buf) = pts;
    if (!keyframe) GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
    /* Takes buf; on a leaky appsrc it never blocks. FLUSHING (a pipeline
     * going down) is fine. */
    gst_app_src_push_buffer(GST_APP_SRC(f->appsrc), buf);
    return VG_PUBLISH_PUSHED;
}

int vg_publish_feed_audio(vg_publish_feed *f, const uint8_t *frame, size_t len, uint64_t time_us,
                          int64_t now_us) {
    f->audio_frames++;
    f->audio_bytes += len;
    f->last_frame_us = now_us;
    if (!f->audio_src) return VG_PUBLISH_NO_PIPELINE;
    /* Time 0 is the first video keyframe's: audio before it has no picture
     * to go with (and mp4mux wants both tracks from the same origin). */
    if (!f->have_base || time_us < f->base_us) {
        f->audio_dropped++;
        return VG_PUBLISH_DROPPED;
    }
    guint64 level = 0;
    g_object_get(f->audio_src, "current-level-bytes", &level, NULL);
    if (level + len > AUDIO_QUEUE_BYTES / 4 * 3) {
        f->audio_dropped++;
        return VG_PUBLISH_DROPPED;
    }
    GstClockTime pts = (GstClockTime)(time_us - f->base_us) * GST_USECOND;
    if (f->have_audio_pts && pts <= f->last_audio_pts) pts = f->last_audio_pts + GST_USECOND;
    GstBuffer *buf = gst_buffer_new_memdup(frame, len);
    if (!buf) {
        f->audio_dropped++;
        return VG_PUBLISH_DROPPED;
    }
    f->have_audio_pts = true;
    f->last_audio_pts = pts;
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DTS(buf) = pts;
    gst_app_src_push_buffer(GST_APP_SRC(f->audio_src), buf); /* leaky: never blocks */
    return VG_PUBLISH_PUSHED;
}

void vg_publish_feed_malformed(vg_publish_feed *f) {
    f->malformed++;
}

json_t *vg_publish_feed_describe(const vg_publish_feed *f, int64_t now_us) {
    if (!f) return json_null();
    bool fresh = f->owner && f->last_frame_us && now_us - f->last_frame_us < 2000000;
    json_t *d = json_object();
    if (!d) return NULL;
    json_object_set_new(d, "publisher", f->owner ? json_string(f->sub) : json_null());
    json_object_set_new(d, "peer", f->owner ? json_string(f->peer) : json_null());
    if (f->owner) {
        json_object_set_new(d, "video_codec", json_string(f->cfg.video_codec));
        json_object_set_new(d, "format",
                            json_string(f->cfg.description ? f->cfg.codec->au_format : "annexb"));
        json_object_set_new(d, "audio_codec",
                            f->cfg.audio_codec[0] ? json_string(f->cfg.audio_codec) : json_null());
        json_object_set_new(d, "audio_relayed", json_boolean(f->audio_src != NULL));
    }
    json_object_set_new(d, "frames", json_integer((json_int_t)f->frames));
    json_object_set_new(d, "bytes", json_integer((json_int_t)f->bytes));
    json_object_set_new(d, "keyframes", json_integer((json_int_t)f->keyframes));
    json_object_set_new(d, "dropped", json_integer((json_int_t)f->dropped));
    json_object_set_new(d, "audio_frames", json_integer((json_int_t)f->audio_frames));
    json_object_set_new(d, "audio_bytes", json_integer((json_int_t)f->audio_bytes));
    json_object_set_new(d, "audio_dropped", json_integer((json_int_t)f->audio_dropped));
    json_object_set_new(d, "malformed", json_integer((json_int_t)f->malformed));
    json_object_set_new(d, "fps", json_real(fresh ? (int)(f->fps * 10 + 0.5) / 10.0 : 0.0));
    json_object_set_new(d, "bitrate_bps", json_integer(fresh ? (json_int_t)f->bitrate_bps : 0));
    json_object_set_new(d, "last_frame_age_ms",
                        f->last_frame_us
                            ? json_integer((json_int_t)((now_us - f->last_frame_us) / 1000))
                            : json_null());
    return d;
}

/* source.c -- source kinds: option validation and element building (see
 * source.h). */
#include "media/source.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "media/audio_branch.h"
#include "media/gst_build.h"
#include "media/rtp_options.h"

/* ---- option helpers ---------------------------------------------------- */

typedef struct option_spec {
    const char *name;
    json_type type;      /* JSON_INTEGER, JSON_STRING, JSON_TRUE (boolean) */
    json_int_t min, max; /* for integers */
} option_spec;

static int check_options(const option_spec *specs, const json_t *options, char *err,
                         size_t errlen) {
    if (!options) return 0;
    if (!json_is_object(options)) {
        snprintf(err, errlen, "options: must be an object");
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)options, key, val) {
        const option_spec *s = specs;
        while (s->name && strcmp(s->name, key))
            s++;
        if (!s->name) {
            snprintf(err, errlen, "options.%s: unknown option for this source", key);
            return -1;
        }
        if (s->type == JSON_INTEGER) {
            if (!json_is_integer(val) || json_integer_value(val) < s->min ||
                json_integer_value(val) > s->max) {
                snprintf(err, errlen, "options.%s: must be an integer from %lld to %lld", key,
                         (long long)s->min, (long long)s->max);
                return -1;
            }
        } else if (s->type == JSON_STRING && !json_is_string(val)) {
            snprintf(err, errlen, "options.%s: must be a string", key);
            return -1;
        } else if (s->type == JSON_TRUE && !json_is_boolean(val)) {
            snprintf(err, errlen, "options.%s: must be true or false", key);
            return -1;
        }
    }
    return 0;
}

static int opt_int(const json_t *options, const char *name, int def) {
    json_t *v = options ? json_object_get(options, name) : NULL;
    return v && json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static const char *opt_str(const json_t *options, const char *name, const char *def) {
    json_t *v = options ? json_object_get(options, name) : NULL;
    return v && json_is_string(v) ? json_string_value(v) : def;
}

/* Links a dynamic pad to `target`'s sink pad while that is unlinked. */
static void link_dynamic_pad(GstPad *pad, GstElement *target) {
    GstPad *sink = gst_element_get_static_pad(target, "sink");
    if (!sink) return;
    if (!gst_pad_is_linked(sink) && gst_pad_link(pad, sink) != GST_PAD_LINK_OK)
        GST_ELEMENT_ERROR(target, CORE, NEGOTIATION, ("could not link the source's video pad"),
                          (NULL));
    gst_object_unref(sink);
}

/* The pipeline `e` is in (or `e` itself). */
static GstPipeline *pipeline_of(GstElement *e) {
    if (GST_IS_PIPELINE(e)) return GST_PIPELINE(e);
    GstObject *parent = GST_OBJECT_PARENT(e);
    return parent && GST_IS_PIPELINE(parent) ? GST_PIPELINE(parent) : NULL;
}

/* (any thread) The camera said its codec: `first .. last` (a chain made for
 * it, not yet in the pipeline) go in, are linked, started, and the parsed
 * video at `last` goes to the pipeline's tail. False when any step fails. */
static bool add_video_chain(GstElement *in_pipeline, GstElement **chain, size_t n,
                            const vg_video_codec *codec, bool has_dts) {
    GstPipeline *p = pipeline_of(in_pipeline);
    const vg_video_out *out = p ? g_object_get_data(G_OBJECT(p), "vg-video-out") : NULL;
    char err[160];
    if (!out) return false;
    for (size_t i = 0; i < n; i++)
        gst_bin_add(GST_BIN(p), chain[i]);
    if (vg_gst_link_chain(chain, n, err, sizeof(err)) || !out->link(out->ctx, chain[n - 1], codec, has_dts))
        return false;
    for (size_t i = n; i-- > 0;)
        gst_element_sync_state_with_parent(chain[i]);
    return true;
}

/* ---- test:// ----------------------------------------------------------- */

static const option_spec test_options[] = {
    {"width", JSON_INTEGER, 16, 3840},
    {"height", JSON_INTEGER, 16, 2160},
    {"fps", JSON_INTEGER, 1, 120},
    {"bitrate_kbps", JSON_INTEGER, 50, 50000},
    {"keyframe_interval", JSON_INTEGER, 1, 600},
    {"pattern", JSON_STRING, 0, 0},
    {"latency_mark", JSON_TRUE, 0, 0},
    {"audio", JSON_TRUE, 0, 0},
    {NULL, 0, 0, 0},
};

/* A boolean option, `def` when absent. */
static bool opt_bool(const json_t *options, const char *name, bool def) {
    json_t *v = options ? json_object_get(options, name) : NULL;
    return v && json_is_boolean(v) ? json_is_true(v) : def;
}

/* The stream's audio side (media/audio_branch.h), made by the pipeline. */
static vg_audio *audio_of(GstElement *e) {
    GstObject *parent = GST_OBJECT_PARENT(e);
    return parent && GST_IS_PIPELINE(parent) ? vg_audio_of(GST_PIPELINE(parent)) : NULL;
}

/* Latency mark (option latency_mark, docs/LATENCY.md): every frame carries
 * its capture time, the wall clock in milliseconds modulo 2^32, drawn by
 * simplevideomark as a row of squares along the bottom-left edge (4 sync
 * squares black/white/black/white, then 32 data bits, most significant
 * first, white = 1), and as text (HH:MM:SS.mmm) top left. */
#define MARK_DATA_BITS 32
#define MARK_SYNC      4

typedef struct mark_ctx {
    GstElement *mark, *text; /* owned by the pipeline */
} mark_ctx;

/* (streaming) Stamps each raw frame with the time it was captured. */
static GstPadProbeReturn on_raw_frame(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
    (void)pad;
    (void)info;
    mark_ctx *m = user;
    gint64 now = g_get_real_time();
    g_object_set(m->mark, "pattern-data", (guint64)((now / 1000) & 0xffffffffLL), NULL);
    GDateTime *dt = g_date_time_new_from_unix_local(now / 1000000);
    if (dt) {
        gchar *hms = g_date_time_format(dt, "%H:%M:%S");
        gchar *text = g_strdup_printf("%s.%03d", hms ? hms : "", (int)(now / 1000 % 1000));
        g_object_set(m->text, "text", text, NULL);
        g_free(text);
        g_free(hms);
        g_date_time_unref(dt);
    }
    return GST_PAD_PROBE_OK;
}

static GstElement *build_test(GstPipeline *p, const char *uri, const json_t *o,
                              vg_source_elems *out, char *err, size_t errlen) {
    (void)uri;
    out->codec = &vg_codec_h264;
    out->has_dts = true; /* x264enc's */
    int w = opt_int(o, "width", 1280), h = opt_int(o, "height", 720);
    int fps = opt_int(o, "fps", 30);
    bool marked = o && json_is_true(json_object_get(o, "latency_mark"));
    GstElement *src = vg_gst_make(p, "videotestsrc", "src", err, errlen);
    GstElement *caps = vg_gst_make(p, "capsfilter", "rawcaps", err, errlen);
    GstElement *mark = marked ? vg_gst_make(p, "simplevideomark", "mark", err, errlen) : NULL;
    GstElement *clock =
        vg_gst_make(p, marked ? "textoverlay" : "clockoverlay", "clock", err, errlen);
    GstElement *time = vg_gst_make(p, "timeoverlay", "time", err, errlen);
    GstElement *enc = vg_gst_make(p, "x264enc", "enc", err, errlen);
    GstElement *parse = vg_gst_make(p, "h264parse", "parse", err, errlen);
    if (!src || !caps || !clock || !time || !enc || !parse || (marked && !mark)) return NULL;

    gst_util_set_object_arg(G_OBJECT(src), "pattern", opt_str(o, "pattern", "smpte"));
    g_object_set(src, "is-live", TRUE, "horizontal-speed", 4, NULL);
    GstCaps *c =
        gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT, w,
                            "height", G_TYPE_INT, h, "framerate", GST_TYPE_FRACTION, fps, 1, NULL);
    g_object_set(caps, "caps", c, NULL);
    gst_caps_unref(c);
    /* The wall clock at capture, for judging latency by eye. */
    g_object_set(clock, "font-desc", "Sans Bold 28", "shaded-background", TRUE, NULL);
    if (!marked) g_object_set(clock, "time-format", "%H:%M:%S", NULL);
    gst_util_set_object_arg(G_OBJECT(clock), "halignment", "left");
    gst_util_set_object_arg(G_OBJECT(clock), "valignment", "top");
    g_object_set(time, "font-desc", "Sans 20", "shaded-background", TRUE, NULL);
    gst_util_set_object_arg(G_OBJECT(time), "halignment", "right");
    gst_util_set_object_arg(G_OBJECT(time), "valignment", "bottom");
    gst_util_set_object_arg(G_OBJECT(enc), "tune", "zerolatency");
    /* superfast: deblocking and CABAC for a clean picture at ~1.4x ultrafast's CPU. */
    gst_util_set_object_arg(G_OBJECT(enc), "speed-preset", "superfast");
    g_object_set(enc, "bitrate", (guint)opt_int(o, "bitrate_kbps", 2000), "key-int-max",
                 (guint)opt_int(o, "keyframe_interval", fps), NULL);

    if (marked) {
        int block = w / (MARK_SYNC + MARK_DATA_BITS);
        if (block > 16) block = 16;
        if (block < 1) block = 1;
        g_object_set(mark, "pattern-width", block, "pattern-height", block < h ? block : h,
                     "pattern-count", MARK_SYNC, "pattern-data-count", MARK_DATA_BITS,
                     "left-offset", 0, "bottom-offset", 0, NULL);
        mark_ctx *m = g_new0(mark_ctx, 1);
        m->mark = mark;
        m->text = clock;
        GstPad *pad = gst_element_get_static_pad(mark, "sink");
        gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_raw_frame, m, g_free);
        gst_object_unref(pad);
        GstElement *chain[] = {src, caps, mark, clock, time, enc, parse};
        if (vg_gst_link_chain(chain, 7, err, errlen)) return NULL;
    } else {
        GstElement *chain[] = {src, caps, clock, time, enc, parse};
        if (vg_gst_link_chain(chain, 6, err, errlen)) return NULL;
    }
    /* A beep a second beside the picture, with "audio": true. */
    if (opt_bool(o, "audio", false)) {
        vg_audio *a = vg_audio_of(p);
        if (!a || vg_audio_add_test_tone(a, err, errlen)) return NULL;
    }
    return parse;
}

/* ---- file:// ---------------------------------------------------------- */

static const option_spec file_options[] = {
    {"loop", JSON_TRUE, 0, 0},
    {NULL, 0, 0, 0},
};

static int validate_file(const char *uri, char *err, size_t errlen) {
    const char *path = uri + strlen("file://");
    if (!*path) {
        snprintf(err, errlen, "source: file:// needs a path, e.g. file:///videos/clip.mp4");
        return -1;
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "source: cannot read '%s'", path);
        return -1;
    }
    return 0;
}

/* The demuxer's tracks are all known at "no-more-pads", before any data
 * flows. The video then goes to a parser for its codec and a clocksync that
 * paces the file to real time (nothing else downstream syncs to the clock),
 * straight or through a queue of its own when the file also has sound:
 * mp4mux holds one buffer per track, so one demuxer thread pushing both
 * tracks (interleaved in chunks of up to a second) straight into it would
 * wait on itself. A video-only file saves the queue's thread and the second
 * of frames it would hold.
 * Streaming thread of the demuxer. */
typedef struct file_tracks {
    GstPad *video;                /* the demuxer's video pad, until no-more-pads (a ref) */
    const vg_video_codec *codec;  /* its codec */
    bool audio;                   /* a track went to the audio side */
} file_tracks;

static void file_tracks_free(gpointer data) {
    file_tracks *t = data;
    if (t->video) gst_object_unref(t->video);
    g_free(t);
}

/* An Opus or AAC track to the audio side; the H.264 one kept for below. */
static void on_demux_pad(GstElement *demux, GstPad *pad, gpointer data) {
    file_tracks *t = data;
    vg_audio *a = audio_of(demux);
    GstCaps *caps = vg_gst_pad_caps(pad);
    bool audio = caps && vg_audio_wants_encoded(a, caps);
    const vg_video_codec *codec = vg_video_codec_by_caps(caps);
    if (caps) gst_caps_unref(caps);
    if (audio) {
        vg_audio_link_encoded_pad(a, pad);
        t->audio = true;
    } else if (codec && !t->video) {
        t->video = gst_object_ref(pad);
        t->codec = codec;
    }
}

static void on_demux_no_more_pads(GstElement *demux, gpointer data) {
    file_tracks *t = data;
    if (!t->video) return; /* no video vigil relays: the stream stalls and says so */
    GstElement *chain[3];
    size_t n = 0;
    if (t->audio) chain[n++] = gst_element_factory_make("queue", "vqueue");
    chain[n++] = gst_element_factory_make(t->codec->parse, "parse");
    chain[n++] = gst_element_factory_make("clocksync", "pace");
    bool made = true;
    for (size_t i = 0; i < n; i++)
        made = made && chain[i];
    /* qtdemux gives the file's own decode times */
    if (made && add_video_chain(demux, chain, n, t->codec, true)) {
        link_dynamic_pad(t->video, chain[0]);
    } else {
        for (size_t i = 0; !made && i < n; i++)
            if (chain[i]) gst_object_unref(chain[i]);
        GST_ELEMENT_ERROR(demux, CORE, NEGOTIATION, ("could not link the file's %s video",
                                                     t->codec->name), (NULL));
    }
    gst_object_unref(t->video);
    t->video = NULL;
}

static GstElement *build_file(GstPipeline *p, const char *uri, const json_t *o,
                              vg_source_elems *out, char *err, size_t errlen) {
    json_t *loop = o ? json_object_get(o, "loop") : NULL;
    GstElement *src = vg_gst_make(p, "filesrc", "src", err, errlen);
    GstElement *demux = vg_gst_make(p, "qtdemux", "demux", err, errlen);
    if (!src || !demux) return NULL;
    g_object_set(src, "location", uri + strlen("file://"), NULL);
    GstElement *head[] = {src, demux};
    if (vg_gst_link_chain(head, 2, err, errlen)) return NULL;
    file_tracks *t = g_new0(file_tracks, 1);
    g_object_set_data_full(G_OBJECT(demux), "vg-file-tracks", t, file_tracks_free);
    g_signal_connect(demux, "pad-added", G_CALLBACK(on_demux_pad), t);
    g_signal_connect(demux, "no-more-pads", G_CALLBACK(on_demux_no_more_pads), t);
    if (!loop || json_is_true(loop)) out->loop_seek = demux;
    return demux; /* the video comes at no-more-pads */
}

/* ---- rtsp:// ---------------------------------------------------------- */

static const option_spec rtsp_options[] = {
    {"latency_ms", JSON_INTEGER, 0, 10000},
    {"transport", JSON_STRING, 0, 0},
    {"audio", JSON_TRUE, 0, 0},
    {NULL, 0, 0, 0},
};

static int validate_rtsp(const char *uri, const json_t *o, char *err, size_t errlen) {
    if (strlen(uri) <= strlen("rtsp://")) {
        snprintf(err, errlen, "source: rtsp:// needs a host, e.g. rtsp://camera.local/stream");
        return -1;
    }
    const char *t = opt_str(o, "transport", "tcp");
    if (strcmp(t, "tcp") && strcmp(t, "udp")) {
        snprintf(err, errlen, "options.transport: must be \"tcp\" or \"udp\"");
        return -1;
    }
    return 0;
}

/* The depayloader made for the camera's video (rtspsrc's object data). */
#define RTSP_DEPAY "vg-video-depay"

static void on_rtsp_pad(GstElement *src, GstPad *pad, gpointer user) {
    (void)user;
    if (vg_audio_link_rtp_pad(audio_of(src), pad)) return;
    GstCaps *caps = vg_gst_pad_caps(pad);
    const GstStructure *st = vg_gst_caps_structure(caps);
    const char *media = st ? gst_structure_get_string(st, "media") : NULL;
    GstElement *depay = g_object_get_data(G_OBJECT(src), RTSP_DEPAY);
    if (media && !strcmp(media, "video") && depay) link_dynamic_pad(pad, depay);
    if (caps) gst_caps_unref(caps);
}

/* The first H.264 or H.265 video stream, whose depayloader and parser are
 * made here, from the SDP, and (unless "audio": false, `with_audio` NULL)
 * the first Opus, AAC or G.711 audio stream, likewise: mp4mux must have
 * every track before it starts. */
static gboolean on_rtsp_select(GstElement *src, guint num, GstCaps *caps, gpointer with_audio) {
    (void)num;
    const GstStructure *st = vg_gst_caps_structure(caps);
    const char *media = st ? gst_structure_get_string(st, "media") : NULL;
    const vg_video_codec *codec =
        vg_video_codec_by_rtp(st ? gst_structure_get_string(st, "encoding-name") : NULL);
    if (media && !strcmp(media, "video")) {
        if (!codec || g_object_get_data(G_OBJECT(src), RTSP_DEPAY)) return FALSE;
        GstElement *chain[] = {gst_element_factory_make(codec->depay, "depay"),
                               gst_element_factory_make(codec->parse, "parse")};
        if (chain[0] && chain[1] && add_video_chain(src, chain, 2, codec, false)) {
            g_object_set_data(G_OBJECT(src), RTSP_DEPAY, chain[0]);
            return TRUE;
        }
        for (int i = 0; i < 2 && !(chain[0] && chain[1]); i++) /* not in the pipeline yet */
            if (chain[i]) gst_object_unref(chain[i]);
        GST_ELEMENT_ERROR(src, CORE, NEGOTIATION, ("could not set up the camera's %s video",
                                                   codec->name), (NULL));
        return FALSE;
    }
    vg_audio *a = with_audio ? audio_of(src) : NULL;
    if (!vg_audio_wants_rtp(a, caps)) return FALSE;
    char err[160];
    if (vg_audio_add_rtp(a, caps, err, sizeof(err)) == 0) return TRUE;
    GST_ELEMENT_ERROR(src, CORE, NEGOTIATION, ("%s", err), (NULL));
    return FALSE;
}

static GstElement *build_rtsp(GstPipeline *p, const char *uri, const json_t *o,
                              vg_source_elems *out, char *err, size_t errlen) {
    (void)out;
    GstElement *src = vg_gst_make(p, "rtspsrc", "src", err, errlen);
    if (!src) return NULL;
    g_object_set(src, "location", uri, "latency", (guint)opt_int(o, "latency_ms", 200),
                 "teardown-timeout", (guint64)(200 * GST_MSECOND), NULL);
    gst_util_set_object_arg(G_OBJECT(src), "protocols",
                            !strcmp(opt_str(o, "transport", "tcp"), "udp") ? "udp" : "tcp");
    /* Presentation times from the camera's RTP timestamps alone, not
     * smoothed by arrival times: vigil remuxes rather than plays, and the
     * decode times rebuilt for B-frames (media/pipeline.c) must not inherit
     * network or encoder jitter, which could make them go back. */
    gst_util_set_object_arg(G_OBJECT(src), "buffer-mode", "none");
    g_signal_connect(src, "pad-added", G_CALLBACK(on_rtsp_pad), NULL);
    g_signal_connect(src, "select-stream", G_CALLBACK(on_rtsp_select),
                     opt_bool(o, "audio", true) ? GINT_TO_POINTER(1) : NULL);
    return src; /* the video comes with the SDP (select-stream) */
}

/* ---- srtp:// and rtp:// (pushed by the camera) ---------------------------- */

/* What srtp:// and rtp:// both take (media/rtp_options.h). */
/* clang-format off */
#define PUSH_OPTIONS                                    \
    {"payload_type", JSON_INTEGER, 0, 127},             \
    {"encoding", JSON_STRING, 0, 0},                    \
    {"clock_rate", JSON_INTEGER, 1000, 1000000},        \
    {"latency_ms", JSON_INTEGER, 0, 10000},             \
    {"silence_timeout_s", JSON_INTEGER, 1, 3600},       \
    {"audio_payload_type", JSON_INTEGER, 0, 127},       \
    {"audio_encoding", JSON_STRING, 0, 0},              \
    {"audio_clock_rate", JSON_INTEGER, 8000, 192000}
/* clang-format on */

static const option_spec srtp_options[] = {
    {"key", JSON_STRING, 0, 0},
    {"profile", JSON_STRING, 0, 0},
    PUSH_OPTIONS,
    {NULL, 0, 0, 0},
};

/* rtp:// takes the same minus the SRTP ones: `key` there is an error. */
static const option_spec rtp_options[] = {
    PUSH_OPTIONS,
    {NULL, 0, 0, 0},
};

static int validate_push(const char *uri, const json_t *o, char *err, size_t errlen) {
    vg_rtp_options parsed;
    int r = vg_rtp_options_parse(uri, o, &parsed, err, errlen);
    vg_rtp_options_wipe(&parsed);
    return r;
}

/* appsrc (fed by media/rtp_ingest.c) -> rtpjitterbuffer -> depayloader and
 * parser of the configured `encoding` (H.264 or H.265). The packets are
 * already decrypted and checked. */
static GstElement *build_push(GstPipeline *p, const char *uri, const json_t *o,
                              vg_source_elems *out, char *err, size_t errlen) {
    vg_rtp_options ro;
    if (vg_rtp_options_parse(uri, o, &ro, err, errlen)) return NULL;
    vg_rtp_options_wipe(&ro); /* the receiver has its own copy of the key */
    GstElement *src = vg_gst_make(p, "appsrc", "src", err, errlen);
    GstElement *jitter = vg_gst_make(p, "rtpjitterbuffer", "jitter", err, errlen);
    GstElement *depay = vg_gst_make(p, ro.codec->depay, "depay", err, errlen);
    GstElement *parse = vg_gst_make(p, ro.codec->parse, "parse", err, errlen);
    if (!src || !jitter || !depay || !parse) return NULL;
    out->codec = ro.codec;
    GstCaps *caps =
        gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video", "encoding-name",
                            G_TYPE_STRING, ro.codec->rtp_encoding, "clock-rate", G_TYPE_INT,
                            (int)ro.clock_rate,
                            "payload", G_TYPE_INT, (int)ro.payload_type, NULL);
    /* Stamped with the running time at arrival (what the jitter buffer
     * wants); the receiver thread never waits for the pipeline. */
    vg_gst_setup_live_appsrc(src, caps, true, 4 * 1024 * 1024);
    gst_caps_unref(caps);
    g_object_set(jitter, "latency", (guint)ro.latency_ms, NULL);
    GstElement *chain[] = {src, jitter, depay, parse};
    if (vg_gst_link_chain(chain, 4, err, errlen)) return NULL;
    out->push_src = src;
    if (ro.audio) {
        GstCaps *acaps = gst_caps_new_simple(
            "application/x-rtp", "media", G_TYPE_STRING, "audio", "encoding-name", G_TYPE_STRING,
            ro.audio_encoding, "clock-rate", G_TYPE_INT, (int)ro.audio_clock_rate, "payload",
            G_TYPE_INT, (int)ro.audio_payload_type, NULL);
        out->push_audio_src =
            vg_audio_add_rtp_appsrc(vg_audio_of(p), acaps, ro.latency_ms, 256 * 1024, err, errlen);
        gst_caps_unref(acaps);
        if (!out->push_audio_src) return NULL;
    }
    return parse;
}

/* ---- publish:// (a WebSocket publisher pushes access units) --------------- */

static const option_spec publish_options[] = {
    {"codec", JSON_STRING, 0, 0},
    {"audio", JSON_STRING, 0, 0},
    {NULL, 0, 0, 0},
};

static int validate_publish(const char *uri, const json_t *o, char *err, size_t errlen) {
    if (strcmp(uri, "publish://")) {
        snprintf(err, errlen, "source: a published stream is just \"publish://\"");
        return -1;
    }
    if (!vg_video_codec_by_name(opt_str(o, "codec", "h264"))) {
        snprintf(err, errlen, "options.codec: must be \"h264\" or \"h265\"");
        return -1;
    }
    const char *audio = opt_str(o, "audio", NULL);
    if (audio && strcmp(audio, "opus") && strcmp(audio, "aac")) {
        snprintf(err, errlen, "options.audio: must be \"opus\" or \"aac\"");
        return -1;
    }
    return 0;
}

/* appsrc (fed on the lws thread by media/publish.c, which sets its caps from
 * the publish request) -> the parser of options.codec. */
static GstElement *build_publish(GstPipeline *p, const char *uri, const json_t *o,
                                 vg_source_elems *out, char *err, size_t errlen) {
    (void)uri;
    const vg_video_codec *codec = vg_video_codec_by_name(opt_str(o, "codec", "h264"));
    GstElement *src = vg_gst_make(p, "appsrc", "src", err, errlen);
    GstElement *parse = codec ? vg_gst_make(p, codec->parse, "parse", err, errlen) : NULL;
    if (!src || !parse) return NULL;
    out->codec = codec;
    /* Stamped by the feed with the publisher's timestamps (caps come with
     * the publisher's codec); pushing never waits for the pipeline. */
    vg_gst_setup_live_appsrc(src, NULL, false, 4 * 1024 * 1024);
    GstElement *chain[] = {src, parse};
    if (vg_gst_link_chain(chain, 2, err, errlen)) return NULL;
    out->push_src = src;
    return parse;
}

/* ---- transcode:// (vigil's own H.264 of a stream, media/variant.h) ------- */

static const option_spec transcode_options[] = {
    {"codec", JSON_STRING, 0, 0},
    {"max_height", JSON_INTEGER, 64, 2160},
    {"bitrate_kbps", JSON_INTEGER, 50, 50000},
    {NULL, 0, 0, 0},
};

static int validate_transcode(const char *uri, const json_t *o, char *err, size_t errlen) {
    if (strcmp(uri, "transcode://")) {
        snprintf(err, errlen, "source: a transcode is just \"transcode://\"");
        return -1;
    }
    if (strcmp(opt_str(o, "codec", "h264"), "h264")) {
        snprintf(err, errlen, "options.codec: a transcode makes \"h264\"");
        return -1;
    }
    return 0;
}

/* libav decodes with frame threads by default: each thread holds a frame
 * back. Slice threads add no delay. */
static void on_decoder_added(GstBin *bin, GstBin *sub, GstElement *e, gpointer user) {
    (void)bin, (void)sub, (void)user;
    GstElementFactory *f = gst_element_get_factory(e);
    if (f && g_str_has_prefix(GST_OBJECT_NAME(f), "avdec_"))
        gst_util_set_object_arg(G_OBJECT(e), "thread-type", "slice");
}

typedef struct transcode_ctx {
    GstElement *convert; /* where decoded pictures go */
    GstElement *size;    /* the capsfilter that sets the encoded size */
    int max_height;
} transcode_ctx;

/* The encoded size for a decoded w x h picture (pixel aspect par_n/par_d):
 * at most max_height high, square pixels, the same shape, both even (x264
 * wants 4:2:0 in whole blocks). */
static void transcode_size(int w, int h, int par_n, int par_d, int max_height, int *ow, int *oh) {
    *oh = (h < max_height ? h : max_height) & ~1;
    double width = (double)w * par_n / par_d * *oh / h;
    *ow = 2 * (int)(width / 2 + 0.5);
    if (*ow < 2) *ow = 2;
    if (*oh < 2) *oh = 2;
}

/* (streaming thread) decodebin made a pad: its size fixes the encoded one. */
static void on_decoded_pad(GstElement *decode, GstPad *pad, gpointer user) {
    (void)decode;
    transcode_ctx *t = user;
    GstCaps *caps = vg_gst_pad_caps(pad);
    const GstStructure *st = caps ? vg_gst_caps_structure(caps) : NULL;
    int w = 0, h = 0, par_n = 1, par_d = 1;
    bool video = st && g_str_has_prefix(gst_structure_get_name(st), "video/") &&
                 gst_structure_get_int(st, "width", &w) && gst_structure_get_int(st, "height", &h) &&
                 w > 0 && h > 0;
    if (st && !gst_structure_get_fraction(st, "pixel-aspect-ratio", &par_n, &par_d)) par_n = par_d = 1;
    if (caps) gst_caps_unref(caps);
    if (!video || par_n <= 0 || par_d <= 0) return;
    int ow, oh;
    transcode_size(w, h, par_n, par_d, t->max_height, &ow, &oh);
    GstCaps *out = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
                                       G_TYPE_INT, ow, "height", G_TYPE_INT, oh,
                                       "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
    g_object_set(t->size, "caps", out, NULL);
    gst_caps_unref(out);
    link_dynamic_pad(pad, t->convert);
}

/* appsrc (fed on the lws thread with the main stream's access units, caps
 * from its decoder configuration) -> decodebin -> videoconvert ->
 * videoscale to at most max_height, square pixels -> x264enc zerolatency
 * -> h264parse. */
static GstElement *build_transcode(GstPipeline *p, const char *uri, const json_t *o,
                                   vg_source_elems *out, char *err, size_t errlen) {
    (void)uri;
    GstElement *src = vg_gst_make(p, "appsrc", "src", err, errlen);
    GstElement *decode = vg_gst_make(p, "decodebin", "decode", err, errlen);
    GstElement *convert = vg_gst_make(p, "videoconvert", "convert", err, errlen);
    GstElement *scale = vg_gst_make(p, "videoscale", "scale", err, errlen);
    GstElement *size = vg_gst_make(p, "capsfilter", "size", err, errlen);
    GstElement *enc = vg_gst_make(p, "x264enc", "enc", err, errlen);
    GstElement *parse = vg_gst_make(p, "h264parse", "parse", err, errlen);
    if (!src || !decode || !convert || !scale || !size || !enc || !parse) return NULL;
    out->codec = &vg_codec_h264;
    out->has_dts = true; /* x264enc's */
    vg_gst_setup_live_appsrc(src, NULL, false, 4 * 1024 * 1024);
    transcode_ctx *t = g_new0(transcode_ctx, 1);
    *t = (transcode_ctx){.convert = convert, .size = size,
                         .max_height = opt_int(o, "max_height", 720)};
    g_signal_connect(decode, "deep-element-added", G_CALLBACK(on_decoder_added), NULL);
    g_signal_connect_data(decode, "pad-added", G_CALLBACK(on_decoded_pad), t,
                          (GClosureNotify)(void (*)(void))g_free, 0);
    gst_util_set_object_arg(G_OBJECT(enc), "tune", "zerolatency");
    gst_util_set_object_arg(G_OBJECT(enc), "speed-preset", "superfast");
    /* A keyframe every 2 s at 30 fps: a new viewer starts from the GOP cache. */
    g_object_set(enc, "bitrate", (guint)opt_int(o, "bitrate_kbps", 1500), "key-int-max", 60,
                 NULL);
    GstElement *head[] = {src, decode};
    GstElement *tail[] = {convert, scale, size, enc, parse};
    if (vg_gst_link_chain(head, 2, err, errlen) || vg_gst_link_chain(tail, 5, err, errlen))
        return NULL;
    out->push_src = src;
    return parse;
}

/* ---- the table ---------------------------------------------------------- */

typedef struct source_kind {
    const char *scheme; /* with "://" */
    const option_spec *options;
    int (*validate)(const char *uri, const json_t *options, char *err, size_t errlen);
    GstElement *(*build)(GstPipeline *p, const char *uri, const json_t *options,
                         vg_source_elems *out, char *err, size_t errlen);
} source_kind;

/* videotestsrc's pattern names (GStreamer 1.22): checked here, at config
 * time, because the element only warns about an unknown one at run time. */
static const char *const test_patterns[] = {
    "smpte",
    "snow",
    "black",
    "white",
    "red",
    "green",
    "blue",
    "checkers-1",
    "checkers-2",
    "checkers-4",
    "checkers-8",
    "circular",
    "blink",
    "smpte75",
    "zone-plate",
    "gamut",
    "chroma-zone-plate",
    "solid-color",
    "ball",
    "smpte100",
    "bar",
    "pinwheel",
    "spokes",
    "gradient",
    "colors",
    "smpte-rp-219",
    NULL,
};

static int validate_test(const char *uri, const json_t *o, char *err, size_t errlen) {
    if (strcmp(uri, "test://")) {
        snprintf(err, errlen,
                 "source: the test source is just \"test://\"; set it up with options");
        return -1;
    }
    const char *pattern = opt_str(o, "pattern", "smpte");
    for (const char *const *p = test_patterns; *p; p++)
        if (!strcmp(*p, pattern)) return 0;
    snprintf(err, errlen, "options.pattern: unknown pattern '%.32s' (e.g. smpte, ball, snow)",
             pattern);
    return -1;
}

static int validate_file_kind(const char *uri, const json_t *o, char *err, size_t errlen) {
    (void)o;
    return validate_file(uri, err, errlen);
}

static const source_kind kinds[] = {
    {"test://", test_options, validate_test, build_test},
    {"file://", file_options, validate_file_kind, build_file},
    {"rtsp://", rtsp_options, validate_rtsp, build_rtsp},
    {"srtp://", srtp_options, validate_push, build_push},
    {"rtp://", rtp_options, validate_push, build_push},
    {"publish://", publish_options, validate_publish, build_publish},
    {"transcode://", transcode_options, validate_transcode, build_transcode},
};

static const source_kind *kind_of(const char *uri) {
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strncmp(uri, kinds[i].scheme, strlen(kinds[i].scheme))) return &kinds[i];
    return NULL;
}

int vg_source_validate(const char *uri, const json_t *options, char *err, size_t errlen) {
    const source_kind *k = kind_of(uri);
    if (!k) {
        snprintf(
            err, errlen,
            "source: unsupported source '%.64s' (expected test://, file://PATH.mp4, rtsp://..., "
            "srtp://IP:PORT, rtp://IP:PORT or publish://)",
            uri);
        return -1;
    }
    if (check_options(k->options, options, err, errlen)) return -1;
    return k->validate(uri, options, err, errlen);
}

int vg_source_build(GstPipeline *pipeline, const char *uri, const json_t *options,
                    const vg_video_out *video, vg_source_elems *out, char *err, size_t errlen) {
    const source_kind *k = kind_of(uri);
    if (!k) {
        snprintf(err, errlen, "unsupported source");
        return -1;
    }
    *out = (vg_source_elems){0};
    /* Where sources that learn their codec later find the tail. */
    g_object_set_data(G_OBJECT(pipeline), "vg-video-out", (gpointer)video);
    GstElement *built = k->build(pipeline, uri, options, out, err, errlen);
    if (!built) return -1;
    if (out->codec && !video->link(video->ctx, built, out->codec, out->has_dts)) {
        snprintf(err, errlen, "could not link the source's %s video to mp4mux", out->codec->name);
        return -1;
    }
    return 0;
}

void vg_source_redact(const char *uri, char *out, size_t outlen) {
    const char *scheme_end = strstr(uri, "://");
    const char *at = scheme_end ? strchr(scheme_end + 3, '@') : NULL;
    const char *slash = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    if (at && (!slash || at < slash)) {
        snprintf(out, outlen, "%.*s%s", (int)(scheme_end + 3 - uri), uri, at + 1);
    } else {
        snprintf(out, outlen, "%s", uri);
    }
}

bool vg_source_is_push(const char *uri) {
    return vg_rtp_is_push_uri(uri);
}

bool vg_source_is_publish(const char *uri) {
    return !strncmp(uri, "publish://", strlen("publish://"));
}

bool vg_source_is_transcode(const char *uri) {
    return !strncmp(uri, "transcode://", strlen("transcode://"));
}

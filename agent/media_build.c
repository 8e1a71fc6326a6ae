/* media_build.c -- the pipeline of each kind of source (media.h): test://
 * and v4l2:// encoded, rtsp:// and file:// passed through, and the Opus
 * branch; every link checked. Elements that pad-added makes are recorded in
 * m->dyn so that a restart (media.c) takes them out again. */
#include <stdio.h>
#include <string.h>

#include "agent/media_internal.h"
#include "common/log.h"
#include "media/gst_build.h"

/* ---- building ------------------------------------------------------------- */

/* Creates `factory` into the pipeline; NULL with err naming it. */
static GstElement *add(ag_media *m, const char *factory, char *err, size_t errlen) {
    return vg_gst_make(GST_PIPELINE(m->pipeline), factory, NULL, err, errlen);
}

static void set_caps(GstElement *capsfilter, const char *text) {
    GstCaps *caps = gst_caps_from_string(text);
    g_object_set(capsfilter, "caps", caps, NULL);
    gst_caps_unref(caps);
}

/* Sets a property from its text form, if the element has it. */
static void set_arg(GstElement *e, const char *prop, const char *value) {
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(e), prop))
        gst_util_set_object_arg(G_OBJECT(e), prop, value);
}

static void set_int(GstElement *e, const char *prop, int value) {
    char text[16];
    snprintf(text, sizeof(text), "%d", value);
    set_arg(e, prop, text);
}

/* The encoder: the configured one, else a hardware H.264 encoder when the
 * machine has one, else x264. */
static const char *encoder_name(const ag_media *m) {
    if (m->encoder) return m->encoder;
    static const char *const hardware[] = {"v4l2h264enc", "vaapih264enc"};
    for (size_t i = 0; i < sizeof(hardware) / sizeof(hardware[0]); i++) {
        GstElementFactory *f = gst_element_factory_find(hardware[i]);
        if (f) {
            gst_object_unref(f);
            return hardware[i];
        }
    }
    return "x264enc";
}

/* Rate and keyframe interval for the encoders the agent knows; any other
 * element named in the config keeps its own settings. */
static void configure_encoder(ag_media *m, GstElement *enc, const char *name) {
    int gop = m->cfg.fps * m->cfg.keyframe_s, kbps = m->cfg.bitrate_kbps;
    if (!strcmp(name, "x264enc") || !strcmp(name, "x265enc")) {
        /* zerolatency: no B-frames and no lookahead, so a frame leaves the
         * encoder as soon as it is encoded. */
        set_arg(enc, "tune", "zerolatency");
        set_arg(enc, "speed-preset", "ultrafast");
        set_int(enc, "bitrate", kbps);
        set_int(enc, "key-int-max", gop);
    } else if (!strcmp(name, "vaapih264enc")) {
        set_arg(enc, "rate-control", "cbr");
        set_int(enc, "bitrate", kbps);
        set_int(enc, "keyframe-period", gop);
    } else if (!strcmp(name, "v4l2h264enc")) {
        char text[160];
        snprintf(text, sizeof(text),
                 "controls,video_bitrate=(int)%d,h264_i_frame_period=(int)%d,"
                 "repeat_sequence_header=(int)1",
                 kbps * 1000, gop);
        GstStructure *st = gst_structure_from_string(text, NULL);
        if (st && g_object_class_find_property(G_OBJECT_GET_CLASS(enc), "extra-controls"))
            g_object_set(enc, "extra-controls", st, NULL);
        if (st) gst_structure_free(st);
    } else {
        vg_log(VG_LOG_INFO, "agent media: encoder %s keeps its own rate and keyframe settings",
               name);
    }
}

/* True when the encoder's output can be H.265 (a configured x265enc, say). */
static bool encodes_h265(const char *name) {
    GstElementFactory *f = gst_element_factory_find(name);
    if (!f) return false;
    GstCaps *h265 = gst_caps_from_string("video/x-h265");
    bool yes = gst_element_factory_can_src_any_caps(f, h265);
    gst_caps_unref(h265);
    gst_object_unref(f);
    return yes;
}

/* (videotestsrc's thread) Stamps the frame about to be marked with its
 * capture time: the wall clock in milliseconds modulo 2^32 in the squares,
 * and as HH:MM:SS.mmm (local time) in the text. */
static GstPadProbeReturn on_raw_frame(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
    (void)pad, (void)info;
    ag_media *m = user;
    int64_t now_ms = g_get_real_time() / 1000;
    g_object_set(m->mark, "pattern-data", (guint64)(now_ms & 0xffffffff), NULL);
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    char text[32] = "";
    if (localtime_r(&secs, &tm)) {
        size_t n = strftime(text, sizeof(text), "%H:%M:%S", &tm);
        snprintf(text + n, sizeof(text) - n, ".%03d", (int)(now_ms % 1000));
    }
    g_object_set(m->mark_text, "text", text, NULL);
    return GST_PAD_PROBE_OK;
}

/* What test:// burns into its raw frames: the running time, or with
 * latency_mark the capture time as squares along the bottom-left edge
 * (their size min(16, width/36) pixels) and as text. Appended to chain. */
static int add_test_overlays(ag_media *m, GstElement **chain, size_t *n, char *err, size_t errlen) {
    if (!m->cfg.latency_mark) {
        GstElement *time = chain[(*n)++] = add(m, "timeoverlay", err, errlen);
        if (!time) return -1;
        gst_util_set_object_arg(G_OBJECT(time), "valignment", "top");
        return 0;
    }
    m->mark = chain[(*n)++] = add(m, "simplevideomark", err, errlen);
    m->mark_text = chain[(*n)++] = add(m, "textoverlay", err, errlen);
    if (!m->mark || !m->mark_text) return -1;
    int block = m->cfg.width / (MARK_SYNC + MARK_BITS);
    block = block > 16 ? 16 : block < 1 ? 1 : block;
    g_object_set(m->mark, "pattern-width", block, "pattern-height",
                 block < m->cfg.height ? block : m->cfg.height, "pattern-count", MARK_SYNC,
                 "pattern-data-count", MARK_BITS, "left-offset", 0, "bottom-offset", 0, NULL);
    g_object_set(m->mark_text, "shaded-background", TRUE, NULL);
    gst_util_set_object_arg(G_OBJECT(m->mark_text), "halignment", "left");
    gst_util_set_object_arg(G_OBJECT(m->mark_text), "valignment", "top");
    GstPad *pad = gst_element_get_static_pad(m->mark, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_raw_frame, m, NULL);
    gst_object_unref(pad);
    return 0;
}

/* The shared tail of test:// and v4l2://: raw video from `raw`, at the
 * configured size and rate (I420 for the software encoders: left to choose,
 * x264 takes 4:4:4, which browsers do not decode), what test:// burns in, a
 * one-frame leaky queue (a slow encoder drops raw frames rather than holding
 * up the camera), encoder, parser, appsink. */
static int build_encoded(ag_media *m, GstElement *raw, char *err, size_t errlen) {
    const char *name = encoder_name(m);
    bool software = !strcmp(name, "x264enc") || !strcmp(name, "x265enc");
    GstElement *chain[9];
    size_t n = 0;
    chain[n++] = raw;
    GstElement *caps = chain[n++] = add(m, "capsfilter", err, errlen);
    if (!caps) return -1;
    char text[160];
    snprintf(text, sizeof(text), "video/x-raw,width=%d,height=%d,framerate=%d/1%s", m->cfg.width,
             m->cfg.height, m->cfg.fps, software ? ",format=I420" : "");
    set_caps(caps, text);
    if (m->kind == SRC_TEST && add_test_overlays(m, chain, &n, err, errlen)) return -1;
    GstElement *queue = chain[n++] = add(m, "queue", err, errlen);
    GstElement *enc = chain[n++] = add(m, name, err, errlen);
    GstElement *parse = chain[n++] =
        add(m, encodes_h265(name) ? "h265parse" : "h264parse", err, errlen);
    if (!queue || !enc || !parse) return -1;
    g_object_set(queue, "max-size-buffers", 1u, "max-size-bytes", 0u, "max-size-time", (guint64)0,
                 NULL);
    gst_util_set_object_arg(G_OBJECT(queue), "leaky", "downstream");
    configure_encoder(m, enc, name);
    g_object_set(parse, "config-interval", -1, NULL); /* SPS/PPS before every keyframe */
    chain[n++] = m->vsink;
    return vg_gst_link_chain(chain, n, err, errlen);
}

static int build_test(ag_media *m, char *err, size_t errlen) {
    GstElement *src = add(m, "videotestsrc", err, errlen);
    if (!src) return -1;
    g_object_set(src, "is-live", TRUE, NULL);
    gst_util_set_object_arg(G_OBJECT(src), "pattern", "ball");
    return build_encoded(m, src, err, errlen);
}

static int build_v4l2(ag_media *m, char *err, size_t errlen) {
    GstElement *chain[] = {add(m, "v4l2src", err, errlen), add(m, "videoconvert", err, errlen),
                           add(m, "videoscale", err, errlen), add(m, "videorate", err, errlen)};
    for (size_t i = 0; i < 4; i++)
        if (!chain[i]) return -1;
    g_object_set(chain[0], "device", m->source + strlen("v4l2://"), NULL);
    if (vg_gst_link_chain(chain, 4, err, errlen)) return -1;
    return build_encoded(m, chain[3], err, errlen);
}

/* Loads the plugins of the elements pad-added will make: a missing one is
 * an error now rather than when the camera answers, and no plugin is
 * opened (disk, dlopen) on a streaming thread. */
static int preload(const char *const *factories, size_t n, char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        GstElementFactory *f = gst_element_factory_find(factories[i]);
        GstPluginFeature *loaded = f ? gst_plugin_feature_load(GST_PLUGIN_FEATURE(f)) : NULL;
        if (f) gst_object_unref(f);
        if (!loaded) {
            snprintf(err, errlen, "GStreamer element '%s' is not available (missing plugin?)",
                     factories[i]);
            return -1;
        }
        gst_object_unref(loaded);
    }
    return 0;
}

/* Makes an element for pad-added and records it, so that a restart takes
 * it out again. NULL when it cannot. (streaming) */
static GstElement *add_dynamic(ag_media *m, const char *factory) {
    GstElement *e = gst_element_factory_make(factory, NULL);
    if (!e) return NULL;
    if (!gst_bin_add(GST_BIN(m->pipeline), e)) {
        gst_object_unref(e);
        return NULL;
    }
    pthread_mutex_lock(&m->ctl_lock);
    bool room = m->ndyn < MAX_DYNAMIC;
    if (room) m->dyn[m->ndyn++] = e;
    pthread_mutex_unlock(&m->ctl_lock);
    if (!room) { /* a source with more streams than the agent takes */
        gst_bin_remove(GST_BIN(m->pipeline), e);
        return NULL;
    }
    return e;
}

/* (streaming) A pad that carries nothing the agent sends: consumed by a
 * fakesink, so that its source does not stop on not-linked. */
static void sink_away(ag_media *m, GstPad *pad) {
    GstElement *fake = add_dynamic(m, "fakesink");
    if (!fake) return; /* left unlinked: its source only warns */
    g_object_set(fake, "sync", FALSE, "async", FALSE, NULL);
    GstPad *sinkpad = gst_element_get_static_pad(fake, "sink");
    if (GST_PAD_LINK_FAILED(gst_pad_link(pad, sinkpad)))
        vg_log(VG_LOG_WARN, "agent media: could not link %s to a fakesink", GST_PAD_NAME(pad));
    gst_object_unref(sinkpad);
    gst_element_sync_state_with_parent(fake);
}

/* (streaming) Links a source's video pad through `factories` (made here; a
 * parser last) to the video appsink: once per run, further video pads are
 * sunk away. A failure is an error on the source, hence a restart. */
static void link_video_pad(ag_media *m, GstElement *src, GstPad *pad, const char *const *factories,
                           size_t n) {
    pthread_mutex_lock(&m->ctl_lock);
    bool first = !m->video_linked;
    m->video_linked = true;
    pthread_mutex_unlock(&m->ctl_lock);
    if (!first) {
        sink_away(m, pad);
        return;
    }
    GstElement *chain[3];
    char why[160] = "";
    for (size_t i = 0; i < n; i++) {
        chain[i] = add_dynamic(m, factories[i]);
        if (!chain[i]) {
            snprintf(why, sizeof(why), "could not make a %s", factories[i]);
            goto fail;
        }
    }
    g_object_set(chain[n - 1], "config-interval", -1, NULL); /* SPS/PPS before every keyframe */
    chain[n] = m->vsink;
    if (vg_gst_link_chain(chain, n + 1, why, sizeof(why))) goto fail;
    GstPad *sinkpad = gst_element_get_static_pad(chain[0], "sink");
    GstPadLinkReturn r = gst_pad_link(pad, sinkpad);
    gst_object_unref(sinkpad);
    if (GST_PAD_LINK_FAILED(r)) {
        snprintf(why, sizeof(why), "could not link %s to %s", GST_PAD_NAME(pad),
                 GST_ELEMENT_NAME(chain[0]));
        goto fail;
    }
    for (size_t i = n; i-- > 0;) /* downstream first: each is ready for what comes */
        gst_element_sync_state_with_parent(chain[i]);
    return;
fail:
    GST_ELEMENT_ERROR(src, CORE, NEGOTIATION, ("%s", why), (NULL));
}

/* The depayloader and parser for an RTP encoding-name; NULL for others. */
static const char *const *rtp_video_chain(const GstStructure *st) {
    static const char *const h264[] = {"rtph264depay", "h264parse"};
    static const char *const h265[] = {"rtph265depay", "h265parse"};
    const char *media = st ? gst_structure_get_string(st, "media") : NULL;
    const char *enc = st ? gst_structure_get_string(st, "encoding-name") : NULL;
    if (!media || strcmp(media, "video") || !enc) return NULL;
    if (!g_ascii_strcasecmp(enc, "H264")) return h264;
    if (!g_ascii_strcasecmp(enc, "H265")) return h265;
    return NULL;
}

/* (rtspsrc's thread) Only H.264 and H.265 video is set up at all: the
 * camera sends no other stream. */
static gboolean on_rtsp_select(GstElement *src, guint num, GstCaps *caps, gpointer user) {
    (void)src, (void)num, (void)user;
    return caps && gst_caps_get_size(caps) && rtp_video_chain(gst_caps_get_structure(caps, 0));
}

/* (streaming) rtspsrc has a stream: depayload and parse, no re-encoding. */
static void on_rtsp_pad(GstElement *src, GstPad *pad, gpointer user) {
    ag_media *m = user;
    GstCaps *caps = vg_gst_pad_caps(pad);
    const char *const *chain =
        caps && gst_caps_get_size(caps) ? rtp_video_chain(gst_caps_get_structure(caps, 0)) : NULL;
    if (caps) gst_caps_unref(caps);
    if (chain)
        link_video_pad(m, src, pad, chain, 2);
    else
        sink_away(m, pad);
}

static int build_rtsp(ag_media *m, char *err, size_t errlen) {
    static const char *const later[] = {"rtph264depay", "rtph265depay", "h264parse", "h265parse",
                                        "fakesink"};
    GstElement *src = add(m, "rtspsrc", err, errlen);
    if (!src || preload(later, sizeof(later) / sizeof(later[0]), err, errlen)) return -1;
    /* The camera's own pace, no jitter delay: the queue bounds latency. */
    g_object_set(src, "location", m->source, "latency", 0u, NULL);
    g_signal_connect(src, "select-stream", G_CALLBACK(on_rtsp_select), NULL);
    g_signal_connect(src, "pad-added", G_CALLBACK(on_rtsp_pad), m);
    return 0;
}

/* (streaming) qtdemux has a track of the file: its H.264 or H.265 video
 * goes through a parser (to Annex-B, SPS/PPS at each keyframe); any other
 * track is sunk away. */
static void on_file_pad(GstElement *src, GstPad *pad, gpointer user) {
    ag_media *m = user;
    static const char *const h264[] = {"h264parse"};
    static const char *const h265[] = {"h265parse"};
    GstCaps *caps = vg_gst_pad_caps(pad);
    const GstStructure *st =
        caps && gst_caps_get_size(caps) ? gst_caps_get_structure(caps, 0) : NULL;
    const char *name = st ? gst_structure_get_name(st) : "";
    const char *const *chain = !strcmp(name, "video/x-h264")   ? h264
                               : !strcmp(name, "video/x-h265") ? h265
                                                               : NULL;
    if (caps) gst_caps_unref(caps);
    if (chain)
        link_video_pad(m, src, pad, chain, 1);
    else
        sink_away(m, pad);
}

/* An MP4 (or MOV) file: qtdemux, which loops by segment seeks, and no
 * typefinding, which would open plugins while the file plays. */
static int build_file(ag_media *m, char *err, size_t errlen) {
    static const char *const later[] = {"h264parse", "h265parse", "fakesink"};
    GstElement *chain[] = {add(m, "filesrc", err, errlen), add(m, "qtdemux", err, errlen)};
    if (!chain[0] || !chain[1] || preload(later, sizeof(later) / sizeof(later[0]), err, errlen))
        return -1;
    g_object_set(chain[0], "location", m->source + strlen("file://"), NULL);
    if (vg_gst_link_chain(chain, 2, err, errlen)) return -1;
    g_signal_connect(chain[1], "pad-added", G_CALLBACK(on_file_pad), m);
    return 0;
}

/* Opus, 48 kHz mono, from the test tone or an ALSA device. The tone is a
 * quiet sine: audiotestsrc's "ticks" (GStreamer 1.22) leaves part of each
 * buffer unwritten, and valgrind sees opusenc encode that memory. */
static int build_audio(ag_media *m, char *err, size_t errlen) {
    bool test = !strcmp(m->audio, "test");
    GstElement *chain[] = {add(m, test ? "audiotestsrc" : "alsasrc", err, errlen),
                           add(m, "audioconvert", err, errlen),
                           add(m, "audioresample", err, errlen),
                           add(m, "capsfilter", err, errlen),
                           add(m, "opusenc", err, errlen),
                           m->asink};
    for (size_t i = 0; i < 5; i++)
        if (!chain[i]) return -1;
    if (test) {
        g_object_set(chain[0], "is-live", TRUE, "freq", 440.0, "volume", 0.1, NULL);
        gst_util_set_object_arg(G_OBJECT(chain[0]), "wave", "sine");
    } else {
        g_object_set(chain[0], "device", m->audio + strlen("alsa:"), NULL);
    }
    char caps[80];
    snprintf(caps, sizeof(caps), "audio/x-raw,rate=%d,channels=%d", AUDIO_RATE, AUDIO_CHANNELS);
    set_caps(chain[3], caps);
    g_object_set(chain[4], "bitrate", AUDIO_BITRATE, NULL);
    return vg_gst_link_chain(chain, 6, err, errlen);
}

int ag_media_build(ag_media *m, char *err, size_t errlen) {
    int rc = m->kind == SRC_TEST   ? build_test(m, err, errlen)
             : m->kind == SRC_V4L2 ? build_v4l2(m, err, errlen)
             : m->kind == SRC_RTSP ? build_rtsp(m, err, errlen)
                                   : build_file(m, err, errlen);
    return rc || (m->audio && build_audio(m, err, errlen)) ? -1 : 0;
}

/* audio_branch.c -- builds the audio track's elements and links them to
 * mp4mux (see audio_branch.h). */
#include "media/audio_branch.h"

#include <gst/pbutils/pbutils.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/gst_build.h"
#include "common/log.h"

#define DATA_KEY "vg-audio"

enum flow { FLOW_WAITING, FLOW_FLOWING, FLOW_GIVEN_UP };

struct vg_audio {
    GstPipeline *pipeline; /* borrowed: it owns us */
    GstElement *mux;       /* borrowed, in the pipeline */
    GMutex lock;           /* guards the fields below */
    bool taken;            /* an audio track is set up */
    bool stopped;          /* the pipeline is going away */
    GstElement *rtp_head;  /* the depayloader an RTP audio pad links to */
    GstPad *tail_src;      /* the branch's last src pad (ref) */
    GstPad *mux_pad;       /* mp4mux's audio pad (ref), NULL once released */
    GstClockID wait;       /* the wait for audio once video is there */
    char codec[24];        /* the codec as announced when the branch was made */
    atomic_int flow;       /* enum flow */
};

/* ---- building --------------------------------------------------------- */

/* (streaming) Counts audio reaching the muxer; drops it once given up. */
static GstPadProbeReturn on_audio_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
    (void)pad;
    (void)info;
    vg_audio *a = user;
    int expected = FLOW_WAITING;
    if (atomic_compare_exchange_strong(&a->flow, &expected, FLOW_FLOWING)) return GST_PAD_PROBE_OK;
    return expected == FLOW_GIVEN_UP ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

/* Links the chain's tail to a new audio pad of the muxer and brings the new
 * elements to the pipeline's state (they may be added while it plays). */
static int attach(vg_audio *a, GstElement **chain, size_t n, const char *codec, char *err,
                  size_t errlen) {
    if (vg_gst_link_chain(chain, n, err, errlen)) return -1;
    GstPad *src = gst_element_get_static_pad(chain[n - 1], "src");
    GstPad *sink = gst_element_request_pad_simple(a->mux, "audio_%u");
    if (!src || !sink || gst_pad_link(src, sink) != GST_PAD_LINK_OK) {
        snprintf(err, errlen, "could not link the audio to mp4mux");
        if (sink) gst_element_release_request_pad(a->mux, sink);
        if (sink) gst_object_unref(sink);
        if (src) gst_object_unref(src);
        return -1;
    }
    gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, on_audio_buffer, a, NULL);
    g_mutex_lock(&a->lock);
    a->tail_src = src;
    a->mux_pad = sink;
    snprintf(a->codec, sizeof(a->codec), "%s", codec);
    g_mutex_unlock(&a->lock);
    for (size_t i = 0; i < n; i++)
        gst_element_sync_state_with_parent(chain[i]);
    return 0;
}

/* Takes the one audio track; false when it is already taken. */
static bool take(vg_audio *a) {
    g_mutex_lock(&a->lock);
    bool ok = !a->taken && !a->stopped;
    a->taken = true;
    g_mutex_unlock(&a->lock);
    return ok;
}

int vg_audio_add_test_tone(vg_audio *a, char *err, size_t errlen) {
    GstPipeline *p = a->pipeline;
    if (!take(a)) {
        snprintf(err, errlen, "the stream already has an audio track");
        return -1;
    }
    GstElement *src = vg_gst_make(p, "audiotestsrc", NULL, err, errlen);
    GstElement *caps = vg_gst_make(p, "capsfilter", NULL, err, errlen);
    GstElement *conv = vg_gst_make(p, "audioconvert", NULL, err, errlen);
    GstElement *enc = vg_gst_make(p, "opusenc", NULL, err, errlen);
    if (!src || !caps || !conv || !enc) return -1;
    /* A 100 ms beep at 880 Hz every second of running time, in 20 ms
     * buffers (one Opus frame each): easy on the ear, and it shows whether
     * sound and picture keep together. */
    gst_util_set_object_arg(G_OBJECT(src), "wave", "ticks");
    g_object_set(src, "is-live", TRUE, "freq", 880.0, "volume", 0.4, "sine-periods-per-tick", 88u,
                 "apply-tick-ramp", TRUE, "samplesperbuffer", 960, NULL);
    GstCaps *c = gst_caps_from_string("audio/x-raw,rate=48000,channels=1");
    g_object_set(caps, "caps", c, NULL);
    gst_caps_unref(c);
    g_object_set(enc, "bitrate", 32000, NULL);
    GstElement *chain[] = {src, caps, conv, enc};
    return attach(a, chain, 4, "opus", err, errlen);
}

/* ---- demuxed audio (file://) ------------------------------------------- */

/* "opusparse", "aacparse" or NULL for other caps. AAC as mp4mux takes it:
 * MPEG-4 audio (MPEG-2 AAC streams say mpegversion=2). */
static const char *parser_for(const GstCaps *caps) {
    const char *name = vg_gst_caps_name(caps);
    if (!strcmp(name, "audio/x-opus")) return "opusparse";
    if (!strcmp(name, "audio/mpeg")) {
        int version = 0;
        gst_structure_get_int(gst_caps_get_structure(caps, 0), "mpegversion", &version);
        if (version == 4 || version == 2) return "aacparse";
    }
    return NULL;
}

bool vg_audio_wants_encoded(vg_audio *a, const GstCaps *caps) {
    if (!a || !parser_for(caps)) return false;
    g_mutex_lock(&a->lock);
    bool free_slot = !a->taken && !a->stopped;
    g_mutex_unlock(&a->lock);
    return free_slot;
}

void vg_audio_link_encoded_pad(vg_audio *a, GstPad *pad) {
    GstCaps *caps = vg_gst_pad_caps(pad);
    const char *parser = parser_for(caps);
    char err[160] = "";
    if (!parser || !take(a)) goto out;
    GstPipeline *p = a->pipeline;
    /* The queue gives the track its own thread: mp4mux holds one buffer per
     * pad, and a demuxer pushing both tracks from one thread would wait on
     * it forever. clocksync paces the track to real time, as the video. */
    GstElement *queue = vg_gst_make(p, "queue", NULL, err, sizeof(err));
    GstElement *parse = gst_element_factory_make(parser, NULL);
    GstElement *pace = vg_gst_make(p, "clocksync", NULL, err, sizeof(err));
    if (!parse) snprintf(err, sizeof(err), "GStreamer element '%s' is not available", parser);
    if (parse && !gst_bin_add(GST_BIN(p), parse)) {
        snprintf(err, sizeof(err), "could not add '%s' to the pipeline", parser);
        gst_object_unref(parse);
        parse = NULL;
    }
    if (!queue || !parse || !pace) goto fail;
    GstElement *chain[] = {queue, parse, pace};
    gchar *codec = gst_codec_utils_caps_get_mime_codec(caps);
    int r = attach(a, chain, 3, codec ? codec : "", err, sizeof(err));
    g_free(codec);
    if (r) goto fail;
    GstPad *sink = gst_element_get_static_pad(queue, "sink");
    bool linked = sink && gst_pad_link(pad, sink) == GST_PAD_LINK_OK;
    if (sink) gst_object_unref(sink);
    if (linked) goto out;
    snprintf(err, sizeof(err), "could not link the source's audio pad");
fail:
    GST_ELEMENT_ERROR(a->mux, CORE, NEGOTIATION, ("%s", err), (NULL));
out:
    if (caps) gst_caps_unref(caps);
}

/* ---- a publisher's audio (publish://) ------------------------------------ */

GstElement *vg_audio_add_appsrc(vg_audio *a, GstCaps *caps, size_t max_bytes, char *err,
                                size_t errlen) {
    const char *parser = parser_for(caps);
    if (!a || !parser || !take(a)) {
        snprintf(err, errlen, "not an audio track this stream can take");
        return NULL;
    }
    GstPipeline *p = a->pipeline;
    GstElement *src = vg_gst_make(p, "appsrc", NULL, err, errlen);
    GstElement *parse = vg_gst_make(p, parser, NULL, err, errlen);
    if (!src || !parse) return NULL;
    /* Stamped by the feed with the publisher's timestamps (the same clock as
     * its video); the lws thread never waits on it. */
    vg_gst_setup_live_appsrc(src, caps, false, max_bytes);
    gchar *codec = gst_codec_utils_caps_get_mime_codec(caps);
    GstElement *chain[] = {src, parse};
    int r = attach(a, chain, 2, codec ? codec : "", err, errlen);
    g_free(codec);
    return r ? NULL : src;
}

/* ---- RTP audio (rtsp://) ----------------------------------------------- */

typedef enum rtp_audio {
    RTP_NONE,
    RTP_OPUS,
    RTP_AAC_GENERIC,
    RTP_AAC_LATM,
    RTP_PCMU,
    RTP_PCMA
} rtp_audio;

static rtp_audio rtp_kind(const GstCaps *caps) {
    const GstStructure *st = vg_gst_caps_structure(caps);
    /* No check of the caps name: rtspsrc's select-stream gives
     * application/x-unknown, its pads application/x-rtp. */
    if (!st) return RTP_NONE;
    const char *media = gst_structure_get_string(st, "media");
    const char *enc = gst_structure_get_string(st, "encoding-name");
    if (!media || !enc || strcmp(media, "audio")) return RTP_NONE;
    if (!g_ascii_strcasecmp(enc, "OPUS")) return RTP_OPUS;
    if (!g_ascii_strcasecmp(enc, "MPEG4-GENERIC")) return RTP_AAC_GENERIC;
    if (!g_ascii_strcasecmp(enc, "MP4A-LATM")) return RTP_AAC_LATM;
    if (!g_ascii_strcasecmp(enc, "PCMU")) return RTP_PCMU;
    if (!g_ascii_strcasecmp(enc, "PCMA")) return RTP_PCMA;
    return RTP_NONE;
}

bool vg_audio_wants_rtp(vg_audio *a, const GstCaps *caps) {
    if (!a || rtp_kind(caps) == RTP_NONE) return false;
    g_mutex_lock(&a->lock);
    bool free_slot = !a->taken && !a->stopped;
    g_mutex_unlock(&a->lock);
    return free_slot;
}

/* G.711 to Opus: decode, convert to what opusenc takes, encode. */
static int add_g711(vg_audio *a, GstElement *depay, GstElement *dec, char *err, size_t errlen) {
    GstPipeline *p = a->pipeline;
    GstElement *conv = vg_gst_make(p, "audioconvert", NULL, err, errlen);
    GstElement *resample = vg_gst_make(p, "audioresample", NULL, err, errlen);
    GstElement *caps = vg_gst_make(p, "capsfilter", NULL, err, errlen);
    GstElement *enc = vg_gst_make(p, "opusenc", NULL, err, errlen);
    if (!conv || !resample || !caps || !enc) return -1;
    /* Opus in MP4 is 48 kHz: the sample entry, the track's timescale and
     * the dOps input rate then agree, as browsers check. */
    GstCaps *c = gst_caps_from_string("audio/x-raw,rate=48000");
    g_object_set(caps, "caps", c, NULL);
    gst_caps_unref(c);
    g_object_set(enc, "bitrate", 32000, NULL);
    GstElement *chain[] = {depay, dec, conv, resample, caps, enc};
    return attach(a, chain, 6, "opus", err, errlen);
}

int vg_audio_add_rtp(vg_audio *a, const GstCaps *caps, char *err, size_t errlen) {
    rtp_audio kind = rtp_kind(caps);
    if (kind == RTP_NONE || !take(a)) {
        snprintf(err, errlen, "not an audio track this stream can take");
        return -1;
    }
    GstPipeline *p = a->pipeline;
    GstElement *depay = NULL;
    int r = -1;
    switch (kind) {
    case RTP_OPUS: {
        depay = vg_gst_make(p, "rtpopusdepay", NULL, err, errlen);
        GstElement *parse = vg_gst_make(p, "opusparse", NULL, err, errlen);
        if (!depay || !parse) return -1;
        GstElement *chain[] = {depay, parse};
        r = attach(a, chain, 2, "opus", err, errlen);
        break;
    }
    case RTP_AAC_GENERIC:
    case RTP_AAC_LATM: {
        depay = kind == RTP_AAC_GENERIC ? vg_gst_make(p, "rtpmp4gdepay", NULL, err, errlen)
                                        : vg_gst_make(p, "rtpmp4adepay", NULL, err, errlen);
        GstElement *parse = vg_gst_make(p, "aacparse", NULL, err, errlen);
        if (!depay || !parse) return -1;
        GstElement *chain[] = {depay, parse};
        /* AAC-LC, as cameras send; the caps' own value replaces it once known. */
        r = attach(a, chain, 2, "mp4a.40.2", err, errlen);
        break;
    }
    case RTP_PCMU: {
        depay = vg_gst_make(p, "rtppcmudepay", NULL, err, errlen);
        GstElement *dec = vg_gst_make(p, "mulawdec", NULL, err, errlen);
        if (!depay || !dec) return -1;
        r = add_g711(a, depay, dec, err, errlen);
        break;
    }
    case RTP_PCMA: {
        depay = vg_gst_make(p, "rtppcmadepay", NULL, err, errlen);
        GstElement *dec = vg_gst_make(p, "alawdec", NULL, err, errlen);
        if (!depay || !dec) return -1;
        r = add_g711(a, depay, dec, err, errlen);
        break;
    }
    case RTP_NONE: break;
    }
    if (r == 0) {
        g_mutex_lock(&a->lock);
        a->rtp_head = depay;
        g_mutex_unlock(&a->lock);
    }
    return r;
}

GstElement *vg_audio_add_rtp_appsrc(vg_audio *a, GstCaps *caps, guint latency_ms, size_t max_bytes,
                                    char *err, size_t errlen) {
    if (!a || vg_audio_add_rtp(a, caps, err, errlen)) return NULL;
    GstPipeline *p = a->pipeline;
    GstElement *src = vg_gst_make(p, "appsrc", "audio_src", err, errlen);
    GstElement *jitter = vg_gst_make(p, "rtpjitterbuffer", "audio_jitter", err, errlen);
    if (!src || !jitter) return NULL;
    /* As the video's: stamped at arrival, for the jitter buffer. */
    vg_gst_setup_live_appsrc(src, caps, true, max_bytes);
    g_object_set(jitter, "latency", latency_ms, NULL);
    g_mutex_lock(&a->lock);
    GstElement *head = a->rtp_head;
    g_mutex_unlock(&a->lock);
    GstElement *chain[] = {src, jitter, head};
    return vg_gst_link_chain(chain, 3, err, errlen) ? NULL : src;
}

bool vg_audio_link_rtp_pad(vg_audio *a, GstPad *pad) {
    if (!a) return false;
    GstCaps *caps = vg_gst_pad_caps(pad);
    bool audio = rtp_kind(caps) != RTP_NONE;
    if (caps) gst_caps_unref(caps);
    if (!audio) return false;
    g_mutex_lock(&a->lock);
    GstElement *head = a->rtp_head ? gst_object_ref(a->rtp_head) : NULL;
    g_mutex_unlock(&a->lock);
    if (!head) return true; /* audio we did not set up: leave it unlinked */
    GstPad *sink = gst_element_get_static_pad(head, "sink");
    if (sink && !gst_pad_is_linked(sink) && gst_pad_link(pad, sink) != GST_PAD_LINK_OK)
        GST_ELEMENT_ERROR(a->mux, CORE, NEGOTIATION, ("could not link the source's audio pad"),
                          (NULL));
    if (sink) gst_object_unref(sink);
    gst_object_unref(head);
    return true;
}

/* ---- waiting for audio -------------------------------------------------- */

/* (GStreamer's thread pool) No audio yet while video waits in the muxer:
 * release the audio pad so that mp4mux goes on with the video alone. The
 * probe drops whatever audio comes later. */
static void give_up(GstElement *pipeline, gpointer user) {
    (void)user;
    vg_audio *a = vg_audio_of(GST_PIPELINE(pipeline));
    if (!a) return;
    g_mutex_lock(&a->lock);
    int expected = FLOW_WAITING;
    if (!a->stopped && a->mux_pad &&
        atomic_compare_exchange_strong(&a->flow, &expected, FLOW_GIVEN_UP)) {
        if (a->tail_src) gst_pad_unlink(a->tail_src, a->mux_pad);
        gst_element_release_request_pad(a->mux, a->mux_pad);
        gst_object_unref(a->mux_pad);
        a->mux_pad = NULL;
        vg_log(VG_LOG_WARN,
               "audio: the source announced audio but none came within %d ms of the video; "
               "going on with video only",
               VG_AUDIO_WAIT_MS);
    }
    g_mutex_unlock(&a->lock);
}

/* (the clock's thread) The wait is over: the rest happens off this thread. */
static gboolean on_wait_done(GstClock *clock, GstClockTime t, GstClockID id, gpointer user) {
    (void)clock;
    (void)t;
    (void)id;
    gst_element_call_async(GST_ELEMENT(user), give_up, NULL, NULL);
    return TRUE;
}

/* (streaming) The first video buffer reaches the muxer: audio has
 * VG_AUDIO_WAIT_MS from now to show up. */
static GstPadProbeReturn on_first_video(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
    (void)pad;
    (void)info;
    vg_audio *a = user;
    g_mutex_lock(&a->lock);
    if (a->taken && !a->stopped && !a->wait && atomic_load(&a->flow) == FLOW_WAITING) {
        GstClock *clock = gst_system_clock_obtain();
        a->wait = gst_clock_new_single_shot_id(
            clock, gst_clock_get_time(clock) + (GstClockTime)VG_AUDIO_WAIT_MS * GST_MSECOND);
        gst_clock_id_wait_async(a->wait, on_wait_done, gst_object_ref(a->pipeline),
                                gst_object_unref);
        gst_object_unref(clock);
    }
    g_mutex_unlock(&a->lock);
    return GST_PAD_PROBE_REMOVE;
}

static void on_mux_pad_added(GstElement *mux, GstPad *pad, gpointer user) {
    (void)mux;
    if (g_str_has_prefix(GST_PAD_NAME(pad), "video_"))
        gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_first_video, user, NULL);
}

/* ---- life --------------------------------------------------------------- */

static void destroy(gpointer data) {
    vg_audio *a = data;
    if (a->wait) gst_clock_id_unref(a->wait);
    if (a->tail_src) gst_object_unref(a->tail_src);
    if (a->mux_pad) gst_object_unref(a->mux_pad);
    g_mutex_clear(&a->lock);
    g_free(a);
}

vg_audio *vg_audio_new(GstPipeline *pipeline, GstElement *mux) {
    vg_audio *a = g_try_new0(vg_audio, 1);
    if (!a) return NULL;
    a->pipeline = pipeline;
    a->mux = mux;
    g_mutex_init(&a->lock);
    atomic_init(&a->flow, FLOW_WAITING);
    g_object_set_data_full(G_OBJECT(pipeline), DATA_KEY, a, destroy);
    g_signal_connect(mux, "pad-added", G_CALLBACK(on_mux_pad_added), a);
    return a;
}

vg_audio *vg_audio_of(GstPipeline *pipeline) {
    return g_object_get_data(G_OBJECT(pipeline), DATA_KEY);
}

void vg_audio_stop(vg_audio *a) {
    if (!a) return;
    g_mutex_lock(&a->lock);
    a->stopped = true;
    if (a->wait) {
        /* The entry holds a reference to the pipeline until it is freed. */
        gst_clock_id_unschedule(a->wait);
        gst_clock_id_unref(a->wait);
        a->wait = NULL;
    }
    g_mutex_unlock(&a->lock);
}

bool vg_audio_has_track(vg_audio *a) {
    if (!a) return false;
    g_mutex_lock(&a->lock);
    bool has = a->mux_pad != NULL;
    g_mutex_unlock(&a->lock);
    return has;
}

char *vg_audio_codecs(vg_audio *a) {
    if (!a) return NULL;
    g_mutex_lock(&a->lock);
    GstPad *pad = a->mux_pad ? gst_object_ref(a->mux_pad) : NULL;
    g_mutex_unlock(&a->lock);
    if (!pad) return NULL;
    GstCaps *caps = gst_pad_get_current_caps(pad);
    char *codec = caps ? gst_codec_utils_caps_get_mime_codec(caps) : NULL;
    if (caps) gst_caps_unref(caps);
    gst_object_unref(pad);
    if (!codec) { /* no caps yet: what the branch was made for */
        g_mutex_lock(&a->lock);
        codec = a->codec[0] ? g_strdup(a->codec) : NULL;
        g_mutex_unlock(&a->lock);
    }
    return codec;
}

char *vg_audio_codecs_after(vg_audio *a, const char *video) {
    gchar *audio = vg_audio_codecs(a);
    if (!audio) return strdup(video);
    size_t n = strlen(video) + strlen(audio) + 2;
    char *both = malloc(n);
    if (both) snprintf(both, n, "%s,%s", video, audio);
    g_free(audio);
    return both;
}

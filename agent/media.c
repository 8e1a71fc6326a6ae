/* media.c -- the agent's camera: appsinks feeding a bounded queue of
 * frames, and a control thread that restarts the pipeline and loops files
 * (see media.h); the pipeline of each source kind is built by
 * media_build.c, the state both share is in media_internal.h.
 *
 * Threads:
 *   streaming threads  the appsink callbacks (on_sample) queue frames; the
 *                      pad-added handlers of rtsp:// and file:// build their
 *                      video chain; the bus sync handler (on_bus) and the
 *                      sinks' EOS probe note what happened for the control
 *                      thread. None waits on anything but a mutex held for a
 *                      few lines.
 *   control thread     (control_main) the only thread that changes the
 *                      pipeline's state once it runs, or seeks: a restart a
 *                      second after an error or end of stream, the segment
 *                      seeks that loop a file. A plain thread woken through a
 *                      condition variable, not a GMainLoop: the agent runs no
 *                      GLib main context, and a bus sync handler sees each
 *                      message as it is posted, with no loop to dispatch it.
 *   caller             (the agent's service thread) new, start, take, skip,
 *                      codec, stats, free. Plugins are all opened in new,
 *                      none on a streaming thread; start waits for a file to
 *                      preroll (play), at most 5 s.
 *
 * Times: a frame's pts is its buffer's running time (its sample's segment)
 * plus an offset that each restart moves on by the time that passed, because
 * a restarted pipeline counts its running time from 0 again: pts keep
 * increasing across restarts, audio and video alike. A looped file keeps one
 * running time (non-flushing segment seeks), its loops moved on by the one
 * frame that qtdemux's segments leave out (file_time).
 */
#include "agent/media.h"

#include "agent/media_internal.h"

#include "agent/codec_string.h"

#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

void ag_frame_free(ag_frame *f) {
    free(f);
}

static char *dup_or_null(const char *s, bool *oom) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = true;
    return d;
}

/* The source for messages, without a password: "rtsp://user:pw@host/p"
 * becomes "rtsp://" "***@host/p". */
static void redact(const char *src, char *out, size_t outlen) {
    const char *scheme = strstr(src, "://");
    const char *host = scheme ? scheme + 3 : NULL;
    const char *at = host ? strchr(host, '@') : NULL;
    const char *slash = host ? strchr(host, '/') : NULL;
    if (at && (!slash || at < slash))
        snprintf(out, outlen, "%.*s***%s", (int)(host - src), src, at);
    else
        snprintf(out, outlen, "%s", src);
}

/* ---- the queue ------------------------------------------------------------ */

/* Counts a dropped frame by kind. (lock held) */
static void count_dropped_locked(ag_media *m, uint8_t kind) {
    if (kind == AG_FRAME_VIDEO)
        m->stats.dropped_video++;
    else
        m->stats.dropped_audio++;
}

/* Empties the queue, counting what it held; the frames are returned as a
 * list to free once the lock is released. (lock held) */
static ag_frame *drop_queued_locked(ag_media *m) {
    ag_frame *gone = m->head;
    for (ag_frame *f = gone; f; f = f->next)
        count_dropped_locked(m, f->kind);
    m->head = m->tail = NULL;
    m->bytes = 0;
    m->count = 0;
    return gone;
}

/* Drops what is queued and skips to the next video keyframe. (lock held) */
static ag_frame *start_skip_locked(ag_media *m) {
    ag_frame *gone = drop_queued_locked(m);
    if (!m->skipping) {
        m->skipping = true;
        m->stats.skips++;
    }
    return gone;
}

static void free_list(ag_frame *f) {
    while (f) {
        ag_frame *next = f->next;
        ag_frame_free(f);
        f = next;
    }
}

/* Remembers the latest pts, from which a restart continues. (lock held) */
static void saw_pts_locked(ag_media *m, int64_t pts_us, int64_t now_us) {
    if (pts_us > m->last_pts_us) {
        m->last_pts_us = pts_us;
        m->last_pts_at_us = now_us;
    }
}

/* (streaming) True when a frame of this kind would be dropped anyway (a skip
 * is on and it is not the keyframe that ends it): it is counted, and never
 * copied. The decision that counts is queue_frame's; this saves the copy. */
static bool dropped_while_skipping(ag_media *m, uint8_t kind, bool key, int64_t run_us) {
    pthread_mutex_lock(&m->lock);
    bool drop = m->skipping && !(kind == AG_FRAME_VIDEO && key);
    if (drop) {
        count_dropped_locked(m, kind);
        saw_pts_locked(m, run_us + m->pts_offset_us, vg_monotonic_us());
    }
    pthread_mutex_unlock(&m->lock);
    return drop;
}

/* (streaming) Queues f (taking it), or drops it by the queue's bounds and
 * the skip; wakes the taker when f went into an empty queue. `run_us` is its
 * running time; the pts is set here, with the offset, under the lock. */
static void queue_frame(ag_media *m, ag_frame *f, int64_t run_us) {
    int64_t now = vg_monotonic_us();
    ag_frame *gone = NULL;
    bool keep = true, woke = false;
    pthread_mutex_lock(&m->lock);
    f->pts_us = run_us + m->pts_offset_us;
    f->queued_us = now;
    saw_pts_locked(m, f->pts_us, now);
    /* The bounds hold for audio too: with the video stalled, sound alone
     * must not pile up either. A lone frame larger than the byte bound
     * still goes into an empty queue, or nothing would ever be sent. */
    if (m->head && (m->bytes + f->len > m->cfg.max_queue_bytes ||
                    now - m->head->queued_us > (int64_t)m->cfg.max_queue_ms * 1000))
        gone = start_skip_locked(m);
    if (m->skipping) {
        if (f->kind == AG_FRAME_VIDEO && f->key) {
            m->skipping = false;
        } else {
            count_dropped_locked(m, f->kind);
            keep = false;
        }
    }
    if (keep) {
        if (m->tail)
            m->tail->next = f;
        else
            m->head = f;
        m->tail = f;
        m->bytes += f->len;
        woke = ++m->count == 1;
        if (f->kind == AG_FRAME_VIDEO)
            m->stats.video_frames++;
        else
            m->stats.audio_frames++;
    }
    pthread_mutex_unlock(&m->lock);
    free_list(gone);
    if (!keep) ag_frame_free(f);
    if (woke && m->wake) m->wake(m->wake_user);
}

ag_frame *ag_media_take(ag_media *m) {
    pthread_mutex_lock(&m->lock);
    ag_frame *f = m->head;
    if (f) {
        m->head = f->next;
        if (!m->head) m->tail = NULL;
        m->bytes -= f->len;
        m->count--;
        f->next = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    return f;
}

void ag_media_skip(ag_media *m) {
    pthread_mutex_lock(&m->lock);
    ag_frame *gone = start_skip_locked(m);
    pthread_mutex_unlock(&m->lock);
    free_list(gone);
}

/* ---- the codec string ----------------------------------------------------- */

/* (streaming) From a keyframe: the family from its caps, the codec string
 * from its SPS (codec_string.h). Kept when it changes (a camera reconfigured across a
 * restart), which is rare, so it is logged. */
static void note_codec(ag_media *m, GstCaps *caps, const uint8_t *d, size_t n) {
    const GstStructure *st =
        caps && gst_caps_get_size(caps) ? gst_caps_get_structure(caps, 0) : NULL;
    const char *name = st ? gst_structure_get_name(st) : "";
    bool hevc = !strcmp(name, "video/x-h265");
    if (!hevc && strcmp(name, "video/x-h264")) return;
    char codec[sizeof(m->codec)];
    if (!ag_codec_string(hevc, d, n, codec, sizeof(codec))) return;
    const char *family = hevc ? "h265" : "h264";
    pthread_mutex_lock(&m->lock);
    bool changed = strcmp(m->codec, codec) != 0;
    if (changed) {
        memcpy(m->codec, codec, sizeof(codec));
        m->family = family;
    }
    pthread_mutex_unlock(&m->lock);
    if (changed) vg_log(VG_LOG_INFO, "agent media: %s: video is %s (%s)", m->shown, family, codec);
}

void ag_media_codec(ag_media *m, char *out, size_t outlen) {
    if (!outlen) return;
    pthread_mutex_lock(&m->lock);
    snprintf(out, outlen, "%s", m->codec);
    pthread_mutex_unlock(&m->lock);
}

const char *ag_media_codec_family(ag_media *m) {
    pthread_mutex_lock(&m->lock);
    const char *f = m->family;
    pthread_mutex_unlock(&m->lock);
    return f;
}

/* ---- the control thread --------------------------------------------------- */

/* (any thread) Asks the control thread for a restart, unless one is on its
 * way or the media is not running. While ag_media_start sets the pipeline
 * playing, the first error is kept for it instead: it reports a start that
 * failed, and asks for the restart itself if the start went on. */
static void request_restart(ag_media *m, const char *why) {
    pthread_mutex_lock(&m->ctl_lock);
    if (m->starting) {
        if (!m->start_error[0]) snprintf(m->start_error, sizeof(m->start_error), "%s", why);
    } else if (m->started && !m->stopping && m->restart == RESTART_NONE) {
        m->restart = RESTART_ASKED;
        snprintf(m->reason, sizeof(m->reason), "%s", why);
        pthread_cond_signal(&m->ctl_cond);
    }
    pthread_mutex_unlock(&m->ctl_lock);
}

/* (any thread) Asks the control thread for the segment seek that loops a
 * file: a seek waits for the demuxer's streaming thread, so never on it. */
static void request_seek(ag_media *m) {
    pthread_mutex_lock(&m->ctl_lock);
    m->seek_wanted = true;
    pthread_cond_signal(&m->ctl_cond);
    pthread_mutex_unlock(&m->ctl_lock);
}

/* Takes out what pad-added made for the run that stopped: the next run's
 * pads may carry another codec. The pipeline is in NULL: no streaming
 * thread can be adding more. (control thread, or the caller) */
static void clear_dynamic(ag_media *m) {
    GstElement *dyn[MAX_DYNAMIC];
    pthread_mutex_lock(&m->ctl_lock);
    int n = m->ndyn;
    memcpy(dyn, m->dyn, sizeof(dyn));
    m->ndyn = 0;
    m->video_linked = false;
    pthread_mutex_unlock(&m->ctl_lock);
    for (int i = 0; i < n; i++) {
        gst_element_set_state(dyn[i], GST_STATE_NULL);
        gst_bin_remove(GST_BIN(m->pipeline), dyn[i]); /* drops the bin's ref: freed */
    }
}

/* A segment seek of the file to its start: its end then brings a
 * SEGMENT_DONE (whence the next one) instead of EOS. Sent into the video
 * appsink, whence it goes upstream to the demuxer, and not to the pipeline:
 * an audio branch is not a file. `flush`: only before it plays. */
static bool seek_file_start(ag_media *m, bool flush) {
    GstSeekFlags flags = GST_SEEK_FLAG_SEGMENT | (flush ? GST_SEEK_FLAG_FLUSH : 0);
    if (gst_element_seek(m->vsink, 1.0, GST_FORMAT_TIME, flags, GST_SEEK_TYPE_SET, 0,
                         GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE))
        return true;
    vg_log(VG_LOG_WARN, "agent media: %s: could not seek to loop the file; it restarts at its end",
           m->shown);
    return false;
}

/* The next loop, at a SEGMENT_DONE: not flushing, so that the running time
 * goes on (see file_time). */
static void loop_seek(ag_media *m) {
    seek_file_start(m, false);
}

/* Sets the pipeline playing. A file is prerolled first and seeked as a
 * segment (the first seek of its loop) while nothing has played yet: done
 * later, what had played would play twice, and a short file could reach
 * its end before the seek. Waits for the video appsink only: a live audio
 * branch does not preroll. (caller, or control thread) */
static GstStateChangeReturn play(ag_media *m) {
    if (m->kind == SRC_FILE) {
        if (gst_element_set_state(m->pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE)
            return GST_STATE_CHANGE_FAILURE;
        GstStateChangeReturn r = gst_element_get_state(m->vsink, NULL, NULL, 5 * GST_SECOND);
        if (r == GST_STATE_CHANGE_FAILURE) return r; /* its error says why */
        if (r != GST_STATE_CHANGE_SUCCESS || !seek_file_start(m, true))
            vg_log(VG_LOG_WARN, "agent media: %s: not prerolled in 5 s; it restarts at its end",
                   m->shown);
    }
    return gst_element_set_state(m->pipeline, GST_STATE_PLAYING);
}

/* Stops the pipeline after an error or end of stream; it plays again a
 * second later. Logged once per new reason, then at the 2nd, 4th, 8th ...
 * restart in a row for the same one. */
static void stop_for_restart(ag_media *m, const char *reason) {
    pthread_mutex_lock(&m->ctl_lock);
    if (strcmp(reason, m->last_reason)) {
        snprintf(m->last_reason, sizeof(m->last_reason), "%s", reason);
        m->repeats = 0;
    }
    unsigned n = ++m->repeats;
    pthread_mutex_unlock(&m->ctl_lock);
    if ((n & (n - 1)) == 0)
        vg_log(VG_LOG_WARN, "agent media: %s: %s; restarting in 1 s%s", m->shown, reason,
               n > 1 ? " (again)" : "");
    gst_element_set_state(m->pipeline, GST_STATE_NULL);
    clear_dynamic(m);
}

/* Plays the stopped pipeline again. Its running time starts from 0: the pts
 * offset moves on to where the last frame was, plus the time since. A skip
 * makes sending resume at a keyframe. */
static void play_again(ag_media *m) {
    int64_t now = vg_monotonic_us();
    pthread_mutex_lock(&m->lock);
    if (m->last_pts_us != INT64_MIN) m->pts_offset_us = m->last_pts_us + (now - m->last_pts_at_us);
    ag_frame *gone = start_skip_locked(m);
    m->stats.restarts++;
    pthread_mutex_unlock(&m->lock);
    free_list(gone);
    m->file_base = GST_CLOCK_TIME_NONE;
    m->file_shift_us = 0;
    m->file_end_us = INT64_MIN;
    if (m->kind == SRC_FILE) g_object_set(m->vsink, "ts-offset", (gint64)0, NULL);
    if (play(m) == GST_STATE_CHANGE_FAILURE)
        request_restart(m, "the pipeline refused to start"); /* unless its error asked first */
}

static void *control_main(void *arg) {
    ag_media *m = arg;
    char reason[TEXT_LEN];
    pthread_mutex_lock(&m->ctl_lock);
    while (!m->stopping) {
        if (m->restart != RESTART_NONE) m->seek_wanted = false; /* it loops from the start anyway */
        if (m->restart == RESTART_ASKED) {
            m->restart = RESTART_WAITING;
            m->restart_at_us = vg_monotonic_us() + RESTART_DELAY_US;
            memcpy(reason, m->reason, sizeof(reason));
            pthread_mutex_unlock(&m->ctl_lock);
            stop_for_restart(m, reason);
            pthread_mutex_lock(&m->ctl_lock);
        } else if (m->restart == RESTART_WAITING && vg_monotonic_us() >= m->restart_at_us) {
            m->restart = RESTART_NONE;
            bool go = m->started;
            pthread_mutex_unlock(&m->ctl_lock);
            if (go) play_again(m);
            pthread_mutex_lock(&m->ctl_lock);
        } else if (m->seek_wanted) {
            m->seek_wanted = false;
            pthread_mutex_unlock(&m->ctl_lock);
            loop_seek(m);
            pthread_mutex_lock(&m->ctl_lock);
        } else if (m->restart == RESTART_WAITING) {
            struct timespec ts = {.tv_sec = m->restart_at_us / 1000000,
                                  .tv_nsec = (m->restart_at_us % 1000000) * 1000};
            pthread_cond_timedwait(&m->ctl_cond, &m->ctl_lock, &ts);
        } else {
            pthread_cond_wait(&m->ctl_cond, &m->ctl_lock);
        }
    }
    pthread_mutex_unlock(&m->ctl_lock);
    return NULL;
}

/* An error as people read it: the element, GStreamer's message, and the
 * last line of the debug text, where the reason usually is. */
static void error_text(GstMessage *msg, char *out, size_t outlen) {
    GError *e = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(msg, &e, &dbg);
    const char *why = dbg ? strrchr(dbg, '\n') : NULL;
    snprintf(out, outlen, "%s: %s%s%s%s",
             GST_MESSAGE_SRC_NAME(msg) ? GST_MESSAGE_SRC_NAME(msg) : "?",
             e && e->message ? e->message : "error", why && why[1] ? " (" : "",
             why && why[1] ? why + 1 : "", why && why[1] ? ")" : "");
    g_clear_error(&e);
    g_free(dbg);
}

/* (any thread, as each message is posted) Errors and end of stream ask for
 * a restart, a file's segment end for the next loop. Nobody else reads the
 * bus: every message is dropped here. */
static GstBusSyncReply on_bus(GstBus *bus, GstMessage *msg, gpointer user) {
    (void)bus;
    ag_media *m = user;
    char text[TEXT_LEN];
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR:
        error_text(msg, text, sizeof(text));
        request_restart(m, text);
        break;
    case GST_MESSAGE_EOS: request_restart(m, "end of stream"); break;
    case GST_MESSAGE_SEGMENT_DONE:
        if (m->kind == SRC_FILE) request_seek(m);
        break;
    case GST_MESSAGE_WARNING: {
        GError *e = NULL;
        gst_message_parse_warning(msg, &e, NULL);
        vg_log(VG_LOG_WARN, "agent media: %s: %s: %s", m->shown, GST_MESSAGE_SRC_NAME(msg),
               e && e->message ? e->message : "warning");
        g_clear_error(&e);
        break;
    }
    default: break;
    }
    gst_message_unref(msg);
    return GST_BUS_DROP;
}

/* (streaming) An EOS reaching a sink. The pipeline's own EOS message waits
 * for every sink, and a live audio branch never ends: a camera that ends
 * its stream would go unnoticed. */
static GstPadProbeReturn on_sink_event(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
    (void)pad;
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_EOS)
        request_restart(user, "end of stream");
    return GST_PAD_PROBE_OK;
}

/* (the file's streaming thread) A loop's segment starts at the running
 * time of the demuxer's last position, which is its last frame's time, not
 * that frame's end: each loop would repeat a time. The loop's frames are
 * moved on to where the last one ended, and so is the sink's clock
 * (ts-offset), for them to play on time. */
static int64_t file_time(ag_media *m, GstAppSink *sink, const GstSegment *seg, GstBuffer *buf,
                         int64_t run_us) {
    if (seg->base != m->file_base) {
        bool loop = m->file_base != GST_CLOCK_TIME_NONE;
        m->file_base = seg->base;
        int64_t gap = loop ? m->file_end_us - (run_us + m->file_shift_us) : 0;
        if (gap > 0) {
            m->file_shift_us += gap;
            g_object_set(sink, "ts-offset", (gint64)m->file_shift_us * 1000, NULL);
        }
    }
    int64_t t = run_us + m->file_shift_us;
    int64_t dur = GST_BUFFER_DURATION_IS_VALID(buf) ? (int64_t)(GST_BUFFER_DURATION(buf) / 1000)
                                                    : 1000000 / 30;
    if (t + dur > m->file_end_us) m->file_end_us = t + dur;
    return t;
}

/* ---- the appsinks --------------------------------------------------------- */

/* (streaming) One access unit or audio frame: its running time, one copy
 * into a frame, the codec string from a keyframe, then the queue. */
static GstFlowReturn on_sample(GstAppSink *sink, gpointer user) {
    ag_media *m = user;
    GstSample *sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_EOS;
    GstBuffer *buf = gst_sample_get_buffer(sample);
    const GstSegment *seg = gst_sample_get_segment(sample);
    size_t len = buf ? gst_buffer_get_size(buf) : 0;
    uint8_t kind = GST_ELEMENT(sink) == m->vsink ? AG_FRAME_VIDEO : AG_FRAME_AUDIO;
    /* An audio header buffer (OpusHead) is no frame to send. Video ones
     * are: h264parse flags HEADER the keyframes it put SPS/PPS in front of. */
    if (!len || !seg ||
        (kind == AG_FRAME_AUDIO && GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_HEADER)))
        goto done;
    GstClockTime t = GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) : GST_BUFFER_DTS(buf);
    guint64 run = 0;
    int sign = GST_CLOCK_TIME_IS_VALID(t)
                   ? gst_segment_to_running_time_full(seg, GST_FORMAT_TIME, t, &run)
                   : 0;
    if (!sign) goto done; /* no time: it could not be placed against the other track */
    int64_t run_us = (int64_t)(run / 1000) * sign;
    if (m->kind == SRC_FILE && kind == AG_FRAME_VIDEO)
        run_us = file_time(m, sink, seg, buf, run_us);
    bool key = kind == AG_FRAME_VIDEO && !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
    if (dropped_while_skipping(m, kind, key, run_us)) goto done;
    size_t headroom = m->cfg.headroom;
    ag_frame *f =
        len <= SIZE_MAX - sizeof(ag_frame) - headroom ? malloc(sizeof(*f) + headroom + len) : NULL;
    if (!f) { /* out of memory: what follows a lost frame cannot be decoded */
        ag_media_skip(m);
        goto done;
    }
    *f = (ag_frame){.kind = kind, .key = key, .len = len, .data = f->buf + headroom};
    gst_buffer_extract(buf, 0, f->data, len);
    if (key) note_codec(m, gst_sample_get_caps(sample), f->data, len);
    queue_frame(m, f, run_us);
done:
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}

/* An appsink for one kind of frame: callbacks rather than signals, no last
 * sample kept (it would hold a buffer), every sample taken as it comes. */
static GstElement *make_sink(ag_media *m, const char *caps_text, bool sync, char *err,
                             size_t errlen) {
    GstElement *sink = gst_element_factory_make("appsink", NULL);
    if (!sink || !gst_bin_add(GST_BIN(m->pipeline), sink)) {
        if (sink) gst_object_unref(sink);
        snprintf(err, errlen, "GStreamer element 'appsink' is not available (gst-plugins-base)");
        return NULL;
    }
    GstCaps *caps = gst_caps_from_string(caps_text);
    /* Live sources go out as they come; a file plays in real time (sync). */
    g_object_set(sink, "caps", caps, "sync", (gboolean)sync, "emit-signals", FALSE,
                 "enable-last-sample", FALSE, "max-buffers", 0u, "drop", FALSE, NULL);
    gst_caps_unref(caps);
    GstAppSinkCallbacks cbs = {0};
    cbs.new_sample = on_sample;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, m, NULL);
    GstPad *pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_sink_event, m, NULL);
    gst_object_unref(pad);
    return sink;
}

/* ---- configuration -------------------------------------------------------- */

static int check_range(const char *field, int *v, int dflt, int lo, int hi, char *err,
                       size_t errlen) {
    if (*v == 0) *v = dflt;
    if (*v >= lo && *v <= hi) return 0;
    snprintf(err, errlen, "%s must be %d..%d, not %d", field, lo, hi, *v);
    return -1;
}

/* Fills in defaults and checks the numbers. */
static int check_config(ag_media_config *c, char *err, size_t errlen) {
    if (!c->max_queue_bytes) c->max_queue_bytes = 4u << 20;
    if (c->headroom > 1u << 20) {
        snprintf(err, errlen, "headroom must be at most 1 MiB, not %zu", c->headroom);
        return -1;
    }
    return check_range("width", &c->width, 1280, 16, 7680, err, errlen) ||
                   check_range("height", &c->height, 720, 16, 4320, err, errlen) ||
                   check_range("fps", &c->fps, 30, 1, 120, err, errlen) ||
                   check_range("bitrate_kbps", &c->bitrate_kbps, 2000, 50, 100000, err, errlen) ||
                   check_range("keyframe_s", &c->keyframe_s, 1, 1, 60, err, errlen) ||
                   check_range("max_queue_ms", &c->max_queue_ms, 500, 1, 600000, err, errlen)
               ? -1
               : 0;
}

/* The kind of source, checked as far as it can be before it runs. */
static int parse_source(ag_media *m, char *err, size_t errlen) {
    const char *s = m->source;
    if (!strncmp(s, "test://", 7)) {
        m->kind = SRC_TEST;
    } else if (!strncmp(s, "v4l2://", 7)) {
        m->kind = SRC_V4L2;
        if (s[7] != '/') {
            snprintf(err, errlen, "source '%s': a V4L2 source names its device, v4l2:///dev/video0",
                     m->shown);
            return -1;
        }
    } else if (!strncmp(s, "rtsp://", 7) || !strncmp(s, "rtsps://", 8)) {
        m->kind = SRC_RTSP;
        const char *host = strstr(s, "://") + 3;
        if (!*host || *host == '/') {
            snprintf(err, errlen, "source '%s': an RTSP source needs a host", m->shown);
            return -1;
        }
    } else if (!strncmp(s, "file://", 7)) {
        m->kind = SRC_FILE;
        const char *path = s + 7;
        if (path[0] != '/') {
            snprintf(err, errlen,
                     "source '%s': a file source takes an absolute path, file:///a.mp4", m->shown);
            return -1;
        }
        if (access(path, R_OK)) {
            snprintf(err, errlen, "source '%s': %s", m->shown, strerror(errno));
            return -1;
        }
    } else {
        snprintf(err, errlen,
                 "source '%s' is not supported: test://, v4l2:///dev/videoN, rtsp://host/path "
                 "or file:///path",
                 m->shown);
        return -1;
    }
    if (m->cfg.latency_mark && m->kind != SRC_TEST) {
        snprintf(err, errlen, "latency_mark is for the test:// source only, not '%s'", m->shown);
        return -1;
    }
    if ((m->kind == SRC_TEST || m->kind == SRC_V4L2) && m->encoder) {
        GstElementFactory *f = gst_element_factory_find(m->encoder);
        if (!f) {
            snprintf(err, errlen, "encoder '%s' is not a GStreamer element here (missing plugin?)",
                     m->encoder);
            return -1;
        }
        gst_object_unref(f);
    }
    if (m->audio && strcmp(m->audio, "test") && (strncmp(m->audio, "alsa:", 5) || !m->audio[5])) {
        snprintf(err, errlen, "audio must be \"test\" or \"alsa:<device>\", not '%s'", m->audio);
        return -1;
    }
    return 0;
}

/* ---- life ----------------------------------------------------------------- */

ag_media *ag_media_new(const ag_media_config *cfg, void (*wake)(void *), void *wake_user, char *err,
                       size_t errlen) {
    if (!cfg || !cfg->source) {
        snprintf(err, errlen, "no source");
        return NULL;
    }
    GError *ge = NULL;
    if (!gst_init_check(NULL, NULL, &ge)) {
        snprintf(err, errlen, "GStreamer: %s", ge ? ge->message : "could not initialise");
        g_clear_error(&ge);
        return NULL;
    }
    ag_media *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->ctl_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* restart_at_us is monotonic */
    pthread_cond_init(&m->ctl_cond, &ca);
    pthread_condattr_destroy(&ca);
    m->cfg = *cfg;
    m->wake = wake;
    m->wake_user = wake_user;
    m->skipping = true; /* the first frame sent is a keyframe: an RTSP camera starts anywhere */
    m->last_pts_us = INT64_MIN;
    m->file_base = GST_CLOCK_TIME_NONE;
    m->file_end_us = INT64_MIN;
    bool oom = false;
    m->source = dup_or_null(cfg->source, &oom);
    m->audio = dup_or_null(cfg->audio, &oom);
    m->encoder = dup_or_null(cfg->encoder, &oom);
    m->cfg.source = m->source;
    m->cfg.audio = m->audio;
    m->cfg.encoder = m->encoder;
    if (oom) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    redact(m->source, m->shown, sizeof(m->shown));
    if (check_config(&m->cfg, err, errlen) || parse_source(m, err, errlen)) goto fail;

    m->pipeline = gst_pipeline_new(NULL);
    if (!m->pipeline) {
        snprintf(err, errlen, "could not create a pipeline");
        goto fail;
    }
    m->vsink = make_sink(m, VIDEO_SINK_CAPS, m->kind == SRC_FILE, err, errlen);
    if (!m->vsink) goto fail;
    if (m->audio && !(m->asink = make_sink(m, "audio/x-opus", false, err, errlen))) goto fail;
    if (ag_media_build(m, err, errlen)) goto fail;
    GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(m->pipeline));
    gst_bus_set_sync_handler(bus, on_bus, m, NULL);
    gst_object_unref(bus);

    if (pthread_create(&m->ctl_thread, NULL, control_main, m)) {
        snprintf(err, errlen, "could not start the media control thread");
        goto fail;
    }
    m->ctl_running = true;
    return m;

fail:
    ag_media_free(m);
    return NULL;
}

int ag_media_start(ag_media *m, char *err, size_t errlen) {
    pthread_mutex_lock(&m->ctl_lock);
    if (m->started) { /* already running (or restarting by itself) */
        pthread_mutex_unlock(&m->ctl_lock);
        return 0;
    }
    m->started = m->starting = true;
    m->start_error[0] = '\0';
    pthread_mutex_unlock(&m->ctl_lock);
    GstStateChangeReturn r = play(m);
    char why[TEXT_LEN];
    pthread_mutex_lock(&m->ctl_lock);
    m->starting = false;
    memcpy(why, m->start_error, sizeof(why));
    if (r == GST_STATE_CHANGE_FAILURE) {
        m->started = false;
        m->restart = RESTART_NONE;
    } else if (why[0] && m->restart == RESTART_NONE) {
        /* it failed after the change went through: as any later error */
        m->restart = RESTART_ASKED;
        memcpy(m->reason, why, sizeof(m->reason));
        pthread_cond_signal(&m->ctl_cond);
    }
    pthread_mutex_unlock(&m->ctl_lock);
    if (r != GST_STATE_CHANGE_FAILURE) {
        vg_log(VG_LOG_INFO, "agent media: %s: starting", m->shown);
        return 0;
    }
    gst_element_set_state(m->pipeline, GST_STATE_NULL);
    clear_dynamic(m);
    snprintf(err, errlen, "%s could not start: %s", m->shown,
             why[0] ? why : "the pipeline refused to start");
    return -1;
}

bool ag_media_has_audio(const ag_media *m) {
    return m->audio != NULL;
}

int ag_media_audio_channels(const ag_media *m) {
    return m->audio ? AUDIO_CHANNELS : 0;
}

void ag_media_stats_get(ag_media *m, ag_media_stats *out) {
    pthread_mutex_lock(&m->lock);
    *out = m->stats;
    out->queued_bytes = m->bytes;
    out->queued_frames = m->count;
    pthread_mutex_unlock(&m->lock);
}

void ag_media_free(ag_media *m) {
    if (!m) return;
    pthread_mutex_lock(&m->ctl_lock);
    m->stopping = true;
    m->started = false;
    pthread_cond_signal(&m->ctl_cond);
    pthread_mutex_unlock(&m->ctl_lock);
    /* First the control thread (it may be changing the state), then the
     * streaming threads, with the pipeline in NULL. */
    if (m->ctl_running) pthread_join(m->ctl_thread, NULL);
    if (m->pipeline) {
        gst_element_set_state(m->pipeline, GST_STATE_NULL);
        GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(m->pipeline));
        gst_bus_set_sync_handler(bus, NULL, NULL, NULL);
        gst_object_unref(bus);
        gst_object_unref(m->pipeline);
    }
    free_list(m->head);
    pthread_cond_destroy(&m->ctl_cond);
    pthread_mutex_destroy(&m->ctl_lock);
    pthread_mutex_destroy(&m->lock);
    free(m->source);
    free(m->audio);
    free(m->encoder);
    free(m);
}

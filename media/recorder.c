/* recorder.c -- segment boundaries, drops and retries of a stream's
 * recording, on the lws service thread (see recorder.h). */
#include "media/recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

bool vg_record_config_equal(const vg_record_config *a, const vg_record_config *b) {
    if (a->mode != b->mode) return false;
    if (a->mode == VG_RECORD_OFF) return true;
    return a->segment_s == b->segment_s && a->retain_days == b->retain_days &&
           a->max_gb == b->max_gb && a->preroll_s == b->preroll_s &&
           a->preroll_mb == b->preroll_mb && (a->path == b->path || (a->path && b->path &&
                                                             !strcmp(a->path, b->path)));
}

int vg_record_config_copy(vg_record_config *dst, const vg_record_config *src) {
    *dst = *src;
    dst->path = src->path ? strdup(src->path) : NULL;
    return src->path && !dst->path ? -1 : 0;
}

void vg_record_config_free(vg_record_config *c) {
    free(c->path);
    *c = (vg_record_config){0};
}

vg_recorder *vg_recorder_new(const vg_record_config *cfg, const char *id,
                             vg_record_writer *writer) {
    if (cfg->mode == VG_RECORD_OFF) return NULL;
    vg_recorder *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->mode = cfg->mode;
    r->stream_id = strdup(id);
    r->segment_us = (int64_t)cfg->segment_s * 1000000;
    r->retry_us = VG_RECORD_RETRY_US;
    r->writer = writer;
    r->need_open = true;
    r->preroll_s = cfg->preroll_s;
    vg_clip_ring_init(&r->ring, (int64_t)(cfg->preroll_s * 1e6), (size_t)(cfg->preroll_mb * 1e6));
    if (!r->stream_id) goto fail;
    if (cfg->path) {
        size_t n = strlen(cfg->path) + strlen(id) + 8;
        if (!(r->clip_dir = malloc(n))) goto fail;
        snprintf(r->clip_dir, n, "%s/%s/clips", cfg->path, id);
    }
    if (cfg->mode == VG_RECORD_CONTINUOUS) {
        size_t n = strlen(cfg->path) + strlen(id) + 2;
        char *dir = malloc(n);
        if (!dir) goto fail;
        snprintf(dir, n, "%s/%s", cfg->path, id);
        r->sink = vg_record_sink_new(dir, id, (int64_t)(cfg->retain_days * 86400.0),
                                     (uint64_t)(cfg->max_gb * 1e9));
        free(dir);
        if (!r->sink) goto fail;
    }
    return r;
fail:
    free(r->clip_dir);
    free(r->stream_id);
    free(r);
    return NULL;
}

static void end_clip(vg_recorder *r, size_t i) {
    vg_clip *c = r->clips[i];
    r->clip_frames_dropped += c->frames_dropped;
    vg_log(c->opened ? VG_LOG_INFO : VG_LOG_WARN, "stream %s: clip %s %s", r->stream_id, c->name,
           c->opened ? "ends" : "ends without a frame (no keyframe came)");
    vg_clip_end(c);
    r->clips[i] = r->clips[--r->nclips];
}

static void end_clips(vg_recorder *r) {
    while (r->nclips)
        end_clip(r, r->nclips - 1);
}

void vg_recorder_stop(vg_recorder *r) {
    if (!r) return;
    end_clips(r);
    vg_clip_ring_clear(&r->ring);
    if (!r->sink) return;
    if (r->open) vg_record_writer_post(r->writer, VG_RECORD_CLOSE, r->sink, NULL, 0);
    r->open = false;
    r->need_open = true;
    r->skipping = false;
}

void vg_recorder_free(vg_recorder *r) {
    if (!r) return;
    end_clips(r);
    vg_clip_ring_free(&r->ring);
    if (r->sink) vg_record_writer_post(r->writer, VG_RECORD_RELEASE, r->sink, NULL, 0);
    vg_frame_unref(r->init);
    free(r->clip_dir);
    free(r->stream_id);
    free(r);
}

/* True while a failure the sink reported keeps the recording stopped: from
 * the failure (seen at a keyframe) until retry_us later. */
static bool holding_off(vg_recorder *r, int64_t now_us) {
    vg_record_status st;
    vg_record_sink_status(r->sink, &st);
    if (st.errors != r->errors_seen) {
        r->errors_seen = st.errors;
        r->open = false;
        r->need_open = true;
        r->retry_at_us = now_us + r->retry_us;
    }
    return now_us < r->retry_at_us;
}

static void drop(vg_recorder *r) {
    r->skipping = true;
    r->frames_dropped++;
}

/* The ring and the clips being made get f. */
static void feed_clips(vg_recorder *r, vg_frame *f) {
    vg_clip_ring_push(&r->ring, f);
    for (size_t i = r->nclips; i-- > 0;)
        if (!vg_clip_frame(r->clips[i], f, r->init)) end_clip(r, i);
}

void vg_recorder_frame(vg_recorder *r, vg_frame *f, int64_t now_us) {
    if (!r) return;
    if (f->kind == VG_FRAME_INIT) {
        vg_frame_unref(r->init);
        r->init = vg_frame_ref(f);
        /* The frames that follow belong to the new init, not to the open
         * segment's nor to the clips': none is written until its first
         * keyframe opens a new segment. */
        end_clips(r);
        vg_clip_ring_clear(&r->ring);
        r->open = false;
        r->need_open = true;
        return;
    }
    if (f->kind != VG_FRAME_MEDIA || !r->init) return;
    feed_clips(r, f);
    if (r->mode != VG_RECORD_CONTINUOUS) return;
    if (!vg_frame_is_keyframe(f) || vg_frame_is_audio(f)) {
        if (!r->open) return;
        if (r->skipping) {
            r->frames_dropped++;
            return;
        }
        if (vg_record_writer_post(r->writer, VG_RECORD_FRAME, r->sink, f, 0)) drop(r);
        return;
    }
    if (holding_off(r, now_us)) return;
    /* The wall clock going back (an NTP step) also starts a segment: the
     * file name must not claim a time its frames are not from. */
    if (r->need_open || f->time_us - r->segment_start_us >= r->segment_us ||
        f->time_us < r->segment_start_us) {
        if (vg_record_writer_post(r->writer, VG_RECORD_OPEN, r->sink, r->init, f->time_us)) {
            drop(r);
            return;
        }
        r->open = true;
        r->need_open = false;
        r->segment_start_us = f->time_us;
    }
    if (vg_record_writer_post(r->writer, VG_RECORD_FRAME, r->sink, f, 0)) {
        drop(r);
        return;
    }
    r->skipping = false;
}

bool vg_recorder_clip_active(const vg_recorder *r, const char *name) {
    for (size_t i = 0; i < r->nclips; i++)
        if (!strcmp(r->clips[i]->name, name)) return true;
    return false;
}

bool vg_recorder_device_clip_active(const vg_recorder *r, const char *device) {
    for (size_t i = 0; i < r->nclips; i++)
        if (!strcmp(r->clips[i]->device, device)) return true;
    return false;
}

/* "<stream>-clip-<UTC of start_us>", with "-2", "-3" ... when a clip of
 * that second is being made or on disk. 0, or -1 when all are taken. */
static int clip_name(const vg_recorder *r, int64_t start_us, char *out, size_t outlen) {
    char stamp[32];
    vg_record_stamp(start_us, stamp);
    for (int n = 1; n < 100; n++) {
        char suffix[8] = "", path[PATH_MAX];
        if (n > 1) snprintf(suffix, sizeof(suffix), "-%d", n);
        if (snprintf(out, outlen, "%s-clip-%s%s", r->stream_id, stamp, suffix) >= (int)outlen)
            return -1;
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s.mp4", r->clip_dir, out);
        if (!vg_recorder_clip_active(r, out) && stat(path, &st)) return 0;
    }
    return -1;
}

vg_clip_result vg_recorder_clip(vg_recorder *r, const vg_clip_request *req, int64_t now_us,
                                char *name_out, size_t name_len, int64_t *start_us) {
    if (!r->clip_dir) return VG_CLIP_NOMEM; /* the config gives every recorder a path */
    if (r->nclips == VG_RECORDER_CLIPS_MAX) {
        r->clips_refused++;
        return VG_CLIP_BUSY;
    }
    /* The name carries the first frame's second: the listing finds a clip
     * by it (server/http_recordings.c). */
    int64_t first_us = now_us;
    size_t from = 0;
    if (vg_clip_ring_count(&r->ring) && r->init) {
        from = vg_clip_ring_start(&r->ring, now_us - (int64_t)(req->pre_s * 1e6));
        first_us = vg_clip_ring_at(&r->ring, from)->time_us;
    }
    char name[VG_CLIP_NAME_MAX];
    vg_clip *c = NULL;
    if (!clip_name(r, first_us, name, sizeof(name)))
        c = vg_clip_start(r->writer, r->clip_dir, name, r->stream_id, req, now_us, &r->ring, from,
                          r->init);
    if (!c) {
        r->clips_refused++;
        return VG_CLIP_NOMEM;
    }
    r->clips[r->nclips++] = c;
    r->clips_started++;
    snprintf(name_out, name_len, "%s", c->name);
    *start_us = c->start_us;
    vg_log(VG_LOG_INFO, "stream %s: clip %s (%s%s%s, by %s): %.1f s before, %.1f s after",
           r->stream_id, c->name, req->reason ? req->reason : "request",
           req->device ? " of " : "", req->device ? req->device : "",
           req->subject ? req->subject : "?", (double)(now_us - c->start_us) / 1e6, req->post_s);
    return VG_CLIP_STARTED;
}

void vg_recorder_status(const vg_recorder *r, vg_record_status *out, uint64_t *frames_dropped) {
    if (r->sink)
        vg_record_sink_status(r->sink, out);
    else
        *out = (vg_record_status){0};
    *frames_dropped = r->frames_dropped;
}

static const char *mode_name(vg_record_mode m) {
    return m == VG_RECORD_CONTINUOUS ? "continuous" : m == VG_RECORD_EVENTS ? "events" : "off";
}

json_t *vg_recorder_describe(const vg_recorder *r) {
    vg_record_status st;
    uint64_t dropped;
    vg_recorder_status(r, &st, &dropped);
    const char *reason = st.reason[0] ? st.reason : NULL;
    if (r->mode == VG_RECORD_EVENTS) reason = "events mode: clips only, no continuous recording";
    size_t n = vg_clip_ring_count(&r->ring);
    double buffered_s =
        n ? (double)(vg_clip_ring_at(&r->ring, n - 1)->time_us -
                     vg_clip_ring_at(&r->ring, 0)->time_us) / 1e6
          : 0;
    uint64_t clip_dropped = r->clip_frames_dropped;
    for (size_t i = 0; i < r->nclips; i++)
        clip_dropped += r->clips[i]->frames_dropped;
    json_t *clips = json_pack("{s:f, s:f, s:I, s:I, s:I, s:I, s:I}", "preroll_s", r->preroll_s,
                              "buffered_s", buffered_s, "buffered_bytes",
                              (json_int_t)r->ring.bytes, "active", (json_int_t)r->nclips,
                              "started", (json_int_t)r->clips_started, "refused",
                              (json_int_t)r->clips_refused, "frames_dropped",
                              (json_int_t)clip_dropped);
    return json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:o}", "mode",
                     mode_name(r->mode), "state", vg_record_state_name(st.state), "reason",
                     reason, "file", st.file[0] ? st.file : NULL, "bytes", (json_int_t)st.bytes,
                     "segments", (json_int_t)st.segments, "frames_dropped", (json_int_t)dropped,
                     "errors", (json_int_t)st.errors, "segments_deleted",
                     (json_int_t)st.deleted, "clips", clips);
}

/* recorder.c -- segment boundaries, drops and retries of a stream's
 * recording, on the lws service thread (see recorder.h). */
#include "media/recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

bool vg_record_config_equal(const vg_record_config *a, const vg_record_config *b) {
    if (a->mode != b->mode) return false;
    if (a->mode == VG_RECORD_OFF) return true;
    return a->segment_s == b->segment_s && a->retain_days == b->retain_days &&
           a->max_gb == b->max_gb && (a->path == b->path || (a->path && b->path &&
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
    if (!r->stream_id) goto fail;
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
    free(r->stream_id);
    free(r);
    return NULL;
}

void vg_recorder_stop(vg_recorder *r) {
    if (!r || !r->sink) return;
    if (r->open) vg_record_writer_post(r->writer, VG_RECORD_CLOSE, r->sink, NULL, 0);
    r->open = false;
    r->need_open = true;
    r->skipping = false;
}

void vg_recorder_free(vg_recorder *r) {
    if (!r) return;
    if (r->sink) vg_record_writer_post(r->writer, VG_RECORD_RELEASE, r->sink, NULL, 0);
    vg_frame_unref(r->init);
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

void vg_recorder_frame(vg_recorder *r, vg_frame *f, int64_t now_us) {
    if (!r || r->mode != VG_RECORD_CONTINUOUS) return;
    if (f->kind == VG_FRAME_INIT) {
        vg_frame_unref(r->init);
        r->init = vg_frame_ref(f);
        /* The frames that follow belong to the new init, not to the open
         * segment's: none is written until its first keyframe opens a new one. */
        r->open = false;
        r->need_open = true;
        return;
    }
    if (f->kind != VG_FRAME_MEDIA || !r->init) return;
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
    return json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I}", "mode",
                     mode_name(r->mode), "state", vg_record_state_name(st.state), "reason",
                     reason, "file", st.file[0] ? st.file : NULL, "bytes", (json_int_t)st.bytes,
                     "segments", (json_int_t)st.segments, "frames_dropped", (json_int_t)dropped,
                     "errors", (json_int_t)st.errors, "segments_deleted",
                     (json_int_t)st.deleted);
}

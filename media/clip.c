/* clip.c -- one clip being made (see clip.h). */
#include "media/clip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc_time.h"

/* The sidecar's fields from the request; the sink adds start, end and
 * complete. */
static json_t *clip_meta(const char *name, const char *stream, const vg_clip_request *req,
                         int64_t now_us) {
    char at[40];
    vg_utc_format_ms(now_us / 1000, at, sizeof(at));
    return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:f, s:f}", "id", name,
                     "stream", stream, "kind", "clip", "label", req->label, "subject",
                     req->subject, "reason", req->reason, "device", req->device,
                     "requested_at", at, "pre_s", req->pre_s, "post_s", req->post_s);
}

/* Queues f; on a full queue the clip waits for the next keyframe. */
static void put(vg_clip *c, vg_frame *f) {
    if (c->skipping && !(vg_frame_is_keyframe(f) && !vg_frame_is_audio(f))) {
        c->frames_dropped++;
        return;
    }
    c->skipping = vg_record_writer_post(c->writer, VG_RECORD_FRAME, c->sink, f, 0) != 0;
    if (c->skipping) c->frames_dropped++;
}

/* The file starts at keyframe f. False when the queue refused it. */
static bool open_at(vg_clip *c, vg_frame *f, vg_frame *init) {
    if (vg_record_writer_post(c->writer, VG_RECORD_OPEN, c->sink, init, f->time_us)) return false;
    c->opened = true;
    c->start_us = f->time_us;
    return true;
}

vg_clip *vg_clip_start(vg_record_writer *writer, const char *dir, const char *name,
                       const char *stream, const vg_clip_request *req, int64_t now_us,
                       const vg_clip_ring *ring, size_t from, vg_frame *init) {
    vg_clip *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->device, sizeof(c->device), "%s", req->device ? req->device : "");
    c->writer = writer;
    c->start_us = now_us;
    c->end_us = now_us + (int64_t)(req->post_s * 1e6);
    c->sink = vg_record_sink_new_clip(dir, name, clip_meta(name, stream, req, now_us));
    if (!c->sink) {
        free(c);
        return NULL;
    }
    size_t n = vg_clip_ring_count(ring);
    if (from >= n || !init) return c; /* from the next keyframe */
    if (!open_at(c, vg_clip_ring_at(ring, from), init)) return c;
    for (size_t i = from; i < n; i++)
        put(c, vg_clip_ring_at(ring, i));
    return c;
}

bool vg_clip_frame(vg_clip *c, vg_frame *f, vg_frame *init) {
    if (f->time_us >= c->end_us) return false;
    if (!c->opened) {
        bool key = vg_frame_is_keyframe(f) && !vg_frame_is_audio(f);
        if (!key || !init || !open_at(c, f, init)) return true;
        c->skipping = false;
    }
    put(c, f);
    return true;
}

void vg_clip_end(vg_clip *c) {
    if (!c) return;
    /* RELEASE closes the file (its sidecar then says complete) and frees the sink. */
    vg_record_writer_post(c->writer, VG_RECORD_RELEASE, c->sink, NULL, 0);
    free(c);
}

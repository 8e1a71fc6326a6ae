/* viewer_queue.c -- bounded per-viewer frame queue and skip policy (see
 * viewer_queue.h). */
#include "media/viewer_queue.h"

#include <stdlib.h>

int vg_viewer_queue_init(vg_viewer_queue *q, uint32_t cap, uint32_t max_skips, int64_t window_us) {
    *q = (vg_viewer_queue){0};
    if (cap < 2) cap = 2;
    q->ring = calloc(cap, sizeof(*q->ring));
    if (!q->ring) return -1;
    q->cap = cap;
    q->max_skips = max_skips;
    q->window_us = window_us;
    q->need_key = true;
    return 0;
}

static vg_frame **slot(vg_viewer_queue *q, uint32_t i) {
    return &q->ring[(q->head + i) % q->cap];
}

static void append(vg_viewer_queue *q, vg_frame *f) {
    *slot(q, q->count) = vg_frame_ref(f);
    q->count++;
}

vg_frame *vg_viewer_queue_pop(vg_viewer_queue *q) {
    if (q->count == 0) return NULL;
    vg_frame *f = q->ring[q->head];
    q->ring[q->head] = NULL;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return f;
}

void vg_viewer_queue_free(vg_viewer_queue *q) {
    vg_frame *f;
    while ((f = vg_viewer_queue_pop(q)))
        vg_frame_unref(f);
    free(q->ring);
    q->ring = NULL;
}

/* Drops everything queued except the newest unsent init segment (or decoder
 * configuration): the viewer cannot decode anything without it. */
static void drop_queued_media(vg_viewer_queue *q) {
    vg_frame *init = NULL, *f;
    while ((f = vg_viewer_queue_pop(q))) {
        if (vg_frame_is_setup(f)) {
            vg_frame_unref(init);
            init = f;
        } else {
            q->frames_dropped++;
            vg_frame_unref(f);
        }
    }
    q->head = 0;
    if (init) {
        q->ring[0] = init;
        q->count = 1;
    }
}

/* Records one overflow; true when the viewer has now overflowed too often. */
static bool count_skip(vg_viewer_queue *q, int64_t now_us) {
    q->skips++;
    if (q->skips_in_window == 0 || now_us - q->window_start_us > q->window_us) {
        q->window_start_us = now_us;
        q->skips_in_window = 0;
    }
    q->skips_in_window++;
    return q->max_skips > 0 && q->skips_in_window >= q->max_skips;
}

bool vg_viewer_queue_needs_resync(const vg_viewer_queue *q, const vg_frame *f) {
    return vg_frame_is_media(f) && vg_frame_is_keyframe(f) && (q->skipping || q->count == q->cap);
}

vg_push_result vg_viewer_queue_push(vg_viewer_queue *q, vg_frame *f, vg_frame *resync,
                                    int64_t now_us) {
    vg_push_result overflow = VG_PUSH_QUEUED;

    if (q->count == q->cap) {
        drop_queued_media(q);
        q->skipping = true;
        overflow = count_skip(q, now_us) ? VG_PUSH_TOO_SLOW : VG_PUSH_SKIPPED;
        if (overflow == VG_PUSH_TOO_SLOW) return overflow;
    }

    if (vg_frame_is_setup(f)) {
        /* A new init segment or decoder configuration (source restarted):
         * decoding starts over at a keyframe. */
        append(q, f);
        q->need_key = true;
        return overflow;
    }

    if (q->skipping || q->need_key) {
        if (!vg_frame_is_keyframe(f)) {
            q->frames_dropped++;
            return overflow == VG_PUSH_QUEUED ? VG_PUSH_DROPPED : overflow;
        }
        if (q->skipping) {
            if (!resync) { /* caller could not make the variant: wait for the next key */
                q->frames_dropped++;
                return overflow == VG_PUSH_QUEUED ? VG_PUSH_DROPPED : overflow;
            }
            f = resync;
        }
        q->skipping = false;
        q->need_key = false;
    }
    append(q, f);
    return overflow;
}

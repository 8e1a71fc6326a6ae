/* viewer_queue.c -- bounded per-viewer frame queue and skip policy (see
 * viewer_queue.h). */
#include "media/viewer_queue.h"

#include <stdlib.h>

/* Enough for the init segment and a one-second GOP at 30 fps, which every
 * new viewer is sent at once. */
#define INITIAL_SLOTS 32
/* What a viewer that keeps up needs: a frame or two queued. A ring that grew
 * for a burst (the first GOP, a slow moment) goes back to this size once it
 * has drained, so 1000 idle rings cost 64 KiB rather than 512 KiB. */
#define STEADY_SLOTS 4

int vg_viewer_queue_init(vg_viewer_queue *q, uint32_t cap, uint32_t max_skips, int64_t window_us) {
    *q = (vg_viewer_queue){0};
    if (cap < 2) cap = 2;
    q->slots = cap < INITIAL_SLOTS ? cap : INITIAL_SLOTS;
    q->ring = calloc(q->slots, sizeof(*q->ring));
    if (!q->ring) return -1;
    q->cap = cap;
    q->max_skips = max_skips;
    q->window_us = window_us;
    q->need_key = true;
    return 0;
}

static vg_queued *slot(vg_viewer_queue *q, uint32_t i) {
    return &q->ring[(q->head + i) % q->slots];
}

/* Doubles the ring (up to cap), oldest frame first in the new one. */
static bool grow(vg_viewer_queue *q) {
    uint32_t slots = q->slots > q->cap / 2 ? q->cap : q->slots * 2;
    vg_queued *ring = calloc(slots, sizeof(*ring));
    if (!ring) return false;
    for (uint32_t i = 0; i < q->count; i++)
        ring[i] = *slot(q, i);
    free(q->ring);
    q->ring = ring;
    q->slots = slots;
    q->head = 0;
    return true;
}

/* Queues a reference to f; false when the ring could not grow (OOM). */
static bool append(vg_viewer_queue *q, vg_frame *f, int64_t now_us) {
    if (q->count == q->slots && !grow(q)) return false;
    *slot(q, q->count) = (vg_queued){vg_frame_ref(f), now_us};
    q->count++;
    return true;
}

/* Gives back the memory of a ring that grew, once it is empty. */
static void shrink_if_drained(vg_viewer_queue *q) {
    if (q->count > 0 || q->slots <= STEADY_SLOTS || q->cap <= STEADY_SLOTS) return;
    vg_queued *ring = realloc(q->ring, STEADY_SLOTS * sizeof(*ring));
    if (!ring) return; /* keep the larger one */
    q->ring = ring;
    q->slots = STEADY_SLOTS;
    q->head = 0;
}

vg_frame *vg_viewer_queue_pop(vg_viewer_queue *q) {
    if (q->count == 0) return NULL;
    vg_frame *f = q->ring[q->head].frame;
    q->ring[q->head] = (vg_queued){0};
    q->head = (q->head + 1) % q->slots;
    q->count--;
    if (q->count == 0) q->blocked = false;
    shrink_if_drained(q);
    return f;
}

vg_frame *vg_viewer_queue_peek(const vg_viewer_queue *q, uint32_t i) {
    return i < q->count ? q->ring[(q->head + i) % q->slots].frame : NULL;
}

void vg_viewer_queue_free(vg_viewer_queue *q) {
    for (uint32_t i = 0; i < q->count; i++)
        vg_frame_unref(slot(q, i)->frame);
    q->count = 0;
    free(q->ring);
    q->ring = NULL;
}

/* Drops everything queued except the newest unsent init segment (or decoder
 * configuration): the viewer cannot decode anything without it. It counts as
 * queued now, so that it does not make the next frame late. */
static void drop_queued_media(vg_viewer_queue *q, int64_t now_us) {
    vg_frame *init = NULL, *f;
    bool blocked = q->blocked; /* dropping is not draining: the connection is as full */
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
    q->blocked = blocked;
    if (init) {
        q->ring[0] = (vg_queued){init, now_us};
        q->count = 1;
    }
}

/* Records one overflow; true when the viewer has now overflowed too often
 * with its own connection full. */
static bool count_skip(vg_viewer_queue *q, int64_t now_us) {
    q->skips++;
    if (!q->blocked) return false; /* the server was late, not the viewer: skipping is enough */
    if (q->skips_in_window == 0 || now_us - q->window_start_us > q->window_us) {
        q->window_start_us = now_us;
        q->skips_in_window = 0;
    }
    q->skips_in_window++;
    return q->max_skips > 0 && q->skips_in_window >= q->max_skips;
}

/* True when the oldest queued media frame has waited longer than the bound.
 * Setup frames do not age: they are kept through a skip anyway. */
static bool late(const vg_viewer_queue *q, int64_t now_us) {
    if (q->max_age_us <= 0) return false;
    for (uint32_t i = 0; i < q->count; i++) {
        const vg_queued *e = &q->ring[(q->head + i) % q->slots];
        if (vg_frame_is_media(e->frame)) return now_us - e->at_us > q->max_age_us;
    }
    return false;
}

bool vg_viewer_queue_needs_resync(const vg_viewer_queue *q, const vg_frame *f, int64_t now_us) {
    return vg_frame_is_media(f) && vg_frame_is_keyframe(f) &&
           (q->skipping || q->count == q->cap || late(q, now_us));
}

vg_push_result vg_viewer_queue_push(vg_viewer_queue *q, vg_frame *f, vg_frame *resync,
                                    int64_t now_us) {
    vg_push_result overflow = VG_PUSH_QUEUED;

    bool is_late = q->count < q->cap && late(q, now_us);
    if (q->count == q->cap || is_late) {
        if (is_late) q->late_skips++;
        drop_queued_media(q, now_us);
        q->skipping = true;
        overflow = count_skip(q, now_us) ? VG_PUSH_TOO_SLOW
                   : is_late             ? VG_PUSH_SKIPPED_LATE
                                         : VG_PUSH_SKIPPED;
        if (overflow == VG_PUSH_TOO_SLOW) return overflow;
    }

    if (vg_frame_is_setup(f)) {
        /* A new init segment or decoder configuration (source restarted):
         * decoding starts over at a keyframe. */
        if (append(q, f, now_us)) q->need_key = true;
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
    if (!append(q, f, now_us)) { /* out of memory: start again at the next keyframe */
        q->frames_dropped++;
        q->need_key = true;
        return overflow == VG_PUSH_QUEUED ? VG_PUSH_DROPPED : overflow;
    }
    return overflow;
}

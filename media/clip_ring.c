/* clip_ring.c -- the pre-roll ring of a recorded stream (see clip_ring.h). */
#include "media/clip_ring.h"

#include <stdlib.h>

static bool is_video_key(const vg_frame *f) {
    return vg_frame_is_keyframe(f) && !vg_frame_is_audio(f);
}

void vg_clip_ring_init(vg_clip_ring *r, int64_t span_us, size_t max_bytes) {
    *r = (vg_clip_ring){.span_us = span_us, .max_bytes = max_bytes, .waiting_key = true};
}

vg_frame *vg_clip_ring_at(const vg_clip_ring *r, size_t i) {
    return r->v[(r->head + i) % r->cap];
}

/* Drops the n oldest frames. */
static void drop_front(vg_clip_ring *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        vg_frame *f = r->v[r->head];
        r->bytes -= f->payload_len;
        vg_frame_unref(f);
        r->head = (r->head + 1) % r->cap;
    }
    r->count -= n;
    if (!r->count) r->head = 0;
}

void vg_clip_ring_clear(vg_clip_ring *r) {
    drop_front(r, r->count);
    r->waiting_key = true;
}

void vg_clip_ring_free(vg_clip_ring *r) {
    vg_clip_ring_clear(r);
    free(r->v);
    r->v = NULL;
    r->cap = 0;
}

/* The index of the first video keyframe after the oldest frame, or 0 when
 * the ring holds a single GOP. */
static size_t second_gop(const vg_clip_ring *r) {
    for (size_t i = 1; i < r->count; i++)
        if (is_video_key(vg_clip_ring_at(r, i))) return i;
    return 0;
}

static bool grow(vg_clip_ring *r) {
    size_t cap = r->cap ? r->cap * 2 : 256;
    vg_frame **v = malloc(cap * sizeof(*v));
    if (!v) return false;
    for (size_t i = 0; i < r->count; i++)
        v[i] = vg_clip_ring_at(r, i);
    free(r->v);
    r->v = v;
    r->cap = cap;
    r->head = 0;
    return true;
}

void vg_clip_ring_push(vg_clip_ring *r, vg_frame *f) {
    bool key = is_video_key(f);
    if (r->waiting_key && !key) return;
    if (r->count == r->cap && !grow(r)) {
        vg_clip_ring_clear(r);
        r->overflows++;
        return;
    }
    r->waiting_key = false;
    r->v[(r->head + r->count++) % r->cap] = vg_frame_ref(f);
    r->bytes += f->payload_len;
    /* By age, at keyframes: the oldest GOP goes once the next one alone
     * still reaches span_us back. */
    for (size_t k; key && (k = second_gop(r)) && vg_clip_ring_at(r, k)->time_us <=
                                                     f->time_us - r->span_us;)
        drop_front(r, k);
    /* By size: GOPs from the front, the last one only whole. */
    while (r->bytes > r->max_bytes) {
        size_t k = second_gop(r);
        if (!k) {
            vg_clip_ring_clear(r);
            r->overflows++;
            return;
        }
        drop_front(r, k);
    }
}

size_t vg_clip_ring_start(const vg_clip_ring *r, int64_t from_us) {
    size_t start = 0;
    for (size_t i = 0; i < r->count; i++) {
        const vg_frame *f = vg_clip_ring_at(r, i);
        if (f->time_us > from_us) break;
        if (is_video_key(f)) start = i;
    }
    return start;
}

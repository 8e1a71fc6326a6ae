/* fanout.c -- sends each frame of a stream to all its viewers.
 *
 * The frame is shared, not copied: every viewer's queue takes a reference to
 * the same immutable vg_frame, and the session writes that same memory to its
 * socket. A viewer whose queue is full skips (media/viewer_queue.c) without
 * any effect on the others. The only copy made here is the rare "first frame
 * after a skip" variant of a keyframe, once per keyframe, shared by every
 * viewer that skipped to it.
 *
 * A stream has two sides, one per delivery mode (MSE: init segment and
 * fragments; WebCodecs: decoder configuration and access units), each with
 * its own GOP cache; a viewer gets the frames of its own mode only.
 *
 * Thread: lws service thread only. */
#include <stdlib.h>

#include "media/stream.h"

static vg_frame *resync_variant(vg_stream *s, vg_frame *key) {
    bool wc = vg_frame_mode(key) == VG_MODE_WEBCODECS;
    vg_frame **resync = wc ? &s->wc.resync : &s->resync;
    vg_frame **resync_of = wc ? &s->wc.resync_of : &s->resync_of;
    if (*resync_of != key) {
        vg_frame_unref(*resync);
        *resync = vg_frame_copy_with_flags(key, key->flags | VG_FRAME_AFTER_SKIP);
        *resync_of = *resync ? key : NULL;
    }
    return *resync;
}

static void offer(vg_stream *s, vg_viewer *v, vg_frame *f, int64_t now_us) {
    if (v->too_slow || vg_frame_mode(f) != v->mode) return;
    vg_frame *resync = vg_viewer_queue_needs_resync(&v->queue, f) ? resync_variant(s, f) : NULL;
    bool was_empty = vg_viewer_queue_empty(&v->queue);
    vg_push_result r = vg_viewer_queue_push(&v->queue, f, resync, now_us);
    if (r == VG_PUSH_TOO_SLOW) {
        v->too_slow = true;
        s->hooks->viewer_too_slow(v);
        return;
    }
    if (was_empty && !vg_viewer_queue_empty(&v->queue)) s->hooks->viewer_ready(v);
}

int vg_fanout_attach(vg_stream *s, vg_viewer *v, void *owner, int64_t now_us) {
    if (vg_viewer_queue_init(&v->queue, s->limits.queue_frames, s->limits.slow_skips,
                             s->limits.slow_window_us))
        return -1;
    v->stream = s;
    v->owner = owner;
    v->channel = s->channel;
    v->prev = NULL;
    v->next = s->viewers;
    if (s->viewers) s->viewers->prev = v;
    s->viewers = v;
    s->viewer_count++;

    /* Init segment (or decoder configuration), then the newest keyframe and
     * all since: the viewer can start decoding now rather than at the next
     * keyframe. */
    bool wc = v->mode == VG_MODE_WEBCODECS;
    vg_frame *setup = wc ? s->wc.config : s->init;
    const vg_gop_cache *gop = wc ? &s->wc.gop : &s->gop;
    if (setup) offer(s, v, setup, now_us);
    for (uint32_t i = 0; i < gop->count; i++)
        offer(s, v, gop->frames[i], now_us);
    return 0;
}

void vg_fanout_detach(vg_viewer *v) {
    vg_stream *s = v->stream;
    if (!s) return;
    if (v->prev)
        v->prev->next = v->next;
    else
        s->viewers = v->next;
    if (v->next) v->next->prev = v->prev;
    s->viewer_count--;
    v->prev = v->next = NULL;
    v->stream = NULL;
    vg_viewer_queue_free(&v->queue);
}

void vg_fanout_publish(vg_stream *s, vg_frame *f, int64_t now_us) {
    bool wc = vg_frame_mode(f) == VG_MODE_WEBCODECS;
    vg_frame **setup = wc ? &s->wc.config : &s->init;
    vg_gop_cache *gop = wc ? &s->wc.gop : &s->gop;
    if (vg_frame_is_setup(f)) {
        vg_frame_unref(*setup);
        *setup = vg_frame_ref(f);
        vg_gop_cache_clear(gop);
    } else {
        vg_gop_cache_add(gop, f);
    }
    for (vg_viewer *v = s->viewers; v; v = v->next)
        offer(s, v, f, now_us);
}

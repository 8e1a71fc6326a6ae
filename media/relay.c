/* relay.c -- one delivery variant of a stream and its viewers (see relay.h).
 *
 * The only copy made here is the rare "first frame after a skip" variant of a
 * keyframe, once per keyframe, shared by every viewer that skipped to it. */
#include "media/relay.h"

#include <stdlib.h>

const char *vg_relay_slot_name(vg_relay_slot slot) {
    switch (slot) {
    case VG_RELAY_MSE: return "mse";
    case VG_RELAY_WEBCODECS: return "webcodecs";
    case VG_RELAY_COUNT: break;
    }
    return "unknown";
}

int vg_relay_init(vg_relay *r, struct vg_stream *stream, vg_relay_slot slot, uint32_t channel,
                  const vg_relay_limits *limits, const vg_relay_hooks *hooks) {
    *r = (vg_relay){.stream = stream,
                    .slot = slot,
                    .channel = channel,
                    .limits = *limits,
                    .hooks = hooks,
                    .next_seq = 1};
    uint32_t gop_cap = limits->queue_frames > 1 ? limits->queue_frames - 1 : 1;
    return vg_gop_cache_init(&r->gop, gop_cap);
}

void vg_relay_free(vg_relay *r) {
    while (r->viewers)
        vg_relay_detach(r->viewers);
    vg_relay_reset(r);
    vg_frame_unref(r->setup);
    r->setup = NULL;
    vg_gop_cache_free(&r->gop);
}

void vg_relay_restart(vg_relay *r) {
    r->next_seq = 1;
    r->await_key = false;
}

static void set_key(vg_relay *r, vg_frame *key) {
    vg_frame_unref(r->key);
    r->key = key ? vg_frame_ref(key) : NULL;
}

void vg_relay_reset(vg_relay *r) {
    vg_gop_cache_clear(&r->gop);
    set_key(r, NULL);
    vg_frame_unref(r->resync);
    r->resync = NULL;
    r->resync_of = NULL;
}

void vg_relay_rejoin(vg_relay *r) {
    r->next_seq = 0;
    r->await_key = true;
}

bool vg_relay_admit(vg_relay *r, uint64_t seq, const vg_frame *f) {
    if (r->next_seq == 0) r->next_seq = seq;
    if (seq != r->next_seq) {
        if (seq > r->next_seq) r->frames_lost += seq - r->next_seq;
        r->await_key = true;
        vg_gop_cache_clear(&r->gop);
    }
    r->next_seq = seq + 1;
    if (r->await_key && vg_frame_is_media(f)) {
        if (!vg_frame_is_keyframe(f)) {
            r->frames_lost++;
            return false;
        }
        r->await_key = false;
    }
    return true;
}

static vg_frame *resync_variant(vg_relay *r, vg_frame *key) {
    if (r->resync_of != key) {
        vg_frame_unref(r->resync);
        r->resync = vg_frame_copy_with_flags(key, key->flags | VG_FRAME_AFTER_SKIP);
        r->resync_of = r->resync ? key : NULL;
    }
    return r->resync;
}

static void offer(vg_relay *r, vg_viewer *v, vg_frame *f, int64_t now_us) {
    if (v->too_slow) return;
    vg_frame *resync =
        vg_viewer_queue_needs_resync(&v->queue, f, now_us) ? resync_variant(r, f) : NULL;
    bool was_empty = vg_viewer_queue_empty(&v->queue);
    vg_push_result res = vg_viewer_queue_push(&v->queue, f, resync, now_us);
    if (res == VG_PUSH_SKIPPED || res == VG_PUSH_SKIPPED_LATE) r->skips++;
    if (res == VG_PUSH_SKIPPED_LATE) r->late_skips++;
    if (res == VG_PUSH_TOO_SLOW) {
        v->too_slow = true;
        r->hooks->viewer_too_slow(v);
        return;
    }
    if (was_empty && !vg_viewer_queue_empty(&v->queue)) r->hooks->viewer_ready(v);
}

void vg_relay_count_sent(vg_viewer *v, size_t wire_len) {
    v->frames_sent++;
    v->bytes_sent += wire_len;
    if (v->relay) {
        v->relay->frames_out++;
        v->relay->bytes_out += wire_len;
    }
}

void vg_relay_publish(vg_relay *r, vg_frame *f, int64_t now_us) {
    if (vg_frame_is_setup(f)) {
        vg_frame_unref(r->setup);
        r->setup = vg_frame_ref(f);
        vg_gop_cache_clear(&r->gop);
        set_key(r, NULL);
    } else {
        vg_gop_cache_add(&r->gop, f);
        if (vg_frame_is_keyframe(f) && !vg_frame_is_audio(f)) set_key(r, f);
    }
    for (vg_viewer *v = r->viewers; v; v = v->next)
        offer(r, v, f, now_us);
}

/* Links v into r's list and offers what a newcomer needs. */
static void link_viewer(vg_relay *r, vg_viewer *v, int64_t now_us) {
    v->relay = r;
    v->channel = r->channel;
    v->prev = NULL;
    v->next = r->viewers;
    if (r->viewers) r->viewers->prev = v;
    r->viewers = v;
    r->viewer_count++;
    if (r->setup) offer(r, v, r->setup, now_us);
    for (uint32_t i = 0; i < r->gop.count; i++)
        offer(r, v, r->gop.frames[i], now_us);
}

static void unlink_viewer(vg_viewer *v) {
    vg_relay *r = v->relay;
    if (v->prev)
        v->prev->next = v->next;
    else
        r->viewers = v->next;
    if (v->next) v->next->prev = v->prev;
    r->viewer_count--;
    v->prev = v->next = NULL;
    v->relay = NULL;
}

int vg_relay_attach(vg_relay *r, vg_viewer *v, int64_t now_us) {
    if (vg_viewer_queue_init(&v->queue, r->limits.queue_frames, r->limits.slow_skips,
                             r->limits.slow_window_us))
        return -1;
    v->queue.max_age_us = r->limits.max_age_us;
    link_viewer(r, v, now_us);
    return 0;
}

void vg_relay_detach(vg_viewer *v) {
    if (!v->relay) return;
    unlink_viewer(v);
    vg_viewer_queue_free(&v->queue);
}

void vg_relay_move(vg_viewer *v, vg_relay *to, int64_t now_us) {
    if (v->relay) unlink_viewer(v);
    link_viewer(to, v, now_us);
}

json_t *vg_relay_describe(const vg_relay *r) {
    return json_pack("{s:I, s:I}", "viewers", (json_int_t)r->viewer_count, "frames_lost",
                     (json_int_t)r->frames_lost);
}

/* clip_ring.h -- a recorded stream's last seconds, held for the pre-roll of
 * clips (media/clip.h).
 *
 * The ring keeps references to the MSE relay's fragments (video and audio:
 * the frames viewers already got, never copied) from a video keyframe at
 * least `span_us` back to the newest. It is cut a whole GOP at a time from
 * the front, so it always starts at a keyframe, and holds `span_us` plus at
 * most one GOP. When it holds more than `max_bytes` (a high bitrate or long
 * GOPs), GOPs go from the front early; a single GOP larger than the bound
 * empties the ring until the next keyframe (counted in `overflows`).
 *
 * A new init segment (the source restarted) empties it: its frames no
 * longer fit the init a clip file starts with.
 *
 * Thread: owned by the lws service thread (through its recorder); no lock.
 * span_us and max_bytes are set once by vg_clip_ring_init(). */
#ifndef VIGIL_MEDIA_CLIP_RING_H
#define VIGIL_MEDIA_CLIP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/frame.h"

typedef struct vg_clip_ring {
    int64_t span_us;
    size_t max_bytes;
    vg_frame **v;      /* cap slots, count of them in use from head on */
    size_t cap, head, count;
    size_t bytes;      /* payload bytes held */
    bool waiting_key;  /* emptied: nothing until a video keyframe */
    uint64_t overflows;
} vg_clip_ring;

void vg_clip_ring_init(vg_clip_ring *r, int64_t span_us, size_t max_bytes);
/* Lets go of every frame (the ring stays usable). */
void vg_clip_ring_clear(vg_clip_ring *r);
/* Frees the slots too. */
void vg_clip_ring_free(vg_clip_ring *r);

/* One MSE fragment (kind MEDIA; borrowed: the ring takes its own
 * reference). Out of memory, the ring empties and waits for a keyframe. */
void vg_clip_ring_push(vg_clip_ring *r, vg_frame *f);

static inline size_t vg_clip_ring_count(const vg_clip_ring *r) {
    return r->count;
}
/* The i-th frame from the oldest (borrowed); i < count. */
vg_frame *vg_clip_ring_at(const vg_clip_ring *r, size_t i);
/* Where a clip from `from_us` starts: the index of the last video keyframe
 * at or before it, or 0 (the oldest frame, a keyframe) when the ring does
 * not reach back that far. Only meaningful when count > 0. */
size_t vg_clip_ring_start(const vg_clip_ring *r, int64_t from_us);

#endif

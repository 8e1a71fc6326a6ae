/* viewer_queue.h -- one viewer's bounded queue of frames, and its slow-viewer
 * policy.
 *
 * Each subscription owns one queue of frame references (no copies). When the
 * queue is full, or its oldest frame has waited longer than max_age_us, the
 * viewer skips: everything queued is dropped (but an unsent init segment,
 * which the viewer cannot do without), then frames are dropped until the next
 * keyframe, which is delivered marked VG_FRAME_AFTER_SKIP. For live video a
 * late frame is worth less than a skipped one: under overload (a service
 * thread that cannot write every frame to every viewer in time) the age bound
 * keeps what a viewer gets fresh instead of seconds behind. A viewer that
 * skips max_skips times within window_us while its own connection is full
 * (the writer said so: vg_viewer_queue_note_blocked()) is reported TOO_SLOW
 * and the caller closes it; skips while the writer simply did not get to it
 * in time (the server fell behind, e.g. a storm of TLS handshakes) are only
 * skips. No other viewer is ever affected: pushing never waits.
 *
 * Thread: owned by the lws service thread; no lock. */
#ifndef VIGIL_MEDIA_VIEWER_QUEUE_H
#define VIGIL_MEDIA_VIEWER_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "media/frame.h"

/* One queued frame and when it was queued (the caller's clock). */
typedef struct vg_queued {
    vg_frame *frame;
    int64_t at_us;
} vg_queued;

typedef struct vg_viewer_queue {
    vg_queued *ring;
    uint32_t cap;   /* most frames queued: the policy's limit */
    uint32_t slots; /* ring slots allocated: grown on demand up to cap, shrunk when empty */
    uint32_t head, count;
    bool skipping; /* overflowed: dropping until the next keyframe */
    bool need_key; /* fresh start: the first media frame must be a keyframe */
    bool blocked;  /* the connection refused bytes since the queue last drained:
                      the viewer is behind, not the server */
    uint32_t max_skips;
    int64_t window_us;
    int64_t max_age_us; /* longest a media frame may wait; 0: no age bound. Set after init. */
    int64_t window_start_us;
    uint32_t skips_in_window;
    /* counters for stats */
    uint64_t frames_dropped; /* frames this viewer did not get */
    uint64_t skips;          /* overflow events, full or late */
    uint64_t late_skips;     /* of those, the ones for a frame waiting too long */
} vg_viewer_queue;

typedef enum vg_push_result {
    VG_PUSH_QUEUED,   /* the frame (or its resync variant) was queued */
    VG_PUSH_DROPPED,  /* dropped: waiting for a keyframe */
    VG_PUSH_SKIPPED,  /* the queue overflowed; the viewer now skips to a keyframe */
    VG_PUSH_SKIPPED_LATE, /* a queued frame waited past max_age_us; skips likewise */
    VG_PUSH_TOO_SLOW, /* it overflowed too often: close this viewer */
} vg_push_result;

/* 0 on success, -1 on OOM. cap >= 2. The ring starts with room for a new
 * viewer's first GOP, grows up to cap when a burst needs it, and goes back to
 * a few slots once it has drained: most viewers keep a frame or two queued. */
int vg_viewer_queue_init(vg_viewer_queue *q, uint32_t cap, uint32_t max_skips, int64_t window_us);
/* Drops every queued reference and frees the ring. */
void vg_viewer_queue_free(vg_viewer_queue *q);

/* True when pushing this frame at now_us would deliver its "after skip"
 * variant: the caller must then pass one as `resync` to
 * vg_viewer_queue_push(). */
bool vg_viewer_queue_needs_resync(const vg_viewer_queue *q, const vg_frame *f, int64_t now_us);

/* Offers a frame at now_us (any clock, the same for every call). The queue
 * takes its own reference to whatever it keeps (f or resync); the caller
 * keeps its references. */
vg_push_result vg_viewer_queue_push(vg_viewer_queue *q, vg_frame *f, vg_frame *resync,
                                    int64_t now_us);

/* Takes the oldest frame out; the caller now owns that reference. NULL if
 * empty. Emptying the queue clears `blocked`: the viewer caught up. */
vg_frame *vg_viewer_queue_pop(vg_viewer_queue *q);

/* The writer found the viewer's connection full (it took part of a frame or
 * nothing): skips from now until the queue drains count towards TOO_SLOW. */
static inline void vg_viewer_queue_note_blocked(vg_viewer_queue *q) {
    q->blocked = true;
}

/* The i-th oldest frame (0: the one pop would take), still the queue's: lets
 * a writer send several before it knows how many the socket takes. NULL past
 * the end. */
vg_frame *vg_viewer_queue_peek(const vg_viewer_queue *q, uint32_t i);

static inline bool vg_viewer_queue_empty(const vg_viewer_queue *q) {
    return q->count == 0;
}

#endif

/* handoff.h -- work that other threads hand to the lws service thread.
 *
 * GStreamer streaming threads (media/inbox.h) and device plugins' I/O threads
 * (control/handover.c) never touch sessions, streams or lws. They post items
 * here and the service thread is woken; it takes the whole list at once and
 * applies it. Posting never blocks beyond a short mutex hold.
 *
 * Bounded: past max_len queued items, an item the producer marks droppable
 * (a media frame, a telemetry reading) is refused and counted, and the
 * producer frees it; other items (state, errors, command outcomes) always
 * get through, since losing one would leave the taker wrong.
 *
 * One wake-up per batch: the first post after a take wakes the taker; later
 * posts find `woken` set and know a wake-up is on its way. Every wake-up must
 * end in vg_handoff_take_all(), which clears it.
 *
 * Items are linked through a vg_handoff_node that is their first member, so
 * a list taken out is a list of the caller's own items.
 *
 * Thread: any thread posts; one thread (the lws service thread) takes.
 * `lock` guards head, tail, len, dropped and woken. max_len, wake and
 * wake_ctx are set by vg_handoff_init() before any producer starts and are
 * immutable after. */
#ifndef VIGIL_COMMON_HANDOFF_H
#define VIGIL_COMMON_HANDOFF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_handoff_node {
    struct vg_handoff_node *next;
} vg_handoff_node;

/* Wakes the taker. Called from any thread, outside the lock. */
typedef void (*vg_wake_fn)(void *ctx);

typedef struct vg_handoff {
    pthread_mutex_t lock;
    vg_handoff_node *head, *tail;
    size_t len;
    uint64_t dropped;
    bool woken; /* a wake-up is on its way: set by a waking post, cleared by the take */
    size_t max_len;
    vg_wake_fn wake; /* may be NULL: the taker polls */
    void *wake_ctx;
} vg_handoff;

typedef enum vg_handoff_result {
    VG_HANDOFF_QUEUED,  /* the item is queued; the taker owns it now */
    VG_HANDOFF_DROPPED, /* full and the item droppable: counted, the caller frees it */
} vg_handoff_result;

/* 0, or -1 if the mutex cannot be made. */
int vg_handoff_init(vg_handoff *h, size_t max_len, vg_wake_fn wake, void *wake_ctx);
/* No producer may be running, and the caller has taken (and freed) what was
 * queued. */
void vg_handoff_destroy(vg_handoff *h);

/* Queues `node`. `wake`: false for an item that a waking post follows within
 * moments (saves the taker a wake-up; should that post not come, the taker's
 * next take, at the latest its periodic one, gets it). Any thread. */
vg_handoff_result vg_handoff_post(vg_handoff *h, vg_handoff_node *node, bool droppable, bool wake);

/* Wakes the taker without posting: "poll soon". Any thread. */
void vg_handoff_wake(vg_handoff *h);

/* Takes every queued item, oldest first (NULL when none). The taker. */
vg_handoff_node *vg_handoff_take_all(vg_handoff *h);

/* Items dropped so far. Any thread. */
uint64_t vg_handoff_dropped(vg_handoff *h);

#endif

/* outbox.h -- what the service thread publishes to NATS, published by a
 * thread of its own.
 *
 * A libnats publish copies into the connection's buffer and may write to the
 * socket when that buffer is full, which can wait on a slow NATS server; the
 * service thread must never wait, so it queues here and the publishing thread
 * does the rest. Frames are queued by reference (no copy until libnats
 * copies them into its message). Bounded: past max_len, frames are refused
 * and counted (an edge then waits for the next keyframe), control messages
 * always get through.
 *
 * Thread: the service thread posts, the publishing thread takes. The queue
 * is a vg_handoff (its own lock); `lock` guards `pending` and `stop`, with
 * `cond` signalled on each. */
#ifndef VIGIL_CLUSTER_OUTBOX_H
#define VIGIL_CLUSTER_OUTBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/handoff.h"
#include "media/frame.h"

struct vg_cluster;

#define VG_OUTBOX_MAX_HEADERS 8

typedef struct vg_outbox_item {
    vg_handoff_node node; /* first */
    char *subject;
    char *reply; /* or NULL */
    char *hdr_name[VG_OUTBOX_MAX_HEADERS], *hdr_value[VG_OUTBOX_MAX_HEADERS];
    int nhdr;
    vg_frame *frame; /* a reference: its payload is the body; or NULL */
    char *body;      /* malloc'd, when no frame */
    size_t body_len;
} vg_outbox_item;

typedef struct vg_outbox {
    struct vg_cluster *cluster;
    vg_handoff queue;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool pending, stop; /* lock */
} vg_outbox;

int vg_outbox_start(vg_outbox *o, struct vg_cluster *c, size_t max_len);
/* Publishes what is queued, joins, frees. */
void vg_outbox_stop(vg_outbox *o);

/* A new item (subject copied); NULL on OOM. */
vg_outbox_item *vg_outbox_item_new(const char *subject);
/* Adds a header (both copied); -1 when full or OOM. */
int vg_outbox_item_header(vg_outbox_item *it, const char *name, const char *value);
void vg_outbox_item_free(vg_outbox_item *it);
/* Queues it (taken, even when refused). False when refused (full, droppable). */
bool vg_outbox_post(vg_outbox *o, vg_outbox_item *it, bool droppable);

#endif

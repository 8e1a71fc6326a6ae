/* cluster_internal.h -- what cluster.c, lease.c and outbox.c share (not for
 * the server: it uses cluster/cluster.h only). */
#ifndef VIGIL_CLUSTER_INTERNAL_H
#define VIGIL_CLUSTER_INTERNAL_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cluster/cluster.h"
#include "cluster/lease.h"
#include "cluster/outbox.h"

/* A subscription to one stream's media subject. Service thread only. */
typedef struct vg_cluster_watch {
    char *stream;
    natsSubscription *sub;
    struct vg_cluster_watch *next;
} vg_cluster_watch;

struct vg_cluster {
    /* set by vg_cluster_new, immutable after */
    char node_id[VG_CLUSTER_NODE_MAX];
    char *prefix;        /* "vigil.<name>" */
    char *advertise_url; /* or NULL */
    natsOptions *opts;   /* what every connection attempt uses */
    /* Set once by the lease thread when a connection first succeeds
     * (vg_cluster_connect), then constant until vg_cluster_free; NULL
     * before. libnats connections are thread-safe. */
    _Atomic(natsConnection *) nc;
    natsSubscription *ctl_sub; /* made with nc, by the lease thread */

    vg_handoff reports; /* libnats and lease threads -> service thread (own lock) */
    vg_lease_thread leases; /* own lock */
    vg_outbox outbox;       /* service thread -> publishing thread (own lock) */
    vg_cluster_watch *watches; /* service thread */

    atomic_bool connected; /* written by libnats's callbacks */
    /* counters: any thread, atomically */
    atomic_uint_fast64_t frames_published, frames_publish_dropped, frames_received;
    atomic_uint_fast64_t messages_sent, messages_received, messages_dropped;
    atomic_uint_fast64_t lease_errors, disconnects;
};

/* One attempt to connect (lease thread, while nc is NULL): 0, or -1 with
 * libnats's reason in why. */
int vg_cluster_connect(vg_cluster *c, char *why, size_t whylen);

/* Posts a report (taking it); droppable ones are freed and counted when the
 * service thread is far behind. Any thread. */
void vg_cluster_post(vg_cluster *c, vg_cluster_report *r, bool droppable);

#endif

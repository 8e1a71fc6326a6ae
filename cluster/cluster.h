/* cluster.h -- vigil nodes on a NATS cluster: who ingests what, and the
 * frames and messages between nodes.
 *
 * Every node may be configured with the same streams and devices. One node
 * ingests each stream (and controls each device): the one holding its lease,
 * a key in a JetStream key-value bucket that expires unless renewed
 * (cluster/lease.h). The holder publishes every frame once to the stream's
 * media subject; a node with viewers of a stream it does not ingest
 * subscribes to that subject and asks the holder for the setup frames and
 * the current GOP. Control traffic (GOP requests and replies, commands for a
 * device held elsewhere, device events, node heartbeats) goes over one
 * subject per cluster that every node subscribes to, so a node receives it in
 * the order it was sent.
 *
 *   vigil.<name>.media.<stream>   frames of <stream>, from its holder
 *   vigil.<name>.ctl.<node>       control messages for <node> ("all": every node)
 *   KV bucket vigil_<name>        stream.<id>, device.<id> -> the lease
 *
 * Everything that arrives (lease changes, frames, control messages, the
 * connection going up or down) is handed to the lws service thread as a
 * vg_cluster_report (vg_cluster_take); what the service thread sends goes
 * through a bounded queue to a publishing thread (cluster/outbox.h), so no
 * NATS call that can wait runs on the service thread or a GStreamer thread.
 *
 * Threads: vg_cluster_new/free and every vg_cluster_* call below on the lws
 * service thread, unless said otherwise. libnats runs its own threads for the
 * connection and message delivery; the lease thread (cluster/lease.c) and the
 * publishing thread (cluster/outbox.c) are ours. They reach the service
 * thread only through `reports` and the wake function. */
#ifndef VIGIL_CLUSTER_CLUSTER_H
#define VIGIL_CLUSTER_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/handoff.h"
#include "media/frame.h"

#define VG_CLUSTER_NODE_MAX 33 /* node ids: [A-Za-z0-9_-], up to 32, with NUL */

/* The "cluster" config section (server/config_cluster.c). Strings owned by
 * the config. */
typedef struct vg_cluster_config {
    char *node_id;
    char **nats; /* server URLs */
    size_t nnats;
    char *name; /* "main" */
    char *user, *password, *token;
    char *ca_file, *cert_file, *key_file;
    char *advertise_url; /* NULL: none shown */
    int lease_ms;        /* expiry; renewed every lease_ms / 3 */
    int replicas;        /* of the KV bucket */
    int linger_ms;       /* a remote stream's frames keep coming this long after its last viewer here */
} vg_cluster_config;

typedef struct vg_cluster vg_cluster;

/* What a lease looks like to one node. */
typedef enum vg_lease_want {
    VG_LEASE_FOLLOW, /* never claim; let go if held (publish:// without a publisher here) */
    VG_LEASE_CLAIM,  /* claim when free, keep while held */
    VG_LEASE_TAKE,   /* claim even when another node holds it (a publisher is here) */
} vg_lease_want;

typedef enum vg_cluster_report_type {
    VG_CLUSTER_LINK,  /* connected: true/false; text: the server's URL or why not */
    VG_CLUSTER_LEASE, /* key, node (NULL: nobody holds it), epoch, mine, info */
    VG_CLUSTER_MEDIA, /* msg: a frame from another node, on a media subject */
    VG_CLUSTER_CTL,   /* msg: a control message for this node or all */
} vg_cluster_report_type;

typedef struct vg_cluster_report {
    vg_handoff_node node; /* first: the hand-off links reports through it */
    vg_cluster_report_type type;
    bool connected;
    char *text;
    /* VG_CLUSTER_LEASE */
    char *key;       /* "stream.door", "device.light" */
    char *holder;    /* node id, or NULL */
    uint64_t epoch;  /* the holder's epoch (rises with each new holder) */
    bool mine;       /* this node holds it */
    json_t *info;    /* what the holder says of it (state, codecs ...), or NULL */
    /* VG_CLUSTER_MEDIA, VG_CLUSTER_CTL */
    struct __natsMsg *msg; /* natsMsg, owned */
} vg_cluster_report;

/* Connects (in the background: a node whose NATS servers are down starts
 * anyway and keeps trying). `wake` is called from other threads when reports
 * wait. NULL with a message in err when the options are unusable (a bad
 * URL, an unreadable certificate). */
vg_cluster *vg_cluster_new(const vg_cluster_config *cfg, vg_wake_fn wake, void *wake_ctx,
                           char *err, size_t errlen);
/* Lets go of held leases (so another node takes over without waiting for
 * their expiry), stops the threads, closes the connection. Reports not taken
 * are freed. */
void vg_cluster_free(vg_cluster *c);

const char *vg_cluster_node_id(const vg_cluster *c);
bool vg_cluster_connected(const vg_cluster *c);

/* Every report waiting, oldest first; free each with vg_cluster_report_free. */
vg_cluster_report *vg_cluster_take(vg_cluster *c);
vg_cluster_report *vg_cluster_report_next(vg_cluster_report *r);
void vg_cluster_report_free(vg_cluster_report *r);

/* What this node wants of lease `key`; `info` (borrowed, may be NULL): what
 * the holder writes into the lease with each renewal while it holds it. The
 * lease thread acts on it at its next round (VG_LEASE_TAKE at once). */
void vg_cluster_lease_want(vg_cluster *c, const char *key, vg_lease_want want,
                           const json_t *info);
/* Reads every lease again now rather than at the next round (a frame of a
 * newer epoch came: the holder may have changed). */
void vg_cluster_lease_refresh(vg_cluster *c);
/* Forgets a key (a stream or device removed by a reload); released if held. */
void vg_cluster_lease_forget(vg_cluster *c, const char *key);

/* Publishes one frame of a stream this node ingests to its media subject
 * (or, with `to` set, to that node's control subject as part of a GOP
 * reply). `seq` 0: a setup frame outside the numbering. Takes its own
 * reference to f. False when the queue was full (counted). */
typedef struct vg_cluster_frame_meta {
    const char *stream;
    uint64_t epoch;
    int relay; /* vg_relay_slot */
    uint64_t seq;
    const char *to;   /* NULL: the media subject */
    const char *type; /* NULL: "frame"; "gop.frame" in a GOP reply */
    const char *req;  /* the request id a GOP reply answers, or NULL */
} vg_cluster_frame_meta;
bool vg_cluster_publish_frame(vg_cluster *c, const vg_cluster_frame_meta *m, vg_frame *f);

/* Sends a control message (JSON body, borrowed) of `type` to node `to`
 * ("all": every node). Headers: Vigil-Type, Vigil-Node (this node), and
 * `extra` name/value pairs (NULL-terminated, may be NULL). */
bool vg_cluster_send(vg_cluster *c, const char *to, const char *type, const json_t *body,
                     const char *const *extra);

/* The other nodes alive now (ids, copied): free streams spread over them
 * (cluster/lease.h). */
void vg_cluster_set_alive(vg_cluster *c, const char *const *nodes, size_t n);

/* Subscribes to or unsubscribes from a stream's media subject (idempotent). */
int vg_cluster_watch_stream(vg_cluster *c, const char *stream, bool on);

/* Counters for /metrics and /api/cluster. Any thread. */
typedef struct vg_cluster_counters {
    uint64_t frames_published, frames_publish_dropped, frames_received;
    uint64_t messages_sent, messages_received, messages_dropped;
    uint64_t reports_dropped; /* frames the service thread was too far behind for */
    uint64_t lease_errors;
    uint64_t disconnects;
} vg_cluster_counters;
void vg_cluster_counters_get(vg_cluster *c, vg_cluster_counters *out);
/* Counts a message the service thread found unusable. Any thread. */
void vg_cluster_count_dropped(vg_cluster *c);

#endif

/* lease.h -- the thread that claims, renews and reads leases in the
 * cluster's key-value bucket.
 *
 * A lease is a key ("stream.door") whose value names the node that holds it,
 * its epoch and what the holder says of it (JSON). The bucket's entries
 * expire lease_ms after their last write, so a holder that stops renewing
 * (a dead node) loses the lease and another node's create succeeds. The
 * epoch is the bucket revision at which a node first took the lease: it only
 * rises, and every frame carries it, so a frame from an old holder is told
 * apart from the new one's.
 *
 * Per round (every lease_ms / 3), for each key, what this node wants of it
 * (vg_lease_want) decides:
 *   - held: renew with an update at the last revision; a failed update means
 *     another node took it (or it expired: then re-created, same epoch);
 *   - CLAIM, not held: create (succeeds only if nobody holds it). So that
 *     streams spread over the nodes, a key nobody has held yet is claimed
 *     at once only by the node that ranks first for it among the nodes
 *     alive (the highest hash of node and key); the others wait one round,
 *     then claim it too if it is still free (that node may be gone). A key
 *     that had a holder (which died or left) is claimed by any node at once:
 *     there, time matters more than spread. A node claims nothing in its
 *     first CLAIM_AFTER_MS connected, while it learns who else is alive;
 *   - TAKE, not held: put (a publisher connected here: the lease moves);
 *   - FOLLOW, held: delete (let go).
 * Then the holder as the bucket says it is reported to the service thread
 * (a VG_CLUSTER_LEASE report) whenever it differs from the last report.
 *
 * All key-value calls block (each is a request to JetStream), so they run on
 * this thread only. While the connection is down, rounds do nothing.
 *
 * Thread: the lease thread runs rounds; the service thread adds keys and
 * changes wants. `lock` guards `keys` (the list and each key's want, info,
 * forget, kick) and `stop`; the fields marked "lease thread" are that
 * thread's alone. Keys are freed only by the lease thread (forget) or at
 * stop. */
#ifndef VIGIL_CLUSTER_LEASE_H
#define VIGIL_CLUSTER_LEASE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vg_cluster;
struct __kvStore;

typedef struct vg_lease_key {
    struct vg_lease_key *next;
    char *key;
    /* under the lock */
    int want;   /* vg_lease_want */
    char *info; /* JSON text the holder writes, or NULL */
    bool forget;
    /* lease thread */
    bool held;
    uint64_t rev;   /* of our last write, while held */
    uint64_t epoch; /* ours, while held */
    char *reported; /* what the last report said: "node|epoch|mine|info" */
    char last_holder[33]; /* the holder as last read, "" for none */
    bool deferred;  /* a never-held key left to its first-ranked node for a round */
} vg_lease_key;

typedef struct vg_lease_thread {
    struct vg_cluster *cluster;
    char *bucket;
    int lease_ms, replicas;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    vg_lease_key *keys; /* lock */
    bool kick, stop;    /* lock */
    char **alive;       /* lock: the other nodes heard from lately (ids, owned) */
    int64_t claims_from_ms; /* lease thread: no claims before (monotonic), 0: not connected yet */
    size_t nalive;      /* lock */
    struct __kvStore *kv; /* lease thread: the bucket, once opened */
    void *js;             /* lease thread: jsCtx */
} vg_lease_thread;

int vg_lease_thread_start(vg_lease_thread *t, struct vg_cluster *c, const char *bucket,
                          int lease_ms, int replicas);
/* Releases held leases (if connected), joins, frees. */
void vg_lease_thread_stop(vg_lease_thread *t);

/* Service thread. */
void vg_lease_set(vg_lease_thread *t, const char *key, int want, const json_t *info);
void vg_lease_forget(vg_lease_thread *t, const char *key);
/* A round now (the leases read again). */
void vg_lease_refresh(vg_lease_thread *t);
/* The other nodes alive now (copied), for the ranking of free keys. */
void vg_lease_set_alive(vg_lease_thread *t, const char *const *nodes, size_t n);

#endif

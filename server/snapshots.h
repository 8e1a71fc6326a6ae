/* snapshots.h -- the JPEG snapshots that GET /api/streams/{id}/snapshot.jpg
 * answers with (server/http_snapshot.c): made at most once per keyframe,
 * kept, and shared by every request that asks while one is being made.
 *
 * An entry is one picture of one stream at one width: the stream's label
 * ("door", or "door/sub" for a variant), the width asked for (0: the
 * picture's own), the keyframe it is of (a reference: while the entry
 * holds it, no other frame can have its address, so the pointer alone says
 * whether the stream's newest keyframe is still this one), and its state:
 * being made (with the requests waiting for it), made (the JPEG) or failed
 * (why). A request finds the entry of its label and width:
 *   - made or failed, of the stream's newest keyframe: that is the answer,
 *     at once;
 *   - being made: the request waits for it, even if a newer keyframe came
 *     meanwhile (it is at most a GOP older than asked for);
 *   - otherwise a job goes to the worker (media/snapshot_worker.h) and the
 *     request waits for it.
 * Bounded: VG_SNAPSHOT_ENTRIES entries (the least recently used made or
 * failed one gives way), VG_SNAPSHOT_JOBS jobs in flight and
 * VG_SNAPSHOT_WAITERS waiting requests; past those a request is refused as
 * busy.
 *
 * Thread: lws service thread only, no lock; the worker's queue and hand-off
 * have their own. */
#ifndef VIGIL_SERVER_SNAPSHOTS_H
#define VIGIL_SERVER_SNAPSHOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "media/frame.h"
#include "media/snapshot.h"
#include "media/snapshot_worker.h"

#define VG_SNAPSHOT_ENTRIES 64
/* Queued or being made: one worker makes one at a time, each in well
 * under a second, so a request never waits behind more than a few. */
#define VG_SNAPSHOT_JOBS    4
#define VG_SNAPSHOT_WAITERS 256

typedef enum vg_snapshot_state {
    VG_SNAPSHOT_EMPTY = 0,
    VG_SNAPSHOT_MAKING,
    VG_SNAPSHOT_MADE,
    VG_SNAPSHOT_FAILED,
} vg_snapshot_state;

struct vg_snapshot_entry;
struct vg_snapshots;

/* One request waiting for an entry being made; its owner (an HTTP
 * transaction) embeds it and must cancel it before it goes. */
typedef struct vg_snapshot_wait {
    struct vg_snapshot_entry *entry; /* waited for; NULL: not waiting */
    struct vg_snapshot_wait *prev, *next;
    bool joined; /* it found the entry being made: answered from it, not made for it */
    void *user;  /* the owner's (the request's lws connection) */
} vg_snapshot_wait;

typedef struct vg_snapshot_entry {
    struct vg_snapshots *owner;
    char *label;   /* malloc'd; NULL: a free entry */
    int width;     /* asked for; 0: the picture's own */
    vg_frame *key; /* the keyframe it is of (a reference) */
    vg_snapshot_state state;
    vg_jpeg jpeg;          /* MADE */
    char error[160];       /* FAILED: why */
    int64_t frame_time_us; /* the keyframe's time (wall clock, media/frame.h) */
    uint64_t used;         /* when last asked for, in asks: the least recent gives way */
    vg_snapshot_wait *waiters;
} vg_snapshot_entry;

typedef struct vg_snapshots {
    vg_snapshot_worker worker;
    vg_snapshot_entry entries[VG_SNAPSHOT_ENTRIES];
    uint32_t waiting; /* requests waiting, over every entry */
    uint64_t asks;
    /* for /metrics: JPEGs made, requests answered with a JPEG not made for
     * them (kept, or joined while being made), makes that failed, requests
     * refused as busy; and the time the makes took */
    uint64_t made, cached, failed, busy;
    int64_t make_us_total;
} vg_snapshots;

/* Starts the worker; finished snapshots wake `wake(ctx)`. -1 on failure. */
int vg_snapshots_start(vg_snapshots *c, vg_wake_fn wake, void *ctx);
/* Stops the worker (media/snapshot_worker.h): no job is made after it. */
void vg_snapshots_stop(vg_snapshots *c);
/* Frees the entries; no request may be waiting any more. */
void vg_snapshots_free(vg_snapshots *c);

typedef enum vg_snapshot_ask {
    VG_SNAPSHOT_GOT,     /* *out is made or failed: answer with it now */
    VG_SNAPSHOT_WAITING, /* `w` waits; vg_snapshots_take_done() answers it */
    VG_SNAPSHOT_BUSY,    /* refused: too much in flight already (counted) */
} vg_snapshot_ask;

/* The snapshot of `label` at `width` of keyframe `key` (with its decoder
 * configuration `config`; both borrowed, referenced when a job needs them). */
vg_snapshot_ask vg_snapshots_ask(vg_snapshots *c, const char *label, int width, vg_frame *config,
                                 vg_frame *key, vg_snapshot_wait *w, const vg_snapshot_entry **out);

/* Takes the worker's finished jobs into their entries, and hands every
 * request that waited for one to `answer` with it, no longer waiting.
 * `answer` may cancel other waits (a connection closing). */
typedef void (*vg_snapshot_answer_fn)(vg_snapshot_wait *w, const vg_snapshot_entry *e, void *ctx);
void vg_snapshots_take_done(vg_snapshots *c, vg_snapshot_answer_fn answer, void *ctx);

/* The request no longer waits (its connection closed). A no-op when it
 * does not wait. The snapshot is still made, and kept. */
void vg_snapshot_wait_cancel(vg_snapshot_wait *w);

#endif

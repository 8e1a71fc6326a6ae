/* snapshot_worker.h -- the thread that makes snapshots (media/snapshot.h),
 * one at a time.
 *
 * Decoding a keyframe takes tens of milliseconds of CPU (more for a 4K
 * H.265 one): on the lws service thread it would stall every viewer, and
 * on a GStreamer streaming thread it would stall that stream. So the
 * service thread posts a job (references to the frames, which are
 * immutable) and carries on; this thread makes the JPEG and hands the job
 * back through a hand-off (common/handoff.h) that wakes the service thread,
 * which answers the requests waiting for it. One thread: snapshots take at
 * most one core of the machine, whatever the number of requests; the
 * caller bounds how many jobs it has in flight (vg_snapshot_worker_in_flight).
 *
 * Thread: vg_snapshot_worker_post(), _take_done() and _in_flight() on the
 * lws service thread only (the one poster and taker); the worker thread
 * pops jobs. The job queue (GAsyncQueue) and the hand-off have their own
 * locks; `stopping` is atomic. A job belongs to the service thread until
 * posted, to the worker until handed back, then to the service thread. */
#ifndef VIGIL_MEDIA_SNAPSHOT_WORKER_H
#define VIGIL_MEDIA_SNAPSHOT_WORKER_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/handoff.h"
#include "media/frame.h"
#include "media/snapshot.h"

typedef struct vg_snapshot_job {
    union { /* first: the hand-off links jobs through it */
        vg_handoff_node node;
        struct vg_snapshot_job *next; /* the next job of a taken list */
    };
    /* set by the poster */
    vg_frame *config, *key; /* references: dropped by vg_snapshot_job_free() */
    int width;              /* 0: the picture's own */
    void *owner;            /* the poster's: what the result is for (the worker never reads it) */
    /* set by the worker */
    vg_jpeg jpeg;    /* on success */
    char error[160]; /* "" on success */
    int64_t took_us; /* decode and encode, wall time */
} vg_snapshot_job;

typedef struct vg_snapshot_worker {
    GThread *thread;
    GAsyncQueue *queue;   /* of vg_snapshot_job, then the worker itself: stop */
    vg_handoff done;      /* finished jobs, to the service thread */
    atomic_bool stopping; /* jobs still queued fail at once */
    uint32_t in_flight;   /* posted and not taken back: service thread only */
} vg_snapshot_worker;

/* A job for `key` of `config` (references taken) at `width`, for `owner`.
 * NULL on OOM. */
vg_snapshot_job *vg_snapshot_job_new(vg_frame *config, vg_frame *key, int width, void *owner);
void vg_snapshot_job_free(vg_snapshot_job *job);

/* Starts the thread; finished jobs wake `wake(wake_ctx)`. -1 on failure. */
int vg_snapshot_worker_start(vg_snapshot_worker *w, vg_wake_fn wake, void *wake_ctx);
/* Queues a job; the worker owns it until it comes back from _take_done(). */
void vg_snapshot_worker_post(vg_snapshot_worker *w, vg_snapshot_job *job);
/* Every finished job, oldest first, linked through `next` (NULL: none). */
vg_snapshot_job *vg_snapshot_worker_take_done(vg_snapshot_worker *w);
static inline uint32_t vg_snapshot_worker_in_flight(const vg_snapshot_worker *w) {
    return w->in_flight;
}
/* Fails what is still queued, waits for the job being made (at most
 * VG_SNAPSHOT_TIMEOUT_US), joins the thread and frees every job not taken
 * back. A no-op when not started. */
void vg_snapshot_worker_stop(vg_snapshot_worker *w);

#endif

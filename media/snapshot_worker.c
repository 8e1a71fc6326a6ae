/* snapshot_worker.c -- snapshots made off the service thread (see
 * snapshot_worker.h). */
#include "media/snapshot_worker.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

vg_snapshot_job *vg_snapshot_job_new(vg_frame *config, vg_frame *key, int width, void *owner) {
    vg_snapshot_job *job = calloc(1, sizeof(*job));
    if (!job) return NULL;
    job->config = vg_frame_ref(config);
    job->key = vg_frame_ref(key);
    job->width = width;
    job->owner = owner;
    return job;
}

void vg_snapshot_job_free(vg_snapshot_job *job) {
    if (!job) return;
    vg_frame_unref(job->config);
    vg_frame_unref(job->key);
    vg_jpeg_clear(&job->jpeg);
    free(job);
}

static void run(vg_snapshot_worker *w, vg_snapshot_job *job) {
    if (atomic_load(&w->stopping)) {
        snprintf(job->error, sizeof(job->error), "the server is stopping");
        return;
    }
    gint64 start = g_get_monotonic_time();
    if (vg_snapshot_make(job->config, job->key, job->width, &job->jpeg, job->error,
                         sizeof(job->error)) == 0)
        job->error[0] = 0;
    else if (!job->error[0])
        snprintf(job->error, sizeof(job->error), "the snapshot could not be made");
    job->took_us = g_get_monotonic_time() - start;
}

static gpointer worker_main(gpointer data) {
    vg_snapshot_worker *w = data;
    for (;;) {
        gpointer item = g_async_queue_pop(w->queue);
        if (item == w) break; /* the stop sentinel: every job before it is done */
        vg_snapshot_job *job = item;
        run(w, job);
        /* Never dropped: a waiting request must always get its answer. */
        vg_handoff_post(&w->done, &job->node, false, true);
    }
    return NULL;
}

int vg_snapshot_worker_start(vg_snapshot_worker *w, vg_wake_fn wake, void *wake_ctx) {
    memset(w, 0, sizeof(*w));
    atomic_init(&w->stopping, false);
    /* The bound is the poster's (in_flight): nothing here is ever dropped. */
    if (vg_handoff_init(&w->done, SIZE_MAX, wake, wake_ctx)) return -1;
    w->queue = g_async_queue_new();
    w->thread = g_thread_try_new("vigil-snapshot", worker_main, w, NULL);
    if (!w->thread) {
        g_async_queue_unref(w->queue);
        w->queue = NULL;
        vg_handoff_destroy(&w->done);
        return -1;
    }
    return 0;
}

void vg_snapshot_worker_post(vg_snapshot_worker *w, vg_snapshot_job *job) {
    w->in_flight++;
    g_async_queue_push(w->queue, job);
}

vg_snapshot_job *vg_snapshot_worker_take_done(vg_snapshot_worker *w) {
    vg_snapshot_job *list = (vg_snapshot_job *)vg_handoff_take_all(&w->done);
    for (vg_snapshot_job *j = list; j; j = j->next)
        w->in_flight--;
    return list;
}

void vg_snapshot_worker_stop(vg_snapshot_worker *w) {
    if (!w->thread) return;
    atomic_store(&w->stopping, true);
    g_async_queue_push(w->queue, w);
    g_thread_join(w->thread);
    w->thread = NULL;
    g_async_queue_unref(w->queue);
    w->queue = NULL;
    for (vg_snapshot_job *j = vg_snapshot_worker_take_done(w), *next; j; j = next) {
        next = j->next;
        vg_snapshot_job_free(j);
    }
    vg_handoff_destroy(&w->done);
}

/* reaper.h -- stops and frees pipelines on a thread of its own.
 *
 * Setting a pipeline to NULL waits for its streaming threads to finish, and
 * rtspsrc may first send a TEARDOWN to a camera that is no longer answering.
 * Doing that on the lws service thread would stall every viewer of every
 * stream while one camera restarts, so streams hand their old pipeline here
 * and carry on at once. Events the old pipeline still posts carry its
 * generation and are ignored.
 *
 * Thread: vg_reaper_push() from the lws service thread; the reaper thread
 * pops. The queue (GAsyncQueue) has its own lock. */
#ifndef VIGIL_MEDIA_REAPER_H
#define VIGIL_MEDIA_REAPER_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/pipeline.h"

typedef struct vg_reaper {
    GThread *thread;
    GAsyncQueue *queue;
    uint64_t pushed;         /* pipelines handed over so far: lws thread only */
    _Atomic uint64_t freed;  /* of them, freed: written by the reaper thread */
} vg_reaper;

int vg_reaper_start(vg_reaper *r);
/* Takes responsibility over p: it is stopped and freed soon, elsewhere. */
void vg_reaper_push(vg_reaper *r, vg_pipeline *p);
/* A mark after everything pushed so far (lws thread). Once
 * vg_reaper_passed(r, mark) is true, none of those pipelines exists any
 * more, so whatever they posted is already in the inbox: a stream that is
 * being removed may be freed after the next drain of the inbox. */
uint64_t vg_reaper_mark(const vg_reaper *r);
bool vg_reaper_passed(vg_reaper *r, uint64_t mark);
/* Frees everything pushed so far and joins the thread. After it returns, no
 * pipeline handed over can post anything any more. */
void vg_reaper_stop(vg_reaper *r);

#endif

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

#include "media/pipeline.h"

typedef struct vg_reaper {
    GThread *thread;
    GAsyncQueue *queue;
} vg_reaper;

int vg_reaper_start(vg_reaper *r);
/* Takes responsibility over p: it is stopped and freed soon, elsewhere. */
void vg_reaper_push(vg_reaper *r, vg_pipeline *p);
/* Frees everything pushed so far and joins the thread. After it returns, no
 * pipeline handed over can post anything any more. */
void vg_reaper_stop(vg_reaper *r);

#endif

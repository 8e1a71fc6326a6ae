/* reaper.c -- pipeline teardown off the service thread (see reaper.h). */
#include "media/reaper.h"

static gpointer reaper_main(gpointer data) {
    vg_reaper *r = data;
    for (;;) {
        gpointer item = g_async_queue_pop(r->queue);
        if (item == r) break; /* the stop sentinel: everything before it is done */
        vg_pipeline_free(item);
    }
    return NULL;
}

int vg_reaper_start(vg_reaper *r) {
    r->queue = g_async_queue_new();
    r->thread = g_thread_try_new("vigil-reaper", reaper_main, r, NULL);
    if (!r->thread) {
        g_async_queue_unref(r->queue);
        r->queue = NULL;
        return -1;
    }
    return 0;
}

void vg_reaper_push(vg_reaper *r, vg_pipeline *p) {
    if (p) g_async_queue_push(r->queue, p);
}

void vg_reaper_stop(vg_reaper *r) {
    if (!r->thread) return;
    g_async_queue_push(r->queue, r);
    g_thread_join(r->thread);
    g_async_queue_unref(r->queue);
    r->thread = NULL;
    r->queue = NULL;
}

/* reaper.c -- pipeline teardown off the service thread (see reaper.h). */
#include "media/reaper.h"

static gpointer reaper_main(gpointer data) {
    vg_reaper *r = data;
    for (;;) {
        gpointer item = g_async_queue_pop(r->queue);
        if (item == r) break; /* the stop sentinel: everything before it is done */
        vg_pipeline_free(item);
        /* seq_cst: what the pipeline posted is in the inbox before this count */
        atomic_fetch_add(&r->freed, 1);
    }
    return NULL;
}

int vg_reaper_start(vg_reaper *r) {
    r->pushed = 0;
    atomic_init(&r->freed, 0);
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
    if (!p) return;
    r->pushed++;
    g_async_queue_push(r->queue, p);
}

uint64_t vg_reaper_mark(const vg_reaper *r) {
    return r->pushed;
}

bool vg_reaper_passed(vg_reaper *r, uint64_t mark) {
    return atomic_load(&r->freed) >= mark;
}

void vg_reaper_stop(vg_reaper *r) {
    if (!r->thread) return;
    g_async_queue_push(r->queue, r);
    g_thread_join(r->thread);
    g_async_queue_unref(r->queue);
    r->thread = NULL;
    r->queue = NULL;
}

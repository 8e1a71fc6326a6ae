/* record_writer.c -- the recording thread and its queue (see record_writer.h). */
#include "media/record_writer.h"

#include <stdlib.h>

#include "common/log.h"

static void run(vg_record_item *it) {
    switch (it->op) {
    case VG_RECORD_OPEN: vg_record_sink_open(it->sink, it->frame, it->start_us); break;
    case VG_RECORD_FRAME: vg_record_sink_write(it->sink, it->frame); break;
    case VG_RECORD_CLOSE: vg_record_sink_close(it->sink); break;
    case VG_RECORD_RELEASE: vg_record_sink_free(it->sink); break;
    }
}

static size_t weight(const vg_frame *f) {
    return f ? f->payload_len : 0;
}

static void *writer_main(void *arg) {
    vg_record_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        vg_record_item *it = w->head;
        if (!it) break; /* stopping, and everything written */
        w->head = it->next;
        if (!w->head) w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        /* The disk is touched with the lock released: posting never waits for it. */
        run(it);
        pthread_mutex_lock(&w->lock);
        w->bytes -= weight(it->frame); /* counted until written: the queue bounds memory */
        pthread_mutex_unlock(&w->lock);
        vg_frame_unref(it->frame);
        free(it);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int vg_record_writer_start(vg_record_writer *w, size_t max_bytes) {
    *w = (vg_record_writer){.max_bytes = max_bytes};
    if (pthread_mutex_init(&w->lock, NULL)) return -1;
    if (pthread_cond_init(&w->wake, NULL)) {
        pthread_mutex_destroy(&w->lock);
        return -1;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w)) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        return -1;
    }
    pthread_setname_np(w->thread, "vg-record");
    w->started = true;
    return 0;
}

void vg_record_writer_stop(vg_record_writer *w) {
    if (!w->started) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    w->started = false;
}

int vg_record_writer_post(vg_record_writer *w, vg_record_op op, vg_record_sink *sink,
                          vg_frame *frame, int64_t start_us) {
    bool droppable = op == VG_RECORD_OPEN || op == VG_RECORD_FRAME;
    vg_record_item *it = malloc(sizeof(*it));
    if (!it) {
        if (droppable) return -1;
        /* The writer may be writing to this sink right now: closing it here
         * would race. A CLOSE can wait for the next OPEN; a sink that
         * cannot be released is left, with its file, rather than freed
         * under the writer's feet. */
        vg_log(VG_LOG_ERROR, "recording %s: out of memory, %s", sink->name,
               op == VG_RECORD_CLOSE ? "the segment stays open" : "its writer state is leaked");
        return 0;
    }
    *it = (vg_record_item){.op = op, .sink = sink, .start_us = start_us};
    pthread_mutex_lock(&w->lock);
    if (droppable && w->bytes + weight(frame) > w->max_bytes) {
        w->dropped++;
        pthread_mutex_unlock(&w->lock);
        free(it);
        return -1;
    }
    it->frame = frame ? vg_frame_ref(frame) : NULL;
    w->bytes += weight(frame);
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

size_t vg_record_writer_queued(vg_record_writer *w) {
    pthread_mutex_lock(&w->lock);
    size_t n = w->bytes;
    pthread_mutex_unlock(&w->lock);
    return n;
}

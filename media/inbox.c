/* inbox.c -- cross-thread hand-off to the lws service thread (see inbox.h). */
#include "media/inbox.h"

#include <stdbool.h>
#include <stdlib.h>

int vg_inbox_init(vg_inbox *in, size_t max_len, void (*wake)(void *), void *wake_ctx) {
    *in = (vg_inbox){0};
    in->max_len = max_len;
    in->wake = wake;
    in->wake_ctx = wake_ctx;
    return pthread_mutex_init(&in->lock, NULL) == 0 ? 0 : -1;
}

void vg_event_free(vg_event *ev) {
    if (!ev) return;
    vg_frame_unref(ev->frame);
    free(ev->text);
    free(ev);
}

void vg_inbox_destroy(vg_inbox *in) {
    vg_event *ev = vg_inbox_take_all(in);
    while (ev) {
        vg_event *next = ev->next;
        vg_event_free(ev);
        ev = next;
    }
    pthread_mutex_destroy(&in->lock);
}

static int post(vg_inbox *in, vg_event_type type, void *stream, uint64_t generation, uint64_t seq,
                vg_frame *frame, char *text, bool wake) {
    vg_event *ev = malloc(sizeof(*ev));
    if (!ev) {
        vg_frame_unref(frame);
        free(text);
        return -1;
    }
    *ev = (vg_event){.type = type,
                     .stream = stream,
                     .generation = generation,
                     .seq = seq,
                     .frame = frame,
                     .text = text};

    pthread_mutex_lock(&in->lock);
    /* Only media frames (fragments, access units) may be dropped; state
     * events always get through. */
    if (in->len >= in->max_len && type == VG_EVENT_FRAME && frame && vg_frame_is_media(frame)) {
        in->dropped++;
        pthread_mutex_unlock(&in->lock);
        vg_event_free(ev);
        return -1;
    }
    if (in->tail)
        in->tail->next = ev;
    else
        in->head = ev;
    in->tail = ev;
    in->len++;
    /* One wake-up per batch: the taker empties the list and clears `woken`,
     * so a post that finds it set knows a wake-up is already on its way. */
    bool wake_now = wake && !in->woken;
    if (wake_now) in->woken = true;
    pthread_mutex_unlock(&in->lock);

    if (wake_now && in->wake) in->wake(in->wake_ctx);
    return 0;
}

int vg_inbox_post(vg_inbox *in, vg_event_type type, void *stream, uint64_t generation,
                  vg_frame *frame, char *text) {
    return post(in, type, stream, generation, 0, frame, text, true);
}

int vg_inbox_post_frame(vg_inbox *in, void *stream, uint64_t generation, uint64_t seq,
                        vg_frame *frame) {
    return post(in, VG_EVENT_FRAME, stream, generation, seq, frame, NULL, true);
}

int vg_inbox_post_frame_quiet(vg_inbox *in, void *stream, uint64_t generation, uint64_t seq,
                              vg_frame *frame) {
    return post(in, VG_EVENT_FRAME, stream, generation, seq, frame, NULL, false);
}

vg_event *vg_inbox_take_all(vg_inbox *in) {
    pthread_mutex_lock(&in->lock);
    vg_event *list = in->head;
    in->head = in->tail = NULL;
    in->len = 0;
    in->woken = false;
    pthread_mutex_unlock(&in->lock);
    return list;
}

uint64_t vg_inbox_dropped(vg_inbox *in) {
    pthread_mutex_lock(&in->lock);
    uint64_t n = in->dropped;
    pthread_mutex_unlock(&in->lock);
    return n;
}

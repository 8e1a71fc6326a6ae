/* handoff.c -- the bounded hand-off to the service thread (see handoff.h). */
#include "common/handoff.h"

int vg_handoff_init(vg_handoff *h, size_t max_len, vg_wake_fn wake, void *wake_ctx) {
    *h = (vg_handoff){.max_len = max_len, .wake = wake, .wake_ctx = wake_ctx};
    return pthread_mutex_init(&h->lock, NULL) == 0 ? 0 : -1;
}

void vg_handoff_destroy(vg_handoff *h) {
    pthread_mutex_destroy(&h->lock);
}

vg_handoff_result vg_handoff_post(vg_handoff *h, vg_handoff_node *node, bool droppable,
                                  bool wake) {
    node->next = NULL;
    pthread_mutex_lock(&h->lock);
    if (droppable && h->len >= h->max_len) {
        h->dropped++;
        pthread_mutex_unlock(&h->lock);
        return VG_HANDOFF_DROPPED;
    }
    if (h->tail)
        h->tail->next = node;
    else
        h->head = node;
    h->tail = node;
    h->len++;
    bool wake_now = wake && !h->woken;
    if (wake_now) h->woken = true;
    pthread_mutex_unlock(&h->lock);

    if (wake_now && h->wake) h->wake(h->wake_ctx);
    return VG_HANDOFF_QUEUED;
}

void vg_handoff_wake(vg_handoff *h) {
    if (h->wake) h->wake(h->wake_ctx);
}

vg_handoff_node *vg_handoff_take_all(vg_handoff *h) {
    pthread_mutex_lock(&h->lock);
    vg_handoff_node *list = h->head;
    h->head = h->tail = NULL;
    h->len = 0;
    h->woken = false;
    pthread_mutex_unlock(&h->lock);
    return list;
}

uint64_t vg_handoff_dropped(vg_handoff *h) {
    pthread_mutex_lock(&h->lock);
    uint64_t n = h->dropped;
    pthread_mutex_unlock(&h->lock);
    return n;
}

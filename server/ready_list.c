/* ready_list.c -- the sessions to write to in this turn of the loop (see
 * ready_list.h). */
#include "server/ready_list.h"

#include <stddef.h>

#include "server/session.h"

void vg_ready_list_add(vg_ready_list *l, vg_session *s) {
    if (s->ready_queued) return;
    s->ready_queued = true;
    s->ready_next = l->head;
    l->head = s;
}

void vg_ready_list_remove(vg_ready_list *l, vg_session *s) {
    if (!s->ready_queued) return;
    for (vg_session **p = &l->head; *p; p = &(*p)->ready_next) {
        if (*p == s) {
            *p = s->ready_next;
            break;
        }
    }
    s->ready_queued = false;
    s->ready_next = NULL;
}

vg_session *vg_ready_list_pop(vg_ready_list *l) {
    vg_session *s = l->head;
    if (!s) return NULL;
    l->head = s->ready_next;
    s->ready_next = NULL;
    s->ready_queued = false;
    return s;
}

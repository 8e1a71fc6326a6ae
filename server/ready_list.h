/* ready_list.h -- the sessions to write to in this turn of the loop.
 *
 * When one of a session's viewer queues goes from empty to not empty, the
 * session is added here (once). Right after the event loop's wait returns,
 * server.c (write_ready) pops them one by one and has lws write each a frame
 * at once, so a frame to an idle viewer costs no epoll_ctl and no extra wait.
 *
 * Thread: lws service thread only; no lock. The list head is the server's;
 * each session's `ready_next` and `ready_queued` are this module's. */
#ifndef VIGIL_SERVER_READY_LIST_H
#define VIGIL_SERVER_READY_LIST_H

typedef struct vg_session vg_session;

typedef struct vg_ready_list {
    vg_session *head;
} vg_ready_list;

/* Adds s unless it is already there. */
void vg_ready_list_add(vg_ready_list *l, vg_session *s);
/* Takes s out (it is going away); a no-op when it is not there. */
void vg_ready_list_remove(vg_ready_list *l, vg_session *s);
/* Takes the most recently added session out; NULL when empty. */
vg_session *vg_ready_list_pop(vg_ready_list *l);

#endif

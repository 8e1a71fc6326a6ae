/* outbox.c -- the publishing thread (see outbox.h). */
#include "cluster/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_internal.h"

static void outbox_wake(void *ctx) {
    vg_outbox *o = ctx;
    pthread_mutex_lock(&o->lock);
    o->pending = true;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

vg_outbox_item *vg_outbox_item_new(const char *subject) {
    vg_outbox_item *it = calloc(1, sizeof(*it));
    if (!it) return NULL;
    it->subject = strdup(subject);
    if (!it->subject) {
        free(it);
        return NULL;
    }
    return it;
}

int vg_outbox_item_header(vg_outbox_item *it, const char *name, const char *value) {
    if (it->nhdr == VG_OUTBOX_MAX_HEADERS) return -1;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    it->hdr_name[it->nhdr] = n;
    it->hdr_value[it->nhdr++] = v;
    return 0;
}

void vg_outbox_item_free(vg_outbox_item *it) {
    if (!it) return;
    for (int i = 0; i < it->nhdr; i++) {
        free(it->hdr_name[i]);
        free(it->hdr_value[i]);
    }
    vg_frame_unref(it->frame);
    free(it->body);
    free(it->subject);
    free(it->reply);
    free(it);
}

/* One message out; libnats copies the body. Publishing thread. */
static void publish_one(vg_outbox *o, vg_outbox_item *it) {
    vg_cluster *c = o->cluster;
    const char *data = it->frame ? (const char *)vg_frame_payload(it->frame) : it->body;
    int len = (int)(it->frame ? it->frame->payload_len : it->body_len);
    natsMsg *m = NULL;
    natsStatus st = natsMsg_Create(&m, it->subject, it->reply, data, len);
    for (int i = 0; st == NATS_OK && i < it->nhdr; i++)
        st = natsMsgHeader_Set(m, it->hdr_name[i], it->hdr_value[i]);
    natsConnection *nc = atomic_load(&c->nc);
    if (st == NATS_OK) st = nc ? natsConnection_PublishMsg(nc, m) : NATS_CONNECTION_CLOSED;
    natsMsg_Destroy(m);
    if (st != NATS_OK)
        atomic_fetch_add(it->frame ? &c->frames_publish_dropped : &c->messages_dropped, 1);
    else
        atomic_fetch_add(it->frame ? &c->frames_published : &c->messages_sent, 1);
}

static void *outbox_main(void *arg) {
    vg_outbox *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->lock);
        while (!o->pending && !o->stop)
            pthread_cond_wait(&o->cond, &o->lock);
        bool stop = o->stop;
        o->pending = false;
        pthread_mutex_unlock(&o->lock);
        vg_handoff_node *n = vg_handoff_take_all(&o->queue);
        while (n) {
            vg_handoff_node *next = n->next;
            vg_outbox_item *it = (vg_outbox_item *)n;
            publish_one(o, it);
            vg_outbox_item_free(it);
            n = next;
        }
        if (stop) return NULL;
    }
}

int vg_outbox_start(vg_outbox *o, struct vg_cluster *c, size_t max_len) {
    o->cluster = c;
    if (vg_handoff_init(&o->queue, max_len, outbox_wake, o)) return -1;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    if (pthread_create(&o->thread, NULL, outbox_main, o)) return -1;
    o->started = true;
    return 0;
}

void vg_outbox_stop(vg_outbox *o) {
    if (!o->cluster) return;
    if (o->started) {
        pthread_mutex_lock(&o->lock);
        o->stop = true;
        pthread_cond_signal(&o->cond);
        pthread_mutex_unlock(&o->lock);
        pthread_join(o->thread, NULL);
        o->started = false;
    }
    vg_handoff_node *n = vg_handoff_take_all(&o->queue);
    while (n) {
        vg_handoff_node *next = n->next;
        vg_outbox_item_free((vg_outbox_item *)n);
        n = next;
    }
    vg_handoff_destroy(&o->queue);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->cond);
    o->cluster = NULL;
}

bool vg_outbox_post(vg_outbox *o, vg_outbox_item *it, bool droppable) {
    if (vg_handoff_post(&o->queue, &it->node, droppable, true) == VG_HANDOFF_DROPPED) {
        vg_outbox_item_free(it);
        return false;
    }
    return true;
}

/* cluster.c -- the NATS connection, its subscriptions and the reports to the
 * service thread (see cluster.h). */
#include "cluster/cluster_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Reports waiting for the service thread before frames are dropped. */
#define REPORTS_MAX 4096
/* Outgoing messages waiting for the publishing thread before frames are. */
#define OUTBOX_MAX 1024
/* What libnats may hold for one slow subscription before it drops. */
#define SUB_PENDING_MSGS 4096
#define SUB_PENDING_BYTES (64 * 1024 * 1024)

/* libnats may call back on its own threads while, and after, the connection
 * closes; with TLS its nats_Close() frees OpenSSL state that OpenSSL frees
 * again at exit, so it is not called, and its threads are not waited for.
 * Instead every callback posts only while `gate_open` names its cluster:
 * vg_cluster_free closes the gate before it closes the connection.
 * gate_lock guards gate_open. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static vg_cluster *gate_open;

/* Posts a report from a libnats callback, if `c` is still there; else frees it. */
static void post_from_callback(vg_cluster *c, vg_cluster_report *r, bool droppable) {
    pthread_mutex_lock(&gate_lock);
    bool open = gate_open == c;
    if (open) vg_cluster_post(c, r, droppable);
    pthread_mutex_unlock(&gate_lock);
    if (!open) vg_cluster_report_free(r);
}

void vg_cluster_post(vg_cluster *c, vg_cluster_report *r, bool droppable) {
    if (vg_handoff_post(&c->reports, &r->node, droppable, true) == VG_HANDOFF_DROPPED)
        vg_cluster_report_free(r);
}

static void post_link(vg_cluster *c, bool up, const char *text) {
    vg_cluster_report *r = calloc(1, sizeof(*r));
    if (!r) return;
    r->type = VG_CLUSTER_LINK;
    r->connected = up;
    r->text = text ? strdup(text) : NULL;
    post_from_callback(c, r, false);
}

/* ---- libnats's threads ------------------------------------------------ */

static void on_connected(natsConnection *nc, void *closure) {
    vg_cluster *c = closure;
    pthread_mutex_lock(&gate_lock);
    bool open = gate_open == c;
    pthread_mutex_unlock(&gate_lock);
    if (!open) return; /* closing: c may be gone */
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    atomic_store(&c->connected, true);
    post_link(c, true, url);
}

static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    vg_cluster *c = closure;
    pthread_mutex_lock(&gate_lock);
    bool open = gate_open == c;
    pthread_mutex_unlock(&gate_lock);
    if (!open || !atomic_exchange(&c->connected, false)) return;
    atomic_fetch_add(&c->disconnects, 1);
    post_link(c, false, "lost the connection to NATS");
}

/* An error libnats met on its own (a refused login while reconnecting, a
 * slow subscription): told to the service thread, which logs it. */
static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure) {
    (void)nc;
    vg_cluster *c = closure;
    char text[256];
    const char *last = nats_GetLastError(NULL);
    snprintf(text, sizeof(text), "NATS: %s%s%s%s", natsStatus_GetText(err),
             last && *last ? " (" : "", last && *last ? last : "", last && *last ? ")" : "");
    if (sub) {
        atomic_fetch_add(&c->messages_dropped, 1); /* a slow consumer drops */
        return;
    }
    vg_cluster_report *r = calloc(1, sizeof(*r));
    if (!r) return;
    r->type = VG_CLUSTER_LINK;
    r->connected = atomic_load(&c->connected);
    r->text = strdup(text);
    post_from_callback(c, r, true);
}

static void on_message(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure,
                       vg_cluster_report_type type) {
    (void)nc;
    (void)sub;
    vg_cluster *c = closure;
    vg_cluster_report *r = calloc(1, sizeof(*r));
    if (!r) {
        natsMsg_Destroy(msg);
        return;
    }
    r->type = type;
    r->msg = msg;
    pthread_mutex_lock(&gate_lock);
    bool open = gate_open == c;
    if (open) {
        atomic_fetch_add(type == VG_CLUSTER_MEDIA ? &c->frames_received : &c->messages_received, 1);
        vg_cluster_post(c, r, true);
    }
    pthread_mutex_unlock(&gate_lock);
    if (!open) vg_cluster_report_free(r);
}

static void on_media(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    on_message(nc, sub, msg, closure, VG_CLUSTER_MEDIA);
}

static void on_ctl(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    on_message(nc, sub, msg, closure, VG_CLUSTER_CTL);
}

/* ---- set-up ----------------------------------------------------------- */

static natsOptions *make_options(const vg_cluster_config *cfg, vg_cluster *c, char *err,
                                 size_t errlen) {
    natsOptions *o = NULL;
    if (natsOptions_Create(&o) != NATS_OK) {
        snprintf(err, errlen, "cluster: out of memory");
        return NULL;
    }
    char name[96];
    snprintf(name, sizeof(name), "vigil %s", cfg->node_id);
    natsStatus st = natsOptions_SetServers(o, (const char **)cfg->nats, (int)cfg->nnats);
    const char *what = "nats";
    if (st == NATS_OK) st = natsOptions_SetName(o, name);
    if (st == NATS_OK && cfg->user) st = natsOptions_SetUserInfo(o, cfg->user, cfg->password);
    if (st == NATS_OK && cfg->token) st = natsOptions_SetToken(o, cfg->token);
    if (st == NATS_OK && (cfg->ca_file || cfg->cert_file)) {
        what = "TLS";
        st = natsOptions_SetSecure(o, true);
        if (st == NATS_OK && cfg->ca_file)
            st = natsOptions_LoadCATrustedCertificates(o, cfg->ca_file);
        if (st == NATS_OK && cfg->cert_file)
            st = natsOptions_LoadCertificatesChain(o, cfg->cert_file, cfg->key_file);
    }
    /* Forever, quickly: a node is no use outside its cluster for long. */
    if (st == NATS_OK) st = natsOptions_SetMaxReconnect(o, -1);
    if (st == NATS_OK) st = natsOptions_SetReconnectWait(o, 250);
    if (st == NATS_OK) st = natsOptions_SetReconnectJitter(o, 100, 500);
    if (st == NATS_OK) st = natsOptions_SetTimeout(o, 2000);
    if (st == NATS_OK) st = natsOptions_SetPingInterval(o, 2000);
    if (st == NATS_OK) st = natsOptions_SetReconnectBufSize(o, 8 * 1024 * 1024);
    /* Once connected, libnats reconnects by itself; until then the lease
     * thread tries (vg_cluster_connect), so each failure's reason is known. */
    if (st == NATS_OK) st = natsOptions_SetSendAsap(o, true); /* frames: no 1 ms batching */
    if (st == NATS_OK) st = natsOptions_SetReconnectedCB(o, on_connected, c);
    if (st == NATS_OK) st = natsOptions_SetDisconnectedCB(o, on_disconnected, c);
    if (st == NATS_OK) st = natsOptions_SetErrorHandler(o, on_error, c);
    if (st != NATS_OK) {
        const char *detail = nats_GetLastError(NULL);
        snprintf(err, errlen, "cluster: %s options: %s", what,
                 detail && *detail ? detail : natsStatus_GetText(st));
        natsOptions_Destroy(o);
        return NULL;
    }
    return o;
}

vg_cluster *vg_cluster_new(const vg_cluster_config *cfg, vg_wake_fn wake, void *wake_ctx,
                           char *err, size_t errlen) {
    vg_cluster *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "cluster: out of memory");
        return NULL;
    }
    snprintf(c->node_id, sizeof(c->node_id), "%s", cfg->node_id);
    size_t plen = strlen(cfg->name) + 8;
    c->prefix = malloc(plen);
    if (c->prefix) snprintf(c->prefix, plen, "vigil.%s", cfg->name);
    c->advertise_url = cfg->advertise_url ? strdup(cfg->advertise_url) : NULL;
    if (!c->prefix || vg_handoff_init(&c->reports, REPORTS_MAX, wake, wake_ctx)) {
        snprintf(err, errlen, "cluster: out of memory");
        free(c->prefix);
        free(c->advertise_url);
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&gate_lock);
    gate_open = c;
    pthread_mutex_unlock(&gate_lock);
    c->opts = make_options(cfg, c, err, errlen);
    if (!c->opts) {
        vg_cluster_free(c);
        return NULL;
    }
    char bucket[128];
    snprintf(bucket, sizeof(bucket), "vigil_%s", cfg->name);
    if (vg_outbox_start(&c->outbox, c, OUTBOX_MAX) ||
        vg_lease_thread_start(&c->leases, c, bucket, cfg->lease_ms, cfg->replicas)) {
        snprintf(err, errlen, "cluster: cannot start its threads");
        vg_cluster_free(c);
        return NULL;
    }
    return c;
}

int vg_cluster_connect(vg_cluster *c, char *why, size_t whylen) {
    natsConnection *nc = NULL;
    natsStatus st = natsConnection_Connect(&nc, c->opts);
    char subject[256];
    snprintf(subject, sizeof(subject), "%s.ctl.>", c->prefix);
    if (st == NATS_OK) st = natsConnection_Subscribe(&c->ctl_sub, nc, subject, on_ctl, c);
    if (st != NATS_OK) {
        const char *detail = nats_GetLastError(NULL);
        snprintf(why, whylen, "%s", detail && *detail ? detail : natsStatus_GetText(st));
        natsConnection_Destroy(nc);
        return -1;
    }
    natsSubscription_SetPendingLimits(c->ctl_sub, SUB_PENDING_MSGS, SUB_PENDING_BYTES);
    atomic_store(&c->nc, nc);
    on_connected(nc, c);
    return 0;
}

void vg_cluster_free(vg_cluster *c) {
    if (!c) return;
    vg_lease_thread_stop(&c->leases);
    pthread_mutex_lock(&gate_lock);
    if (gate_open == c) gate_open = NULL;
    pthread_mutex_unlock(&gate_lock);
    vg_outbox_stop(&c->outbox);
    for (vg_cluster_watch *w = c->watches, *next; w; w = next) {
        next = w->next;
        natsSubscription_Unsubscribe(w->sub);
        natsSubscription_Destroy(w->sub);
        free(w->stream);
        free(w);
    }
    if (c->ctl_sub) {
        natsSubscription_Unsubscribe(c->ctl_sub);
        natsSubscription_Destroy(c->ctl_sub);
    }
    natsConnection *nc = atomic_load(&c->nc);
    if (nc) {
        natsConnection_FlushTimeout(nc, 500);
        natsConnection_Close(nc);
        natsConnection_Destroy(nc);
    }
    natsOptions_Destroy(c->opts);
    /* The gate is closed: nothing posts any more. */
    vg_cluster_report *r = vg_cluster_take(c);
    while (r) {
        vg_cluster_report *next = vg_cluster_report_next(r);
        vg_cluster_report_free(r);
        r = next;
    }
    vg_handoff_destroy(&c->reports);
    free(c->prefix);
    free(c->advertise_url);
    free(c);
}

const char *vg_cluster_node_id(const vg_cluster *c) {
    return c->node_id;
}

bool vg_cluster_connected(const vg_cluster *c) {
    return atomic_load(&((vg_cluster *)c)->connected);
}

vg_cluster_report *vg_cluster_take(vg_cluster *c) {
    return (vg_cluster_report *)vg_handoff_take_all(&c->reports);
}

vg_cluster_report *vg_cluster_report_next(vg_cluster_report *r) {
    return (vg_cluster_report *)r->node.next;
}

void vg_cluster_report_free(vg_cluster_report *r) {
    if (!r) return;
    free(r->text);
    free(r->key);
    free(r->holder);
    json_decref(r->info);
    natsMsg_Destroy(r->msg);
    free(r);
}

void vg_cluster_lease_want(vg_cluster *c, const char *key, vg_lease_want want,
                           const json_t *info) {
    vg_lease_set(&c->leases, key, (int)want, info);
}

void vg_cluster_lease_refresh(vg_cluster *c) {
    vg_lease_refresh(&c->leases);
}

void vg_cluster_set_alive(vg_cluster *c, const char *const *nodes, size_t n) {
    vg_lease_set_alive(&c->leases, nodes, n);
}

void vg_cluster_lease_forget(vg_cluster *c, const char *key) {
    vg_lease_forget(&c->leases, key);
}

/* ---- out ---------------------------------------------------------------- */

bool vg_cluster_publish_frame(vg_cluster *c, const vg_cluster_frame_meta *m, vg_frame *f) {
    char subject[256], num[32];
    if (m->to)
        snprintf(subject, sizeof(subject), "%s.ctl.%s", c->prefix, m->to);
    else
        snprintf(subject, sizeof(subject), "%s.media.%s", c->prefix, m->stream);
    vg_outbox_item *it = vg_outbox_item_new(subject);
    if (!it) {
        atomic_fetch_add(&c->frames_publish_dropped, 1);
        return false;
    }
    int bad = vg_outbox_item_header(it, "Vigil-Type", m->type ? m->type : "frame");
    bad |= vg_outbox_item_header(it, "Vigil-Node", c->node_id);
    bad |= vg_outbox_item_header(it, "Vigil-Stream", m->stream);
    snprintf(num, sizeof(num), "%" PRIu64, m->epoch);
    bad |= vg_outbox_item_header(it, "Vigil-Epoch", num);
    /* kind.flags.relay.seq.time: one header, read with one sscanf */
    char frame_hdr[96];
    snprintf(frame_hdr, sizeof(frame_hdr), "%u.%u.%d.%" PRIu64 ".%" PRId64, f->kind, f->flags,
             m->relay, m->seq, f->time_us);
    bad |= vg_outbox_item_header(it, "Vigil-Frame", frame_hdr);
    if (m->req) bad |= vg_outbox_item_header(it, "Vigil-Req", m->req);
    if (bad) {
        vg_outbox_item_free(it);
        atomic_fetch_add(&c->frames_publish_dropped, 1);
        return false;
    }
    it->frame = vg_frame_ref(f);
    if (!vg_outbox_post(&c->outbox, it, m->to == NULL)) {
        atomic_fetch_add(&c->frames_publish_dropped, 1);
        return false;
    }
    return true;
}

bool vg_cluster_send(vg_cluster *c, const char *to, const char *type, const json_t *body,
                     const char *const *extra) {
    char subject[256];
    snprintf(subject, sizeof(subject), "%s.ctl.%s", c->prefix, to);
    vg_outbox_item *it = vg_outbox_item_new(subject);
    if (!it) return false;
    int bad = vg_outbox_item_header(it, "Vigil-Type", type);
    bad |= vg_outbox_item_header(it, "Vigil-Node", c->node_id);
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        bad |= vg_outbox_item_header(it, extra[i], extra[i + 1]);
    it->body = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
    if (bad || !it->body) {
        vg_outbox_item_free(it);
        atomic_fetch_add(&c->messages_dropped, 1);
        return false;
    }
    it->body_len = strlen(it->body);
    return vg_outbox_post(&c->outbox, it, false);
}

/* ---- media subscriptions ---------------------------------------------- */

int vg_cluster_watch_stream(vg_cluster *c, const char *stream, bool on) {
    vg_cluster_watch **pp = &c->watches;
    while (*pp && strcmp((*pp)->stream, stream))
        pp = &(*pp)->next;
    if (!on) {
        vg_cluster_watch *w = *pp;
        if (!w) return 0;
        *pp = w->next;
        natsSubscription_Unsubscribe(w->sub);
        natsSubscription_Destroy(w->sub);
        free(w->stream);
        free(w);
        return 0;
    }
    if (*pp) return 0;
    vg_cluster_watch *w = calloc(1, sizeof(*w));
    char subject[256];
    snprintf(subject, sizeof(subject), "%s.media.%s", c->prefix, stream);
    natsConnection *nc = atomic_load(&c->nc);
    if (!nc || !w || !(w->stream = strdup(stream)) ||
        natsConnection_Subscribe(&w->sub, nc, subject, on_media, c) != NATS_OK) {
        if (w) free(w->stream);
        free(w);
        return -1;
    }
    natsSubscription_SetPendingLimits(w->sub, SUB_PENDING_MSGS, SUB_PENDING_BYTES);
    w->next = c->watches;
    c->watches = w;
    return 0;
}

void vg_cluster_counters_get(vg_cluster *c, vg_cluster_counters *out) {
    out->frames_published = atomic_load(&c->frames_published);
    out->frames_publish_dropped = atomic_load(&c->frames_publish_dropped);
    out->frames_received = atomic_load(&c->frames_received);
    out->messages_sent = atomic_load(&c->messages_sent);
    out->messages_received = atomic_load(&c->messages_received);
    out->messages_dropped = atomic_load(&c->messages_dropped);
    out->reports_dropped = vg_handoff_dropped(&c->reports);
    out->lease_errors = atomic_load(&c->lease_errors);
    out->disconnects = atomic_load(&c->disconnects);
}

void vg_cluster_count_dropped(vg_cluster *c) {
    atomic_fetch_add(&c->messages_dropped, 1);
}

/* cluster_node.c -- this server as a node of a cluster (see cluster_node.h). */
#include "server/cluster_node.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "cluster/cluster.h"
#include "common/log.h"
#include "media/source.h"
#include "server/cluster_node_internal.h"
#include "server/server.h"

/* How long an edge waits for a GOP reply before it takes live frames as
 * they come (then it waits for the next keyframe instead). */
#define SYNC_TIMEOUT_US 2000000LL
/* Live frames a feed holds while its GOP reply comes. */
#define SYNC_HOLD_MAX 512
#define HEARTBEAT_US 1000000LL
/* A node not heard from for this long is gone from /api/cluster. */
#define PEER_GONE_US 5000000LL

static vg_cluster_node *node_of(vg_server *srv) {
    return srv->cluster;
}

static const char *me(vg_server *srv) {
    return vg_cluster_node_id(srv->cluster->cluster);
}

static void stream_key(const char *id, char *out, size_t outlen) {
    snprintf(out, outlen, "stream.%s", id);
}

/* ---- leases ------------------------------------------------------------- */

/* What this node wants of a stream's lease, and what it says of it. */
static void want_stream(vg_server *srv, vg_stream *s) {
    vg_cluster_node *n = node_of(srv);
    char key[96];
    stream_key(s->id, key, sizeof(key));
    vg_lease_want want = VG_LEASE_CLAIM;
    if (vg_source_is_publish(s->source))
        want = s->feed && vg_publish_feed_owner(s->feed) && !s->remote ? VG_LEASE_TAKE
                                                                        : VG_LEASE_FOLLOW;
    json_t *info = NULL;
    if (!s->remote)
        info = json_pack("{s:s, s:o, s:o}", "state", vg_stream_state_name(s->state), "codecs",
                         s->codecs ? json_string(s->codecs) : json_null(), "error",
                         s->last_error ? json_string(s->last_error) : json_null());
    vg_cluster_lease_want(n->cluster, key, want, info);
    json_decref(info);
}

static vg_cluster_feed *find_feed(vg_cluster_node *n, const char *stream) {
    for (vg_cluster_feed *f = n->feeds; f; f = f->next)
        if (!strcmp(f->stream, stream)) return f;
    return NULL;
}

static void free_held(vg_cluster_feed *f) {
    for (vg_cluster_report *r = f->held, *next; r; r = next) {
        next = vg_cluster_report_next(r);
        vg_cluster_report_free(r);
    }
    f->held = f->held_tail = NULL;
    f->nheld = 0;
}

static void end_feed(vg_cluster_node *n, const char *stream) {
    for (vg_cluster_feed **pp = &n->feeds; *pp; pp = &(*pp)->next) {
        vg_cluster_feed *f = *pp;
        if (strcmp(f->stream, stream)) continue;
        *pp = f->next;
        vg_cluster_watch_stream(n->cluster, stream, false);
        free_held(f);
        free(f->stream);
        free(f);
        return;
    }
}

/* Asks the holder for its setup frames and GOP; live frames wait meanwhile. */
static void start_sync(vg_server *srv, vg_cluster_feed *f, vg_stream *s, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    if (!s->node || !n->connected) return;
    snprintf(f->req, sizeof(f->req), "%s-%" PRIu64, me(srv), ++n->next_req);
    char epoch[32];
    snprintf(epoch, sizeof(epoch), "%" PRIu64, s->epoch);
    const char *hdr[] = {"Vigil-Stream", s->id, "Vigil-Req", f->req, "Vigil-Epoch", epoch, NULL};
    if (!vg_cluster_send(n->cluster, s->node, "gop.req", NULL, hdr)) return;
    free_held(f);
    f->syncing = true;
    f->sync_deadline_us = now_us + SYNC_TIMEOUT_US;
}

/* A remote stream with viewers here: its frames come, starting with a GOP. */
static void feed_stream(vg_server *srv, vg_stream *s, bool resync, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    if (!s->remote || !s->node) return;
    vg_cluster_feed *f = find_feed(n, s->id);
    if (!f) {
        f = calloc(1, sizeof(*f));
        if (!f || !(f->stream = strdup(s->id)) || vg_cluster_watch_stream(n->cluster, s->id, true)) {
            if (f) free(f->stream);
            free(f);
            vg_log(VG_LOG_WARN, "cluster: stream %s: cannot subscribe to its frames", s->id);
            return;
        }
        f->next = n->feeds;
        n->feeds = f;
        resync = true;
    }
    f->idle_since_us = 0;
    if (resync) start_sync(srv, f, s, now_us);
}

static void follow(vg_server *srv, vg_stream *s, const char *holder, uint64_t epoch,
                   const json_t *info, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    vg_stream_state st = VG_STREAM_RETRYING;
    const char *reason;
    if (!n->connected) {
        reason = "cluster unreachable";
    } else if (!holder) {
        reason = vg_source_is_publish(s->source) ? "waiting for a publisher"
                                                 : "no node ingests it yet";
    } else {
        if (!vg_stream_state_parse(json_string_value(json_object_get(info, "state")), &st))
            st = VG_STREAM_STARTING;
        reason = json_string_value(json_object_get(info, "error"));
        if (st == VG_STREAM_LIVE) reason = NULL;
    }
    uint64_t was = s->epoch;
    vg_stream_follow(s, holder, epoch, st, json_string_value(json_object_get(info, "codecs")),
                     reason, now_us);
    if (holder && vg_stream_viewer_count(s)) feed_stream(srv, s, epoch != was, now_us);
}

static void apply_stream_lease(vg_server *srv, vg_stream *s, const json_t *l, int64_t now_us) {
    const char *holder = json_string_value(json_object_get(l, "node"));
    uint64_t epoch = (uint64_t)json_integer_value(json_object_get(l, "epoch"));
    if (json_is_true(json_object_get(l, "mine"))) {
        end_feed(node_of(srv), s->id);
        vg_stream_ingest(s, me(srv), epoch, now_us);
        return;
    }
    if (!s->remote && holder && !strcmp(holder, me(srv))) return; /* ours, being confirmed */
    if (!s->remote && !holder && vg_source_is_publish(s->source) && s->feed &&
        vg_publish_feed_owner(s->feed))
        return; /* our publisher's take is on its way */
    follow(srv, s, holder, epoch, json_object_get(l, "info"), now_us);
}

static void on_lease(vg_server *srv, vg_cluster_report *r, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    json_t *l = json_pack("{s:o, s:I, s:b, s:o, s:o}", "node",
                          r->holder ? json_string(r->holder) : json_null(), "epoch",
                          (json_int_t)r->epoch, "mine", r->mine, "info",
                          r->info ? json_incref(r->info) : json_null(), "url",
                          r->text ? json_string(r->text) : json_null());
    if (!l) return;
    json_object_set_new(n->leases, r->key, l);
    if (!strncmp(r->key, "stream.", 7)) {
        vg_stream *s = vg_server_find_stream(srv, r->key + 7);
        if (s) apply_stream_lease(srv, s, l, now_us);
    }
}

/* ---- frames from other nodes ------------------------------------------- */

typedef struct frame_msg {
    const char *stream, *node, *req;
    uint64_t epoch, seq;
    unsigned kind, flags;
    int relay;
    int64_t time_us;
} frame_msg;

static bool header_u64(natsMsg *m, const char *name, uint64_t *out) {
    const char *v = NULL;
    if (natsMsgHeader_Get(m, name, &v) != NATS_OK || !v) return false;
    char *end;
    *out = strtoull(v, &end, 10);
    return *v && !*end;
}

/* Reads a frame message's headers; false for one that is not (counted). */
static bool read_frame_msg(natsMsg *m, frame_msg *fm) {
    memset(fm, 0, sizeof(*fm));
    const char *hdr = NULL;
    if (natsMsgHeader_Get(m, "Vigil-Stream", &fm->stream) != NATS_OK ||
        natsMsgHeader_Get(m, "Vigil-Node", &fm->node) != NATS_OK ||
        natsMsgHeader_Get(m, "Vigil-Frame", &hdr) != NATS_OK || !header_u64(m, "Vigil-Epoch", &fm->epoch))
        return false;
    natsMsgHeader_Get(m, "Vigil-Req", &fm->req);
    int used = 0;
    if (sscanf(hdr, "%u.%u.%d.%" SCNu64 ".%" SCNd64 "%n", &fm->kind, &fm->flags, &fm->relay,
               &fm->seq, &fm->time_us, &used) != 5 || hdr[used])
        return false;
    if (fm->kind < VG_FRAME_INIT || fm->kind > VG_FRAME_ACCESS_UNIT || fm->flags > 0xff ||
        fm->relay < 0 || fm->relay >= VG_RELAY_COUNT)
        return false;
    /* MSE kinds in the MSE relay, WebCodecs kinds in the WebCodecs one. */
    return (fm->kind >= VG_FRAME_DECODER_CONFIG) == (fm->relay == VG_RELAY_WEBCODECS);
}

static vg_frame *frame_from(vg_stream *s, const frame_msg *fm, natsMsg *m) {
    int len = natsMsg_GetDataLength(m);
    vg_frame *f = vg_frame_new((uint8_t)fm->kind, (uint8_t)fm->flags, s->channel, fm->time_us,
                               (size_t)len);
    if (f && len) memcpy(vg_frame_payload(f), natsMsg_GetData(m), (size_t)len);
    return f;
}

/* One frame into a remote stream's relay. */
static void apply_frame(vg_server *srv, vg_stream *s, const frame_msg *fm, natsMsg *m,
                        int64_t now_us) {
    if ((size_t)natsMsg_GetDataLength(m) > srv->config->max_frame_bytes) {
        node_of(srv)->garbage++;
        vg_cluster_count_dropped(node_of(srv)->cluster);
        return;
    }
    vg_frame *f = frame_from(s, fm, m);
    if (!f) return;
    vg_stream_remote_frame(s, (vg_relay_slot)fm->relay, fm->seq, f, now_us);
    vg_frame_unref(f);
}

/* The GOP reply is complete (or late): the live frames held meanwhile go in. */
static void end_sync(vg_server *srv, vg_cluster_feed *f, vg_stream *s, int64_t now_us) {
    f->syncing = false;
    vg_cluster_report *r = f->held;
    f->held = f->held_tail = NULL;
    f->nheld = 0;
    while (r) {
        vg_cluster_report *next = vg_cluster_report_next(r);
        frame_msg fm;
        if (s && read_frame_msg(r->msg, &fm) && fm.epoch == s->epoch)
            apply_frame(srv, s, &fm, r->msg, now_us);
        vg_cluster_report_free(r);
        r = next;
    }
}

/* A newer epoch was heard of (a frame, a state message): the holder may
 * have changed, so the leases are read now rather than at the next round;
 * at most every 250 ms, whatever a sender claims. */
static void newer_epoch(vg_cluster_node *n, int64_t now_us) {
    if (now_us - n->refreshed_us < 250000) return;
    n->refreshed_us = now_us;
    vg_cluster_lease_refresh(n->cluster);
}

/* A frame message's stream, when it may be applied: known, remote, and from
 * the node and epoch its lease names. Only the lease moves a stream to
 * another node; a frame of a newer epoch only makes this node read the
 * leases now. NULL when not (counted). */
static vg_stream *frame_target(vg_server *srv, const frame_msg *fm, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    vg_stream *s = vg_server_find_stream(srv, fm->stream);
    if (!s || !s->remote || !s->node || strcmp(fm->node, s->node) || fm->epoch != s->epoch) {
        if (s && s->remote && fm->epoch > s->epoch) newer_epoch(n, now_us);
        n->stale++;
        return NULL;
    }
    return s;
}

static void on_media(vg_server *srv, vg_cluster_report *r, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    frame_msg fm;
    if (!read_frame_msg(r->msg, &fm)) {
        n->garbage++;
        vg_cluster_count_dropped(n->cluster);
        vg_cluster_report_free(r);
        return;
    }
    vg_stream *s = frame_target(srv, &fm, now_us);
    vg_cluster_feed *f = s ? find_feed(n, s->id) : NULL;
    if (!s || !f) {
        vg_cluster_report_free(r);
        return;
    }
    if (f->syncing) { /* after the GOP, in order */
        if (f->nheld == SYNC_HOLD_MAX) {
            vg_cluster_report *old = f->held;
            f->held = vg_cluster_report_next(old);
            vg_cluster_report_free(old);
            f->nheld--;
        }
        r->node.next = NULL;
        if (f->held_tail)
            f->held_tail->node.next = &r->node;
        else
            f->held = r;
        f->held_tail = r;
        f->nheld++;
        return;
    }
    apply_frame(srv, s, &fm, r->msg, now_us);
    vg_cluster_report_free(r);
}

/* ---- control messages ---------------------------------------------------- */

/* A GOP request for a stream we ingest: its setup frames and GOPs, numbered
 * as they were, then the end. */
static void serve_gop(vg_server *srv, natsMsg *m, const char *from) {
    vg_cluster_node *n = node_of(srv);
    const char *id = NULL, *req = NULL;
    natsMsgHeader_Get(m, "Vigil-Stream", &id);
    natsMsgHeader_Get(m, "Vigil-Req", &req);
    vg_stream *s = id ? vg_server_find_stream(srv, id) : NULL;
    if (!s || !req) {
        n->garbage++;
        vg_cluster_count_dropped(n->cluster);
        return;
    }
    if (!s->remote) {
        for (int i = 0; i < VG_RELAY_COUNT; i++) {
            vg_relay *r = vg_stream_relay(s, (vg_relay_slot)i);
            vg_cluster_frame_meta meta = {.stream = s->id, .epoch = s->epoch, .relay = i,
                                          .to = from, .type = "gop.frame", .req = req};
            if (r->setup) vg_cluster_publish_frame(n->cluster, &meta, r->setup);
            for (uint32_t k = 0; r->setup && k < r->gop.count; k++) {
                meta.seq = r->next_seq - r->gop.count + k;
                vg_cluster_publish_frame(n->cluster, &meta, r->gop.frames[k]);
            }
        }
        n->gops_served++;
    }
    /* Also when not ours (any more): the asker stops waiting at once. */
    const char *hdr[] = {"Vigil-Stream", id, "Vigil-Req", req, NULL};
    vg_cluster_send(n->cluster, from, "gop.end", NULL, hdr);
}

static void on_gop_frame(vg_server *srv, natsMsg *m, int64_t now_us, bool end) {
    vg_cluster_node *n = node_of(srv);
    const char *id = NULL, *req = NULL;
    natsMsgHeader_Get(m, "Vigil-Stream", &id);
    natsMsgHeader_Get(m, "Vigil-Req", &req);
    vg_cluster_feed *f = id ? find_feed(n, id) : NULL;
    if (!f || !f->syncing || !req || strcmp(req, f->req)) return; /* an old reply */
    vg_stream *s = vg_server_find_stream(srv, id);
    if (end) {
        end_sync(srv, f, s, now_us);
        return;
    }
    frame_msg fm;
    if (!read_frame_msg(m, &fm)) {
        n->garbage++;
        vg_cluster_count_dropped(n->cluster);
        return;
    }
    if (s && s->remote && fm.epoch == s->epoch) apply_frame(srv, s, &fm, m, now_us);
}

/* The holder of a stream says its state changed: mirrored at once (the
 * lease says it too, a round later). */
static void on_state(vg_server *srv, natsMsg *m, const char *from, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    const char *id = NULL;
    uint64_t epoch = 0;
    natsMsgHeader_Get(m, "Vigil-Stream", &id);
    json_t *info = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
    vg_stream *s = id ? vg_server_find_stream(srv, id) : NULL;
    if (!json_is_object(info) || !header_u64(m, "Vigil-Epoch", &epoch) || !id) {
        n->garbage++;
        vg_cluster_count_dropped(n->cluster);
    } else if (s && s->remote && s->node && !strcmp(s->node, from) && epoch == s->epoch) {
        follow(srv, s, from, epoch, info, now_us);
    } else if (s && s->remote && epoch > s->epoch) {
        newer_epoch(n, now_us);
    }
    json_decref(info);
}

static void on_heartbeat(vg_server *srv, natsMsg *m, const char *from, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    json_t *beat = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
    if (!json_is_object(beat) || strlen(from) >= VG_CLUSTER_NODE_MAX) {
        json_decref(beat);
        n->garbage++;
        vg_cluster_count_dropped(n->cluster);
        return;
    }
    vg_cluster_peer *p = n->peers;
    while (p && strcmp(p->node, from))
        p = p->next;
    if (!p && (p = calloc(1, sizeof(*p)))) {
        snprintf(p->node, sizeof(p->node), "%s", from);
        p->next = n->peers;
        n->peers = p;
    }
    if (!p) {
        json_decref(beat);
        return;
    }
    json_decref(p->beat);
    p->beat = beat;
    p->seen_us = now_us;
}

static void on_ctl(vg_server *srv, vg_cluster_report *r, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    natsMsg *m = r->msg;
    const char *subject = natsMsg_GetSubject(m);
    const char *to = strrchr(subject, '.');
    to = to ? to + 1 : "";
    if (strcmp(to, me(srv)) && strcmp(to, "all")) return; /* for another node */
    const char *type = NULL, *from = NULL;
    if (natsMsgHeader_Get(m, "Vigil-Type", &type) != NATS_OK ||
        natsMsgHeader_Get(m, "Vigil-Node", &from) != NATS_OK || !type || !from) {
        n->garbage++;
        vg_cluster_count_dropped(n->cluster);
        return;
    }
    if (!strcmp(from, me(srv))) return; /* our own broadcast */
    if (!strcmp(type, "gop.req"))
        serve_gop(srv, m, from);
    else if (!strcmp(type, "gop.frame"))
        on_gop_frame(srv, m, now_us, false);
    else if (!strcmp(type, "gop.end"))
        on_gop_frame(srv, m, now_us, true);
    else if (!strcmp(type, "node"))
        on_heartbeat(srv, m, from, now_us);
    else if (!strcmp(type, "state"))
        on_state(srv, m, from, now_us);
    else if (!vg_cluster_node_devices_ctl(srv, type, from, m)) {
        n->garbage++;
        vg_cluster_count_dropped(n->cluster);
    }
}

/* ---- the connection ------------------------------------------------------ */

static void on_link(vg_server *srv, vg_cluster_report *r, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    bool was = n->connected;
    n->connected = r->connected;
    free(n->nats_url);
    n->nats_url = r->connected && r->text ? strdup(r->text) : NULL;
    const char *text = r->text ? r->text : "disconnected";
    bool repeat = !r->connected && n->link_logged && !strcmp(n->link_logged, text) &&
                  now_us - n->link_logged_us < 60000000LL;
    if (r->connected) {
        vg_log(VG_LOG_INFO, "cluster: node %s connected to %s", me(srv), text);
        free(n->link_logged);
        n->link_logged = NULL;
    } else if (!repeat) {
        vg_log(VG_LOG_WARN, "cluster: node %s: %s; serving only what it ingests itself", me(srv),
               text);
        free(n->link_logged);
        n->link_logged = strdup(text);
        n->link_logged_us = now_us;
    }
    if (was == r->connected) return;
    /* Remote streams: unreachable while down; as last known once back (the
     * lease thread reports only changes). */
    for (size_t i = 0; i < srv->nstreams; i++) {
        vg_stream *s = srv->streams[i];
        if (!s->remote) continue;
        char key[96];
        stream_key(s->id, key, sizeof(key));
        json_t *l = json_object_get(n->leases, key);
        if (l)
            apply_stream_lease(srv, s, l, now_us);
        else
            follow(srv, s, NULL, 0, NULL, now_us);
    }
}

void vg_cluster_node_poll(vg_server *srv) {
    vg_cluster_node *n = node_of(srv);
    if (!n) return;
    vg_cluster_report *r = vg_cluster_take(n->cluster);
    int64_t now = vg_server_now_us();
    while (r) {
        vg_cluster_report *next = vg_cluster_report_next(r);
        switch (r->type) {
        case VG_CLUSTER_LINK: on_link(srv, r, now); break;
        case VG_CLUSTER_LEASE: on_lease(srv, r, now); break;
        case VG_CLUSTER_MEDIA:
            on_media(srv, r, now); /* takes r */
            r = NULL;
            break;
        case VG_CLUSTER_CTL: on_ctl(srv, r, now); break;
        }
        vg_cluster_report_free(r);
        r = next;
    }
}

/* ---- life ------------------------------------------------------------------ */

int vg_cluster_node_start(vg_server *srv, char *err, size_t errlen) {
    const vg_cluster_config *cc = srv->config->cluster;
    if (!cc) return 0;
    vg_cluster_node *n = calloc(1, sizeof(*n));
    if (!n || !(n->leases = json_object())) {
        free(n);
        snprintf(err, errlen, "cluster: out of memory");
        return -1;
    }
    n->cluster = vg_cluster_new(cc, vg_server_wake, srv, err, errlen);
    if (!n->cluster) {
        json_decref(n->leases);
        free(n);
        return -1;
    }
    srv->cluster = n;
    for (size_t i = 0; i < srv->nstreams; i++)
        vg_cluster_node_stream_added(srv, srv->streams[i]);
    vg_cluster_node_devices_start(srv);
    vg_log(VG_LOG_INFO, "cluster: node %s of cluster %s (%zu NATS server%s, lease %d ms)",
           cc->node_id, cc->name, cc->nnats, cc->nnats == 1 ? "" : "s", cc->lease_ms);
    return 0;
}

void vg_cluster_node_stream_added(vg_server *srv, vg_stream *s) {
    vg_cluster_node *n = node_of(srv);
    if (!n) return;
    /* Nothing runs before the lease says where; a stream a reload replaced
     * goes on as its lease last said. */
    int64_t now = vg_server_now_us();
    vg_stream_follow(s, NULL, 0, VG_STREAM_RETRYING, NULL, "waiting for the cluster", now);
    char key[96];
    stream_key(s->id, key, sizeof(key));
    json_t *l = json_object_get(n->leases, key);
    if (l) apply_stream_lease(srv, s, l, now);
    want_stream(srv, s);
}

bool vg_cluster_node_connected(vg_server *srv) {
    return srv->cluster && srv->cluster->connected;
}

void vg_cluster_node_stream_removed(vg_server *srv, const char *id) {
    vg_cluster_node *n = node_of(srv);
    if (!n) return;
    char key[96];
    stream_key(id, key, sizeof(key));
    vg_cluster_lease_forget(n->cluster, key);
    json_object_del(n->leases, key);
    end_feed(n, id);
}

void vg_cluster_node_stop(vg_server *srv) {
    vg_cluster_node *n = node_of(srv);
    if (!n) return;
    while (n->feeds)
        end_feed(n, n->feeds->stream);
    vg_cluster_free(n->cluster); /* lets go of the leases */
    for (vg_cluster_peer *p = n->peers, *next; p; p = next) {
        next = p->next;
        json_decref(p->beat);
        free(p);
    }
    vg_cluster_node_devices_stop(srv);
    json_decref(n->leases);
    free(n->nats_url);
    free(n->link_logged);
    free(n);
    srv->cluster = NULL;
}

/* ---- periodic ------------------------------------------------------------- */

static json_t *heartbeat(vg_server *srv) {
    json_t *ingests = json_array();
    uint32_t viewers = 0;
    for (size_t i = 0; i < srv->nstreams; i++) {
        vg_stream *s = srv->streams[i];
        viewers += vg_stream_viewer_count(s);
        for (size_t j = 0; j < s->nvariants; j++)
            viewers += vg_stream_viewer_count(s->variants[j]);
        if (!s->remote && s->node) json_array_append_new(ingests, json_string(s->id));
    }
    double load[1] = {0};
    if (getloadavg(load, 1) < 1) load[0] = 0;
    const char *url = srv->config->cluster->advertise_url;
    return json_pack("{s:s, s:o, s:I, s:I, s:o, s:o, s:f, s:s}", "node", me(srv), "url",
                     url ? json_string(url) : json_null(), "viewers", (json_int_t)viewers,
                     "sessions", (json_int_t)srv->session_count, "ingests", ingests, "devices",
                     vg_cluster_node_devices_held(srv), "load1", load[0], "version",
                     VIGIL_VERSION);
}

void vg_cluster_node_tick(vg_server *srv, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    if (!n) return;
    vg_cluster_node_poll(srv);
    for (vg_cluster_feed *f = n->feeds, *next; f; f = next) {
        next = f->next;
        vg_stream *s = vg_server_find_stream(srv, f->stream);
        if (f->syncing && now_us > f->sync_deadline_us) end_sync(srv, f, s, now_us);
        if (s && s->remote && vg_stream_viewer_count(s)) {
            f->idle_since_us = 0;
        } else if (!f->idle_since_us) {
            f->idle_since_us = now_us;
        } else if (now_us - f->idle_since_us > (int64_t)srv->config->cluster->linger_ms * 1000 ||
                   !s || !s->remote) {
            end_feed(n, f->stream);
        }
    }
    const char *alive[64];
    size_t nalive = 0;
    for (vg_cluster_peer **pp = &n->peers; *pp;) {
        vg_cluster_peer *p = *pp;
        if (now_us - p->seen_us > PEER_GONE_US) {
            *pp = p->next;
            json_decref(p->beat);
            free(p);
        } else {
            if (nalive < sizeof(alive) / sizeof(alive[0])) alive[nalive++] = p->node;
            pp = &p->next;
        }
    }
    vg_cluster_node_devices_tick(srv, now_us);
    if (now_us - n->last_beat_us >= HEARTBEAT_US && n->connected) {
        n->last_beat_us = now_us;
        vg_cluster_set_alive(n->cluster, alive, nalive);
        json_t *beat = heartbeat(srv);
        if (beat) vg_cluster_send(n->cluster, "all", "node", beat, NULL);
        json_decref(beat);
    }
}

void vg_cluster_node_demand(vg_server *srv, vg_stream *s, int64_t now_us) {
    if (!srv->cluster || !s->remote) return;
    vg_cluster_feed *f = find_feed(node_of(srv), s->id);
    /* A feed already running needs no GOP: the relay's cache serves the newcomer. */
    if (!f) feed_stream(srv, s, true, now_us);
    else f->idle_since_us = 0;
}

/* ---- stream hooks ----------------------------------------------------------- */

static vg_server *server_of_stream(vg_stream *s) {
    return lws_container_of(s->hooks, vg_server, stream_hooks);
}

void vg_cluster_node_state_changed(vg_stream *s, const char *reason) {
    vg_server *srv = server_of_stream(s);
    vg_cluster_node *n = node_of(srv);
    if (n && !s->parent) {
        want_stream(srv, s);
        if (!s->remote && s->epoch && n->connected) { /* ours: every node hears at once */
            char epoch[32];
            snprintf(epoch, sizeof(epoch), "%" PRIu64, s->epoch);
            const char *hdr[] = {"Vigil-Stream", s->id, "Vigil-Epoch", epoch, NULL};
            json_t *info = json_pack("{s:s, s:o, s:o}", "state", vg_stream_state_name(s->state),
                                     "codecs", s->codecs ? json_string(s->codecs) : json_null(),
                                     "error", s->last_error ? json_string(s->last_error) : json_null());
            if (info) vg_cluster_send(n->cluster, "all", "state", info, hdr);
            json_decref(info);
        }
    }
    srv->protocol->stream_state(s, reason);
}

void vg_cluster_node_frame_out(vg_stream *s, vg_relay_slot slot, uint64_t seq, vg_frame *f) {
    vg_server *srv = server_of_stream(s);
    vg_cluster_node *n = node_of(srv);
    if (!n || s->parent || s->remote || !s->epoch || !n->connected) return;
    vg_cluster_frame_meta meta = {.stream = s->id, .epoch = s->epoch, .relay = (int)slot,
                                  .seq = seq};
    vg_cluster_publish_frame(n->cluster, &meta, f);
}

/* ---- what it shows ------------------------------------------------------------ */

json_t *vg_cluster_node_health(vg_server *srv) {
    vg_cluster_node *n = node_of(srv);
    if (!n) return NULL;
    return json_pack("{s:s, s:b}", "node", me(srv), "connected", n->connected);
}

json_t *vg_cluster_node_describe(vg_server *srv, int64_t now_us) {
    vg_cluster_node *n = node_of(srv);
    if (!n) return NULL;
    json_t *nodes = json_array();
    json_t *self = heartbeat(srv);
    if (self) {
        json_object_set_new(self, "self", json_true());
        json_object_set_new(self, "age_ms", json_integer(0));
        json_array_append_new(nodes, self);
    }
    for (vg_cluster_peer *p = n->peers; p; p = p->next) {
        json_t *b = json_deep_copy(p->beat);
        if (!b) continue;
        json_object_set_new(b, "node", json_string(p->node));
        json_object_set_new(b, "self", json_false());
        json_object_set_new(b, "age_ms", json_integer((json_int_t)((now_us - p->seen_us) / 1000)));
        json_array_append_new(nodes, b);
    }
    vg_cluster_counters c;
    vg_cluster_counters_get(n->cluster, &c);
    json_t *counters = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "frames_published",
        (json_int_t)c.frames_published, "frames_publish_dropped",
        (json_int_t)c.frames_publish_dropped, "frames_received", (json_int_t)c.frames_received,
        "messages_sent", (json_int_t)c.messages_sent, "messages_received",
        (json_int_t)c.messages_received, "messages_dropped", (json_int_t)c.messages_dropped,
        "reports_dropped", (json_int_t)c.reports_dropped, "lease_errors",
        (json_int_t)c.lease_errors, "disconnects", (json_int_t)c.disconnects, "stale_frames",
        (json_int_t)n->stale, "gops_served", (json_int_t)n->gops_served, "commands_forwarded",
        (json_int_t)n->commands_forwarded, "commands_served", (json_int_t)n->commands_served);
    json_t *watching = json_array();
    for (vg_cluster_feed *f = n->feeds; f; f = f->next)
        json_array_append_new(watching, json_string(f->stream));
    return json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o}", "node", me(srv), "cluster",
                     srv->config->cluster->name, "connected", n->connected, "nats",
                     n->nats_url ? json_string(n->nats_url) : json_null(), "nodes", nodes,
                     "leases", json_deep_copy(n->leases), "watching", watching, "counters",
                     counters);
}

bool vg_cluster_node_counters(vg_server *srv, vg_cluster_counters *out, uint64_t *stale) {
    vg_cluster_node *n = node_of(srv);
    if (!n) return false;
    vg_cluster_counters_get(n->cluster, out);
    *stale = n->stale;
    return true;
}

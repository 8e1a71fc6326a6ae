/* http_snapshot.c -- GET /api/streams/{id}/snapshot.jpg (see
 * http_snapshot.h).
 *
 * Thread: lws service thread only. */
#include "server/http_snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/relay.h"
#include "media/stream.h"
#include "media/variant.h"
#include "server/server.h"

/* Retry-After: a stream just starting has its first keyframe within a GOP
 * (two seconds for most cameras); the worker frees up within a second. */
#define RETRY_NO_KEYFRAME "2"
#define RETRY_BUSY        "1"
/* How long a request may wait for its snapshot before lws hangs up: every
 * job in flight ahead of it at its time limit, and some. */
#define WAIT_LIMIT_S (VG_SNAPSHOT_JOBS * (int)(VG_SNAPSHOT_TIMEOUT_US / 1000000) + 5)

/* X-Vigil-Frame-Time: when the keyframe left the pipeline, in milliseconds
 * since the epoch (media/frame.h, time_us). */
static void frame_time(const vg_snapshot_entry *e, char *out, size_t outlen) {
    snprintf(out, outlen, "%lld", (long long)(e->frame_time_us / 1000));
}

static int reply_now(struct lws *wsi, vg_http_session *hs, const vg_snapshot_entry *e) {
    if (e->state != VG_SNAPSHOT_MADE)
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_INTERNAL_SERVER_ERROR,
                                       "snapshot_failed", NULL, e->error, NULL);
    char t[32];
    frame_time(e, t, sizeof(t));
    return vg_http_reply_bytes(wsi, hs, HTTP_STATUS_OK, "image/jpeg", e->jpeg.data, e->jpeg.len,
                               "x-vigil-frame-time:", t, false);
}

/* The picture asked for: the main stream's or a variant's. NULL with a
 * reply written (*rc) when there is none. */
static vg_stream *picture(struct lws *wsi, vg_http_session *hs, vg_server *srv, const char *id,
                          int *rc) {
    char msg[192], variant[64];
    /* A stream the client may not see does not exist for it (as for subscribe). */
    vg_stream *main =
        vg_access_sees_stream(&hs->access, id) ? vg_server_find_stream(srv, id) : NULL;
    if (!main) {
        snprintf(msg, sizeof(msg), "no stream named '%.64s'", id);
        *rc = vg_http_reply_api_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "unknown_stream", NULL, msg,
                                      NULL);
        return NULL;
    }
    int got = vg_http_query_arg(wsi, "variant", variant, sizeof(variant));
    vg_stream *s = got > 0 ? vg_variant_find(main, variant) : got < 0 ? NULL : main;
    if (!s) {
        snprintf(msg, sizeof(msg), "stream '%.64s' has no variant '%.32s'", id,
                 got > 0 ? variant : "(too long)");
        *rc = vg_http_reply_api_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "unknown_variant", "variant",
                                      msg, NULL);
    }
    return s;
}

int vg_http_snapshot(struct lws *wsi, vg_http_session *hs, const char *id) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    int rc = 0;
    vg_stream *s = picture(wsi, hs, srv, id, &rc);
    if (!s) return rc;
    char msg[192], text[8];
    int width = 0;
    int got = vg_http_query_arg(wsi, "width", text, sizeof(text));
    if (got && vg_snapshot_parse_width(got > 0 ? text : "", &width, msg, sizeof(msg)))
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_field", "width", msg,
                                       NULL);
    /* The WebCodecs relay's configuration and newest keyframe: there for
     * every stream whether watched or not (media/snapshot.h says why). */
    vg_relay *r = vg_stream_relay(s, VG_RELAY_WEBCODECS);
    if (!r->setup || !r->key) {
        if (s->parent && !vg_variant_running(s))
            snprintf(msg, sizeof(msg), "%.96s is not running: a variant runs only while watched",
                     s->label);
        else
            snprintf(msg, sizeof(msg), "stream %.96s has no keyframe yet (%s)", s->label,
                     vg_stream_state_name(s->state));
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_SERVICE_UNAVAILABLE, "no_keyframe",
                                       NULL, msg, RETRY_NO_KEYFRAME);
    }
    const vg_snapshot_entry *e = NULL;
    hs->snapshot.user = wsi;
    switch (
        vg_snapshots_ask(&srv->snapshots, s->label, width, r->setup, r->key, &hs->snapshot, &e)) {
    case VG_SNAPSHOT_GOT: return reply_now(wsi, hs, e);
    case VG_SNAPSHOT_BUSY:
        return vg_http_reply_api_error(
            wsi, hs, HTTP_STATUS_SERVICE_UNAVAILABLE, "busy", NULL,
            "snapshots are being made for other requests: try again in a moment", RETRY_BUSY);
    case VG_SNAPSHOT_WAITING: break;
    }
    /* The transaction stays open until the worker is done. Nothing more is
     * read from the connection meanwhile: lws 4.1 would take a pipelined
     * request for this one's (server/http_reply.h). */
    lws_rx_flow_control(wsi, 0);
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, WAIT_LIMIT_S);
    return 0;
}

/* The reply for a request that waited for `e`; NULL on OOM. */
static vg_http_deferred *deferred_reply(vg_server *srv, const vg_snapshot_entry *e) {
    vg_http_deferred *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    if (e->state == VG_SNAPSHOT_MADE) {
        d->status = HTTP_STATUS_OK;
        d->type = "image/jpeg";
        d->name = "x-vigil-frame-time:";
        frame_time(e, d->value, sizeof(d->value));
        d->body = malloc(e->jpeg.len ? e->jpeg.len : 1);
        if (d->body) memcpy(d->body, e->jpeg.data, e->jpeg.len);
        d->len = e->jpeg.len;
    } else {
        srv->errors_total++;
        d->status = HTTP_STATUS_INTERNAL_SERVER_ERROR;
        d->type = "application/json";
        json_t *j = vg_http_error_json("snapshot_failed", NULL, e->error);
        d->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        d->len = d->body ? strlen(d->body) : 0;
        json_decref(j);
    }
    if (!d->body) {
        free(d);
        return NULL;
    }
    return d;
}

/* (vg_snapshot_answer_fn) The connection reads again and its reply goes
 * out now, from its HTTP_WRITEABLE, before lws can read anything else
 * from it. */
static void answer(vg_snapshot_wait *w, const vg_snapshot_entry *e, void *ctx) {
    vg_server *srv = ctx;
    struct lws *wsi = w->user;
    vg_http_session *hs = lws_container_of(w, vg_http_session, snapshot);
    hs->deferred = deferred_reply(srv, e);
    lws_rx_flow_control(wsi, 1);
    if (!hs->deferred)
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC); /* OOM: hang up */
    else if (!vg_server_write_now(srv, wsi)) /* may close and free wsi and hs */
        lws_callback_on_writable(wsi);
}

void vg_http_snapshots_answer(vg_server *srv) {
    vg_snapshots_take_done(&srv->snapshots, answer, srv);
}

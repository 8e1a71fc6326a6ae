/* http_api.c -- the REST API under /api, and the HTTP protocol callback.
 *
 *   GET /api/health   {"status":"ok", ...}
 *   GET /api/streams  [{"id", "state", "codecs", "viewers", "fps", ...}]
 *
 * Static files of web/ are served by lws's file mount; everything else HTTP
 * comes here. Responses are small JSON bodies written in one go.
 *
 * Thread: lws service thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

/* Per-transaction data of the HTTP protocol. */
typedef struct vg_http_session {
    unsigned char *body; /* LWS_PRE headroom, then the response for HTTP_WRITEABLE */
    size_t len;
} vg_http_session;

size_t vg_http_session_size(void) {
    return sizeof(vg_http_session);
}

static json_t *api_health(vg_server *srv) {
    int64_t now = vg_server_now_us();
    uint64_t inbox_dropped = vg_inbox_dropped(&srv->inbox);
    return json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}", "status", "ok", "version",
        VIGIL_VERSION, "uptime_s", (json_int_t)((now - srv->started_us) / 1000000), "streams",
        (json_int_t)srv->nstreams, "connections", (json_int_t)srv->session_count, "counters",
        "connections_total", (json_int_t)srv->connections_total, "errors_sent",
        (json_int_t)srv->errors_total, "text_too_large", (json_int_t)srv->too_large_total,
        "slow_viewers_closed", (json_int_t)srv->slow_closed_total, "inbox_frames_dropped",
        (json_int_t)inbox_dropped);
}

static json_t *api_streams(vg_server *srv) {
    json_t *arr = json_array();
    int64_t now = vg_server_now_us();
    for (size_t i = 0; arr && i < srv->nstreams; i++)
        json_array_append_new(arr, vg_stream_describe(srv->streams[i], now));
    return arr;
}

/* Queues a JSON response (takes responsibility over body); -1 to close. */
static int respond(struct lws *wsi, vg_http_session *hs, unsigned int status, json_t *body) {
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof(hdr) - 1;
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(body);
    if (!text) return -1;
    free(hs->body);
    hs->len = strlen(text);
    hs->body = malloc(LWS_PRE + hs->len);
    if (hs->body) memcpy(hs->body + LWS_PRE, text, hs->len);
    free(text);
    if (!hs->body) return -1;
    if (lws_add_http_common_headers(wsi, status, "application/json", hs->len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Every endpoint is GET-only for now. Anything else gets its 405 at once and
 * the connection is closed, so a request body is never read or buffered. */
static int refuse_method(struct lws *wsi) {
    static const char body[] = "{\"error\":\"method_not_allowed\"}";
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
                                      *end = buf + sizeof(buf) - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "application/json",
                                    sizeof(body) - 1, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                    (const unsigned char *)"close", 5, &p, end) ||
        lws_finalize_http_header(wsi, &p, end))
        return -1;
    memcpy(p, body, sizeof(body) - 1);
    p += sizeof(body) - 1;
    lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL);
    return -1;
}

static int handle_api(struct lws *wsi, vg_http_session *hs) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    char uri[256];
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0) return refuse_method(wsi);
    char *q = strchr(uri, '?');
    if (q) *q = 0;
    if (!strcmp(uri, "/api/health")) return respond(wsi, hs, HTTP_STATUS_OK, api_health(srv));
    if (!strcmp(uri, "/api/streams")) return respond(wsi, hs, HTTP_STATUS_OK, api_streams(srv));
    return respond(wsi, hs, HTTP_STATUS_NOT_FOUND, json_pack("{s:s}", "error", "not_found"));
}

int vg_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    vg_http_session *hs = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket upgrade without the vigil.v1 subprotocol lands here. */
        return -1;
    case LWS_CALLBACK_HTTP: return handle_api(wsi, hs);
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!hs || !hs->body) break;
        int n = lws_write(wsi, hs->body + LWS_PRE, hs->len, LWS_WRITE_HTTP_FINAL);
        free(hs->body);
        hs->body = NULL;
        if (n < 0) return -1;
        if (lws_http_transaction_completed(wsi)) return -1;
        return 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
        if (hs) {
            free(hs->body);
            hs->body = NULL;
        }
        break;
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

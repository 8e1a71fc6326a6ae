/* http_api.c -- the REST API under /api, and the HTTP protocol callback.
 *
 *   GET  /api/health                 {"status":"ok", ...}
 *   GET  /api/streams                [{"id", "state", "codecs", "viewers", ...}]
 *   GET  /api/streams/{id}/snapshot.jpg  the newest keyframe as a JPEG
 *                                    (server/http_snapshot.h)
 *   GET  /api/streams/{id}/recordings?from=&to=  the segments and clips
 *   GET  /api/streams/{id}/recordings/{name}.mp4  a recording, with Range
 *   DELETE /api/streams/{id}/recordings/{name}.mp4  (admin, operator)
 *                                    (server/http_recordings.h)
 *   GET  /api/devices                [{"id", "online", "state", ...}]
 *   GET  /api/devices/{id}           {... "recent": [commands]}
 *   POST /api/devices/{id}/commands  {"name", "params", ...} -> 202
 *   POST /api/streams/{id}/clips     {"pre_s", "post_s", "label"} -> 201
 *                                    (server/http_clips.h)
 *   GET  /api/commands/{id}          {"id", "status", "timeline", ...}
 *   GET  /api/admin/sessions         [{"peer", "sub", "role", "streams", ...}] (admin)
 *   POST /api/admin/reload           re-reads the config (server/reload.h) -> 200 report
 *   GET  /metrics                    Prometheus text (server/metrics.h); on the
 *                                    listener of server.metrics_bind, the only path
 *
 * Every GET path also takes HEAD (GET's status and headers, Content-Length
 * included, no body); a known path with another method gets 405 with Allow
 * (route_methods() is the one table of what each path takes), an unknown
 * one a JSON 404, a path over 255 bytes 414, a header over 8 KiB 431
 * (server/http_reply.h has the header limits). Errors are
 * {"error": code, "message": text}. Each response is written whole and ends
 * its transaction at once (server/http_reply.h), so keep-alive and
 * pipelined requests are answered in order. Static files of web/ are served
 * by lws's file mount; everything else HTTP comes here. The one request
 * body (a command) is bounded by MAX_BODY before it is read.
 *
 * Thread: lws service thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "server/devices.h"
#include "server/http_clips.h"
#include "server/http_recordings.h"
#include "server/http_snapshot.h"
#include "server/metrics.h"
#include "server/cluster_node.h"
#include "server/server.h"
#include "server/token.h"

#define MAX_BODY 16384

size_t vg_http_session_size(void) {
    return sizeof(vg_http_session);
}

/* Everyone may ask whether the server is up; the figures are for admins. */
static json_t *api_health(vg_server *srv, const vg_access *access) {
    /* A node cut off from its cluster still serves what it ingests itself. */
    json_t *cluster = vg_cluster_node_health(srv);
    const char *status = !cluster || vg_cluster_node_connected(srv) ? "ok" : "degraded";
    if (!vg_access_is_admin(access)) {
        json_t *h = json_pack("{s:s, s:s}", "status", status, "version", VIGIL_VERSION);
        if (h && cluster) json_object_set_new(h, "cluster", cluster);
        return h;
    }
    int64_t now = vg_server_now_us();
    json_t *h =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "status", status, "version", VIGIL_VERSION,
                  "uptime_s", (json_int_t)((now - srv->started_us) / 1000000), "streams",
                  (json_int_t)srv->nstreams, "devices", (json_int_t)vg_devices_count(srv),
                  "connections", (json_int_t)srv->session_count);
    const struct {
        const char *name;
        uint64_t value;
    } counters[] = {
        {"connections_total", srv->connections_total},
        {"errors_sent", srv->errors_total},
        {"text_too_large", srv->too_large_total},
        {"slow_viewers_closed", srv->slow_closed_total},
        {"inbox_frames_dropped", vg_inbox_dropped(&srv->inbox)},
        {"commands_issued", srv->commands_total},
        {"auth_failed", srv->auth_failed_total},
        {"origin_refused", srv->origin_refused_total},
        {"connections_refused", srv->limit_refused_total},
        {"forbidden", srv->forbidden_total},
        {"rate_limited", srv->rate_limited_total},
        {"flood_closed", srv->flood_closed_total},
        {"hello_timeouts", srv->hello_timeout_total},
        {"tokens_expired", srv->expired_closed_total},
    };
    json_t *c = json_object();
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        json_object_set_new(c, counters[i].name, json_integer((json_int_t)counters[i].value));
    json_object_set_new(h, "counters", c);
    /* device control: per-transport connection state and counters */
    json_object_set_new(h, "control", vg_devices_stats(srv));
    if (cluster) json_object_set_new(h, "cluster", cluster);
    return h;
}

static json_t *api_streams(vg_server *srv, const vg_access *access) {
    json_t *arr = json_array();
    int64_t now = vg_server_now_us();
    for (size_t i = 0; arr && i < srv->nstreams; i++)
        if (vg_access_sees_stream(access, srv->streams[i]->id))
            json_array_append_new(arr, vg_stream_describe(srv->streams[i], now));
    return arr;
}

/* GET /api/admin/sessions: every WebSocket client, who it is and what it watches. */
static json_t *api_sessions(vg_server *srv) {
    json_t *arr = json_array();
    for (vg_session *s = srv->sessions; arr && s; s = s->next) {
        json_t *subs = json_array();
        for (uint32_t i = 0; i < s->nsubs; i++)
            json_array_append_new(
                subs, json_string(s->subs[i]->stream->label)); /* "door/sub" for a variant */
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "peer", s->peer,
                                             "sub", vg_access_sub(&s->access), "role",
                                             vg_role_name(s->access.role), "streams", subs,
                                             "messages_in", (json_int_t)s->messages_in, "errors",
                                             (json_int_t)s->errors));
    }
    return arr;
}

static int respond(struct lws *wsi, vg_http_session *hs, unsigned int status, json_t *body) {
    return vg_http_reply_json(wsi, hs, status, body, NULL, NULL, false);
}

/* Queues the Prometheus exposition (server/metrics.h). */
static int respond_metrics(struct lws *wsi, vg_http_session *hs, vg_server *srv) {
    size_t len = 0;
    char *text = vg_metrics_render(srv, &len);
    return vg_http_reply(wsi, hs, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", text,
                         len, NULL, NULL, false);
}

/* The scraper's own token (server.metrics_token), compared in constant time. */
static bool is_metrics_token(vg_server *srv, struct lws *wsi) {
    const char *want = srv->config->metrics_token;
    char hdr[256];
    if (!want || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) >= (int)sizeof(hdr) ||
        lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
        strncasecmp(hdr, "Bearer ", 7))
        return false;
    size_t n = strlen(hdr + 7);
    return n == strlen(want) && CRYPTO_memcmp(hdr + 7, want, n) == 0;
}

/* 401 with the Bearer challenge (RFC 6750). */
static int unauthorized(struct lws *wsi, vg_http_session *hs, const char *why) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    srv->auth_failed_total++;
    return vg_http_reply_error(wsi, hs, HTTP_STATUS_UNAUTHORIZED, "unauthorized", why,
                               "www-authenticate:", "Bearer realm=\"vigil\"", false);
}

static int not_found(struct lws *wsi, vg_http_session *hs) {
    return respond(wsi, hs, HTTP_STATUS_NOT_FOUND,
                   json_pack("{s:s, s:s}", "error", "not_found", "message", "no such path"));
}

static int respond_error(struct lws *wsi, vg_http_session *hs, unsigned int status,
                         const char *code, const char *field, const char *message) {
    return respond(wsi, hs, status, vg_http_error_json(code, field, message));
}

static int forbidden(struct lws *wsi, vg_http_session *hs, const char *why) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    srv->forbidden_total++;
    return respond_error(wsi, hs, HTTP_STATUS_FORBIDDEN, "forbidden", NULL, why);
}

/* The {id} in "<prefix>{id}<suffix>", copied to out; 0 if uri is not of that
 * shape or the id is empty, too long or has a '/'. */
static int path_id(const char *uri, const char *prefix, const char *suffix, char *out,
                   size_t outlen) {
    size_t pl = strlen(prefix), sl = strlen(suffix), ul = strlen(uri);
    if (ul <= pl + sl || strncmp(uri, prefix, pl) || strcmp(uri + ul - sl, suffix)) return 0;
    size_t n = ul - pl - sl;
    if (n >= outlen || memchr(uri + pl, '/', n)) return 0;
    memcpy(out, uri + pl, n);
    out[n] = 0;
    return 1;
}

/* ---- methods and routes ---------------------------------------------------- */

enum { M_GET = 1, M_HEAD = 2, M_POST = 4, M_PUT = 8, M_PATCH = 16, M_DELETE = 32, M_OPTIONS = 64 };

/* lws keeps the path under a token named for the method. */
static const struct {
    enum lws_token_indexes token;
    unsigned method;
} method_tokens[] = {
    {WSI_TOKEN_GET_URI, M_GET},         {WSI_TOKEN_POST_URI, M_POST},
    {WSI_TOKEN_HEAD_URI, M_HEAD},       {WSI_TOKEN_PUT_URI, M_PUT},
    {WSI_TOKEN_PATCH_URI, M_PATCH},     {WSI_TOKEN_DELETE_URI, M_DELETE},
    {WSI_TOKEN_OPTIONS_URI, M_OPTIONS},
};

/* The request's method and path (query cut off): 0, or -1 (no method lws
 * knows, or a path longer than uri). */
static int request_line(struct lws *wsi, unsigned *method, char *uri, size_t urilen) {
    for (size_t i = 0; i < sizeof(method_tokens) / sizeof(method_tokens[0]); i++) {
        int n = lws_hdr_total_length(wsi, method_tokens[i].token);
        if (n <= 0) continue;
        if (n >= (int)urilen || lws_hdr_copy(wsi, uri, (int)urilen, method_tokens[i].token) <= 0)
            return -1;
        *method = method_tokens[i].method;
        char *q = strchr(uri, '?');
        if (q) *q = 0;
        return 0;
    }
    return -1;
}

/* The nodes of the cluster and what each serves: admins only; 404 when
 * this server is not part of one. */
static int api_cluster(struct lws *wsi, vg_http_session *hs, vg_server *srv) {
    if (!vg_access_is_admin(&hs->access)) return forbidden(wsi, hs, "admin only");
    json_t *c = vg_cluster_node_describe(srv, vg_server_now_us());
    if (!c)
        return respond_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "not_clustered", NULL,
                             "this server is not part of a cluster (no \"cluster\" section)");
    return respond(wsi, hs, HTTP_STATUS_OK, c);
}

/* The methods a path answers; 0 for a path that is not there (404). The
 * one place that knows each route's methods: handle_api() dispatches. */
static unsigned route_methods(const char *uri) {
    static const char *const reads[] = {"/api/health",         "/api/streams", "/api/devices",
                                        "/api/admin/sessions", "/api/cluster", "/metrics"};
    char id[CONTROL_ID_MAX];
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
        if (!strcmp(uri, reads[i])) return M_GET | M_HEAD;
    if (!strcmp(uri, "/api/admin/reload") ||
        path_id(uri, "/api/devices/", "/commands", id, sizeof(id)) ||
        path_id(uri, "/api/streams/", "/clips", id, sizeof(id)))
        return M_POST;
    if (path_id(uri, "/api/devices/", "", id, sizeof(id)) ||
        path_id(uri, "/api/commands/", "", id, sizeof(id)) ||
        path_id(uri, "/api/streams/", "/snapshot.jpg", id, sizeof(id)))
        return M_GET | M_HEAD;
    switch (vg_recordings_route(uri)) {
    case VG_RECORDINGS_LIST: return M_GET | M_HEAD;
    case VG_RECORDINGS_FILE: return M_GET | M_HEAD | M_DELETE;
    case VG_RECORDINGS_NONE: break;
    }
    return 0;
}

/* The Allow header of a path's methods, e.g. "GET, HEAD". */
static void allow_header(unsigned allowed, char *out, size_t outlen) {
    static const struct {
        unsigned method;
        const char *name;
    } names[] = {{M_GET, "GET"},     {M_HEAD, "HEAD"},     {M_POST, "POST"},      {M_PUT, "PUT"},
                 {M_PATCH, "PATCH"}, {M_DELETE, "DELETE"}, {M_OPTIONS, "OPTIONS"}};
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (allowed & names[i].method && used < outlen)
            used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
                                     names[i].name);
}

/* 405 with the methods the path has. A request that announces a body is
 * answered and closed (its body is never read); one without stays open. */
static int refuse_method(struct lws *wsi, vg_http_session *hs, unsigned allowed) {
    vg_http_count_refused(wsi, VG_HTTP_REFUSED_METHOD);
    char allow[64], message[96];
    allow_header(allowed, allow, sizeof(allow));
    snprintf(message, sizeof(message), "this path takes %s", allow);
    bool body = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    return vg_http_reply_error(wsi, hs, HTTP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
                               message, "allow:", allow, body);
}

static void drop_request(vg_http_session *hs) {
    free(hs->req);
    hs->req = NULL;
    hs->req_len = hs->req_expected = 0;
}

/* POST /api/devices/{id}/commands: the body is complete in hs->req. */
static int post_command(struct lws *wsi, vg_http_session *hs) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    json_error_t je;
    json_t *body = json_loadb(hs->req, hs->req_len, JSON_REJECT_DUPLICATES, &je);
    drop_request(hs);
    if (!json_is_object(body)) {
        json_decref(body);
        srv->errors_total++;
        return respond_error(wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_json", NULL,
                             "the body must be a JSON object");
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *params = json_object_get(body, "params");
    const char *code = NULL, *field = NULL;
    char err[CONTROL_ERR_MAX], cid[CONTROL_ID_MAX];
    if (!name || !*name) {
        code = "bad_field", field = "name";
        snprintf(err, sizeof(err), "field 'name' must be a non-empty string");
    } else if (params && !json_is_object(params)) {
        code = "bad_field", field = "params";
        snprintf(err, sizeof(err), "field 'params' must be an object");
    } else {
        json_t *options = vg_devices_options_of(body);
        vg_command_request req = {hs->target, name, params, options, NULL};
        int r =
            vg_devices_command(srv, &hs->access, NULL, &req, cid, sizeof(cid), err, sizeof(err));
        json_decref(options);
        if (r != CONTROL_ISSUE_OK) code = vg_devices_error_code(r, &field);
    }
    if (code) {
        srv->errors_total++;
        unsigned int status = !strcmp(code, "unknown_device") ? HTTP_STATUS_NOT_FOUND
                              : !strcmp(code, "forbidden")    ? HTTP_STATUS_FORBIDDEN
                              : !strcmp(code, "device_unavailable")
                                  ? HTTP_STATUS_SERVICE_UNAVAILABLE
                                  : HTTP_STATUS_BAD_REQUEST;
        json_decref(body);
        return respond_error(wsi, hs, status, code, field, err);
    }
    json_t *reply = json_pack("{s:s, s:s, s:s, s:s}", "command_id", cid, "device", hs->target,
                              "name", name, "status", "queued");
    json_decref(body);
    char location[32 + CONTROL_ID_MAX];
    snprintf(location, sizeof(location), "/api/commands/%s", cid);
    return vg_http_reply_json(wsi, hs, 202 /* Accepted: lws names no constant */, reply,
                              "location:", location, false);
}

/* A POST is accepted for a device's commands and a stream's clips; its
 * body is read up to MAX_BODY bytes (larger ones get 413 before anything is
 * read). A clip may come without a body. */
static int begin_post(struct lws *wsi, vg_http_session *hs, const char *uri) {
    char target[CONTROL_ID_MAX];
    hs->post_clip = path_id(uri, "/api/streams/", "/clips", target, sizeof(target));
    if (!hs->post_clip && !path_id(uri, "/api/devices/", "/commands", target, sizeof(target)))
        return not_found(wsi, hs);
    /* lws frames request bodies by Content-Length only: a chunked body
     * (Node's http.request without a length, curl -H 'Transfer-Encoding:
     * chunked') is told so at once rather than left waiting. */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        vg_http_count_refused(wsi, VG_HTTP_REFUSED_LENGTH);
        return vg_http_reply_error(wsi, hs, HTTP_STATUS_LENGTH_REQUIRED, "length_required",
                                   "send the body with a Content-Length (up to 16384 bytes); "
                                   "chunked request bodies are not supported",
                                   NULL, NULL, true);
    }
    char cl[32] = "";
    lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    long n = atol(cl);
    if (n <= 0 && hs->post_clip) return vg_http_post_clip(wsi, hs, target, NULL, 0);
    if (n <= 0)
        return respond_error(wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_json", NULL,
                             "a JSON body with Content-Length is required");
    if (n > MAX_BODY) {
        vg_http_count_refused(wsi, VG_HTTP_REFUSED_BODY_TOO_LARGE);
        return respond_error(wsi, hs, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, "too_large", NULL,
                             "the body is larger than 16384 bytes");
    }
    hs->req = malloc((size_t)n);
    if (!hs->req) return -1;
    hs->req_len = 0;
    hs->req_expected = (size_t)n;
    snprintf(hs->target, sizeof(hs->target), "%s", target);
    return 0; /* the body follows in LWS_CALLBACK_HTTP_BODY */
}

/* The rights of this request: its Bearer token, or anonymous access where the
 * config allows it, or none. -1 (reason in err) for a token that is present
 * but not valid. */
static int request_access(vg_server *srv, struct lws *wsi, vg_access *a, char *err, size_t errlen) {
    vg_access_clear(a);
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0) {
        if (srv->config->auth.anonymous_streams)
            vg_access_anonymous(a, srv->config->auth.anonymous_streams);
        return 0;
    }
    char hdr[VG_TOKEN_MAX_LEN + 16];
    if (n >= (int)sizeof(hdr) ||
        lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
        strncasecmp(hdr, "Bearer ", 7)) {
        snprintf(err, errlen, "use Authorization: Bearer <token>");
        return -1;
    }
    json_t *claims = vg_server_verify_token(srv, hdr + 7, err, errlen);
    if (!claims) return -1;
    vg_access_from_claims(a, claims);
    json_decref(claims);
    return 0;
}

/* POST /api/admin/reload: the report of what changed, or why nothing did. */
static int api_reload(struct lws *wsi, vg_http_session *hs, vg_server *srv) {
    json_t *report;
    char err[512];
    if (vg_server_reload(srv, &report, err, sizeof(err)))
        return respond_error(wsi, hs,
                             srv->load_config ? HTTP_STATUS_BAD_REQUEST : HTTP_STATUS_CONFLICT,
                             srv->load_config ? "invalid_config" : "no_config_file", NULL, err);
    json_object_set_new(report, "reloaded", json_true());
    return respond(wsi, hs, HTTP_STATUS_OK, report);
}

static int handle_api(struct lws *wsi, vg_http_session *hs) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    if (srv->stopping) return vg_drain_refuse(srv, wsi);
    char uri[256], id[CONTROL_ID_MAX], err[128];
    unsigned method = 0;
    if (request_line(wsi, &method, uri, sizeof(uri))) {
        vg_http_count_refused(wsi, VG_HTTP_REFUSED_URI_TOO_LONG);
        return vg_http_reply_error(wsi, hs, HTTP_STATUS_REQ_URI_TOO_LONG, "uri_too_long",
                                   "a path of at most 255 bytes", NULL, NULL, true);
    }
    hs->head = method == M_HEAD;
    if (vg_http_headers_too_large(wsi)) {
        vg_http_count_refused(wsi, VG_HTTP_REFUSED_HEADERS);
        return vg_http_reply_error(wsi, hs, 431 /* lws names no constant */, "headers_too_large",
                                   "a request header is longer than 8192 bytes", NULL, NULL, false);
    }
    /* The listener of server.metrics_bind is its own access control, and
     * serves /metrics only (server/metrics_vhost.c). */
    bool metrics_vhost = lws_get_vhost(wsi) == srv->metrics_vhost;
    unsigned allowed = metrics_vhost && strcmp(uri, "/metrics") ? 0 : route_methods(uri);
    if (!allowed) {
        vg_http_count_refused(wsi, VG_HTTP_REFUSED_NOT_FOUND);
        return not_found(wsi, hs);
    }
    if (!(allowed & method)) return refuse_method(wsi, hs, allowed);
    bool post = method == M_POST;
    if (metrics_vhost) return respond_metrics(wsi, hs, srv);
    bool metrics = !strcmp(uri, "/metrics");
    if (metrics && is_metrics_token(srv, wsi)) return respond_metrics(wsi, hs, srv);
    if (request_access(srv, wsi, &hs->access, err, sizeof(err)) < 0)
        return unauthorized(wsi, hs, err);
    if (!strcmp(uri, "/api/health"))
        return respond(wsi, hs, HTTP_STATUS_OK, api_health(srv, &hs->access));
    if (hs->access.role == VG_ROLE_NONE) return unauthorized(wsi, hs, "a token is required");
    if (metrics)
        return vg_access_is_admin(&hs->access) ? respond_metrics(wsi, hs, srv)
                                               : forbidden(wsi, hs, "admin or metrics token only");
    if (post && !strcmp(uri, "/api/admin/reload"))
        return vg_access_is_admin(&hs->access) ? api_reload(wsi, hs, srv)
                                               : forbidden(wsi, hs, "admin only");
    if (post) return begin_post(wsi, hs, uri);
    if (!strcmp(uri, "/api/streams"))
        return respond(wsi, hs, HTTP_STATUS_OK, api_streams(srv, &hs->access));
    if (path_id(uri, "/api/streams/", "/snapshot.jpg", id, sizeof(id)))
        return vg_http_snapshot(wsi, hs, id);
    if (vg_recordings_route(uri))
        return vg_http_recordings(wsi, hs, uri, method == M_DELETE);
    if (!strcmp(uri, "/api/devices"))
        return respond(wsi, hs, HTTP_STATUS_OK, vg_devices_list(srv, &hs->access));
    if (!strcmp(uri, "/api/admin/sessions"))
        return vg_access_is_admin(&hs->access) ? respond(wsi, hs, HTTP_STATUS_OK, api_sessions(srv))
                                               : forbidden(wsi, hs, "admin only");
    if (!strcmp(uri, "/api/cluster")) return api_cluster(wsi, hs, srv);
    json_t *found = NULL;
    if (path_id(uri, "/api/devices/", "", id, sizeof(id)))
        found = vg_devices_get(srv, &hs->access, id);
    else if (path_id(uri, "/api/commands/", "", id, sizeof(id)))
        found = vg_devices_command_get(srv, &hs->access, id);
    return found ? respond(wsi, hs, HTTP_STATUS_OK, found) : not_found(wsi, hs);
}

int vg_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    vg_http_session *hs = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* A WebSocket upgrade without the vigil.v1 subprotocol lands here. */
        vg_server *srv = lws_context_user(lws_get_context(wsi));
        return srv->stopping ? vg_drain_refuse(srv, wsi) : -1;
    }
    case LWS_CALLBACK_HTTP: return handle_api(wsi, hs);
    /* A body with no command waiting for it was answered already (an error,
     * or POST /api/admin/reload); lws reads it past. */
    case LWS_CALLBACK_HTTP_BODY:
        if (!hs || !hs->req) return 0;
        if (len > hs->req_expected - hs->req_len) return -1;
        memcpy(hs->req + hs->req_len, in, len);
        hs->req_len += len;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!hs || !hs->req) return 0;
        if (hs->post_clip) {
            /* Taken out of hs first: a reply that completes the transaction
             * frees hs on a keep-alive connection. */
            char *body = hs->req, target[sizeof(hs->target)];
            size_t body_len = hs->req_len;
            memcpy(target, hs->target, sizeof(target));
            hs->req = NULL;
            drop_request(hs);
            int rc = vg_http_post_clip(wsi, hs, target, body, body_len);
            free(body);
            return rc;
        }
        return post_command(wsi, hs);
    /* A snapshot's reply, once made (server/http_snapshot.c). */
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (hs && hs->deferred) return vg_http_reply_deferred(wsi, hs);
        break;
    /* A keep-alive connection unbinds the protocol (and frees `hs`) after each
     * transaction without CLOSED_HTTP: clean up on both. */
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP: vg_http_session_clear(hs); break;
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

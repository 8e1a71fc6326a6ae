/* http_reply.c -- writing the REST API's responses (server/http_reply.h).
 *
 * Thread: lws service thread only. */
#include "server/http_reply.h"

#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define HEADERS_MAX 1024 /* room for the response's headers */

static const char *const refused_names[VG_HTTP_REFUSED_COUNT] = {
    [VG_HTTP_REFUSED_METHOD] = "method",
    [VG_HTTP_REFUSED_NOT_FOUND] = "not_found",
    [VG_HTTP_REFUSED_URI_TOO_LONG] = "uri_too_long",
    [VG_HTTP_REFUSED_LENGTH] = "length_required",
    [VG_HTTP_REFUSED_BODY_TOO_LARGE] = "body_too_large",
    [VG_HTTP_REFUSED_HEADERS] = "headers_too_large",
};

const char *vg_http_refused_name(vg_http_refused why) {
    return why < VG_HTTP_REFUSED_COUNT ? refused_names[why] : "unknown";
}

void vg_http_count_refused(struct lws *wsi, vg_http_refused why) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    srv->errors_total++;
    if (why < VG_HTTP_REFUSED_COUNT) srv->http_refused_total[why]++;
}

/* The tokens of the request line: the path under its method's name, and
 * the query. */
static bool request_line_token(int t) {
    static const enum lws_token_indexes line[] = {
        WSI_TOKEN_GET_URI,  WSI_TOKEN_POST_URI,  WSI_TOKEN_OPTIONS_URI,
        WSI_TOKEN_PUT_URI,  WSI_TOKEN_PATCH_URI, WSI_TOKEN_DELETE_URI,
        WSI_TOKEN_HEAD_URI, WSI_TOKEN_CONNECT,   WSI_TOKEN_HTTP_URI_ARGS};
    for (size_t i = 0; i < sizeof(line) / sizeof(line[0]); i++)
        if ((int)line[i] == t) return true;
    return false;
}

const struct lws_token_limits *vg_http_token_limits(void) {
    static struct lws_token_limits limits;
    /* lws keeps one more byte than the limit: a value that long was cut. */
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        limits.token_limit[t] = request_line_token(t) ? 0 : VG_HTTP_HEADER_VALUE_MAX + 1;
    return &limits;
}

bool vg_http_headers_too_large(struct lws *wsi) {
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        if (request_line_token(t)) continue;
        /* each occurrence of a header is a fragment, cut on its own */
        for (int f = 0; lws_hdr_fragment_length(wsi, (enum lws_token_indexes)t, f) > 0; f++)
            if (lws_hdr_fragment_length(wsi, (enum lws_token_indexes)t, f) >
                VG_HTTP_HEADER_VALUE_MAX)
                return true;
    }
    return false;
}

/* lws waits for a body after a POST, PUT or PATCH even without a
 * Content-Length (as if 100 MiB followed), and cannot frame a chunked one. */
static bool body_unframed(struct lws *wsi) {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) return true;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) return false;
    return lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 ||
           lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0 ||
           lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end) {
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

int vg_http_reply_headers(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                          const char *type, const void *text, size_t len,
                          const vg_http_header *extra, size_t nextra, bool close) {
    close = close || body_unframed(wsi);
    unsigned char *buf = malloc(LWS_PRE + HEADERS_MAX + len);
    if (!buf) return -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + HEADERS_MAX - 1;
    int bad = lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
              add_header(wsi, "cache-control:", "no-store", &p, end);
    for (size_t i = 0; i < nextra && !bad; i++)
        bad = add_header(wsi, extra[i].name, extra[i].value, &p, end);
    bad = bad || (close && add_header(wsi, "connection:", "close", &p, end)) ||
          lws_finalize_http_header(wsi, &p, end);
    if (!bad && len && !(hs && hs->head)) { /* len 0: text may be NULL */
        memcpy(p, text, len);
        p += len;
    }
    int n = bad ? -1 : lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL);
    free(buf);
    if (n < 0 || close) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int vg_http_reply_bytes(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                        const char *type, const void *text, size_t len, const char *name,
                        const char *value, bool close) {
    vg_http_header one = {name, value};
    return vg_http_reply_headers(wsi, hs, status, type, text, len, &one, value ? 1 : 0, close);
}

int vg_http_reply(struct lws *wsi, const vg_http_session *hs, unsigned int status, const char *type,
                  char *text, size_t len, const char *name, const char *value, bool close) {
    if (!text) return -1;
    int rc = vg_http_reply_bytes(wsi, hs, status, type, text, len, name, value, close);
    free(text);
    return rc;
}

static void deferred_free(vg_http_deferred *d) {
    if (!d) return;
    free(d->body);
    free(d);
}

int vg_http_reply_deferred(struct lws *wsi, vg_http_session *hs) {
    vg_http_deferred *d = hs ? hs->deferred : NULL;
    if (!d) return 0;
    hs->deferred = NULL;
    int rc = vg_http_reply_bytes(wsi, hs, d->status, d->type, d->body, d->len, d->name,
                                 d->name ? d->value : NULL, false);
    deferred_free(d);
    return rc;
}

int vg_http_reply_json(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                       json_t *body, const char *name, const char *value, bool close) {
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(body);
    return vg_http_reply(wsi, hs, status, "application/json", text, text ? strlen(text) : 0, name,
                         value, close);
}

json_t *vg_http_error_json(const char *code, const char *field, const char *message) {
    json_t *e = json_pack("{s:s, s:s}", "error", code, "message", message);
    if (e && field) json_object_set_new(e, "field", json_string(field));
    return e;
}

int vg_http_reply_api_error(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                            const char *code, const char *field, const char *message,
                            const char *retry_after) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    srv->errors_total++;
    return vg_http_reply_json(wsi, hs, status, vg_http_error_json(code, field, message),
                              retry_after ? "retry-after:" : NULL, retry_after, false);
}

int vg_http_reply_error(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                        const char *code, const char *message, const char *name, const char *value,
                        bool close) {
    return vg_http_reply_json(wsi, hs, status, vg_http_error_json(code, NULL, message), name, value,
                              close);
}

int vg_http_query_arg(struct lws *wsi, const char *name, char *out, size_t outlen) {
    size_t nl = strlen(name);
    for (int i = 0;; i++) {
        int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len <= 0) return 0;
        char *arg = malloc((size_t)len + 1);
        if (!arg) return -1;
        int found = 0;
        if (lws_hdr_copy_fragment(wsi, arg, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0 &&
            !strncmp(arg, name, nl) && arg[nl] == '=') {
            found = strlen(arg + nl + 1) < outlen ? 1 : -1;
            if (found > 0) strcpy(out, arg + nl + 1);
        }
        free(arg);
        if (found) return found;
    }
}

void vg_http_session_clear(vg_http_session *hs) {
    if (!hs) return;
    free(hs->req);
    hs->req = NULL;
    hs->req_len = hs->req_expected = 0;
    vg_access_clear(&hs->access);
    vg_snapshot_wait_cancel(&hs->snapshot);
    deferred_free(hs->deferred);
    hs->deferred = NULL;
}

/* http_reply.h -- how the REST API (server/http_api.c) answers: one HTTP
 * transaction's state, a whole response written at once, and the refusal
 * counters.
 *
 * A response is written in one go and ends its transaction there and then
 * (lws keeps what the socket does not take yet and sends it first). Ending
 * it later, from HTTP_WRITEABLE, is what lws 4.1 cannot pipeline: it parses
 * the next request of a kept-alive connection into the headers of the one
 * still being answered, answering that twice and losing the next.
 *
 * The one reply that has to come later (a snapshot being made,
 * server/http_snapshot.c) is a deferred one: its connection stops reading
 * (lws_rx_flow_control) while it waits, so no next request is parsed, and
 * once the answer is known the reading resumes and the reply is written
 * from HTTP_WRITEABLE at once, in the same turn of the loop
 * (vg_http_reply_deferred).
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_HTTP_REPLY_H
#define VIGIL_SERVER_HTTP_REPLY_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "control/control.h"
#include "server/access.h"
#include "server/snapshots.h"

/* Request headers (lws is given these by server/server.c). All of one
 * request's headers may take VG_HTTP_HEADERS_MAX bytes: past that lws 4.1
 * drops the connection without a reply (it offers no way to answer). One
 * header's value is cut by lws after VG_HTTP_HEADER_VALUE_MAX bytes, which
 * the API answers with 431. A 4 KiB token (VG_TOKEN_MAX_LEN) and a
 * browser's usual headers and cookies fit with room to spare. */
#define VG_HTTP_HEADERS_MAX      16384
#define VG_HTTP_HEADER_VALUE_MAX 8192
/* The per-header limits for lws_context_creation_info.token_limits (the
 * request line itself is bounded by VG_HTTP_HEADERS_MAX only). */
const struct lws_token_limits *vg_http_token_limits(void);
/* Whether a header of this request was cut at VG_HTTP_HEADER_VALUE_MAX. */
bool vg_http_headers_too_large(struct lws *wsi);

/* Per-transaction data of the HTTP protocol. */
typedef struct vg_http_session {
    /* a POST being received: what it is for (a device's command, or a
     * stream's clip: `target` names which) and its body so far */
    char *req;
    size_t req_len, req_expected;
    bool post_clip;
    char target[CONTROL_ID_MAX];
    vg_access access; /* the rights of the request being answered */
    bool head;        /* a HEAD request: the headers of GET, no body */
    /* a reply that waits for a snapshot being made (server/http_snapshot.c) */
    vg_snapshot_wait snapshot;
    struct vg_http_deferred *deferred; /* that reply, once known, until written */
} vg_http_session;

/* A reply known after LWS_CALLBACK_HTTP, written from HTTP_WRITEABLE. */
typedef struct vg_http_deferred {
    unsigned int status;
    const char *type; /* static */
    char *body;       /* malloc'd */
    size_t len;
    const char *name; /* static, with its colon; NULL: no extra header */
    char value[48];
} vg_http_deferred;

/* Why a request was refused at the HTTP level (vigil_http_refused_total). */
typedef enum {
    VG_HTTP_REFUSED_METHOD,         /* 405 */
    VG_HTTP_REFUSED_NOT_FOUND,      /* 404: no such path */
    VG_HTTP_REFUSED_URI_TOO_LONG,   /* 414 */
    VG_HTTP_REFUSED_LENGTH,         /* 411: a chunked body */
    VG_HTTP_REFUSED_BODY_TOO_LARGE, /* 413 */
    VG_HTTP_REFUSED_HEADERS,        /* 431 */
    VG_HTTP_REFUSED_COUNT
} vg_http_refused;
const char *vg_http_refused_name(vg_http_refused why);
/* Counts the refusal (and an error sent) in the server of wsi. */
void vg_http_count_refused(struct lws *wsi, vg_http_refused why);

/* Writes `status` with `text` (len bytes of `type`; taken over, freed here
 * also on failure; no body for HEAD), Cache-Control: no-store and, when value
 * is not NULL, one more header (name with its colon, e.g. "location:"), then
 * ends the transaction. The connection is closed after it (Connection:
 * close) when `close` is set or the request has a body lws cannot frame (a
 * POST, PUT or PATCH without Content-Length, or chunked), whose bytes must
 * never be read as a next request. 0, or -1 for the callback to close. */
int vg_http_reply(struct lws *wsi, const vg_http_session *hs, unsigned int status, const char *type,
                  char *text, size_t len, const char *name, const char *value, bool close);
/* The same with a body that stays the caller's. */
int vg_http_reply_bytes(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                        const char *type, const void *body, size_t len, const char *name,
                        const char *value, bool close);
/* One more response header: its name with the colon ("content-range:"). */
typedef struct vg_http_header {
    const char *name, *value;
} vg_http_header;
/* vg_http_reply_bytes() with `nextra` more headers (a partial file's
 * Content-Range and Accept-Ranges). */
int vg_http_reply_headers(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                          const char *type, const void *body, size_t len,
                          const vg_http_header *extra, size_t nextra, bool close);
/* Writes hs->deferred (and frees it) as vg_http_reply() would; from
 * HTTP_WRITEABLE. 0 when there is none. */
int vg_http_reply_deferred(struct lws *wsi, vg_http_session *hs);
/* The same with a JSON body (taken over). */
int vg_http_reply_json(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                       json_t *body, const char *name, const char *value, bool close);
/* {"error": code, "message": message[, "field": field]}: a new reference
 * (NULL on OOM). */
json_t *vg_http_error_json(const char *code, const char *field, const char *message);
/* An API error counted in the server's errors_total: {"error": code,
 * "message": message[, "field": field]} with `status`, and Retry-After when
 * retry_after is not NULL. */
int vg_http_reply_api_error(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                            const char *code, const char *field, const char *message,
                            const char *retry_after);
/* {"error": code, "message": message}, with `status`. */
int vg_http_reply_error(struct lws *wsi, const vg_http_session *hs, unsigned int status,
                        const char *code, const char *message, const char *name, const char *value,
                        bool close);

/* The value of query argument `name` (lws has URL-decoded it) in out: 1,
 * 0 when absent, -1 when longer than out can hold (or OOM). */
int vg_http_query_arg(struct lws *wsi, const char *name, char *out, size_t outlen);

/* Frees what the transaction holds (its protocol is dropped or closed),
 * and stops its waiting for a snapshot. */
void vg_http_session_clear(vg_http_session *hs);

#endif

/* http_redirect.c -- the plain-HTTP listener that sends browsers to https
 * (server.http_redirect_port; see tls.h). Every request, whatever its
 * method, gets 308 Permanent Redirect to https://<same host>:<TLS port><same
 * path and query>; 308 keeps the method and body, so an API client that
 * POSTs to the http URL is sent on too. No HSTS here: browsers ignore it over
 * plain HTTP. WebSocket upgrades on this port are refused.
 *
 * Thread: the callback runs on the lws service thread; creating the vhost,
 * in vg_server_init, on the main thread before the loop starts. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "server/tls.h"

/* RFC 3986 unreserved and sub-delims, ':' and '@' (pchar), and '/': what may
 * stay as it is in a path. In one "name=value" argument of a query, '?' may
 * stay too, but not '&' (it separates them) nor '+' (read as a space).
 * Everything else (lws hands us the path and arguments url-decoded) is
 * encoded again. */
static int keep_char(unsigned char ch, int in_query) {
    if (!ch) return 0;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return 1;
    if (in_query) return strchr("-._~!$'()*,;=:@/?", ch) != NULL;
    return strchr("-._~!$&'()*+,;=:@/", ch) != NULL;
}

static int append_encoded(char *out, size_t outlen, size_t *n, const char *s, int in_query) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (keep_char(ch, in_query)) {
            if (*n + 1 >= outlen) return -1;
            out[(*n)++] = (char)ch;
        } else {
            if (*n + 3 >= outlen) return -1;
            out[(*n)++] = '%';
            out[(*n)++] = hex[ch >> 4];
            out[(*n)++] = hex[ch & 15];
        }
    }
    out[*n] = 0;
    return 0;
}

/* The host part of a Host header, without its port: a name or IPv4 address
 * of [A-Za-z0-9.-], or a bracketed IPv6 address. 0 and the length (with the
 * brackets), or -1. */
static int host_part(const char *host, size_t *len) {
    size_t i = 0;
    if (host[0] == '[') {
        for (i = 1; host[i] && host[i] != ']'; i++)
            if (!strchr("0123456789abcdefABCDEF:.", host[i])) return -1;
        if (host[i] != ']' || i == 1) return -1;
        i++;
    } else {
        for (; host[i] && host[i] != ':'; i++) {
            char ch = host[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
                return -1;
        }
        if (i == 0) return -1;
    }
    if (host[i] == ':') { /* a port: digits only */
        size_t j = i + 1;
        if (!host[j]) return -1;
        for (; host[j]; j++)
            if (host[j] < '0' || host[j] > '9') return -1;
    } else if (host[i]) {
        return -1;
    }
    *len = i;
    return 0;
}

int vg_http_redirect_location(const char *host, const char *path, const char *const *args,
                              size_t nargs, int port, char *out, size_t outlen) {
    size_t hl;
    if (!host || host_part(host, &hl) < 0 || hl > 255) return -1;
    int w = port == 443 ? snprintf(out, outlen, "https://%.*s", (int)hl, host)
                        : snprintf(out, outlen, "https://%.*s:%d", (int)hl, host, port);
    if (w < 0 || (size_t)w >= outlen) return -1;
    size_t n = (size_t)w;
    if (!path || path[0] != '/') path = "/";
    if (append_encoded(out, outlen, &n, path, 0) < 0) return -1;
    for (size_t i = 0; i < nargs; i++) {
        if (n + 1 >= outlen) return -1;
        out[n++] = i ? '&' : '?';
        out[n] = 0;
        if (append_encoded(out, outlen, &n, args[i], 1) < 0) return -1;
    }
    return 0;
}

#define MAX_ARGS 16

/* The request's url-decoded "name=value" query arguments, copied into buf;
 * their number. */
static size_t args_of(struct lws *wsi, char *buf, size_t buflen, const char **args) {
    size_t n = 0, used = 0;
    while (n < MAX_ARGS && used < buflen) {
        int w = lws_hdr_copy_fragment(wsi, buf + used, (int)(buflen - used),
                                      WSI_TOKEN_HTTP_URI_ARGS, (int)n);
        if (w <= 0) break;
        args[n++] = buf + used;
        used += (size_t)w + 1;
    }
    return n;
}

static int redirect(struct lws *wsi) {
    const vg_config *c = lws_get_vhost_user(lws_get_vhost(wsi));
    char host[300] = "", argbuf[1024], location[2048];
    const char *args[MAX_ARGS];
    char *uri = NULL;
    int uri_len = 0;
    if (lws_http_get_uri_and_method(wsi, &uri, &uri_len) < 0 || !uri) uri_len = 0;
    char path[1024];
    snprintf(path, sizeof(path), "%.*s", uri_len, uri ? uri : "/");
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0) host[0] = 0;
    size_t nargs = args_of(wsi, argbuf, sizeof(argbuf), args);
    if (vg_http_redirect_location(host, path, args, nargs, c->port, location, sizeof(location)) <
        0) {
        if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, "missing or invalid Host header"))
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    unsigned char buf[LWS_PRE + 2560], *p = buf + LWS_PRE, *end = buf + sizeof(buf) - 1;
    if (lws_http_redirect(wsi, 308, (const unsigned char *)location, (int)strlen(location), &p,
                          end) < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int redirect_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len) {
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return -1; /* no WebSocket over plain HTTP */
    case LWS_CALLBACK_HTTP: return redirect(wsi);
    case LWS_CALLBACK_HTTP_BODY: return 0; /* a request body is not needed: dropped */
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: return 0;
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols redirect_protocols[] = {
    {.name = "http-redirect", .callback = redirect_callback},
    {.name = NULL},
};

struct lws_vhost *vg_http_redirect_vhost(struct lws_context *ctx, const vg_config *c) {
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = c->http_redirect_port;
    info.iface = c->bind;
    info.protocols = redirect_protocols;
    info.vhost_name = "vigil-redirect";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.user = (void *)c; /* read-only, outlives the context */
    info.timeout_secs = 10;
    struct lws_vhost *vh = lws_create_vhost(ctx, &info);
    if (!vh)
        vg_log(VG_LOG_ERROR, "could not listen on port %d for the http redirect (in use?)",
               c->http_redirect_port);
    return vh;
}

/* admission.c -- checks on a WebSocket upgrade before the 101 (see
 * admission.h). */
#include "server/admission.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "server/server.h"
#include "server/token.h"

static bool path_is_ws(struct lws *wsi) {
    char uri[64];
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0) return false;
    char *q = strchr(uri, '?');
    if (q) *q = 0;
    return !strcmp(uri, "/ws");
}

bool vg_origin_allowed(const char *origin, const char *host, bool tls, const json_t *allowed) {
    if (!origin || !*origin) return true;
    if (allowed) {
        size_t i;
        const json_t *v;
        json_array_foreach(allowed, i,
                           v) if (!strcasecmp(origin, json_string_value(v))) return true;
        return false;
    }
    /* Same origin: our scheme, then the Host this request was sent to. */
    if (!host || !*host) return false;
    const char *scheme = tls ? "https://" : "http://";
    size_t n = strlen(scheme);
    return !strncasecmp(origin, scheme, n) && !strcasecmp(origin + n, host);
}

static void peer_of(struct lws *wsi, char *peer, size_t len) {
    peer[0] = 0;
    lws_get_peer_simple(wsi, peer, len);
}

static uint32_t per_ip(vg_server *srv, const char *peer) {
    return (uint32_t)json_integer_value(json_object_get(srv->per_ip, peer));
}

static int refuse(uint64_t *counter, const char *peer, const char *why) {
    (*counter)++;
    vg_log(VG_LOG_WARN, "refused a WebSocket from %s: %s", peer, why);
    return -1;
}

/* The access_token query argument, verified; 1 valid (into *access), 0 none,
 * -1 invalid (reason in err). */
static int query_token(vg_server *srv, struct lws *wsi, vg_access *access, char *err,
                       size_t errlen) {
    char buf[VG_TOKEN_MAX_LEN + 16];
    const char *tok = lws_get_urlarg_by_name(wsi, "access_token=", buf, (int)sizeof(buf));
    if (!tok) return 0;
    json_t *claims = vg_server_verify_token(srv, tok, err, errlen);
    if (!claims) return -1;
    if (access) vg_access_from_claims(access, claims);
    json_decref(claims);
    return 1;
}

int vg_admission_check(vg_server *srv, struct lws *wsi) {
    char peer[48], origin[256] = "", host[256] = "", err[128];
    peer_of(wsi, peer, sizeof(peer));
    if (!path_is_ws(wsi)) return -1;
    if (srv->stopping) return vg_drain_refuse(srv, wsi);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) >= (int)sizeof(origin))
        return refuse(&srv->origin_refused_total, peer, "Origin too long");
    lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
    lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST);
    if (!vg_origin_allowed(origin, host, srv->config->tls_cert != NULL,
                           srv->config->auth.allowed_origins))
        return refuse(&srv->origin_refused_total, peer, "Origin not allowed");
    if (srv->session_count >= srv->config->max_connections)
        return refuse(&srv->limit_refused_total, peer, "too many connections");
    if (per_ip(srv, peer) >= srv->config->max_connections_per_ip)
        return refuse(&srv->limit_refused_total, peer, "too many connections from it");
    if (query_token(srv, wsi, NULL, err, sizeof(err)) < 0)
        return refuse(&srv->auth_failed_total, peer, err);
    return 0;
}

void vg_admission_accept(vg_server *srv, struct lws *wsi, char *peer, size_t peerlen,
                         vg_access *access) {
    char err[128];
    peer_of(wsi, peer, peerlen);
    json_object_set_new(srv->per_ip, peer, json_integer(per_ip(srv, peer) + 1));
    if (query_token(srv, wsi, access, err, sizeof(err)) < 0) vg_access_clear(access);
}

void vg_admission_release(vg_server *srv, const char *peer) {
    uint32_t n = per_ip(srv, peer);
    if (n <= 1)
        json_object_del(srv->per_ip, peer);
    else
        json_object_set_new(srv->per_ip, peer, json_integer(n - 1));
}

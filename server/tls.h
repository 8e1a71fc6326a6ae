/* tls.h -- https and wss on vigil's listener (libwebsockets over OpenSSL).
 *
 * With server.tls_cert and server.tls_key (or --tls-cert/--tls-key) the
 * listener speaks TLS only: https for the dashboard and the REST API, wss for
 * vigil.v1. Every HTTP response then carries Strict-Transport-Security.
 * server.http_redirect_port adds a second listener (an lws vhost) speaking
 * plain HTTP, which answers every request with 308 Permanent Redirect to the
 * same host and path on the TLS port (server/http_redirect.c).
 *
 * Thread: the main thread, before the server runs; the redirect vhost's
 * callback then runs on the lws service thread like every other. */
#ifndef VIGIL_SERVER_TLS_H
#define VIGIL_SERVER_TLS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/config.h"

/* The HSTS header value sent when TLS is on: one year. */
#define VG_TLS_HSTS "max-age=31536000"

bool vg_tls_enabled(const vg_config *c);

/* Checks the TLS settings before anything starts: both files or neither,
 * each readable PEM, the key matching the certificate (and not protected by a
 * passphrase, which nobody could type in), a redirect port only with TLS and
 * not the main port. 0, or -1 with a message naming the setting in err. An
 * expired certificate is only warned about in the log. */
int vg_tls_check(const vg_config *c, char *err, size_t errlen);

/* Adds TLS to the main vhost's creation info when it is on: certificate,
 * key, HTTP/1.1 only over ALPN (the REST API reads HTTP/1 headers), no TLS
 * before 1.2, the HSTS header; and the context option that initialises
 * OpenSSL. Leaves info alone otherwise. */
void vg_tls_vhost_info(const vg_config *c, struct lws_context_creation_info *info);

/* With server.tls_ktls, after the first TLS connection's handshake: logs
 * once whether kernel TLS sends for it, and if not, why. *said is the
 * caller's once-flag. */
void vg_tls_say_ktls(const vg_config *c, struct lws *wsi, bool *said);

/* server/http_redirect.c: creates the plain-HTTP redirect vhost on
 * c->http_redirect_port. NULL (logged by lws) when it cannot listen. */
struct lws_vhost *vg_http_redirect_vhost(struct lws_context *ctx, const vg_config *c);

/* The Location for a redirect of `path` (url-decoded, without the query)
 * and its `nargs` url-decoded "name=value" query arguments, on a request
 * whose Host header was `host`, to `port` over https. Characters outside
 * RFC 3986's path/query sets are percent-encoded. -1 when host is missing or
 * not a host name, an IPv4 address or a bracketed IPv6 address (optionally
 * with a port), or when out does not fit it. */
int vg_http_redirect_location(const char *host, const char *path, const char *const *args,
                              size_t nargs, int port, char *out, size_t outlen);

#endif

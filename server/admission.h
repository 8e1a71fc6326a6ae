/* admission.h -- who may open the vigil.v1 WebSocket, decided before the 101
 * goes out: the path (/ws), the Origin (exact allow-list, or same origin),
 * the connection limits (total and per IP), and an access_token in the query
 * when there is one. Every refusal is counted and logged.
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_ADMISSION_H
#define VIGIL_SERVER_ADMISSION_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/access.h"

typedef struct vg_server vg_server;

/* 0 to accept the upgrade, -1 to refuse it. */
int vg_admission_check(vg_server *srv, struct lws *wsi);
/* For an accepted upgrade: the peer's address, and the rights its
 * access_token gives (role VG_ROLE_NONE when it brought none). */
void vg_admission_accept(vg_server *srv, struct lws *wsi, char *peer, size_t peerlen,
                         vg_access *access);
/* The session of `peer` ended: its per-IP count goes down. */
void vg_admission_release(vg_server *srv, const char *peer);

/* Pure: whether `origin` may open /ws given the allow-list (borrowed, NULL:
 * only the same origin as `host`). A request with no Origin (not a browser)
 * passes. */
bool vg_origin_allowed(const char *origin, const char *host, const json_t *allowed);

#endif

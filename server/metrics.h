/* metrics.h -- GET /metrics: the server's figures in the Prometheus text
 * exposition format (version 0.0.4), for a scraper.
 *
 * What it holds: build info and uptime; connections and sessions by role;
 * refused upgrades by reason; connections closed by close code; requests
 * refused for their rate, rights or tokens; the process's resident memory
 * and open files; the service loop's lag (a histogram, server/loop_lag.h);
 * per stream and per variant (labels `stream`, `variant`):
 * its state, viewers by delivery mode, frames and bytes taken in and written
 * out (by mode), viewer skips, restarts, frames lost, frame rate, byte rate
 * and keyframe interval, and for push sources their UDP receiver's counters;
 * per device transport whether it is connected, and per device its commands
 * issued, by final status and their latency (a histogram), and its reports.
 * README "Metrics" lists every family. Names follow
 * Prometheus' conventions (`vigil_` prefix, base units, `_total` counters);
 * labels are bounded sets (streams, devices and transports come from the
 * config; no per-viewer label).
 *
 * Access (server/http_api.c): an admin token, or the config's
 * `server.metrics_token`, so a scraper needs no admin rights; or no token at
 * all on the listener of `server.metrics_bind` (metrics_vhost.c), which
 * serves nothing else.
 *
 * Thread: lws service thread only (it reads the server's state). */
#ifndef VIGIL_SERVER_METRICS_H
#define VIGIL_SERVER_METRICS_H

#include <libwebsockets.h>
#include <stddef.h>

#include "server/config.h"

struct vg_server;

/* The exposition, NUL-terminated (malloc'd; *len is its length), or NULL on
 * OOM. */
char *vg_metrics_render(struct vg_server *srv, size_t *len);

/* server/metrics_vhost.c: the listener of server.metrics_bind (c->metrics_host
 * and c->metrics_port), which serves GET /metrics without a token and
 * nothing else. NULL (logged) when it cannot listen. Main thread, before the
 * loop runs. */
struct lws_vhost *vg_metrics_vhost(struct lws_context *ctx, const vg_config *c);

#endif

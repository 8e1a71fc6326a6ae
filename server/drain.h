/* drain.h -- stopping well: what the first SIGTERM (or SIGINT) starts.
 *
 *   1. at once: new WebSocket upgrades and API calls get 503 "shutting
 *      down" (counted; static files are still served), every vigil.v1
 *      client is told `server.shutdown` with a reconnect hint, the streams
 *      stop;
 *   2. device commands without a final status get until a bit before the
 *      bound to finish; the rest end `failed` ("server shutting down"),
 *      and their issuers hear it while still connected;
 *   3. every WebSocket is closed with 1001, after what was queued for it;
 *   4. vg_server_run() returns 0 once no client is left, or at the bound
 *      (server.shutdown_timeout_s) at the latest.
 *
 * A second signal during the drain ends it at once.
 *
 * Thread: the lws service thread, except vg_server_request_stop_now(),
 * which a signal handler calls. */
#ifndef VIGIL_SERVER_DRAIN_H
#define VIGIL_SERVER_DRAIN_H

#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_server vg_server;

/* How long clients are told to wait before they connect again: about what a
 * service manager takes to start vigil again. */
#define VG_DRAIN_RECONNECT_MS 2000
#define VG_DRAIN_REASON       "server shutting down"

typedef struct vg_drain {
    volatile sig_atomic_t stop_now; /* a second signal: stop at once */
    lws_sorted_usec_list_t sul;     /* the drain's own timer */
    int64_t started_us, commands_deadline_us;
    bool commands_ended, closing;
    size_t commands_unfinished; /* at the start of the drain */
    size_t commands_failed;     /* of those, ended by the drain */
    uint32_t sessions_told;
    uint64_t refused; /* upgrades and API calls answered 503 */
} vg_drain;

/* Async-signal-safe: during a drain, end it at the next turn of the loop. */
void vg_server_request_stop_now(vg_server *srv);

/* Step 1 and the timer that runs steps 2 and 3 (server.c, begin_shutdown). */
void vg_drain_begin(vg_server *srv);
/* After the loop (server.c, vg_server_run): commands still unfinished get
 * the rest of their time when every client left early, then end `failed`;
 * the drain is logged. */
void vg_drain_finish(vg_server *srv);

/* Answers an HTTP request or a WebSocket upgrade that came during the drain
 * with 503 (JSON body, Retry-After, connection closed); counted. Returns -1
 * (close), as the lws callback should. */
int vg_drain_refuse(vg_server *srv, struct lws *wsi);

#endif

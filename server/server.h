/* server.h -- the vigil process: one lws context serving the dashboard files,
 * the REST API and the vigil.v1 WebSocket on one port, and the streams.
 *
 * Threads: the lws service thread (the main thread, in vg_server_run) owns
 * everything here and is the only one that calls lws. GStreamer threads reach
 * it only through `inbox` and lws_cancel_service(). A signal handler only sets
 * `stop_requested` and wakes the loop. */
#ifndef VIGIL_SERVER_SERVER_H
#define VIGIL_SERVER_SERVER_H

#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/inbox.h"
#include "media/record_writers.h"
#include "control/control.h"
#include "media/stream.h"
#include "media/variant.h"
#include "server/config.h"
#include "server/drain.h"
#include "server/http_reply.h"
#include "server/heap_trim.h"
#include "server/loop_lag.h"
#include "server/media_write.h"
#include "server/protocol.h"
#include "server/ready_list.h"
#include "server/recordings_index.h"
#include "server/reload.h"
#include "server/secrets.h"
#include "server/session.h"

#define VIGIL_VERSION  "0.1.0"
#define VIGIL_PROTOCOL "vigil.v1"

struct vg_server {
    /* The configuration in force: read-only; the caller's until a reload
     * replaces it (server/reload.h), then owned_config. */
    const vg_config *config;
    const vg_protocol *protocol; /* the layer above (server/protocol.h), borrowed */
    vg_stream_hooks stream_hooks; /* what every stream calls back (server.c) */
    struct lws_context *context;
    struct ev_loop *loop; /* libev, run by vg_server_run; lws joins it as a foreign loop */
    vg_inbox inbox;       /* GStreamer threads -> lws thread (own lock) */
    vg_reaper reaper;     /* lws thread -> teardown thread (own lock) */
    /* lws thread -> the recording threads, one per disk, for the streams'
     * recorders (media/record_writers.h, each its own lock); stopped after
     * the last stream */
    vg_record_writers record_writers;
    /* JPEGs of keyframes (server/snapshots.h): lws thread; its worker has its own locks */
    vg_snapshots snapshots;
    /* the names of recordings directories, kept between listings
     * (server/recordings_index.h): lws thread */
    vg_recordings_index recordings_index;
    vg_stream **streams;
    size_t nstreams;
    vg_session *sessions; /* lws thread */
    /* sessions whose viewer queue went from empty to not empty in this turn
     * of the loop: written right after it (server.c, write_ready) */
    vg_ready_list ready;
    uint32_t session_count;
    uint64_t next_session_serial;
    lws_sorted_usec_list_t tick;
    vg_loop_lag tick_lag; /* how late `tick` runs (server/loop_lag.h) */
    vg_heap_trim heap_trim; /* run from `tick` (server/heap_trim.h) */
    /* device control (server/devices.c): NULL when the config has no devices */
    control_t *control;
    /* this node of a cluster (server/cluster_node.h), NULL when alone */
    struct vg_cluster_node *cluster;
    json_t *command_owners; /* command id -> serial of the issuing session */
    lws_sorted_usec_list_t control_tick;
    struct lws_protocols protocols[3];
    struct lws_http_mount mount_files, mount_api, mount_metrics;
    struct lws_vhost *metrics_vhost; /* server.metrics_bind's listener, or NULL */
    lws_retry_bo_t idle_policy; /* WebSocket pings for dead peers */
    int64_t started_us;
    volatile sig_atomic_t stop_requested;
    bool stopping;
    int64_t stop_deadline_us;
    vg_drain drain; /* what stopping does, step by step (server/drain.h) */
    uint64_t connections_total, errors_total, too_large_total, slow_closed_total;
    vg_media_write_stats media_writes; /* the media fast path (server/media_write.h) */
    bool ktls_said; /* server/tls.h: vg_tls_say_ktls() */
    uint64_t commands_total;
    /* security counters (PROTOCOL.md "Limits") */
    uint64_t auth_failed_total, origin_refused_total, limit_refused_total, forbidden_total;
    uint64_t clip_events_ignored_total; /* device events while the device's clip was being made */
    uint64_t recordings_deleted_total; /* DELETE of a recording (server/http_recordings.c) */
    uint64_t rate_limited_total, flood_closed_total, hello_timeout_total, expired_closed_total;
    uint64_t http_refused_total[VG_HTTP_REFUSED_COUNT]; /* REST requests refused, by reason */
    json_t *per_ip; /* peer address -> open WebSocket sessions (lws thread) */

    /* hot reload (server/reload.h), lws thread; a signal handler only sets
     * reload_requested and wakes the loop */
    vg_config_loader load_config; /* NULL: reloads refused */
    void *load_config_ctx;
    volatile sig_atomic_t reload_requested;
    vg_config *owned_config;   /* `config` when a reload made it, else NULL */
    vg_config *control_config; /* a replaced config device control still reads, or NULL */
    const vg_config *control_source; /* the config device control started from */
    vg_retired *retired;       /* removed streams waiting for their pipelines to go */
    uint32_t next_channel;     /* the channel the next new stream or variant gets */
    vg_previous_secret previous_secret;
    uint64_t reloads_total, reloads_refused_total;
};

/* Creates the context, the streams (not yet started) and device control;
 * messages and protocol events go to `protocol` (both borrowed for the
 * server's life). 0, VG_SERVER_BAD_CONFIG when the config is wrong (e.g. a
 * device's settings; logged), or -1 (logged). */
#define VG_SERVER_BAD_CONFIG (-2)
int vg_server_init(vg_server *srv, const vg_config *config, const vg_protocol *protocol);
/* Starts the streams and serves until asked to stop; then drains
 * (server/drain.h: clients told, commands ended, every viewer closed with
 * 1001) and returns 0. */
int vg_server_run(vg_server *srv);
/* Async-signal-safe. */
void vg_server_request_stop(vg_server *srv);
/* Async-signal-safe: a reload at the next turn of the loop (SIGHUP). */
void vg_server_request_reload(vg_server *srv);
void vg_server_destroy(vg_server *srv);

vg_stream *vg_server_find_stream(vg_server *srv, const char *id);
/* The stream limits `config` sets (media/stream.h). */
vg_stream_limits vg_server_stream_limits(const vg_config *config);
/* A stopped stream for `sc` on `channel` with its variants; `like` (may be
 * NULL): the stream it replaces, whose variants' channels are kept by name.
 * NULL on OOM. */
vg_stream *vg_server_make_stream(vg_server *srv, const vg_stream_config *sc, uint32_t channel,
                                 vg_stream *like);
/* A recorder for `sc`'s "record" (NULL when it records nothing, or on
 * OOM: logged). */
vg_recorder *vg_server_make_recorder(vg_server *srv, const vg_stream_config *sc);
/* Starts a stream (at start or after a reload); in a cluster, its lease
 * decides whether it runs here (server/cluster_node.h). */
void vg_server_start_stream(vg_server *srv, vg_stream *s, int64_t now_us);
/* Transcodes running or waiting to (media/variant.h), for server.max_transcodes. */
uint32_t vg_server_transcodes_running(const vg_server *srv);
int64_t vg_server_now_us(void);

/* The vigil.v1 protocol and the HTTP (API + files) protocol callbacks. */
int vg_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
int vg_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
/* Per-session data size of the HTTP protocol. */
size_t vg_http_session_size(void);

/* Applies everything the GStreamer threads handed over. lws thread. */
void vg_server_drain_inbox(vg_server *srv);

/* Tells lws that wsi's socket is writable, as the event loop would: its
 * WRITEABLE callback runs now (and may close and free it). False, with
 * nothing done, when it has no socket or output still buffered. Outside any
 * lws callback only. */
bool vg_server_write_now(vg_server *srv, struct lws *wsi);

/* Wakes the service thread (a vg_wake_fn, common/handoff.h): the one wake-up
 * that GStreamer threads (through the inbox) and device plugins (through
 * control/) use. Any thread: lws_cancel_service() is the one lws call that is
 * safe there. `srv` is the vg_server. */
void vg_server_wake(void *srv);

#endif

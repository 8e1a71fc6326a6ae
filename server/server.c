/* server.c -- lws context, streams, the service loop and shutdown (see
 * server.h). */
#include "server/server.h"
#include "server/cluster_node.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/devices.h"
#include "common/log.h"
#include "server/http_snapshot.h"
#include "server/metrics.h"
#include "server/tls.h"
#include "server/token.h"

#define TICK_US 250000
/* What a recording thread (one per disk) may have queued (frame payloads):
 * some seconds of many streams, so a disk that pauses for a moment loses nothing; past
 * it, recordings drop to the next keyframe (media/recorder.h). */
#define RECORD_QUEUE_BYTES (64u * 1024 * 1024)

/* The largest single send() lws may make: a whole frame of the largest size
 * the config allows (max_frame_bytes is at most 256 MiB). */
#define VG_WS_MAX_SEND (256u * 1024 * 1024)

int64_t vg_server_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

vg_stream *vg_server_find_stream(vg_server *srv, const char *id) {
    for (size_t i = 0; i < srv->nstreams; i++)
        if (!strcmp(srv->streams[i]->id, id)) return srv->streams[i];
    return NULL;
}

/* ---- hooks the streams call (lws thread) ------------------------------- */

/* A viewer's queue was empty and has a frame now: the session is written in
 * this turn of the loop, by write_ready() below. */
static void hook_viewer_ready(vg_viewer *v) {
    vg_session *s = vg_subscription_of(v)->session;
    vg_ready_list_add(&s->server->ready, s);
}

/* Viewers that had nothing queued get their new frame written in the same
 * turn of the loop. Straight to the socket when lws holds nothing for it
 * (server/media_write.h). Otherwise lws is told that the socket is writable
 * (lws_service_fd with POLLOUT, as an external event loop tells it), writes
 * through the usual WRITEABLE callback and drops POLLOUT again before libev
 * applies it, so the frame costs no epoll_ctl and no extra wait. A socket
 * that is in fact full leaves the rest to POLLOUT and the event loop.
 * Outside any lws callback: run after ev_run() returns. */
static void write_ready(vg_server *srv) {
    vg_session *s;
    while ((s = vg_ready_list_pop(&srv->ready))) {
        if (s->closing) continue;
        int r = vg_session_write_direct(s);
        if (r > 0) continue;
        if (r < 0) { /* broken: lws closes it on its next pass */
            lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
            continue;
        }
        lws_callback_on_writable(s->wsi);
        vg_server_write_now(srv, s->wsi); /* may close and free s */
    }
}

bool vg_server_write_now(vg_server *srv, struct lws *wsi) {
    int fd = (int)lws_get_socket_fd(wsi);
    if (fd < 0 || lws_partial_buffered(wsi)) return false;
    struct lws_pollfd pfd = {.fd = fd, .events = LWS_POLLIN | LWS_POLLOUT, .revents = LWS_POLLOUT};
    lws_service_fd(srv->context, &pfd);
    return true;
}

static void hook_viewer_too_slow(vg_viewer *v) {
    vg_session *s = vg_subscription_of(v)->session;
    s->server->slow_closed_total++;
    vg_session_close(s, 4001, "viewer too slow");
}


/* ---- cross-thread hand-off -------------------------------------------- */

void vg_server_wake(void *srv_) {
    vg_server *srv = srv_;
    if (srv->context) lws_cancel_service(srv->context);
}

void vg_server_drain_inbox(vg_server *srv) {
    vg_event *ev = vg_inbox_take_all(&srv->inbox);
    int64_t now = vg_server_now_us();
    while (ev) {
        vg_event *next = ev->next;
        vg_stream_apply_event(ev->stream, ev, now);
        vg_event_free(ev);
        ev = next;
    }
}

/* Clients that never said hello, and clients whose token has run out. */
static void check_sessions(vg_server *srv, int64_t now) {
    for (vg_session *s = srv->sessions; s; s = s->next) {
        if (s->closing) continue;
        if (s->access.role == VG_ROLE_NONE && now > s->hello_deadline_us) {
            srv->hello_timeout_total++;
            vg_session_close(s, 4008, "no hello in time");
        } else if (vg_access_expired(&s->access, now / 1000000)) {
            srv->expired_closed_total++;
            vg_session_close(s, 4003, "token expired");
        }
    }
}

static void on_tick(lws_sorted_usec_list_t *sul) {
    vg_server *srv = lws_container_of(sul, vg_server, tick);
    vg_loop_lag_ran(&srv->tick_lag);
    int64_t now = vg_server_now_us();
    /* Removed streams whose pipelines are gone before this drain are freed
     * after it: nothing can post for them any more (server/reload.h). */
    vg_reload_check_retired(srv);
    vg_server_drain_inbox(srv); /* what a quiet post left (media/inbox.h) */
    vg_reload_free_retired(srv, false);
    if (!srv->stopping) {
        for (size_t i = 0; i < srv->nstreams; i++)
            vg_stream_tick(srv->streams[i], now);
        vg_cluster_node_tick(srv, now);
        check_sessions(srv, now);
        vg_heap_trim_tick(&srv->heap_trim);
    }
    lws_sul_schedule(srv->context, 0, &srv->tick, on_tick, TICK_US);
    vg_loop_lag_scheduled(&srv->tick_lag, TICK_US);
}

/* control/ needs a poll at least every control_poll_interval_ms() so that
 * command timeouts fire even when no plugin wakes us. */
static void on_control_tick(lws_sorted_usec_list_t *sul) {
    vg_server *srv = lws_container_of(sul, vg_server, control_tick);
    vg_devices_poll(srv);
    lws_sul_schedule(srv->context, 0, &srv->control_tick, on_control_tick,
                     (lws_usec_t)control_poll_interval_ms(srv->control) * 1000);
}

/* Without a configured secret nobody could sign in: print an admin token
 * for this run (the secret, and so the token, dies with the process). */
static void announce_admin_token(vg_server *srv) {
    json_t *claims = json_pack("{s:s, s:s, s:[s], s:[s], s:I, s:I}", "sub", "admin", "role",
                               "admin", "streams", "*", "devices", "*", "iat",
                               (json_int_t)time(NULL), "exp", (json_int_t)time(NULL) + 86400);
    char *tok = claims
                    ? vg_token_sign(srv->config->auth.secret, srv->config->auth.secret_len, claims)
                    : NULL;
    json_decref(claims);
    if (!tok) return;
    vg_log(VG_LOG_WARN,
           "no auth secret configured (auth.secret_file): an admin token for this run, valid "
           "24 h: %s",
           tok);
    free(tok);
}

/* ---- set-up: vg_server_init and its steps, in order -------------------- */

/* What the streams call back: viewers' queues to the sessions, state
 * changes up to the protocol (it tells the viewers). */
static int init_state(vg_server *srv, const vg_config *config, const vg_protocol *protocol) {
    memset(srv, 0, sizeof(*srv));
    srv->config = config;
    srv->protocol = protocol;
    srv->stream_hooks = (vg_stream_hooks){
        .viewers = {.viewer_ready = hook_viewer_ready, .viewer_too_slow = hook_viewer_too_slow},
        /* pass-throughs to the protocol without a cluster */
        .state_changed = vg_cluster_node_state_changed,
        .frame_out = vg_cluster_node_frame_out,
    };
    srv->started_us = vg_server_now_us();
    srv->per_ip = json_object();
    if (!srv->per_ip) return -1;
    if (vg_inbox_init(&srv->inbox, 4096, vg_server_wake, srv)) return -1;
    vg_record_writers_init(&srv->record_writers, RECORD_QUEUE_BYTES);
    if (vg_snapshots_start(&srv->snapshots, vg_server_wake, srv)) return -1;
    return vg_reaper_start(&srv->reaper);
}

uint32_t vg_server_transcodes_running(const vg_server *srv) {
    uint32_t n = 0;
    for (size_t i = 0; i < srv->nstreams; i++)
        if (srv->streams[i]->transcode && vg_variant_running(srv->streams[i]->transcode)) n++;
    return n;
}

vg_stream_limits vg_server_stream_limits(const vg_config *config) {
    return (vg_stream_limits){
        .queue_frames = config->viewer_queue_frames,
        .queue_max_age_us = (int64_t)config->viewer_queue_ms * 1000,
        .slow_skips = config->slow_viewer_skips,
        .slow_window_us = (int64_t)config->slow_viewer_window_s * 1000000,
        .max_frame_bytes = config->max_frame_bytes,
        .stall_timeout_us = (int64_t)config->stall_timeout_s * 1000000,
        /* a publisher's queue into its pipeline: two of its largest frames, 4 MiB at least */
        .publish_queue_bytes = 2 * (size_t)config->max_publish_frame_bytes > 4 * 1024 * 1024
                                   ? 2 * (size_t)config->max_publish_frame_bytes
                                   : 4 * 1024 * 1024,
    };
}

/* A variant's channel: the one `like` (a stream being replaced) gave the
 * variant of that name, so its viewers keep it; else a new one. */
static uint32_t variant_channel(vg_server *srv, vg_stream *like, const char *name) {
    vg_stream *old = like ? vg_variant_find(like, name) : NULL;
    return old && old != like ? old->channel : srv->next_channel++;
}

vg_recorder *vg_server_make_recorder(vg_server *srv, const vg_stream_config *sc) {
    if (sc->record.mode == VG_RECORD_OFF) return NULL;
    vg_record_writer *writer = vg_record_writers_for(&srv->record_writers, sc->record.path);
    vg_recorder *rec = writer ? vg_recorder_new(&sc->record, sc->id, writer) : NULL;
    if (!rec) vg_log(VG_LOG_ERROR, "stream %s: not recording: no writer thread or memory", sc->id);
    return rec;
}

vg_stream *vg_server_make_stream(vg_server *srv, const vg_stream_config *sc, uint32_t channel,
                                 vg_stream *like) {
    vg_stream_limits limits = vg_server_stream_limits(srv->config);
    vg_stream *s = vg_stream_new(sc->id, sc->source, sc->options, channel, &limits,
                                 &srv->stream_hooks, &srv->inbox, &srv->reaper);
    if (!s) return NULL;
    /* Substreams and the transcode (media/variant.h), stopped until watched. */
    for (size_t j = 0; j < sc->nvariants; j++)
        if (vg_variant_add(s, sc->variants[j].name, sc->variants[j].source, sc->variants[j].options,
                           variant_channel(srv, like, sc->variants[j].name)))
            goto fail;
    if (sc->transcode.enabled) {
        json_t *o = json_pack("{s:s, s:i, s:i}", "codec", sc->transcode.codec, "max_height",
                              (int)sc->transcode.max_height, "bitrate_kbps",
                              (int)sc->transcode.bitrate_kbps);
        int rc = o ? vg_variant_add(s, "transcode", "transcode://", o,
                                    variant_channel(srv, like, "transcode"))
                   : -1;
        json_decref(o);
        if (rc) goto fail;
    }
    s->recorder = vg_server_make_recorder(srv, sc);
    return s;
fail:
    vg_stream_free(s);
    return NULL;
}

/* One stream per config entry, stopped until vg_server_run. Channel =
 * position + 1: the same for every viewer of the stream, so one frame
 * header serves them all; variants' channels follow every main stream's. */
static int make_streams(vg_server *srv) {
    const vg_config *config = srv->config;
    srv->streams = calloc(config->nstreams, sizeof(*srv->streams));
    if (!srv->streams) return -1;
    srv->next_channel = (uint32_t)config->nstreams + 1;
    for (size_t i = 0; i < config->nstreams; i++) {
        srv->streams[i] = vg_server_make_stream(srv, &config->streams[i], (uint32_t)(i + 1), NULL);
        if (!srv->streams[i]) return -1;
        srv->nstreams++;
    }
    return 0;
}

/* The HTTP protocol (files, REST) and vigil.v1, and where each path goes. */
static void make_protocols(vg_server *srv) {
    /* protocols[0] also takes WebSocket upgrades that name no subprotocol:
     * vg_http_callback refuses those. */
    srv->protocols[0] = (struct lws_protocols){.name = "http",
                                               .callback = vg_http_callback,
                                               .per_session_data_size = vg_http_session_size()};
    /* tx_packet_size: without it lws clips every send() to rx_buffer_size
     * and copies the rest of the frame into its own buffer, to send on later
     * writable callbacks. A whole frame per send() instead.
     * rx_buffer_size is allocated for every connection (plus LWS_PRE): 256
     * holds a viewer's hello and subscribe whole; longer messages (tokens,
     * publishers' frames) arrive in pieces and are reassembled (session.c,
     * publisher.c), at one callback per 256 bytes. */
    srv->protocols[1] = (struct lws_protocols){.name = VIGIL_PROTOCOL,
                                               .callback = vg_ws_callback,
                                               .per_session_data_size = sizeof(vg_session),
                                               .rx_buffer_size = 256,
                                               .tx_packet_size = VG_WS_MAX_SEND};
    srv->mount_api = (struct lws_http_mount){.mountpoint = "/api",
                                             .mountpoint_len = 4,
                                             .origin = "http",
                                             .origin_protocol = LWSMPRO_CALLBACK};
    srv->mount_metrics = (struct lws_http_mount){.mountpoint = "/metrics",
                                                 .mountpoint_len = 8,
                                                 .origin = "http",
                                                 .origin_protocol = LWSMPRO_CALLBACK,
                                                 .mount_next = &srv->mount_api};
    srv->mount_files = (struct lws_http_mount){.mountpoint = "/",
                                               .mountpoint_len = 1,
                                               .origin = srv->config->web_root,
                                               .def = "index.html",
                                               .origin_protocol = LWSMPRO_FILE,
                                               .mount_next = &srv->mount_metrics};
}

/* What every vhost shares: port, protocols, keepalive, idle pings, TLS. */
static void vhost_info(vg_server *srv, struct lws_context_creation_info *info) {
    const vg_config *config = srv->config;
    memset(info, 0, sizeof(*info));
    info->port = config->port;
    info->iface = config->bind;
    info->protocols = srv->protocols;
    info->mounts = &srv->mount_files;
    info->user = srv;
    info->options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    info->vhost_name = "vigil";
    info->server_string = "vigil/" VIGIL_VERSION;
    info->ka_time = 30; /* TCP keepalive finds dead peers */
    info->ka_probes = 3;
    info->ka_interval = 5;
    info->timeout_secs = 10; /* also reaps sockets that never finish a request */
    /* An idle keep-alive connection stays open longer than clients keep
     * theirs (Node's fetch 4 s, browsers a minute or more), so it is the
     * client that closes it: with lws's 5 s, a client reusing it at that
     * moment had its request cut ("fetch failed", seen under load). */
    info->keepalive_timeout = 65;
    /* Room for every header of one request, and a cut for any one header
     * that the API answers with 431 (server/http_reply.h; README, REST).
     * lws's default (4096 in all) would cut a long token; a request with
     * more than this is dropped by lws without a reply. */
    info->max_http_header_data = VG_HTTP_HEADERS_MAX;
    info->token_limits = vg_http_token_limits();
    /* Headers are parsed by as many connections at once as there are fds
     * (lws's default, said here on purpose): a smaller pool would make new
     * connections wait behind slow ones, and timeout_secs reaps those. */
    info->max_http_header_pool = 0;
    /* A WebSocket peer silent for idle_timeout_s is pinged; one that does not
     * answer within 10 s more is dropped. */
    srv->idle_policy.secs_since_valid_ping = (uint16_t)config->idle_timeout_s;
    srv->idle_policy.secs_since_valid_hangup = (uint16_t)(config->idle_timeout_s + 10);
    info->retry_and_idle_policy = &srv->idle_policy;
    /* Vhosts made below: the listener (with TLS when configured), and the
     * plain-HTTP redirect to it when asked for (server/tls.h). */
    info->options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    vg_tls_vhost_info(config, info);
}

/* The libev loop, the lws context in it, the listener and the redirect. */
static int make_context(vg_server *srv) {
    struct lws_context_creation_info info;
    vhost_info(srv, &info);
    /* The event loop is libev's (epoll), owned here: lws's own poll() loop
     * checks every connection on every wake-up, and each stream's frames wake
     * the loop at their own time (docs/PERFORMANCE.md, "event loop"). */
    srv->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!srv->loop) {
        vg_log(VG_LOG_ERROR, "could not create the event loop");
        return -1;
    }
    void *foreign_loops[1] = {srv->loop};
    info.options |= LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = foreign_loops;
    srv->context = lws_create_context(&info);
    if (!srv->context) {
        vg_log(VG_LOG_ERROR,
               "could not create the lws context (is libwebsockets-evlib-ev installed?)");
        return -1;
    }
    if (!lws_create_vhost(srv->context, &info)) {
        vg_log(VG_LOG_ERROR, "could not listen on port %d (in use?)", srv->config->port);
        return -1;
    }
    if (srv->config->http_redirect_port && !vg_http_redirect_vhost(srv->context, srv->config))
        return -1;
    if (srv->config->metrics_port &&
        !(srv->metrics_vhost = vg_metrics_vhost(srv->context, srv->config)))
        return -1;
    return 0;
}

int vg_server_init(vg_server *srv, const vg_config *config, const vg_protocol *protocol) {
    if (init_state(srv, config, protocol) || make_streams(srv)) return -1;
    make_protocols(srv);
    if (make_context(srv)) return -1;
    if (config->auth.secret_ephemeral) announce_admin_token(srv);
    char err[512];
    if (vg_devices_start(srv, err, sizeof(err)) < 0) {
        vg_log(VG_LOG_ERROR, "invalid configuration: %s", err);
        return VG_SERVER_BAD_CONFIG;
    }
    if (vg_cluster_node_start(srv, err, sizeof(err)) < 0) {
        vg_log(VG_LOG_ERROR, "invalid configuration: %s", err);
        return VG_SERVER_BAD_CONFIG;
    }
    return 0;
}

void vg_server_request_reload(vg_server *srv) {
    srv->reload_requested = 1;
    if (srv->context) lws_cancel_service(srv->context);
}

/* SIGHUP: the reply goes to the log (server/reload.c logs either way). */
static void reload_on_request(vg_server *srv) {
    srv->reload_requested = 0;
    json_t *report = NULL;
    char err[512];
    if (vg_server_reload(srv, &report, err, sizeof(err)) == 0) json_decref(report);
}

void vg_server_request_stop(vg_server *srv) {
    srv->stop_requested = 1;
    if (srv->context) lws_cancel_service(srv->context);
}

/* The drain (server/drain.h) sets stop_deadline_us and closes the sessions
 * when their commands are done; the loop below ends when none is left. */
static void begin_shutdown(vg_server *srv) {
    srv->stopping = true;
    vg_drain_begin(srv);
}

void vg_server_start_stream(vg_server *srv, vg_stream *s, int64_t now_us) {
    if (srv->cluster)
        vg_cluster_node_stream_added(srv, s); /* its lease decides */
    else
        vg_stream_start(s, now_us);
}

int vg_server_run(vg_server *srv) {
    int64_t now = vg_server_now_us();
    for (size_t i = 0; i < srv->nstreams; i++)
        vg_server_start_stream(srv, srv->streams[i], now);
    lws_sul_schedule(srv->context, 0, &srv->tick, on_tick, TICK_US);
    vg_loop_lag_scheduled(&srv->tick_lag, TICK_US);
    /* Also without devices: a reload may bring some. */
    on_control_tick(&srv->control_tick);
    const char *host = srv->config->bind ? srv->config->bind : "localhost";
    vg_log(VG_LOG_INFO, "vigil %s serving %s://%s:%d/ with %zu stream(s)", VIGIL_VERSION,
           vg_tls_enabled(srv->config) ? "https" : "http", host, srv->config->port, srv->nstreams);
    if (srv->config->http_redirect_port)
        vg_log(VG_LOG_INFO, "redirecting http://%s:%d/ to https", host,
               srv->config->http_redirect_port);

    for (;;) {
        if (srv->stop_requested && !srv->stopping) begin_shutdown(srv);
        if (srv->reload_requested && !srv->stopping) reload_on_request(srv);
        if (srv->stopping &&
            (srv->session_count == 0 || vg_server_now_us() > srv->stop_deadline_us))
            break;
        ev_run(srv->loop, EVRUN_ONCE); /* one wait, then what it brought */
        write_ready(srv);
        vg_http_snapshots_answer(srv); /* snapshots the worker finished meanwhile */
    }
    vg_drain_finish(srv);
    return 0;
}

void vg_server_destroy(vg_server *srv) {
    vg_cluster_node_stop(srv); /* its leases go first: another node takes over now */
    for (size_t i = 0; i < srv->nstreams; i++)
        vg_stream_stop(srv->streams[i]);
    vg_reaper_stop(&srv->reaper); /* every pipeline is down: nothing posts any more */
    vg_devices_stop(srv);         /* plugin threads joined: nothing wakes us any more */
    vg_snapshots_stop(&srv->snapshots); /* its thread joined: nothing is made any more */
    vg_recordings_index_free(&srv->recordings_index);
    if (srv->context) {
        lws_sul_cancel(&srv->tick);
        lws_sul_cancel(&srv->control_tick);
        lws_context_destroy(srv->context); /* closes what is left: sessions let go of viewers */
        srv->context = NULL;
    }
    if (srv->loop) {
        ev_loop_destroy(srv->loop);
        srv->loop = NULL;
    }
    for (size_t i = 0; i < srv->nstreams; i++)
        vg_stream_free(srv->streams[i]);
    free(srv->streams);
    srv->streams = NULL;
    vg_reload_free_retired(srv, true); /* the reaper is stopped: nothing posts */
    vg_record_writers_stop(&srv->record_writers); /* after the streams: their recorders posted */
    vg_snapshots_free(&srv->snapshots); /* after the context: no request waits any more */
    vg_reload_free_configs(srv);
    srv->control_config = srv->owned_config = NULL;
    vg_inbox_destroy(&srv->inbox);
    json_decref(srv->per_ip);
    srv->per_ip = NULL;
}

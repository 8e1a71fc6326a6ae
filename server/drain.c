/* drain.c -- the SIGTERM drain (see drain.h).
 *
 * Thread: lws service thread; vg_server_request_stop_now() only sets a flag
 * and wakes the loop, as vg_server_request_stop() does. */
#include "server/drain.h"

#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "server/devices.h"
#include "server/server.h"

#define DRAIN_TICK_US 50000
/* Closing takes a moment (the close frame after what was queued): commands
 * get the bound less this, or half the bound when it is shorter. */
#define DRAIN_CLOSE_RESERVE_US 2000000

void vg_server_request_stop_now(vg_server *srv) {
    srv->drain.stop_now = 1;
    vg_server_request_stop(srv);
}

static size_t unfinished(vg_server *srv) {
    return srv->control ? control_unfinished_count(srv->control) : 0;
}

/* What no device answered in time ends failed; the events go out now, so
 * issuers still connected hear them before their close frame. */
static void end_commands(vg_server *srv) {
    if (srv->drain.commands_ended) return;
    srv->drain.commands_ended = true;
    if (!srv->control) return;
    srv->drain.commands_failed = control_fail_unfinished(srv->control, VG_DRAIN_REASON);
    vg_devices_poll(srv);
}

static void close_sessions(vg_server *srv) {
    srv->drain.closing = true;
    for (vg_session *s = srv->sessions; s; s = s->next)
        vg_session_close(s, LWS_CLOSE_STATUS_GOINGAWAY, VG_DRAIN_REASON);
}

static void on_drain_tick(lws_sorted_usec_list_t *sul) {
    vg_server *srv = lws_container_of(sul, vg_server, drain.sul);
    if (srv->drain.stop_now) {
        srv->stop_deadline_us = 0; /* the loop ends at its next turn */
        return;
    }
    if (!srv->drain.closing) {
        if (unfinished(srv) && vg_server_now_us() < srv->drain.commands_deadline_us) {
            lws_sul_schedule(srv->context, 0, &srv->drain.sul, on_drain_tick, DRAIN_TICK_US);
            return;
        }
        end_commands(srv);
        close_sessions(srv);
    }
    lws_sul_schedule(srv->context, 0, &srv->drain.sul, on_drain_tick, DRAIN_TICK_US);
}

void vg_drain_begin(vg_server *srv) {
    vg_drain *d = &srv->drain;
    int64_t bound = (int64_t)srv->config->shutdown_timeout_s * 1000000;
    d->started_us = vg_server_now_us();
    srv->stop_deadline_us = d->started_us + bound;
    d->commands_deadline_us =
        d->started_us +
        (bound > 2 * DRAIN_CLOSE_RESERVE_US ? bound - DRAIN_CLOSE_RESERVE_US : bound / 2);
    d->commands_unfinished = unfinished(srv);
    vg_log(VG_LOG_INFO,
           "shutting down: telling %u connection(s), %zu device command(s) unfinished, "
           "at most %u s",
           srv->session_count, d->commands_unfinished, srv->config->shutdown_timeout_s);
    for (vg_session *s = srv->sessions; s; s = s->next)
        if (!s->closing &&
            srv->protocol->server_shutdown(s, VG_DRAIN_REASON, VG_DRAIN_RECONNECT_MS) == 0)
            d->sessions_told++;
    /* Viewers were told: their frames end here, and the pipelines with them. */
    for (size_t i = 0; i < srv->nstreams; i++)
        vg_stream_stop(srv->streams[i]);
    on_drain_tick(&d->sul); /* closes at once when no command waits */
}

void vg_drain_finish(vg_server *srv) {
    vg_drain *d = &srv->drain;
    lws_sul_cancel(&d->sul);
    if (!srv->stopping) return;
    /* Every client left before the commands ended: they still get their
     * time (the control tick wakes the loop). */
    while (!d->stop_now && unfinished(srv) && vg_server_now_us() < d->commands_deadline_us)
        ev_run(srv->loop, EVRUN_ONCE);
    if (d->stop_now) vg_log(VG_LOG_WARN, "shutting down: a second signal cut the drain short");
    end_commands(srv);
    size_t failed = d->commands_failed;
    vg_log(VG_LOG_INFO,
           "drained in %lld ms: %u connection(s) told, %zu device command(s) finished, %zu "
           "failed (\"%s\"), %llu request(s) refused, %u connection(s) left open",
           (long long)((vg_server_now_us() - d->started_us) / 1000), d->sessions_told,
           d->commands_unfinished > failed ? d->commands_unfinished - failed : 0, failed,
           VG_DRAIN_REASON, (unsigned long long)d->refused, srv->session_count);
}

int vg_drain_refuse(vg_server *srv, struct lws *wsi) {
    static const char body[] =
        "{\"error\":\"shutting_down\",\"message\":\"" VG_DRAIN_REASON ": connect again shortly\"}";
    char retry[16];
    int n = snprintf(retry, sizeof(retry), "%d", (VG_DRAIN_RECONNECT_MS + 999) / 1000);
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof(buf) - 1;
    srv->drain.refused++;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "application/json",
                                    sizeof(body) - 1, &p, end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"retry-after:", (const unsigned char *)retry, n, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                    (const unsigned char *)"close", 5, &p, end) ||
        lws_finalize_http_header(wsi, &p, end))
        return -1;
    memcpy(p, body, sizeof(body) - 1);
    p += sizeof(body) - 1;
    lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL);
    return -1;
}

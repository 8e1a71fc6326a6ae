/* ws_session.c -- the vigil.v1 WebSocket protocol callback.
 *
 * One switch on the callback reason, as in the lws minimal examples: accept
 * the upgrade only on /ws, set up and tear down the session, reassemble text
 * messages (bounded) and hand them to signaling/, write queued messages and
 * frames when lws says the socket is writable, and apply what GStreamer
 * threads handed over when they woke the loop.
 *
 * Thread: lws service thread only. */
#include <string.h>

#include "server/admission.h"
#include "server/agents.h"
#include "server/devices.h"
#include "common/log.h"
#include "server/publisher.h"
#include "server/cluster_node.h"
#include "server/server.h"
#include "server/tls.h"

static vg_server *server_of(struct lws *wsi) {
    return lws_context_user(lws_get_context(wsi));
}

int vg_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len) {
    vg_session *s = user;
    vg_server *srv;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Before the 101 goes out: path, Origin, limits, access_token. */
        return vg_admission_check(server_of(wsi), wsi);

    case LWS_CALLBACK_ESTABLISHED: {
        srv = server_of(wsi);
        if (srv->stopping || vg_session_init(s, srv, wsi, srv->config->max_subscriptions))
            return -1;
        int64_t now = vg_server_now_us();
        vg_admission_accept(srv, wsi, s->peer, sizeof(s->peer), &s->access);
        vg_tls_say_ktls(srv->config, wsi, &srv->ktls_said);
        s->hello_deadline_us = now + (int64_t)srv->config->hello_timeout_s * 1000000;
        vg_rate_limit_init(&s->msg_rate, srv->config->messages_per_s,
                           2.0 * srv->config->messages_per_s, now);
        vg_rate_limit_init(&s->cmd_rate, srv->config->commands_per_s,
                           2.0 * srv->config->commands_per_s, now);
        s->next = srv->sessions;
        if (srv->sessions) srv->sessions->prev = s;
        srv->sessions = s;
        s->serial = ++srv->next_session_serial;
        srv->session_count++;
        srv->connections_total++;
        return 0;
    }

    case LWS_CALLBACK_CLOSED:
        srv = server_of(wsi);
        if (!s->server) return 0; /* never established */
        if (s->prev)
            s->prev->next = s->next;
        else
            srv->sessions = s->next;
        if (s->next) s->next->prev = s->prev;
        srv->session_count--;
        vg_admission_release(srv, s->peer);
        vg_publisher_stop(s, "publisher gone");
        vg_agents_session_closed(s, "agent gone");
        vg_session_destroy(s);
        s->server = NULL;
        return 0;

    case LWS_CALLBACK_RECEIVE: {
        srv = server_of(wsi);
        if (s->closing) return 0;
        if (lws_frame_is_binary(wsi) && s->pub) {
            /* Media from a publisher: reassembled up to its own limit. */
            bool last = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
            if (vg_publisher_on_binary(s, in, len, last, srv->config->max_publish_frame_bytes) <
                0) {
                /* The rest of the message is read and ignored until the
                 * peer answers our close (session.c says why). */
                srv->too_large_total++;
                vg_session_close(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "publish frame too large");
            }
            return 0;
        }
        if (lws_frame_is_binary(wsi)) {
            if (lws_is_first_fragment(wsi)) srv->protocol->unexpected_binary(s);
            return 0;
        }
        bool final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
        int r = vg_session_on_text(s, in, len, final, srv->config->max_text_bytes);
        if (r < 0) {
            srv->too_large_total++;
            vg_session_close(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "text message too large");
            return 0;
        }
        if (final) s->messages_in++;
        return 0;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE: return vg_session_on_writable(s);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* The answer to our close frame (session.c): hang up, no echo. A
         * close the peer started is echoed by lws (0). */
        if (s->close_sent) return -1;
        s->close_sent = true; /* lws echoes it: nothing may follow */
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* A GStreamer thread, a device plugin or the signal handler woke us. */
        vg_server_drain_inbox(server_of(wsi));
        vg_devices_poll(server_of(wsi));
        vg_cluster_node_poll(server_of(wsi));
        return 0;

    default: return 0;
    }
}

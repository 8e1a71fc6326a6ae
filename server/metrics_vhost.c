/* metrics_vhost.c -- the listener of server.metrics_bind: plain HTTP on its
 * own address and port, serving only GET /metrics, without a token. The
 * listener is the access control (bind it to localhost or a private
 * interface), so a scraper needs no secret and the public port none of its
 * traffic. It speaks plain HTTP even when the main listener has TLS.
 *
 * The requests go to the same HTTP callback as the main listener's
 * (server/http_api.c), which answers this vhost's GET /metrics without a
 * token and anything else with 404; WebSocket upgrades are refused there
 * too (no vigil.v1 protocol on this vhost). No mount: every request comes
 * to that callback.
 *
 * Thread: created on the main thread in vg_server_init, before the loop;
 * its requests are served on the lws service thread. */
#include <string.h>

#include "common/log.h"
#include "server/metrics.h"
#include "server/server.h"

/* Filled once at creation (the size is the callback's business); lws keeps
 * the pointer for the context's life. */
static struct lws_protocols metrics_protocols[2];

struct lws_vhost *vg_metrics_vhost(struct lws_context *ctx, const vg_config *c) {
    metrics_protocols[0] = (struct lws_protocols){
        .name = "http", .callback = vg_http_callback, .per_session_data_size = vg_http_session_size()};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = c->metrics_port;
    info.iface = c->metrics_host;
    info.protocols = metrics_protocols;
    info.vhost_name = "vigil-metrics";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.server_string = "vigil/" VIGIL_VERSION;
    info.timeout_secs = 10;
    struct lws_vhost *vh = lws_create_vhost(ctx, &info);
    if (!vh)
        vg_log(VG_LOG_ERROR, "could not listen on %s (server.metrics_bind; in use?)",
               c->metrics_bind);
    else
        vg_log(VG_LOG_INFO, "metrics for scrapers, without a token, on http://%s:%d/metrics",
               c->metrics_host, c->metrics_port);
    return vh;
}

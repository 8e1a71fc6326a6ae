/* config_metrics.c -- server.metrics_bind: the "host:port" of a second,
 * plain-HTTP listener that serves only GET /metrics, without a token
 * (server/metrics_vhost.c). The host is an IPv4 address ("0.0.0.0": every
 * interface) or "localhost"; the port may not be one vigil already listens on.
 *
 * Thread: the main thread, while the config is loaded (and checked again
 * after the command line changed the port). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

/* host:port -> c->metrics_host, c->metrics_port. */
static int parse(vg_config *c, char *err, size_t errlen) {
    const char *spec = c->metrics_bind;
    const char *colon = strrchr(spec, ':');
    if (!colon) {
        snprintf(err, errlen, "server.metrics_bind: must be \"host:port\", e.g. \"127.0.0.1:9464\"");
        return -1;
    }
    size_t hl = (size_t)(colon - spec);
    char host[INET_ADDRSTRLEN];
    struct in_addr a;
    if (hl < sizeof(host)) {
        memcpy(host, spec, hl);
        host[hl] = 0;
    }
    if (hl < sizeof(host) && !strcmp(host, "localhost"))
        snprintf(host, sizeof(host), "127.0.0.1");
    if (hl == 0 || hl >= sizeof(host) || inet_pton(AF_INET, host, &a) != 1) {
        snprintf(err, errlen,
                 "server.metrics_bind: bad host '%.*s' (an IPv4 address such as 127.0.0.1, "
                 "0.0.0.0 for every interface, or localhost)",
                 (int)(hl < 64 ? hl : 64), spec);
        return -1;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || colon[1] == '-' || colon[1] == '+' || port < 1 || port > 65535) {
        snprintf(err, errlen, "server.metrics_bind: bad port '%.16s' (1 to 65535)", colon + 1);
        return -1;
    }
    snprintf(c->metrics_host, sizeof(c->metrics_host), "%s", host);
    c->metrics_port = (int)port;
    return 0;
}

int vg_config_check_metrics_bind(vg_config *c, char *err, size_t errlen) {
    c->metrics_host[0] = 0;
    c->metrics_port = 0;
    if (!c->metrics_bind) return 0;
    if (parse(c, err, errlen)) return -1;
    if (c->metrics_port == c->port) {
        snprintf(err, errlen, "server.metrics_bind: port %d is server.port itself",
                 c->metrics_port);
        return -1;
    }
    if (c->metrics_port == c->http_redirect_port) {
        snprintf(err, errlen, "server.metrics_bind: port %d is server.http_redirect_port",
                 c->metrics_port);
        return -1;
    }
    return 0;
}

/* main.c -- vigil's entry point: command line, configuration, signals.
 *
 *   vigil [--config FILE] [--port N] [--web-root DIR] [--log-level LEVEL]
 *         [--auth-secret-file FILE] [--tls-cert FILE --tls-key FILE]
 *   vigil token ...          mint an access token (server/token_cli.c)
 *
 * Without --config the embedded demo runs: one stream "demo" from the
 * built-in test source. SIGHUP (or POST /api/admin/reload) reads the file
 * again and applies it in place (server/reload.h); SIGTERM and SIGINT stop.
 *
 * The top of the program: the one place that knows every layer, and wires
 * vigil.v1 (signaling/) into the server (server/) that sits below it. */
#include <getopt.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "media/gst_plugins.h"
#include "server/config.h"
#include "server/drain.h"
#include "server/heap_trim.h"
#include "server/server.h"
#include "server/tls.h"
#include "server/token.h"
#include "signaling/signaling.h"

static vg_server server;

/* SIGTERM/SIGINT: the first drains (server/drain.h), a second one during
 * the drain ends it at once. */
static void on_signal(int sig) {
    static volatile sig_atomic_t seen;
    (void)sig;
    if (seen++)
        vg_server_request_stop_now(&server);
    else
        vg_server_request_stop(&server);
}

/* SIGHUP: re-read the configuration (server/reload.h). */
static void on_hangup(int sig) {
    (void)sig;
    vg_server_request_reload(&server);
}

static void usage(FILE *out) {
    fprintf(out, "usage: vigil [--config FILE] [--port N] [--web-root DIR] [--log-level LEVEL]\n"
                 "             [--log-format text|json] [--auth-secret-file FILE]\n"
                 "             [--tls-cert FILE --tls-key FILE]\n"
                 "       vigil token --help\n"
                 "  --config FILE      JSON configuration (default: built-in demo stream)\n"
                 "  --port N           listening port (default 8080)\n"
                 "  --web-root DIR     dashboard files (default ./web)\n"
                 "  --log-level LEVEL  error, warn, info or debug (default info)\n"
                 "  --log-format FMT   text (default) or json: one JSON object per line\n"
                 "  --auth-secret-file FILE  the token secret (overrides auth.secret*)\n"
                 "  --tls-cert FILE    serve https/wss with this PEM certificate (chain)\n"
                 "  --tls-key FILE     and this PEM private key\n");
}

static void lws_log_to_ours(int level, const char *line) {
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    vg_log(level == LLL_ERR ? VG_LOG_ERROR : VG_LOG_WARN, "lws: %.*s", (int)n, line);
}

/* What the command line sets: applied over the file at start and at every
 * reload, so a reload never undoes a flag. */
typedef struct vg_overrides {
    const char *config_path, *web_root, *secret_file, *tls_cert, *tls_key;
    long port;  /* -1: the file's */
    int level;  /* -1: the file's */
} vg_overrides;

static int replace_string(char **dst, const char *value) {
    char *copy = strdup(value);
    if (!copy) return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* A vg_config_loader (server/reload.h): the file (or the demo) with the
 * command line over it. */
static int load_config(void *ctx, vg_config *c, char *err, size_t errlen) {
    const vg_overrides *o = ctx;
    if (o->config_path ? vg_config_load_file(c, o->config_path, err, errlen)
                       : vg_config_default(c)) {
        if (!o->config_path) snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (o->port >= 0) c->port = (int)o->port;
    /* checked again: --port may now be the metrics listener's */
    if (vg_config_check_metrics_bind(c, err, errlen)) goto fail;
    if (o->level >= 0) c->log_level = o->level;
    if (o->secret_file && vg_config_read_secret(c, o->secret_file, err, errlen)) goto fail;
    if ((o->web_root && replace_string(&c->web_root, o->web_root)) ||
        (o->tls_cert && replace_string(&c->tls_cert, o->tls_cert)) ||
        (o->tls_key && replace_string(&c->tls_key, o->tls_key))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    vg_config_free(c);
    return -1;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"port", required_argument, NULL, 'p'},
        {"web-root", required_argument, NULL, 'w'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"auth-secret-file", required_argument, NULL, 'a'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc > 1 && !strcmp(argv[1], "token")) return vg_token_cli(argc - 1, argv + 1);
    vg_heap_tune();
    vg_overrides o = {.port = -1, .level = -1};
    int c;
    while ((c = getopt_long(argc, argv, "c:p:w:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o.config_path = optarg; break;
        case 'w': o.web_root = optarg; break;
        case 'a': o.secret_file = optarg; break;
        case 'C': o.tls_cert = optarg; break;
        case 'K': o.tls_key = optarg; break;
        case 'l':
            o.level = vg_log_level_parse(optarg);
            if (o.level < 0) {
                fprintf(stderr, "vigil: --log-level: must be error, warn, info or debug\n");
                return 2;
            }
            break;
        case 'p': {
            char *end;
            o.port = strtol(optarg, &end, 10);
            if (*end || o.port < 0 || o.port > 65535) {
                fprintf(stderr, "vigil: --port: '%s' is not a port number\n", optarg);
                return 2;
            }
            break;
        }
        case 'f': {
            int f = vg_log_format_parse(optarg);
            if (f < 0) {
                fprintf(stderr, "vigil: --log-format: must be text or json\n");
                return 2;
            }
            vg_log_set_format((vg_log_format)f);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vigil: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    vg_config config;
    char err[512];
    if (load_config(&o, &config, err, sizeof(err))) {
        fprintf(stderr, "vigil: invalid configuration: %s\n", err);
        return 2;
    }
    vg_log_set_level((vg_log_level)config.log_level);
    if (vg_tls_check(&config, err, sizeof(err))) {
        fprintf(stderr, "vigil: invalid configuration: %s\n", err);
        vg_config_free(&config);
        return 2;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);

    gst_init(&argc, &argv);
    size_t pruned = vg_gst_prune_plugins();
    vg_log(VG_LOG_DEBUG, "GStreamer: %zu plugins vigil does not use forgotten", pruned);

    int rc = 1;
    int init = vg_server_init(&server, &config, &vg_signaling_protocol);
    if (init == VG_SERVER_BAD_CONFIG) rc = 2;
    if (init == 0) {
        /* Without a file there is nothing to read again. */
        if (o.config_path) vg_server_set_loader(&server, load_config, &o);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sa.sa_handler = on_hangup;
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        rc = vg_server_run(&server);
    }
    vg_server_destroy(&server);
    vg_config_free(&config);
    gst_deinit();
    vg_log(VG_LOG_INFO, "stopped");
    return rc;
}

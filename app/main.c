/* main.c -- vigil's entry point: command line, configuration, signals.
 *
 *   vigil [--config FILE] [--port N] [--web-root DIR] [--log-level LEVEL]
 *         [--auth-secret-file FILE] [--tls-cert FILE --tls-key FILE]
 *   vigil token ...          mint an access token (server/token_cli.c)
 *
 * Without --config the embedded demo runs: one stream "demo" from the
 * built-in test source.
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
    const char *config_path = NULL, *web_root = NULL, *level = NULL, *secret_file = NULL;
    const char *tls_cert = NULL, *tls_key = NULL;
    long port = -1;
    int c;
    while ((c = getopt_long(argc, argv, "c:p:w:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'w': web_root = optarg; break;
        case 'l': level = optarg; break;
        case 'a': secret_file = optarg; break;
        case 'C': tls_cert = optarg; break;
        case 'K': tls_key = optarg; break;
        case 'p': {
            char *end;
            port = strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535) {
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
    if (config_path ? vg_config_load_file(&config, config_path, err, sizeof(err))
                    : vg_config_default(&config)) {
        fprintf(stderr, "vigil: invalid configuration: %s\n", config_path ? err : "out of memory");
        return 2;
    }
    if (port >= 0) config.port = (int)port;
    if (secret_file && vg_config_read_secret(&config, secret_file, err, sizeof(err))) {
        fprintf(stderr, "vigil: invalid configuration: %s\n", err);
        vg_config_free(&config);
        return 2;
    }
    if (web_root) {
        free(config.web_root);
        config.web_root = strdup(web_root);
    }
    if (level) {
        int l = vg_log_level_parse(level);
        if (l < 0) {
            fprintf(stderr, "vigil: --log-level: must be error, warn, info or debug\n");
            vg_config_free(&config);
            return 2;
        }
        config.log_level = l;
    }
    if (tls_cert) {
        free(config.tls_cert);
        config.tls_cert = strdup(tls_cert);
    }
    if (tls_key) {
        free(config.tls_key);
        config.tls_key = strdup(tls_key);
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
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        rc = vg_server_run(&server);
    }
    vg_server_destroy(&server);
    vg_config_free(&config);
    gst_deinit();
    vg_log(VG_LOG_INFO, "stopped");
    return rc;
}

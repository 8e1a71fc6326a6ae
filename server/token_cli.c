/* token_cli.c -- `vigil token`: mints an access token (server/token.h).
 *
 *   vigil token --secret-file FILE | --config FILE
 *               --role viewer|operator|publisher|admin|device [--sub NAME]
 *               [--streams PATTERN,...] [--devices PATTERN,...] [--ttl SECONDS]
 *
 * Prints the token on stdout. Patterns are fnmatch(3) globs ("cam*", "*"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/config.h"
#include "server/token.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: vigil token (--secret-file FILE | --config FILE) --role ROLE [--sub NAME]\n"
            "                   [--streams P,...] [--devices P,...] [--ttl SECONDS]\n"
            "  ROLE: viewer, operator, publisher, admin or device (a vigil-agent);\n"
            "  P: a pattern such as cam* or *\n"
            "  --ttl: lifetime in seconds (default 3600, at most 31536000)\n");
}

/* "a,b,c" -> ["a","b","c"] (new ref). */
static json_t *patterns(const char *list) {
    json_t *a = json_array();
    char *copy = strdup(list ? list : "");
    for (char *save = NULL, *p = strtok_r(copy, ",", &save); a && p; p = strtok_r(NULL, ",", &save))
        if (*p) json_array_append_new(a, json_string(p));
    free(copy);
    return a;
}

int vg_token_cli(int argc, char **argv) {
    static const struct option opts[] = {
        {"secret-file", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"role", required_argument, NULL, 'r'},
        {"sub", required_argument, NULL, 'u'},
        {"streams", required_argument, NULL, 'S'},
        {"devices", required_argument, NULL, 'D'},
        {"ttl", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *secret_file = NULL, *config = NULL, *role = NULL, *sub = NULL, *streams = NULL,
               *devices = NULL;
    long ttl = 3600;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': secret_file = optarg; break;
        case 'c': config = optarg; break;
        case 'r': role = optarg; break;
        case 'u': sub = optarg; break;
        case 'S': streams = optarg; break;
        case 'D': devices = optarg; break;
        case 't': {
            char *end;
            ttl = strtol(optarg, &end, 10);
            if (*end || ttl < 1 || ttl > 31536000) {
                fprintf(stderr, "vigil token: --ttl: 1 to 31536000 seconds\n");
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!role || (!secret_file == !config) || optind < argc) {
        usage(stderr);
        return 2;
    }
    vg_config cfg;
    char err[512];
    int r = config ? vg_config_load_file(&cfg, config, err, sizeof(err))
                   : (vg_config_default(&cfg) ||
                      vg_config_read_secret(&cfg, secret_file, err, sizeof(err)));
    if (r == 0 && cfg.auth.secret_ephemeral) {
        snprintf(err, sizeof(err), "%s has no auth secret", config);
        r = -1;
    }
    if (r) {
        fprintf(stderr, "vigil token: %s\n", err);
        vg_config_free(&cfg);
        return 2;
    }
    time_t now = time(NULL);
    json_t *claims = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I}", "sub", sub ? sub : role, "role",
                               role, "streams", patterns(streams), "devices", patterns(devices),
                               "iat", (json_int_t)now, "exp", (json_int_t)(now + ttl));
    char *tok = claims ? vg_token_sign(cfg.auth.secret, cfg.auth.secret_len, claims) : NULL;
    /* Refuse what the server would refuse (e.g. an unknown role). */
    json_t *back = tok ? vg_token_verify(cfg.auth.secret, cfg.auth.secret_len, tok, (int64_t)now,
                                         err, sizeof(err))
                       : NULL;
    int rc = 0;
    if (back) {
        printf("%s\n", tok);
    } else {
        fprintf(stderr, "vigil token: %s\n", tok ? err : "out of memory");
        rc = 2;
    }
    json_decref(back);
    json_decref(claims);
    free(tok);
    vg_config_free(&cfg);
    return rc;
}

/* config.c -- loading and validating the configuration (see config.h). */
#include "server/config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "control/control.h"
#include "media/rtp_options.h"
#include "media/source.h"
#include "common/log.h"

static void set_defaults(vg_config *c) {
    *c = (vg_config){0};
    c->port = 8080;
    c->web_root = strdup("web");
    c->log_level = VG_LOG_INFO;
    c->max_text_bytes = 65536;
    c->max_subscriptions = 16;
    c->max_connections = 10000;
    c->max_connections_per_ip = 1000;
    c->hello_timeout_s = 10;
    c->idle_timeout_s = 60;
    c->messages_per_s = 50;
    c->commands_per_s = 10;
    c->viewer_queue_frames = 128;
    c->viewer_queue_ms = 500;
    c->direct_writes = 1;
    c->slow_viewer_skips = 3;
    c->slow_viewer_window_s = 10;
    c->stall_timeout_s = 5;
    c->shutdown_timeout_s = 10;
    c->max_frame_bytes = 8 * 1024 * 1024;
    c->max_publish_frame_bytes = 2 * 1024 * 1024;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->max_transcodes = cores > 0 ? (uint32_t)cores : 1;
}

void vg_config_free(vg_config *c) {
    for (size_t i = 0; i < c->nstreams; i++) {
        free(c->streams[i].id);
        free(c->streams[i].source);
        json_decref(c->streams[i].options);
        vg_config_free_variants(&c->streams[i]);
        vg_record_config_free(&c->streams[i].record);
    }
    free(c->streams);
    free(c->bind);
    free(c->web_root);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->metrics_token);
    free(c->metrics_bind);
    free(c->record_path);
    json_decref(c->root);
    vg_config_free_cluster(c->cluster);
    json_decref(c->auth.anonymous_streams);
    json_decref(c->auth.allowed_origins);
    OPENSSL_cleanse(c->auth.secret, sizeof(c->auth.secret));
    *c = (vg_config){0};
}

int vg_config_default(vg_config *c) {
    set_defaults(c);
    c->streams = calloc(1, sizeof(*c->streams));
    if (!c->streams) return -1;
    c->nstreams = 1;
    c->streams[0].id = strdup("demo");
    c->streams[0].source = strdup("test://");
    c->streams[0].options = json_pack("{s:i, s:i, s:i, s:i}", "width", 1280, "height", 720, "fps",
                                      30, "bitrate_kbps", 2000);
    char err[64];
    if (vg_config_load_auth(c, NULL, err, sizeof(err))) return -1;
    return c->streams[0].id && c->streams[0].source && c->streams[0].options ? 0 : -1;
}

/* ---- server section: validated from a table ---------------------------- */

typedef enum field_kind { F_PORT, F_UINT, F_BOOL, F_STRING, F_STRING_OR_NULL, F_LOG_LEVEL } field_kind;

typedef struct server_field {
    const char *name;
    field_kind kind;
    size_t offset;
    uint32_t min, max;
} server_field;

#define FIELD(n, k, member, lo, hi)                                                                \
    { n, k, offsetof(vg_config, member), lo, hi }
static const server_field server_fields[] = {
    FIELD("port", F_PORT, port, 0, 65535),
    FIELD("bind", F_STRING_OR_NULL, bind, 0, 0),
    FIELD("web_root", F_STRING, web_root, 0, 0),
    FIELD("log_level", F_LOG_LEVEL, log_level, 0, 0),
    FIELD("max_text_bytes", F_UINT, max_text_bytes, 256, 16 * 1024 * 1024),
    FIELD("max_subscriptions", F_UINT, max_subscriptions, 1, 1024),
    FIELD("max_connections", F_UINT, max_connections, 1, 1000000),
    FIELD("max_connections_per_ip", F_UINT, max_connections_per_ip, 1, 1000000),
    FIELD("hello_timeout_s", F_UINT, hello_timeout_s, 1, 3600),
    FIELD("idle_timeout_s", F_UINT, idle_timeout_s, 5, 86400),
    FIELD("messages_per_s", F_UINT, messages_per_s, 1, 100000),
    FIELD("commands_per_s", F_UINT, commands_per_s, 1, 10000),
    FIELD("viewer_queue_frames", F_UINT, viewer_queue_frames, 8, 65536),
    FIELD("viewer_queue_ms", F_UINT, viewer_queue_ms, 0, 60000),
    FIELD("direct_writes", F_BOOL, direct_writes, 0, 1),
    FIELD("slow_viewer_skips", F_UINT, slow_viewer_skips, 0, 1000),
    FIELD("slow_viewer_window_s", F_UINT, slow_viewer_window_s, 1, 3600),
    FIELD("stall_timeout_s", F_UINT, stall_timeout_s, 1, 3600),
    FIELD("shutdown_timeout_s", F_UINT, shutdown_timeout_s, 1, 600),
    FIELD("max_frame_bytes", F_UINT, max_frame_bytes, 65536, 256 * 1024 * 1024),
    FIELD("max_publish_frame_bytes", F_UINT, max_publish_frame_bytes, 1024, 64 * 1024 * 1024),
    FIELD("max_transcodes", F_UINT, max_transcodes, 0, 256),
    FIELD("metrics_token", F_STRING_OR_NULL, metrics_token, 0, 0),
    FIELD("metrics_bind", F_STRING_OR_NULL, metrics_bind, 0, 0),
    FIELD("record_path", F_STRING_OR_NULL, record_path, 0, 0),
    /* TLS */
    FIELD("tls_cert", F_STRING_OR_NULL, tls_cert, 0, 0),
    FIELD("tls_key", F_STRING_OR_NULL, tls_key, 0, 0),
    FIELD("tls_ktls", F_BOOL, tls_ktls, 0, 1),
    FIELD("http_redirect_port", F_PORT, http_redirect_port, 1, 65535),
    {NULL, 0, 0, 0, 0},
};

static int load_server(vg_config *c, json_t *obj, char *err, size_t errlen) {
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "server: must be an object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const server_field *f = server_fields;
        while (f->name && strcmp(f->name, key))
            f++;
        if (!f->name) {
            snprintf(err, errlen, "server.%s: unknown setting", key);
            return -1;
        }
        void *dst = (char *)c + f->offset;
        switch (f->kind) {
        case F_PORT:
        case F_UINT:
            if (!json_is_integer(v) || json_integer_value(v) < f->min ||
                json_integer_value(v) > f->max) {
                snprintf(err, errlen, "server.%s: must be an integer from %u to %u", key, f->min,
                         f->max);
                return -1;
            }
            if (f->kind == F_PORT)
                *(int *)dst = (int)json_integer_value(v);
            else
                *(uint32_t *)dst = (uint32_t)json_integer_value(v);
            break;
        case F_BOOL:
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "server.%s: must be true or false", key);
                return -1;
            }
            *(int *)dst = json_is_true(v);
            break;
        case F_STRING_OR_NULL:
            if (json_is_null(v)) {
                free(*(char **)dst);
                *(char **)dst = NULL;
                break;
            }
            /* fall through */
        case F_STRING:
            if (!json_is_string(v) || !json_string_length(v)) {
                snprintf(err, errlen, "server.%s: must be a non-empty string", key);
                return -1;
            }
            free(*(char **)dst);
            *(char **)dst = strdup(json_string_value(v));
            break;
        case F_LOG_LEVEL:
            if (!json_is_string(v) || vg_log_level_parse(json_string_value(v)) < 0) {
                snprintf(err, errlen, "server.%s: must be one of error, warn, info, debug", key);
                return -1;
            }
            *(int *)dst = vg_log_level_parse(json_string_value(v));
            break;
        }
    }
    return 0;
}

static bool field_equal(const server_field *f, const vg_config *a, const vg_config *b) {
    const void *x = (const char *)a + f->offset, *y = (const char *)b + f->offset;
    switch (f->kind) {
    case F_UINT: return *(const uint32_t *)x == *(const uint32_t *)y;
    case F_STRING:
    case F_STRING_OR_NULL: {
        const char *sx = *(char *const *)x, *sy = *(char *const *)y;
        return sx == sy || (sx && sy && !strcmp(sx, sy));
    }
    default: return *(const int *)x == *(const int *)y; /* F_PORT, F_BOOL, F_LOG_LEVEL */
    }
}

void vg_config_server_diff(const vg_config *a, const vg_config *b, json_t *names) {
    for (const server_field *f = server_fields; f->name; f++)
        if (!field_equal(f, a, b)) json_array_append_new(names, json_sprintf("server.%s", f->name));
}

int vg_config_server_copy(vg_config *dst, const vg_config *src, const char *name) {
    const server_field *f = server_fields;
    while (f->name && strcmp(f->name, name))
        f++;
    if (!f->name) return -1;
    void *d = (char *)dst + f->offset;
    const void *s = (const char *)src + f->offset;
    switch (f->kind) {
    case F_UINT: *(uint32_t *)d = *(const uint32_t *)s; return 0;
    case F_STRING:
    case F_STRING_OR_NULL: {
        const char *from = *(char *const *)s;
        char *copy = from ? strdup(from) : NULL;
        if (from && !copy) return -1;
        free(*(char **)d);
        *(char **)d = copy;
        return 0;
    }
    default: *(int *)d = *(const int *)s; return 0;
    }
}

/* ---- streams ----------------------------------------------------------- */

bool vg_config_valid_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

/* Two push sources (srtp://, rtp://) cannot share a UDP port: the second
 * could not bind it. Said at start-up rather than retried for ever. The
 * source and options are valid (checked before). */
static int push_port_taken(const vg_config *c, size_t i, const char *source, const json_t *options,
                           char *err, size_t errlen, const char *where) {
    if (!vg_rtp_is_push_uri(source)) return 0;
    vg_rtp_options mine, other;
    char ignored[64];
    if (vg_rtp_options_parse(source, options, &mine, ignored, sizeof(ignored))) return 0;
    vg_rtp_options_wipe(&mine);
    for (size_t j = 0; j < i; j++) {
        if (!vg_rtp_is_push_uri(c->streams[j].source) ||
            vg_rtp_options_parse(c->streams[j].source, c->streams[j].options, &other, ignored,
                                 sizeof(ignored)))
            continue;
        vg_rtp_options_wipe(&other);
        if (vg_rtp_listen_overlaps(&mine, &other)) {
            snprintf(err, errlen, "%s.source: UDP port %u is already the port of stream '%s'",
                     where, (unsigned)vg_rtp_listen_port(&mine), c->streams[j].id);
            return -1;
        }
    }
    return 0;
}

static int load_stream(vg_config *c, size_t i, json_t *obj, char *err, size_t errlen) {
    char where[32];
    snprintf(where, sizeof(where), "streams[%zu]", i);
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s: must be an object", where);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (strcmp(key, "id") && strcmp(key, "source") && strcmp(key, "options") &&
            strcmp(key, "variants") && strcmp(key, "transcode") && strcmp(key, "record")) {
            snprintf(err, errlen,
                     "%s.%s: unknown field (expected id, source, options, variants, transcode, "
                     "record)",
                     where, key);
            return -1;
        }
    }
    json_t *id = json_object_get(obj, "id");
    json_t *source = json_object_get(obj, "source");
    json_t *options = json_object_get(obj, "options");
    if (!id) {
        snprintf(err, errlen, "%s.id: missing", where);
        return -1;
    }
    if (!json_is_string(id) || !vg_config_valid_id(json_string_value(id))) {
        snprintf(err, errlen, "%s.id: must be 1-64 characters of letters, digits, '-', '_' or '.'",
                 where);
        return -1;
    }
    for (size_t j = 0; j < i; j++) {
        if (!strcmp(c->streams[j].id, json_string_value(id))) {
            snprintf(err, errlen, "%s.id: duplicate id '%s'", where, json_string_value(id));
            return -1;
        }
    }
    if (!source) {
        snprintf(err, errlen, "%s.source: missing", where);
        return -1;
    }
    if (!json_is_string(source)) {
        snprintf(err, errlen, "%s.source: must be a string", where);
        return -1;
    }
    char why[256];
    if (vg_source_is_transcode(json_string_value(source))) {
        snprintf(err, errlen, "%s.source: transcode:// is made by vigil from a stream's "
                 "\"transcode\", not a camera", where);
        return -1;
    }
    if (vg_source_validate(json_string_value(source), options, why, sizeof(why))) {
        snprintf(err, errlen, "%s.%s", where, why);
        return -1;
    }
    if (push_port_taken(c, i, json_string_value(source), options, err, errlen, where)) return -1;
    vg_stream_config *sc = &c->streams[i];
    sc->id = strdup(json_string_value(id));
    sc->source = strdup(json_string_value(source));
    sc->options = options ? json_incref(options) : NULL;
    c->nstreams = i + 1;
    if (vg_config_load_record(sc, json_object_get(obj, "record"), c->record_path, where, err,
                              errlen))
        return -1;
    return vg_config_load_variants(sc, json_object_get(obj, "variants"),
                                   json_object_get(obj, "transcode"), where, err, errlen);
}

int vg_config_load_json(vg_config *c, json_t *root, char *err, size_t errlen) {
    set_defaults(c);
    if (!json_is_object(root)) {
        snprintf(err, errlen, "config: must be a JSON object with \"server\" and \"streams\"");
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "server") && strcmp(key, "streams") && strcmp(key, "auth") &&
            strcmp(key, "cluster") && !control_owns_config_section(key)) {
            snprintf(err, errlen,
                     "%s: unknown section (expected server, streams, auth, cluster, devices, "
                     "control, or a "
                     "transport such as mqtt or coap)",
                     key);
            goto fail;
        }
    }
    json_t *server = json_object_get(root, "server");
    if (server && load_server(c, server, err, errlen)) goto fail;
    if (c->metrics_token && (strlen(c->metrics_token) < 16 || strlen(c->metrics_token) > 200)) {
        snprintf(err, errlen, "server.metrics_token: must be 16 to 200 characters (a secret)");
        goto fail;
    }
    if (vg_config_check_metrics_bind(c, err, errlen)) goto fail;
    if (vg_config_load_auth(c, json_object_get(root, "auth"), err, errlen)) goto fail;
    if (vg_config_load_cluster(c, json_object_get(root, "cluster"), err, errlen)) goto fail;

    json_t *streams = json_object_get(root, "streams");
    if (!streams) {
        snprintf(err, errlen, "streams: missing (a list of {\"id\", \"source\"})");
        goto fail;
    }
    if (!json_is_array(streams) || json_array_size(streams) == 0) {
        snprintf(err, errlen, "streams: must be a non-empty array");
        goto fail;
    }
    c->streams = calloc(json_array_size(streams), sizeof(*c->streams));
    if (!c->streams) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(streams); i++)
        if (load_stream(c, i, json_array_get(streams, i), err, errlen)) goto fail;
    if (c->viewer_queue_frames < 8) c->viewer_queue_frames = 8;
    c->root = json_incref(root);
    return 0;
fail:
    vg_config_free(c);
    return -1;
}

int vg_config_load_file(vg_config *c, const char *path, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        *c = (vg_config){0};
        snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return -1;
    }
    int r = vg_config_load_json(c, root, err, errlen);
    json_decref(root);
    return r;
}

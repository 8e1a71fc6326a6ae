/* config.c -- loads and checks the agent's configuration (config.h). */
#include "agent/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX 8192

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* An optional string member: 0 (absent or null: *out NULL), or -1. */
static int opt_string(const json_t *o, const char *key, const char *where, char **out, char *err,
                      size_t errlen) {
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v) || !json_string_length(v))
        return fail(err, errlen, "%s\"%s\" must be a non-empty string", where, key);
    *out = strdup(json_string_value(v));
    return *out ? 0 : fail(err, errlen, "out of memory");
}

/* An optional integer member in [lo, hi]; *out keeps its default when absent. */
static int opt_int(const json_t *o, const char *key, const char *where, long lo, long hi, int *out,
                   char *err, size_t errlen) {
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(err, errlen, "%s\"%s\" must be an integer from %ld to %ld", where, key, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int unknown_keys(const json_t *o, const char *const *known, const char *where, char *err,
                        size_t errlen) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            ok |= !strcmp(key, *k);
        if (!ok) return fail(err, errlen, "%sunknown field \"%s\"", where, key);
    }
    return 0;
}

/* "wss://host:port/path" or "ws://..." into host, port, path and tls. */
static int parse_url(ag_config *c, char *err, size_t errlen) {
    const char *u = c->server_url, *rest;
    if (!strncmp(u, "wss://", 6)) {
        c->tls = 1;
        c->port = 443;
        rest = u + 6;
    } else if (!strncmp(u, "ws://", 5)) {
        c->port = 80;
        rest = u + 5;
    } else {
        return fail(err, errlen, "\"server\" must be a wss:// (or ws://) URL, not '%s'", u);
    }
    size_t hostlen = strcspn(rest, ":/");
    if (!hostlen) return fail(err, errlen, "\"server\" has no host: '%s'", u);
    c->host = strndup(rest, hostlen);
    rest += hostlen;
    if (*rest == ':') {
        char *end;
        long port = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return fail(err, errlen, "\"server\" has a bad port: '%s'", u);
        c->port = (int)port;
        rest = end;
    }
    c->path = strdup(*rest ? rest : "/ws");
    return c->host && c->path ? 0 : fail(err, errlen, "out of memory");
}

static int read_token(ag_config *c, const char *file, char *err, size_t errlen) {
    FILE *f = fopen(file, "r");
    if (!f) return fail(err, errlen, "\"token_file\": cannot read '%s'", file);
    char *buf = calloc(1, TOKEN_MAX + 1);
    size_t n = buf ? fread(buf, 1, TOKEN_MAX + 1, f) : 0;
    fclose(f);
    if (!buf) return fail(err, errlen, "out of memory");
    while (n && isspace((unsigned char)buf[n - 1]))
        buf[--n] = 0;
    size_t lead = strspn(buf, " \t\r\n");
    memmove(buf, buf + lead, n - lead + 1);
    n -= lead;
    if (!n || n > TOKEN_MAX || strchr(buf, '\n')) {
        free(buf);
        return fail(err, errlen, "\"token_file\": '%s' must hold one token (vigil token --role device)",
                    file);
    }
    c->token = buf;
    return 0;
}

/* {"exec":["/abs/path", "arg"...], "timeout_ms":N} */
static int load_handler(ag_handler_config *h, const json_t *o, const char *where, char *err,
                        size_t errlen) {
    static const char *const known[] = {"exec", "timeout_ms", "interval_s", NULL};
    if (!json_is_object(o)) return fail(err, errlen, "%s must be an object", where);
    if (unknown_keys(o, known, where, err, errlen)) return -1;
    json_t *exec = json_object_get(o, "exec");
    size_t n = json_array_size(exec);
    if (!n || n > 64)
        return fail(err, errlen, "%s\"exec\" must be an array: the program and its arguments",
                    where);
    h->argv = calloc(n + 1, sizeof *h->argv);
    if (!h->argv) return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_array_get(exec, i));
        if (!a) return fail(err, errlen, "%s\"exec\"[%zu] must be a string", where, i);
        if (i == 0 && a[0] != '/')
            return fail(err, errlen, "%s\"exec\"[0] must be an absolute path, not '%s'", where, a);
        h->argv[i] = strdup(a);
        if (!h->argv[i]) return fail(err, errlen, "out of memory");
    }
    int timeout = 5000;
    if (opt_int(o, "timeout_ms", where, 1, 600000, &timeout, err, errlen)) return -1;
    h->timeout_ms = (unsigned)timeout;
    return 0;
}

static int load_stream(ag_config *c, const json_t *o, char *err, size_t errlen) {
    static const char *const known[] = {"id", "source", "audio", "width", "height", "fps",
                                        "bitrate_kbps", "keyframe_s", "encoder", "max_latency_ms",
                                        "latency_mark", NULL};
    const char *w = "stream: ";
    if (!json_is_object(o)) return fail(err, errlen, "\"stream\" must be an object");
    if (unknown_keys(o, known, w, err, errlen) || opt_string(o, "id", w, &c->stream_id, err, errlen) ||
        opt_string(o, "source", w, &c->source, err, errlen) ||
        opt_string(o, "audio", w, &c->audio, err, errlen) ||
        opt_string(o, "encoder", w, &c->encoder, err, errlen))
        return -1;
    if (!c->stream_id) return fail(err, errlen, "stream: \"id\" is required");
    if (!c->source) return fail(err, errlen, "stream: \"source\" is required");
    if (c->audio && strcmp(c->audio, "test") && strncmp(c->audio, "alsa:", 5))
        return fail(err, errlen, "stream: \"audio\" must be \"test\" or \"alsa:<device>\"");
    ag_media_config *m = &c->media;
    if (opt_int(o, "width", w, 16, 7680, &m->width, err, errlen) ||
        opt_int(o, "height", w, 16, 4320, &m->height, err, errlen) ||
        opt_int(o, "fps", w, 1, 120, &m->fps, err, errlen) ||
        opt_int(o, "bitrate_kbps", w, 50, 100000, &m->bitrate_kbps, err, errlen) ||
        opt_int(o, "keyframe_s", w, 1, 60, &m->keyframe_s, err, errlen) ||
        opt_int(o, "max_latency_ms", w, 50, 10000, &m->max_queue_ms, err, errlen))
        return -1;
    json_t *mark = json_object_get(o, "latency_mark");
    if (mark && !json_is_boolean(mark))
        return fail(err, errlen, "stream: \"latency_mark\" must be true or false");
    m->latency_mark = json_is_true(mark);
    if (m->latency_mark && strcmp(c->source, "test://"))
        return fail(err, errlen, "stream: \"latency_mark\" is for the test:// source only");
    m->source = c->source;
    m->audio = c->audio;
    m->encoder = c->encoder;
    return 0;
}

static int load_device(ag_config *c, const json_t *o, char *err, size_t errlen) {
    static const char *const known[] = {"id", "commands", "telemetry", "max_running", NULL};
    const char *w = "device: ";
    if (!json_is_object(o)) return fail(err, errlen, "\"device\" must be an object");
    if (unknown_keys(o, known, w, err, errlen) || opt_string(o, "id", w, &c->device_id, err, errlen))
        return -1;
    if (!c->device_id) return fail(err, errlen, "device: \"id\" is required");
    int max_running = 4;
    if (opt_int(o, "max_running", w, 1, 64, &max_running, err, errlen)) return -1;
    c->max_running = (unsigned)max_running;
    json_t *cmds = json_object_get(o, "commands");
    if (cmds && !json_is_object(cmds))
        return fail(err, errlen, "device: \"commands\" must be an object of handlers");
    c->commands = calloc(json_object_size(cmds) + 1, sizeof *c->commands);
    if (!c->commands) return fail(err, errlen, "out of memory");
    const char *name;
    json_t *h;
    json_object_foreach(cmds, name, h) {
        char where[128];
        snprintf(where, sizeof where, "device: commands.%.64s: ", name);
        ag_handler_config *hc = &c->commands[c->ncommands++];
        hc->name = strdup(name);
        if (!hc->name) return fail(err, errlen, "out of memory");
        if (load_handler(hc, h, where, err, errlen)) return -1;
    }
    json_t *t = json_object_get(o, "telemetry");
    json_t *fifo = json_object_get(t, "fifo");
    if (fifo) { /* lines on a named pipe instead of a handler */
        if (!json_is_string(fifo) || json_string_value(fifo)[0] != '/')
            return fail(err, errlen, "device: telemetry: \"fifo\" must be an absolute path");
        if (json_object_size(t) != 1)
            return fail(err, errlen, "device: telemetry: \"fifo\" stands alone (no \"exec\")");
        c->telemetry_fifo = strdup(json_string_value(fifo));
        if (!c->telemetry_fifo) return fail(err, errlen, "out of memory");
    } else if (t) {
        if (load_handler(&c->telemetry, t, "device: telemetry: ", err, errlen)) return -1;
        int interval = 10;
        if (opt_int(t, "interval_s", "device: telemetry: ", 1, 86400, &interval, err, errlen))
            return -1;
        c->telemetry_interval_s = (unsigned)interval;
    }
    return 0;
}

int ag_config_load(ag_config *c, const char *path, char *err, size_t errlen) {
    static const char *const known[] = {"server", "token_file", "ca_file", "stream",
                                        "device", "reconnect", NULL};
    memset(c, 0, sizeof *c);
    c->reconnect_min_s = 1;
    c->reconnect_max_s = 30;
    c->refused_s = 60;
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return fail(err, errlen, "%s:%d: %s", path, je.line, je.text);
    char *token_file = NULL;
    int r = -1;
    if (!json_is_object(root)) {
        fail(err, errlen, "%s: must hold a JSON object", path);
        goto out;
    }
    if (unknown_keys(root, known, "", err, errlen) ||
        opt_string(root, "server", "", &c->server_url, err, errlen) ||
        opt_string(root, "token_file", "", &token_file, err, errlen) ||
        opt_string(root, "ca_file", "", &c->ca_file, err, errlen))
        goto out;
    if (!c->server_url) {
        fail(err, errlen, "\"server\" is required (wss://host:port/ws)");
        goto out;
    }
    if (!token_file) {
        fail(err, errlen, "\"token_file\" is required");
        goto out;
    }
    if (parse_url(c, err, errlen) || read_token(c, token_file, err, errlen)) goto out;
    json_t *stream = json_object_get(root, "stream"), *device = json_object_get(root, "device");
    if (!stream && !device) {
        fail(err, errlen, "nothing to do: give a \"stream\", a \"device\" or both");
        goto out;
    }
    if ((stream && load_stream(c, stream, err, errlen)) ||
        (device && load_device(c, device, err, errlen)))
        goto out;
    json_t *rc = json_object_get(root, "reconnect");
    if (rc) {
        static const char *const rk[] = {"min_s", "max_s", "refused_s", NULL};
        int mn = (int)c->reconnect_min_s, mx = (int)c->reconnect_max_s, rf = (int)c->refused_s;
        if (!json_is_object(rc) || unknown_keys(rc, rk, "reconnect: ", err, errlen) ||
            opt_int(rc, "min_s", "reconnect: ", 1, 3600, &mn, err, errlen) ||
            opt_int(rc, "max_s", "reconnect: ", 1, 3600, &mx, err, errlen) ||
            opt_int(rc, "refused_s", "reconnect: ", 1, 86400, &rf, err, errlen)) {
            if (!json_is_object(rc)) fail(err, errlen, "\"reconnect\" must be an object");
            goto out;
        }
        if (mx < mn) {
            fail(err, errlen, "reconnect: \"max_s\" must not be below \"min_s\"");
            goto out;
        }
        c->reconnect_min_s = (unsigned)mn;
        c->reconnect_max_s = (unsigned)mx;
        c->refused_s = (unsigned)rf;
    }
    r = 0;
out:
    free(token_file);
    json_decref(root);
    if (r) ag_config_free(c);
    return r;
}

const ag_handler_config *ag_config_command(const ag_config *c, const char *name) {
    for (size_t i = 0; name && i < c->ncommands; i++)
        if (!strcmp(c->commands[i].name, name)) return &c->commands[i];
    return NULL;
}

static void free_handler(ag_handler_config *h) {
    for (char **a = h->argv; a && *a; a++)
        free(*a);
    free(h->argv);
    free(h->name);
}

void ag_config_free(ag_config *c) {
    free(c->server_url);
    free(c->host);
    free(c->path);
    free(c->token);
    free(c->ca_file);
    free(c->stream_id);
    free(c->source);
    free(c->audio);
    free(c->encoder);
    free(c->device_id);
    for (size_t i = 0; i < c->ncommands; i++)
        free_handler(&c->commands[i]);
    free(c->commands);
    free_handler(&c->telemetry);
    free(c->telemetry_fifo);
    memset(c, 0, sizeof *c);
}

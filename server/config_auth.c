/* config_auth.c -- the "auth" section of the configuration: the token
 * secret, anonymous access and the allowed WebSocket origins.
 *
 *   "auth": {"secret_file": "/etc/vigil/secret",   (or "secret": "...")
 *            "anonymous": {"streams": ["demo"]},
 *            "allowed_origins": ["https://dash.example.com"],
 *            "rotation_grace_s": 600}
 *
 * Secure by default: without a secret, a random one is made for this run
 * (tokens die with the process; the server prints an admin token at start);
 * without "anonymous", nobody watches anything without a token; without
 * "allowed_origins", only pages served by vigil itself may open /ws.
 * rotation_grace_s: after a reload brings a new secret, tokens signed with
 * the previous one stay valid this long (server/reload.h). */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "server/config.h"
#include "server/token.h"

static int set_secret(vg_config *c, const unsigned char *s, size_t n, const char *where, char *err,
                      size_t errlen) {
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n < VG_SECRET_MIN_LEN || n > sizeof(c->auth.secret)) {
        snprintf(err, errlen, "%s: the secret must be %d to %zu bytes (e.g. openssl rand -hex 32)",
                 where, VG_SECRET_MIN_LEN, sizeof(c->auth.secret));
        return -1;
    }
    memcpy(c->auth.secret, s, n);
    c->auth.secret_len = n;
    c->auth.secret_ephemeral = false;
    return 0;
}

int vg_config_read_secret(vg_config *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "auth.secret_file: cannot open '%s'", path);
        return -1;
    }
    unsigned char buf[sizeof(c->auth.secret) + 2];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    int r = set_secret(c, buf, n, "auth.secret_file", err, errlen);
    memset(buf, 0, sizeof(buf));
    return r;
}

static int string_list(const json_t *v, const char *where, char *err, size_t errlen) {
    size_t i;
    const json_t *s;
    if (!json_is_array(v)) goto bad;
    json_array_foreach(v, i, s) if (!json_is_string(s) || !json_string_length(s)) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "%s: must be an array of non-empty strings", where);
    return -1;
}

int vg_config_load_auth(vg_config *c, const json_t *obj, char *err, size_t errlen) {
    if (RAND_bytes(c->auth.secret, 32) != 1) {
        snprintf(err, errlen, "auth: no random numbers for a secret");
        return -1;
    }
    c->auth.secret_len = 32;
    c->auth.secret_ephemeral = true;
    c->auth.rotation_grace_s = VG_ROTATION_GRACE_DEFAULT_S;
    if (!obj) return 0;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "auth: must be an object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (!strcmp(key, "secret")) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "auth.secret: must be a string");
                return -1;
            }
            if (set_secret(c, (const unsigned char *)json_string_value(v), json_string_length(v),
                           "auth.secret", err, errlen))
                return -1;
        } else if (!strcmp(key, "secret_file")) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "auth.secret_file: must be a path");
                return -1;
            }
            if (vg_config_read_secret(c, json_string_value(v), err, errlen)) return -1;
        } else if (!strcmp(key, "anonymous")) {
            json_t *st = json_is_object(v) ? json_object_get(v, "streams") : NULL;
            if (!json_is_object(v) || json_object_size(v) != 1 || !st) {
                snprintf(err, errlen, "auth.anonymous: must be {\"streams\": [patterns]}");
                return -1;
            }
            if (string_list(st, "auth.anonymous.streams", err, errlen)) return -1;
            json_decref(c->auth.anonymous_streams);
            c->auth.anonymous_streams = json_incref(st);
        } else if (!strcmp(key, "allowed_origins")) {
            if (string_list(v, "auth.allowed_origins", err, errlen)) return -1;
            json_decref(c->auth.allowed_origins);
            c->auth.allowed_origins = json_incref(v);
        } else if (!strcmp(key, "rotation_grace_s")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > VG_ROTATION_GRACE_MAX_S) {
                snprintf(err, errlen, "auth.rotation_grace_s: must be an integer from 0 to %d",
                         VG_ROTATION_GRACE_MAX_S);
                return -1;
            }
            c->auth.rotation_grace_s = (uint32_t)json_integer_value(v);
        } else {
            snprintf(err, errlen,
                     "auth.%s: unknown setting (expected secret, secret_file, anonymous, "
                     "allowed_origins, rotation_grace_s)",
                     key);
            return -1;
        }
    }
    return 0;
}

/* config_cluster.c -- the "cluster" section: this node's id, the NATS
 * servers and how to reach them (cluster/cluster.h). Absent: vigil runs
 * alone, exactly as without it.
 *
 * Thread: the main thread, while the config is loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "server/config.h"

#define MAX_URLS 16

static bool name_ok(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

static bool url_ok(const char *u) {
    static const char *const schemes[] = {"nats://", "tls://"};
    for (size_t i = 0; i < 2; i++)
        if (!strncmp(u, schemes[i], strlen(schemes[i])) && u[strlen(schemes[i])]) return true;
    return false;
}

/* An optional string field; -1 (with err) when present and not a non-empty string. */
static int opt_string(const json_t *obj, const char *name, char **out, char *err, size_t errlen) {
    json_t *v = json_object_get(obj, name);
    if (!v) return 0;
    if (!json_is_string(v) || !*json_string_value(v)) {
        snprintf(err, errlen, "cluster.%s: must be a non-empty string", name);
        return -1;
    }
    *out = strdup(json_string_value(v));
    return *out ? 0 : -1;
}

static int opt_int(const json_t *obj, const char *name, int lo, int hi, int *out, char *err,
                   size_t errlen) {
    json_t *v = json_object_get(obj, name);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "cluster.%s: must be an integer from %d to %d", name, lo, hi);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

void vg_config_free_cluster(vg_cluster_config *cc) {
    if (!cc) return;
    free(cc->node_id);
    for (size_t i = 0; i < cc->nnats; i++)
        free(cc->nats[i]);
    free(cc->nats);
    free(cc->name);
    free(cc->user);
    if (cc->password) OPENSSL_cleanse(cc->password, strlen(cc->password));
    free(cc->password);
    if (cc->token) OPENSSL_cleanse(cc->token, strlen(cc->token));
    free(cc->token);
    free(cc->ca_file);
    free(cc->cert_file);
    free(cc->key_file);
    free(cc->advertise_url);
    free(cc);
}

static int load(vg_cluster_config *cc, const json_t *obj, char *err, size_t errlen) {
    static const char *const known[] = {"node_id", "nats",      "name",     "user",
                                        "password", "token",    "ca_file",  "cert_file",
                                        "key_file", "advertise_url", "lease_ms", "replicas",
                                        "linger_ms"};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || !strcmp(key, known[i]);
        if (!ok) {
            snprintf(err, errlen,
                     "cluster.%s: unknown field (expected node_id, nats, name, user, password, "
                     "token, ca_file, cert_file, key_file, advertise_url, lease_ms, replicas, "
                     "linger_ms)",
                     key);
            return -1;
        }
    }
    json_t *id = json_object_get(obj, "node_id");
    if (!json_is_string(id) || !name_ok(json_string_value(id), VG_CLUSTER_NODE_MAX - 1)) {
        snprintf(err, errlen,
                 "cluster.node_id: must be 1-32 letters, digits, '-' or '_', and differ on "
                 "every node");
        return -1;
    }
    cc->node_id = strdup(json_string_value(id));
    json_t *urls = json_object_get(obj, "nats");
    if (!json_is_array(urls) || json_array_size(urls) == 0 || json_array_size(urls) > MAX_URLS) {
        snprintf(err, errlen, "cluster.nats: must be a list of 1 to %d NATS server URLs",
                 MAX_URLS);
        return -1;
    }
    cc->nats = calloc(json_array_size(urls), sizeof(*cc->nats));
    if (!cc->nats) return -1;
    for (size_t i = 0; i < json_array_size(urls); i++) {
        const char *u = json_string_value(json_array_get(urls, i));
        if (!u || !url_ok(u)) {
            snprintf(err, errlen, "cluster.nats[%zu]: must be a nats://host:port or tls:// URL",
                     i);
            return -1;
        }
        cc->nats[cc->nnats++] = strdup(u);
    }
    json_t *name = json_object_get(obj, "name");
    if (name && (!json_is_string(name) || !name_ok(json_string_value(name), 32))) {
        snprintf(err, errlen, "cluster.name: must be 1-32 letters, digits, '-' or '_'");
        return -1;
    }
    cc->name = strdup(name ? json_string_value(name) : "main");
    if (opt_string(obj, "user", &cc->user, err, errlen) ||
        opt_string(obj, "password", &cc->password, err, errlen) ||
        opt_string(obj, "token", &cc->token, err, errlen) ||
        opt_string(obj, "ca_file", &cc->ca_file, err, errlen) ||
        opt_string(obj, "cert_file", &cc->cert_file, err, errlen) ||
        opt_string(obj, "key_file", &cc->key_file, err, errlen) ||
        opt_string(obj, "advertise_url", &cc->advertise_url, err, errlen))
        return -1;
    if (!cc->user != !cc->password) {
        snprintf(err, errlen, "cluster.%s: user and password go together",
                 cc->user ? "password" : "user");
        return -1;
    }
    if (cc->user && cc->token) {
        snprintf(err, errlen, "cluster.token: either a token or user and password, not both");
        return -1;
    }
    if (!cc->cert_file != !cc->key_file) {
        snprintf(err, errlen, "cluster.%s: cert_file and key_file go together",
                 cc->cert_file ? "key_file" : "cert_file");
        return -1;
    }
    cc->lease_ms = 3000;
    cc->linger_ms = 10000;
    cc->replicas = cc->nnats < 3 ? (int)cc->nnats : 3;
    if (opt_int(obj, "lease_ms", 1000, 60000, &cc->lease_ms, err, errlen) ||
        opt_int(obj, "replicas", 1, 5, &cc->replicas, err, errlen) ||
        opt_int(obj, "linger_ms", 0, 600000, &cc->linger_ms, err, errlen))
        return -1;
    return 0;
}

int vg_config_load_cluster(vg_config *c, const json_t *obj, char *err, size_t errlen) {
    c->cluster = NULL;
    if (!obj) return 0;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "cluster: must be an object with node_id and nats");
        return -1;
    }
    vg_cluster_config *cc = calloc(1, sizeof(*cc));
    if (!cc) return -1;
    if (load(cc, obj, err, errlen)) {
        if (!*err) snprintf(err, errlen, "cluster: out of memory");
        vg_config_free_cluster(cc);
        return -1;
    }
    c->cluster = cc;
    return 0;
}

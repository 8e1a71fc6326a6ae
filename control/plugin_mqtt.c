/* plugin_mqtt.c -- the "mqtt" transport, on libmosquitto.
 *
 * Config section:
 *   "mqtt": {"host":"127.0.0.1", "port":1883, "client_id":"vigil",
 *            "keepalive":30, "prefix":"vigil", "qos":1,
 *            "username"?, "password"?,
 *            "ca_file"?, "ca_path"?, "cert_file"?, "key_file"?, "tls_insecure":false,
 *            "reconnect_min_s":1, "reconnect_max_s":30, "connect_timeout_s":10,
 *            "max_held":64}
 * Device settings (optional): "mqtt": {"qos": 0|1|2}
 *
 * Topics: commands are published as {"id","command","params"} to
 * <prefix>/<device>/cmd; answers come on <prefix>/<device>/ack as
 * {"id","status":"ok"|"error","result"?,"error"?}, telemetry on
 * <prefix>/<device>/telemetry and the retained state (and the device's
 * last-will) on <prefix>/<device>/state.
 *
 * Status: QoS 0 -> "sent" once handed to the socket; QoS 1/2 -> "sent" when
 * queued in libmosquitto, "delivered" on PUBACK/PUBCOMP (on_publish(mid)).
 * While the broker is unreachable, QoS 0 commands fail at once and QoS 1/2
 * commands are held (at most max_held) and published after reconnect.
 *
 * TLS: on when "ca_file" (a PEM bundle) or "ca_path" (a hashed directory such
 * as /etc/ssl/certs) names the CAs to trust. The broker's certificate must
 * chain to one of them and name the host vigil connects to (libmosquitto
 * checks the hostname unless "tls_insecure": true, which the config must say
 * explicitly and which is warned about on stderr). "cert_file"/"key_file":
 * vigil's own client certificate, for brokers that require one. A TLS
 * failure (untrusted or wrong certificate, handshake refused) is reported as
 * the transport state's detail ("TLS: ...") and retried with the backoff,
 * like any other failed connection.
 *
 * Connecting: an attempt that has no CONNACK within connect_timeout_s fails
 * ("no answer from the broker within N s") and is retried with the backoff.
 * The TCP connect and the TLS handshake are non-blocking
 * (mosquitto_connect_async), so a host that drops packets, or accepts and
 * says nothing, neither holds the network thread for the kernel's two
 * minutes of SYN retries nor delays shutdown. (The host name is still
 * resolved with a blocking getaddrinfo.)
 *
 * Threads: our network thread (net_main) connects, runs libmosquitto's loop
 * (and so the on_* callbacks), and after any failure reports why and
 * reconnects with backoff; send/cancel/status run on the owner thread.  Not
 * mosquitto_loop_start(): libmosquitto 2.0.11's own loop thread never retries
 * a first connection that failed, and simply ends when a TLS handshake fails
 * inside it, without a callback, leaving the transport silently dead.
 * Everything in
 * struct mqtt_plugin below `lock` is guarded by `lock` (recursive, because
 * libmosquitto may call on_publish from inside mosquitto_publish for QoS 0).
 * Lock order: plugin lock, then the core's handover lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mosquitto.h>

#include "common/log.h"
#include "control/control_internal.h"

typedef struct held_msg {
    char id[CONTROL_ID_MAX];
    char device[CONTROL_ID_MAX];
    char *topic;
    char *payload;
    int qos;
    struct held_msg *next;
} held_msg;

typedef struct inflight {
    int mid;
    char id[CONTROL_ID_MAX];
    char device[CONTROL_ID_MAX];
} inflight;

typedef struct mqtt_plugin {
    /* read-only after init */
    const control_callbacks *cb;
    control_core *core;
    /* The client object (mosquitto_threaded_set): the network thread
     * connects and drives it; the owner thread only publishes once
     * `connected` (set on the network thread) says so, and destroys it in
     * shutdown after joining the network thread. */
    struct mosquitto *m;
    char *prefix;
    char *host;
    int port;
    int default_qos;
    size_t max_held;
    json_t *device_qos; /* device id -> qos (own ref) */
    int keepalive, rmin, rmax, connect_timeout_s;
    pthread_t net;   /* see net_main() */
    int net_started; /* owner thread */

    int tls, tls_insecure; /* read-only after init */

    pthread_mutex_t lock; /* guards everything below */
    int connected;
    char why[200]; /* why the current attempt failed, when a callback knew:
                    * "TLS: <OpenSSL's reason>" or the broker's refusal */
    held_msg *held, *held_tail;
    size_t n_held;
    inflight *infl;
    size_t n_infl, cap_infl;
    uint64_t published, delivered, connects, disconnects, messages;
    int stop;
} mqtt_plugin;

static int get_int(const json_t *o, const char *key, int def, int lo, int hi, int *out, char *err,
                   size_t errlen) {
    json_t *v = json_object_get(o, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "\"%s\" must be an integer between %d and %d", key, lo, hi);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int mqtt_check_device(const json_t *device, char *err, size_t errlen) {
    json_t *m = json_object_get(device, "mqtt");
    if (!m) return 0;
    if (!json_is_object(m)) {
        snprintf(err, errlen, "settings must be an object");
        return -1;
    }
    int q;
    return get_int(m, "qos", 1, 0, 2, &q, err, errlen);
}

static void held_free(held_msg *h) {
    free(h->topic);
    free(h->payload);
    free(h);
}

/* ---- loop thread callbacks --------------------------------------------- */

static void publish_locked(mqtt_plugin *p, const char *id, const char *device, const char *topic,
                           const char *payload, int qos) {
    int mid = 0;
    int rc = mosquitto_publish(p->m, &mid, topic, (int)strlen(payload), payload, qos, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        p->cb->command_status(p->core, device, id, CONTROL_FAILED, 0, mosquitto_strerror(rc), NULL);
        return;
    }
    p->published++;
    if (qos > 0) {
        if (p->n_infl == p->cap_infl) {
            size_t cap = p->cap_infl ? p->cap_infl * 2 : 16;
            inflight *n = realloc(p->infl, cap * sizeof *n);
            if (!n) {
                p->cb->command_status(p->core, device, id, CONTROL_SENT, 0, NULL, NULL);
                return;
            }
            p->infl = n;
            p->cap_infl = cap;
        }
        inflight *f = &p->infl[p->n_infl++];
        f->mid = mid;
        control_strlcpy(f->id, id, sizeof f->id);
        control_strlcpy(f->device, device, sizeof f->device);
    }
    /* Reported under the plugin lock, so "sent" is queued before the
     * "delivered" that on_publish may report as soon as we unlock. */
    p->cb->command_status(p->core, device, id, CONTROL_SENT, 0, NULL, NULL);
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
    mqtt_plugin *p = obj;
    if (rc != 0) { /* refused: net_main reports it when the connection ends */
        pthread_mutex_lock(&p->lock);
        snprintf(p->why, sizeof p->why, "%s", mosquitto_connack_string(rc));
        pthread_mutex_unlock(&p->lock);
        return;
    }
    char *subs[3];
    size_t plen = strlen(p->prefix) + 16;
    const char *kinds[3] = {"ack", "telemetry", "state"};
    for (int i = 0; i < 3; i++) {
        subs[i] = malloc(plen);
        if (subs[i]) snprintf(subs[i], plen, "%s/+/%s", p->prefix, kinds[i]);
    }
    if (subs[0] && subs[1] && subs[2]) mosquitto_subscribe_multiple(m, NULL, 3, subs, 1, 0, NULL);
    for (int i = 0; i < 3; i++)
        free(subs[i]);

    pthread_mutex_lock(&p->lock);
    p->connected = 1;
    p->connects++;
    p->cb->transport_state(p->core, "mqtt", 1, NULL);
    held_msg *h = p->held;
    p->held = p->held_tail = NULL;
    p->n_held = 0;
    while (h) {
        held_msg *next = h->next;
        publish_locked(p, h->id, h->device, h->topic, h->payload, h->qos);
        held_free(h);
        h = next;
    }
    pthread_mutex_unlock(&p->lock);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc) {
    (void)m;
    mqtt_plugin *p = obj;
    pthread_mutex_lock(&p->lock);
    int was = p->connected;
    p->connected = 0;
    if (was) p->disconnects++;
    pthread_mutex_unlock(&p->lock);
    /* Before CONNACK it is one more failed attempt: net_main tells why. */
    if (was)
        p->cb->transport_state(p->core, "mqtt", 0, rc == 0 ? "disconnected" : "connection lost");
}

static void on_publish(struct mosquitto *m, void *obj, int mid) {
    (void)m;
    mqtt_plugin *p = obj;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n_infl; i++) {
        if (p->infl[i].mid != mid) continue;
        p->delivered++;
        p->cb->command_status(p->core, p->infl[i].device, p->infl[i].id, CONTROL_DELIVERED, 0, NULL,
                              NULL);
        p->infl[i] = p->infl[--p->n_infl];
        break;
    }
    pthread_mutex_unlock(&p->lock);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m;
    mqtt_plugin *p = obj;
    pthread_mutex_lock(&p->lock);
    p->messages++;
    pthread_mutex_unlock(&p->lock);

    /* Parsed and reported in mqtt_message.c (payloadlen is never negative). */
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    control_mqtt_parse_message(p->cb, p->core, p->prefix, msg->topic, msg->payload, len);
}

/* libmosquitto logs why a TLS handshake failed ("OpenSSL Error[0]: error:...:
 * certificate verify failed") and returns only MOSQ_ERR_TLS; keep the reason
 * for the transport state's detail. Connector or loop thread. */
static void on_log(struct mosquitto *m, void *obj, int level, const char *str) {
    (void)m;
    mqtt_plugin *p = obj;
    const char *e = str ? strstr(str, "OpenSSL Error") : NULL;
    if (level != MOSQ_LOG_ERR || !e) return;
    const char *why =
        strrchr(e, ':'); /* "error:0A000086:SSL routines::certificate verify failed" */
    pthread_mutex_lock(&p->lock);
    snprintf(p->why, sizeof p->why, "TLS: %s", why && why[1] ? why + 1 : e);
    pthread_mutex_unlock(&p->lock);
}

/* Why an attempt failed: what a callback learnt (the OpenSSL reason of a TLS
 * failure, the broker's refusal), else libmosquitto's error. */
static void connect_error(mqtt_plugin *p, int rc, int err, char *out, size_t outlen) {
    pthread_mutex_lock(&p->lock);
    if (p->why[0])
        snprintf(out, outlen, "%s", p->why);
    else if (rc == MOSQ_ERR_TLS)
        snprintf(out, outlen, "TLS: handshake failed");
    else
        snprintf(out, outlen, "%s", rc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(rc));
    pthread_mutex_unlock(&p->lock);
}

/* ---- network thread ---------------------------------------------------- */

static int stopping(mqtt_plugin *p) {
    pthread_mutex_lock(&p->lock);
    int stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

/* Connect, loop until the connection fails, say why, wait, again. A failure
 * before CONNACK (refused, unreachable, TLS) is reported here, once per new
 * reason; losing an established connection is reported by on_disconnect. */
static void *net_main(void *arg) {
    mqtt_plugin *p = arg;
    int delay_s = p->rmin;
    char reported[256] = "";
    while (!stopping(p)) {
        pthread_mutex_lock(&p->lock);
        uint64_t connects = p->connects;
        p->why[0] = 0;
        pthread_mutex_unlock(&p->lock);
        int64_t deadline = control_now_ms() + 1000 * (int64_t)p->connect_timeout_s;
        int rc = mosquitto_connect_async(p->m, p->host, p->port, p->keepalive);
        int timed_out = 0;
        while (rc == MOSQ_ERR_SUCCESS && !stopping(p)) {
            rc = mosquitto_loop(p->m, 100, 1);
            if (rc == MOSQ_ERR_SUCCESS && deadline && control_now_ms() > deadline) {
                pthread_mutex_lock(&p->lock);
                timed_out = p->connects == connects; /* no CONNACK yet */
                pthread_mutex_unlock(&p->lock);
                if (timed_out) break; /* the next attempt closes the socket */
                deadline = 0;         /* connected: the keepalive watches it now */
            }
        }
        int err = errno; /* for MOSQ_ERR_ERRNO */
        if (stopping(p)) break;
        pthread_mutex_lock(&p->lock);
        int got_through = p->connects != connects;
        if (timed_out && !p->why[0])
            snprintf(p->why, sizeof p->why, "no answer from the broker within %d s",
                     p->connect_timeout_s);
        pthread_mutex_unlock(&p->lock);
        if (got_through) { /* it worked for a while: start over */
            delay_s = p->rmin;
            reported[0] = 0;
        } else {
            char why[256];
            connect_error(p, rc, err, why, sizeof why);
            if (strcmp(why, reported) != 0) {
                p->cb->transport_state(p->core, "mqtt", 0, why);
                snprintf(reported, sizeof reported, "%s", why);
            }
        }
        for (int i = 0; i < delay_s * 10 && !stopping(p); i++) /* sleep, but stop promptly */
            usleep(100 * 1000);
        if (!got_through) delay_s = delay_s * 2 > p->rmax ? p->rmax : delay_s * 2;
    }
    mosquitto_disconnect(p->m);   /* a clean DISCONNECT if connected, written by */
    mosquitto_loop(p->m, 100, 1); /* one more turn of the loop */
    return NULL;
}

/* ---- owner thread ------------------------------------------------------ */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void) {
    mosquitto_lib_init();
}

static void mqtt_shutdown(void *state);

/* A key protected by a passphrase fails to load instead of prompting. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata) {
    (void)buf, (void)size, (void)rwflag, (void)userdata;
    return 0;
}

static int readable(const json_t *sec, const char *key, int dir, char *err, size_t errlen) {
    json_t *v = json_object_get(sec, key);
    if (!v) return 0;
    const char *path = json_string_value(v);
    if (!path || !*path) {
        snprintf(err, errlen, "\"%s\" must be a non-empty path", key);
        return -1;
    }
    if (access(path, dir ? R_OK | X_OK : R_OK) != 0) {
        snprintf(err, errlen, "\"%s\": cannot read '%.150s': %s", key, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The TLS settings: readable files, a client certificate with its key and
 * only over TLS, tls_insecure a boolean. */
static int tls_settings_check(const json_t *sec, char *err, size_t errlen) {
    if (readable(sec, "ca_file", 0, err, errlen) < 0 ||
        readable(sec, "ca_path", 1, err, errlen) < 0 ||
        readable(sec, "cert_file", 0, err, errlen) < 0 ||
        readable(sec, "key_file", 0, err, errlen) < 0)
        return -1;
    int tls = json_object_get(sec, "ca_file") || json_object_get(sec, "ca_path");
    int cert = json_object_get(sec, "cert_file") != NULL,
        key = json_object_get(sec, "key_file") != NULL;
    json_t *insecure = json_object_get(sec, "tls_insecure");
    if (cert != key) {
        snprintf(err, errlen, "\"cert_file\" and \"key_file\" go together");
        return -1;
    }
    if ((cert || (insecure && json_is_true(insecure))) && !tls) {
        snprintf(err, errlen, "\"%s\" needs TLS: set \"ca_file\" or \"ca_path\"",
                 cert ? "cert_file" : "tls_insecure");
        return -1;
    }
    if (insecure && !json_is_boolean(insecure)) {
        snprintf(err, errlen, "\"tls_insecure\" must be true or false");
        return -1;
    }
    return 0;
}

static void *mqtt_init(const control_callbacks *cb, control_core *core, const json_t *sec,
                       const json_t *devices, char *err, size_t errlen) {
    pthread_once(&lib_once, lib_init);
    if (sec && !json_is_object(sec)) {
        snprintf(err, errlen, "section must be an object");
        return NULL;
    }
    int port, keepalive, qos, rmin, rmax, connect_timeout_s, max_held;
    if (get_int(sec, "port", 1883, 1, 65535, &port, err, errlen) < 0 ||
        get_int(sec, "keepalive", 30, 5, 3600, &keepalive, err, errlen) < 0 ||
        get_int(sec, "qos", 1, 0, 2, &qos, err, errlen) < 0 ||
        get_int(sec, "reconnect_min_s", 1, 1, 3600, &rmin, err, errlen) < 0 ||
        get_int(sec, "reconnect_max_s", 30, 1, 3600, &rmax, err, errlen) < 0 ||
        get_int(sec, "connect_timeout_s", 10, 1, 600, &connect_timeout_s, err, errlen) < 0 ||
        get_int(sec, "max_held", 64, 0, 100000, &max_held, err, errlen) < 0)
        return NULL;
    const char *host = json_string_value(json_object_get(sec, "host"));
    const char *prefix = json_string_value(json_object_get(sec, "prefix"));
    const char *client_id = json_string_value(json_object_get(sec, "client_id"));
    const char *user = json_string_value(json_object_get(sec, "username"));
    const char *pass = json_string_value(json_object_get(sec, "password"));
    const char *ca = json_string_value(json_object_get(sec, "ca_file"));
    const char *ca_path = json_string_value(json_object_get(sec, "ca_path"));
    const char *cert = json_string_value(json_object_get(sec, "cert_file"));
    const char *key = json_string_value(json_object_get(sec, "key_file"));
    json_t *insecure = json_object_get(sec, "tls_insecure");
    if (tls_settings_check(sec, err, errlen) < 0) return NULL;
    if (prefix && (!*prefix || strpbrk(prefix, "+#"))) {
        snprintf(err, errlen, "\"prefix\" must be non-empty, without + or #");
        return NULL;
    }

    mqtt_plugin *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&p->lock, &a);
    pthread_mutexattr_destroy(&a);
    p->cb = cb;
    p->core = core;
    p->prefix = strdup(prefix ? prefix : "vigil");
    p->host = strdup(host ? host : "127.0.0.1");
    p->port = port;
    p->default_qos = qos;
    p->max_held = (size_t)max_held;
    p->keepalive = keepalive;
    p->rmin = rmin;
    p->rmax = rmax;
    p->connect_timeout_s = connect_timeout_s;
    p->tls = ca || ca_path;
    p->tls_insecure = json_is_true(insecure);
    p->device_qos = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(devices, i, d) {
        json_t *q = json_object_get(json_object_get(d, "mqtt"), "qos");
        if (q) json_object_set(p->device_qos, json_string_value(json_object_get(d, "id")), q);
    }
    char cid[64];
    if (!client_id) {
        snprintf(cid, sizeof cid, "vigil-%ld-%lld", (long)getpid(), (long long)control_now_ms());
        client_id = cid;
    }
    p->m = mosquitto_new(client_id, true, p);
    if (!p->prefix || !p->host || !p->m) {
        snprintf(err, errlen, "cannot create MQTT client");
        mqtt_shutdown(p);
        return NULL;
    }
    mosquitto_connect_callback_set(p->m, on_connect);
    mosquitto_disconnect_callback_set(p->m, on_disconnect);
    mosquitto_publish_callback_set(p->m, on_publish);
    mosquitto_message_callback_set(p->m, on_message);
    mosquitto_log_callback_set(p->m, on_log);
    mosquitto_threaded_set(p->m, true); /* published from the owner thread too */
    int rc = MOSQ_ERR_SUCCESS;
    if (user) rc = mosquitto_username_pw_set(p->m, user, pass);
    if (rc == MOSQ_ERR_SUCCESS && (ca || ca_path)) {
        rc = mosquitto_tls_set(p->m, ca, ca_path, cert, key, no_passphrase);
        /* Verify the broker's certificate (SSL_VERIFY_PEER) and, unless told
         * otherwise, that it names the host we connect to. */
        if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(p->m, 1, NULL, NULL);
        if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(p->m, p->tls_insecure);
        if (rc == MOSQ_ERR_SUCCESS && p->tls_insecure)
            vg_log(VG_LOG_WARN,
                   "control: mqtt: WARNING: tls_insecure is true: the broker's certificate is "
                   "not checked against the host name '%s'; anyone with a certificate from the "
                   "same CA can pose as the broker",
                   p->host);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "%s", mosquitto_strerror(rc));
        mqtt_shutdown(p);
        return NULL;
    }
    /* A broker that is down now is not an error: the network thread keeps
     * trying with backoff, and commands are held meanwhile. */
    if (pthread_create(&p->net, NULL, net_main, p) != 0) {
        snprintf(err, errlen, "cannot start MQTT network thread");
        mqtt_shutdown(p);
        return NULL;
    }
    p->net_started = 1;
    return p;
}

static int mqtt_send(void *state, const control_send *cmd, char *err, size_t errlen) {
    mqtt_plugin *p = state;
    int qos = p->default_qos;
    json_t *q = json_object_get(p->device_qos, cmd->device_id);
    if (q) qos = (int)json_integer_value(q);
    q = json_object_get(cmd->options, "qos");
    if (q) qos = (int)json_integer_value(q);

    char *payload = control_command_body(cmd);
    size_t tl = strlen(p->prefix) + strlen(cmd->device_id) + 8;
    char *topic = malloc(tl);
    if (!payload || !topic) {
        free(payload);
        free(topic);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(topic, tl, "%s/%s/cmd", p->prefix, cmd->device_id);

    int ret = 0;
    pthread_mutex_lock(&p->lock);
    if (p->connected) {
        publish_locked(p, cmd->command_id, cmd->device_id, topic, payload, qos);
    } else if (qos == 0) {
        snprintf(err, errlen, "broker not connected (QoS 0 commands are not held)");
        ret = -1;
    } else if (p->n_held >= p->max_held) {
        snprintf(err, errlen, "broker not connected and %zu commands already held", p->n_held);
        ret = -1;
    } else {
        held_msg *h = calloc(1, sizeof *h);
        if (!h) {
            snprintf(err, errlen, "out of memory");
            ret = -1;
        } else {
            control_strlcpy(h->id, cmd->command_id, sizeof h->id);
            control_strlcpy(h->device, cmd->device_id, sizeof h->device);
            h->topic = topic;
            h->payload = payload;
            h->qos = qos;
            topic = payload = NULL;
            if (p->held_tail)
                p->held_tail->next = h;
            else
                p->held = h;
            p->held_tail = h;
            p->n_held++;
        }
    }
    pthread_mutex_unlock(&p->lock);
    free(topic);
    free(payload);
    return ret;
}

static void mqtt_cancel(void *state, const char *id) {
    mqtt_plugin *p = state;
    pthread_mutex_lock(&p->lock);
    held_msg **pp = &p->held, *prev = NULL;
    while (*pp) {
        held_msg *h = *pp;
        if (strcmp(h->id, id) == 0) {
            *pp = h->next;
            if (p->held_tail == h) p->held_tail = prev;
            p->n_held--;
            held_free(h);
            break;
        }
        prev = h;
        pp = &h->next;
    }
    for (size_t i = 0; i < p->n_infl; i++)
        if (strcmp(p->infl[i].id, id) == 0) {
            p->infl[i] = p->infl[--p->n_infl];
            break;
        }
    pthread_mutex_unlock(&p->lock);
}

static json_t *mqtt_status(void *state) {
    mqtt_plugin *p = state;
    pthread_mutex_lock(&p->lock);
    json_t *o = json_pack(
        "{s:b, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connected", p->connected,
        "host", p->host, "port", p->port, "prefix", p->prefix, "held", (json_int_t)p->n_held,
        "inflight", (json_int_t)p->n_infl, "published", (json_int_t)p->published, "delivered",
        (json_int_t)p->delivered, "connects", (json_int_t)p->connects, "disconnects",
        (json_int_t)p->disconnects, "messages", (json_int_t)p->messages);
    if (o)
        json_object_set_new(o, "tls",
                            json_string(!p->tls           ? "off"
                                        : p->tls_insecure ? "insecure"
                                                          : "verified"));
    pthread_mutex_unlock(&p->lock);
    return o;
}

static void mqtt_shutdown(void *state) {
    mqtt_plugin *p = state;
    if (!p) return;
    if (p->net_started) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->net, NULL); /* it disconnects before it ends */
    }
    if (p->m) mosquitto_destroy(p->m);
    held_msg *h = p->held;
    while (h) {
        held_msg *next = h->next;
        held_free(h);
        h = next;
    }
    free(p->infl);
    free(p->prefix);
    free(p->host);
    json_decref(p->device_qos);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const control_plugin control_plugin_mqtt = {
    .api_version = CONTROL_API_VERSION,
    .name = "mqtt",
    .check_device = mqtt_check_device,
    .init = mqtt_init,
    .send = mqtt_send,
    .cancel = mqtt_cancel,
    .status = mqtt_status,
    .shutdown = mqtt_shutdown,
};

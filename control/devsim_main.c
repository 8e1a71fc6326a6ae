/* devsim_main.c -- vigil-devsim, a simulated constrained device (a PTZ
 * camera with a light) speaking MQTT (libmosquitto) and CoAP (libcoap), so
 * that vigil's control plugins can be tested against real protocol stacks.
 *
 *   vigil-devsim --id cam1 [--mqtt-host H --mqtt-port P --prefix vigil]
 *                [--mqtt-cafile F [--mqtt-cert F --mqtt-key F]]
 *                [--coap-port P] [--coaps-port P --psk-identity I --psk-key K]
 *                [--coaps-port P --coaps-cert F --coaps-key F [--coaps-ca F]]
 *                [--drop N] [--delay-ms N] [--refuse all|COMMAND]
 *                [--offline-after-ms N] [--telemetry-ms N] [--garbage] [--reset]
 *
 * MQTT: subscribes <prefix>/<id>/cmd (QoS 1, persistent session), answers on
 * <prefix>/<id>/ack, publishes <prefix>/<id>/telemetry and a retained
 * <prefix>/<id>/state, with {"online":false} as its last-will.
 * MQTT over TLS with --mqtt-cafile (the CA that signed the broker's
 * certificate; its host name is checked), and a client certificate with
 * --mqtt-cert/--mqtt-key.
 * CoAPS: DTLS with a pre-shared key (--psk-identity/--psk-key), with a
 * certificate (--coaps-cert/--coaps-key; --coaps-ca: clients must present a
 * certificate signed by that CA), or both.
 * CoAP: POST /cmd runs a command (2.04 + JSON, 4.03 when refused, 4.00 when
 * malformed); GET /telemetry is observable.
 * Commands: ptz {pan,tilt,zoom}, light {on}, reboot {}, set_interval
 * {seconds}; answers are idempotent per command id (a repeated id gets the
 * first answer again and is not executed twice).
 *
 * Failure knobs: --drop N ignores the first N commands (CoAP: the datagram
 * gets no answer at all, not even an ACK); --delay-ms answers late (CoAP:
 * empty ACK now, separate response later); --refuse refuses; --garbage
 * sends an invalid JSON ack/telemetry before each real one; --reset
 * answers CoAP commands with a Reset (RST);
 * --offline-after-ms drops off the network without DISCONNECT (so the
 * broker publishes the last-will) and stops answering CoAP.
 *
 * Each event is printed to stdout as one JSON line for the tests.
 *
 * Threads: the main thread runs libcoap and the timers; libmosquitto's loop
 * thread runs the MQTT callbacks.  `g.lock` guards the device state, the
 * answer cache and the delayed-ack list, which both touch.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <mosquitto.h>
#include <coap3/coap.h>

#define CACHE 64

typedef struct answer {
    char id[64];
    char *mqtt; /* the ack JSON */
    int code;   /* CoAP response code number (204, 403, 400) */
    char *coap; /* the CoAP body JSON */
    int received;
} answer;

typedef struct delayed {
    int64_t due;
    char *payload;
    struct delayed *next;
} delayed;

static struct {
    /* options, read-only after main() parsed them */
    const char *id, *prefix, *mqtt_host, *coap_addr, *psk_identity, *psk_key, *refuse;
    const char *mqtt_cafile, *mqtt_cert, *mqtt_key, *coaps_cert, *coaps_key, *coaps_ca;
    int mqtt_port, coap_port, coaps_port, delay_ms, offline_after_ms, telemetry_ms, garbage, reset;

    pthread_mutex_t lock; /* guards everything below */
    int drop_left;
    int light;
    double pan, tilt, zoom;
    int interval_s;
    int offline;
    uint64_t seq, executed, dropped, duplicates;
    answer cache[CACHE];
    size_t cache_next;
    delayed *delayed;

    struct mosquitto *m;
    char topic_cmd[160], topic_ack[160], topic_tel[160], topic_state[160];
    coap_resource_t *tel_res; /* main thread */
    volatile sig_atomic_t stop;
} g = {.id = "sim1",
       .prefix = "vigil",
       .mqtt_host = "127.0.0.1",
       .coap_addr = "127.0.0.1",
       .lock = PTHREAD_MUTEX_INITIALIZER,
       .interval_s = 1,
       .zoom = 0};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One JSON line on stdout.  Called from the main thread and from
 * libmosquitto's network thread: the line and its newline go out under one
 * stdio lock, or two lines can interleave into one unparseable line. */
static void say(const char *fmt, ...) {
    va_list ap;
    flockfile(stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar_unlocked('\n');
    fflush(stdout);
    funlockfile(stdout);
}

/* new ref; caller holds g.lock */
static json_t *state_json(void) {
    return json_pack("{s:b, s:b, s:f, s:f, s:f, s:i, s:I}", "online", !g.offline, "light", g.light,
                     "pan", g.pan, "tilt", g.tilt, "zoom", g.zoom, "interval", g.interval_s,
                     "executed", (json_int_t)g.executed);
}

/* ---- commands (either thread, under g.lock) ---------------------------- */

static answer *cache_find(const char *id) {
    for (size_t i = 0; i < CACHE; i++)
        if (g.cache[i].id[0] && strcmp(g.cache[i].id, id) == 0) return &g.cache[i];
    return NULL;
}

static int refused(const char *name) {
    return g.refuse && (strcmp(g.refuse, "all") == 0 || strcmp(g.refuse, name) == 0);
}

static double num(const json_t *params, const char *key, double def) {
    json_t *v = json_object_get(params, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

/* Runs one command message; returns the cached answer (new or repeated).
 * NULL if the message has no usable id (answered with 4.00 / ignored). */
static answer *execute(json_t *msg, const char *transport) {
    const char *id = json_string_value(json_object_get(msg, "id"));
    const char *name = json_string_value(json_object_get(msg, "command"));
    json_t *params = json_object_get(msg, "params");
    if (!id || !name || strlen(id) >= 64) return NULL;
    answer *a = cache_find(id);
    if (a) {
        a->received++;
        g.duplicates++;
        say("{\"sim\":\"cmd\",\"id\":\"%s\",\"transport\":\"%s\",\"action\":\"duplicate\","
            "\"received\":%d}",
            id, transport, a->received);
        return a;
    }
    a = &g.cache[g.cache_next++ % CACHE];
    free(a->mqtt);
    free(a->coap);
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", id);
    a->received = 1;

    json_t *res = NULL;
    const char *error = NULL;
    int code = 204;
    if (refused(name)) {
        error = "refused";
        code = 403;
    } else if (strcmp(name, "ptz") == 0) {
        g.pan = num(params, "pan", g.pan);
        g.tilt = num(params, "tilt", g.tilt);
        g.zoom = num(params, "zoom", g.zoom);
    } else if (strcmp(name, "light") == 0) {
        json_t *on = json_object_get(params, "on");
        if (!json_is_boolean(on)) {
            error = "light needs on: bool";
            code = 400;
        } else {
            g.light = json_is_true(on);
        }
    } else if (strcmp(name, "reboot") == 0) {
        g.pan = g.tilt = g.zoom = 0;
    } else if (strcmp(name, "set_interval") == 0) {
        double s = num(params, "seconds", -1);
        if (s < 1 || s > 3600) {
            error = "seconds must be 1..3600";
            code = 400;
        } else {
            g.interval_s = (int)s;
        }
    } else {
        error = "unknown command";
        code = 404;
    }
    if (!error) {
        g.executed++;
        res = state_json();
        json_object_set_new(res, "received", json_integer(1));
    }
    json_t *ack = error ? json_pack("{s:s, s:s, s:s, s:i}", "id", id, "status", "error", "error",
                                    error, "code", code)
                        : json_pack("{s:s, s:s, s:o}", "id", id, "status", "ok", "result", res);
    a->mqtt = json_dumps(ack, JSON_COMPACT);
    a->coap = json_dumps(ack, JSON_COMPACT);
    a->code = code;
    json_decref(ack);
    say("{\"sim\":\"cmd\",\"id\":\"%s\",\"transport\":\"%s\",\"command\":\"%s\",\"action\":\"%s\"}",
        id, transport, name, error ? "refused" : "executed");
    return a;
}

/* caller holds g.lock */
static int take_drop(const char *id, const char *transport) {
    if (g.drop_left <= 0) return 0;
    g.drop_left--;
    g.dropped++;
    say("{\"sim\":\"cmd\",\"id\":\"%s\",\"transport\":\"%s\",\"action\":\"dropped\"}", id ? id : "",
        transport);
    return 1;
}

/* ---- MQTT (loop thread) ------------------------------------------------ */

static void publish_state_locked(void) {
    json_t *s = state_json();
    char *txt = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    if (txt) mosquitto_publish(g.m, NULL, g.topic_state, (int)strlen(txt), txt, 1, true);
    free(txt);
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
    (void)obj;
    if (rc) return;
    mosquitto_subscribe(m, NULL, g.topic_cmd, 1);
    pthread_mutex_lock(&g.lock);
    publish_state_locked();
    pthread_mutex_unlock(&g.lock);
    say("{\"sim\":\"mqtt-connected\"}");
}

static void send_ack_locked(const char *payload) {
    if (g.garbage) mosquitto_publish(g.m, NULL, g.topic_ack, 9, "{not json", 1, false);
    if (g.delay_ms > 0) {
        delayed *d = calloc(1, sizeof *d);
        if (d && (d->payload = strdup(payload))) {
            d->due = now_ms() + g.delay_ms;
            d->next = g.delayed;
            g.delayed = d;
            return;
        }
        free(d);
    }
    mosquitto_publish(g.m, NULL, g.topic_ack, (int)strlen(payload), payload, 1, false);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m;
    (void)obj;
    json_t *j = json_loadb(msg->payload, (size_t)msg->payloadlen, 0, NULL);
    pthread_mutex_lock(&g.lock);
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!g.offline && !take_drop(id, "mqtt")) {
        answer *a = j ? execute(j, "mqtt") : NULL;
        if (a) {
            send_ack_locked(a->mqtt);
            publish_state_locked();
        } else {
            say("{\"sim\":\"bad-command\",\"transport\":\"mqtt\"}");
        }
    }
    pthread_mutex_unlock(&g.lock);
    json_decref(j);
}

/* ---- CoAP (main thread) ------------------------------------------------ */

static void respond(coap_pdu_t *response, int code, const char *body) {
    uint8_t buf[4];
    coap_pdu_set_code(response, COAP_RESPONSE_CODE(code));
    coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(buf, sizeof buf, COAP_MEDIATYPE_APPLICATION_JSON), buf);
    coap_add_data(response, strlen(body), (const uint8_t *)body);
}

static void hnd_cmd(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
                    const coap_string_t *q, coap_pdu_t *response) {
    (void)r;
    (void)q;
    size_t len;
    const uint8_t *data;
    json_t *j =
        coap_get_data(req, &len, &data) ? json_loadb((const char *)data, len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    coap_async_t *async = coap_find_async(s, coap_pdu_get_token(req));

    pthread_mutex_lock(&g.lock);
    if (async) { /* the delayed answer is due now */
        answer *a = id ? cache_find(id) : NULL;
        respond(response, a ? a->code : 500, a ? a->coap : "{}");
        coap_free_async(s, async);
        goto out;
    }
    if (g.offline || take_drop(id, "coap")) {
        /* No answer at all: an empty NON response is dropped by libcoap,
         * so a CON request gets no ACK and the client retransmits. */
        coap_pdu_set_type(response, COAP_MESSAGE_NON);
        goto out;
    }
    if (g.reset) {
        /* Answer with a Reset ("cannot process this message") instead of
         * a response, which is then dropped. */
        coap_send_rst(s, req);
        coap_pdu_set_type(response, COAP_MESSAGE_NON);
        say("{\"sim\":\"cmd\",\"id\":\"%s\",\"transport\":\"coap\",\"action\":\"reset\"}",
            id ? id : "");
        goto out;
    }
    answer *a = j ? execute(j, "coap") : NULL;
    if (!a) {
        respond(response, 400, "{\"status\":\"error\",\"error\":\"bad command JSON\"}");
        goto out;
    }
    if (g.delay_ms > 0 && a->received == 1) {
        coap_register_async(s, req, (coap_tick_t)g.delay_ms * COAP_TICKS_PER_SECOND / 1000);
        goto out; /* empty ACK now, answer later */
    }
    respond(response, a->code, a->coap);
out:
    pthread_mutex_unlock(&g.lock);
    json_decref(j);
}

static void hnd_telemetry(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
                          const coap_string_t *q, coap_pdu_t *response) {
    (void)r;
    (void)s;
    (void)req;
    (void)q;
    pthread_mutex_lock(&g.lock);
    if (g.offline) {
        coap_pdu_set_type(response, COAP_MESSAGE_NON);
        pthread_mutex_unlock(&g.lock);
        return;
    }
    json_t *t = state_json();
    json_object_set_new(t, "seq", json_integer((json_int_t)g.seq));
    char *txt = json_dumps(t, JSON_COMPACT);
    json_decref(t);
    int garbage = g.garbage && (g.seq % 2 == 1);
    pthread_mutex_unlock(&g.lock);
    respond(response, 205, garbage ? "{not json" : txt ? txt : "{}");
    free(txt);
}

static const coap_bin_const_t *check_identity(coap_bin_const_t *identity, coap_session_t *s,
                                              void *arg) {
    (void)s;
    static coap_bin_const_t key;
    (void)arg;
    if (!g.psk_identity || identity->length != strlen(g.psk_identity) ||
        memcmp(identity->s, g.psk_identity, identity->length) != 0) {
        say("{\"sim\":\"psk-unknown-identity\"}");
        return NULL;
    }
    key.s = (const uint8_t *)g.psk_key;
    key.length = strlen(g.psk_key);
    return &key;
}

static coap_context_t *coap_setup(void) {
    coap_startup();
    coap_set_log_level(LOG_CRIT);
    coap_dtls_set_log_level(LOG_CRIT);
    coap_context_t *ctx = coap_new_context(NULL);
    if (!ctx) return NULL;
    coap_address_t a;
    coap_address_init(&a);
    a.addr.sin.sin_family = AF_INET;
    a.size = sizeof a.addr.sin;
    if (inet_pton(AF_INET, g.coap_addr, &a.addr.sin.sin_addr) != 1) return NULL;
    if (g.coap_port) {
        a.addr.sin.sin_port = htons((uint16_t)g.coap_port);
        if (!coap_new_endpoint(ctx, &a, COAP_PROTO_UDP)) return NULL;
    }
    if (g.coaps_port && g.coaps_cert) {
        coap_dtls_pki_t pki;
        memset(&pki, 0, sizeof pki);
        pki.version = COAP_DTLS_PKI_SETUP_VERSION;
        /* With --coaps-ca: ask for a client certificate and accept it when
         * that CA (libcoap: "the common CA") signed it. */
        pki.verify_peer_cert = g.coaps_ca != NULL;
        pki.check_common_ca = g.coaps_ca != NULL;
        pki.cert_chain_validation = 1;
        pki.cert_chain_verify_depth = 4;
        pki.pki_key.key_type = COAP_PKI_KEY_PEM;
        pki.pki_key.key.pem.ca_file = g.coaps_ca;
        pki.pki_key.key.pem.public_cert = g.coaps_cert;
        pki.pki_key.key.pem.private_key = g.coaps_key;
        if (!coap_context_set_pki(ctx, &pki)) return NULL;
    }
    if (g.coaps_port && g.psk_key) {
        coap_dtls_spsk_t sp;
        memset(&sp, 0, sizeof sp);
        sp.version = COAP_DTLS_SPSK_SETUP_VERSION;
        sp.validate_id_call_back = check_identity;
        sp.psk_info.key.s = (const uint8_t *)g.psk_key;
        sp.psk_info.key.length = strlen(g.psk_key);
        if (!coap_context_set_psk2(ctx, &sp)) return NULL;
    }
    if (g.coaps_port) {
        a.addr.sin.sin_port = htons((uint16_t)g.coaps_port);
        if (!coap_new_endpoint(ctx, &a, COAP_PROTO_DTLS)) return NULL;
    }
    coap_resource_t *r = coap_resource_init(coap_make_str_const("cmd"), 0);
    coap_register_request_handler(r, COAP_REQUEST_POST, hnd_cmd);
    coap_add_resource(ctx, r);
    g.tel_res = coap_resource_init(coap_make_str_const("telemetry"), 0);
    coap_register_request_handler(g.tel_res, COAP_REQUEST_GET, hnd_telemetry);
    coap_resource_set_get_observable(g.tel_res, 1);
    coap_add_resource(ctx, g.tel_res);
    return ctx;
}

/* ---- main -------------------------------------------------------------- */

static void on_signal(int sig) {
    (void)sig;
    g.stop = 1;
}

static void go_offline(void) {
    pthread_mutex_lock(&g.lock);
    g.offline = 1;
    pthread_mutex_unlock(&g.lock);
    if (g.m) {
        /* Vanish without DISCONNECT: the broker publishes the last-will. */
        int fd = mosquitto_socket(g.m);
        mosquitto_loop_stop(g.m, true);
        if (fd >= 0) shutdown(fd, SHUT_RDWR);
    }
    say("{\"sim\":\"offline\"}");
}

static void usage(void) {
    fprintf(stderr,
            "usage: vigil-devsim --id ID [--mqtt-host H] [--mqtt-port P] [--prefix P]\n"
            "  [--mqtt-cafile F [--mqtt-cert F --mqtt-key F]]\n"
            "  [--coap-addr A] [--coap-port P] [--coaps-port P --psk-identity I --psk-key K]\n"
            "  [--coaps-port P --coaps-cert F --coaps-key F [--coaps-ca F]]\n"
            "  [--drop N] [--delay-ms N] [--refuse all|COMMAND] [--offline-after-ms N]\n"
            "  [--telemetry-ms N] [--garbage] [--reset]\n");
    exit(2);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"id", 1, 0, 'i'},
        {"mqtt-host", 1, 0, 'H'},
        {"mqtt-port", 1, 0, 'P'},
        {"prefix", 1, 0, 'x'},
        {"coap-addr", 1, 0, 'a'},
        {"coap-port", 1, 0, 'c'},
        {"coaps-port", 1, 0, 's'},
        {"psk-identity", 1, 0, 'I'},
        {"psk-key", 1, 0, 'K'},
        {"drop", 1, 0, 'd'},
        {"delay-ms", 1, 0, 'D'},
        {"refuse", 1, 0, 'r'},
        {"offline-after-ms", 1, 0, 'o'},
        {"telemetry-ms", 1, 0, 't'},
        {"garbage", 0, 0, 'g'},
        {"reset", 0, 0, 'R'},
        {"mqtt-cafile", 1, 0, 'A'},
        {"mqtt-cert", 1, 0, 'E'},
        {"mqtt-key", 1, 0, 'Y'},
        {"coaps-cert", 1, 0, 'T'},
        {"coaps-key", 1, 0, 'k'},
        {"coaps-ca", 1, 0, 'C'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'i': g.id = optarg; break;
        case 'H': g.mqtt_host = optarg; break;
        case 'P': g.mqtt_port = atoi(optarg); break;
        case 'x': g.prefix = optarg; break;
        case 'a': g.coap_addr = optarg; break;
        case 'c': g.coap_port = atoi(optarg); break;
        case 's': g.coaps_port = atoi(optarg); break;
        case 'I': g.psk_identity = optarg; break;
        case 'K': g.psk_key = optarg; break;
        case 'd': g.drop_left = atoi(optarg); break;
        case 'D': g.delay_ms = atoi(optarg); break;
        case 'r': g.refuse = optarg; break;
        case 'o': g.offline_after_ms = atoi(optarg); break;
        case 't': g.telemetry_ms = atoi(optarg); break;
        case 'g': g.garbage = 1; break;
        case 'R': g.reset = 1; break;
        case 'A': g.mqtt_cafile = optarg; break;
        case 'E': g.mqtt_cert = optarg; break;
        case 'Y': g.mqtt_key = optarg; break;
        case 'T': g.coaps_cert = optarg; break;
        case 'k': g.coaps_key = optarg; break;
        case 'C': g.coaps_ca = optarg; break;
        default: usage();
        }
    }
    int psk = g.psk_identity && g.psk_key, pki = g.coaps_cert && g.coaps_key;
    if ((!g.mqtt_port && !g.coap_port && !g.coaps_port) || (g.coaps_port && !psk && !pki) ||
        (!g.coaps_cert != !g.coaps_key) || (!g.mqtt_cert != !g.mqtt_key) ||
        (g.mqtt_cert && !g.mqtt_cafile))
        usage();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    coap_context_t *ctx = NULL;
    if (g.coap_port || g.coaps_port) {
        ctx = coap_setup();
        if (!ctx) {
            fprintf(stderr, "vigil-devsim: cannot set up CoAP on %s\n", g.coap_addr);
            return 1;
        }
    }
    if (g.mqtt_port) {
        snprintf(g.topic_cmd, sizeof g.topic_cmd, "%s/%s/cmd", g.prefix, g.id);
        snprintf(g.topic_ack, sizeof g.topic_ack, "%s/%s/ack", g.prefix, g.id);
        snprintf(g.topic_tel, sizeof g.topic_tel, "%s/%s/telemetry", g.prefix, g.id);
        snprintf(g.topic_state, sizeof g.topic_state, "%s/%s/state", g.prefix, g.id);
        mosquitto_lib_init();
        char cid[96];
        snprintf(cid, sizeof cid, "devsim-%s", g.id);
        g.m = mosquitto_new(cid, false, NULL); /* persistent session */
        if (!g.m) return 1;
        const char *will = "{\"online\":false}";
        mosquitto_will_set(g.m, g.topic_state, (int)strlen(will), will, 1, true);
        mosquitto_connect_callback_set(g.m, on_connect);
        mosquitto_message_callback_set(g.m, on_message);
        mosquitto_reconnect_delay_set(g.m, 1, 4, true);
        if (g.mqtt_cafile && (mosquitto_tls_set(g.m, g.mqtt_cafile, NULL, g.mqtt_cert, g.mqtt_key,
                                                NULL) != MOSQ_ERR_SUCCESS ||
                              mosquitto_tls_opts_set(g.m, 1, NULL, NULL) != MOSQ_ERR_SUCCESS)) {
            fprintf(stderr, "vigil-devsim: cannot use %s for MQTT TLS\n", g.mqtt_cafile);
            return 1;
        }
        if (mosquitto_connect_async(g.m, g.mqtt_host, g.mqtt_port, 5) != MOSQ_ERR_SUCCESS)
            fprintf(stderr, "vigil-devsim: broker not reachable yet, retrying\n");
        mosquitto_loop_start(g.m);
    }
    say("{\"sim\":\"ready\",\"id\":\"%s\",\"coap_port\":%d,\"coaps_port\":%d,\"mqtt_port\":%d}",
        g.id, g.coap_port, g.coaps_port, g.mqtt_port);

    int64_t start = now_ms(), next_tel = start + (g.telemetry_ms > 0 ? g.telemetry_ms : 1000);
    while (!g.stop) {
        if (ctx)
            coap_io_process(ctx, 50);
        else
            usleep(50 * 1000);
        int64_t now = now_ms();
        if (g.offline_after_ms > 0 && !g.offline && now - start >= g.offline_after_ms) go_offline();
        pthread_mutex_lock(&g.lock);
        for (delayed **pp = &g.delayed; *pp;) {
            delayed *d = *pp;
            if (d->due > now) {
                pp = &d->next;
                continue;
            }
            *pp = d->next;
            if (!g.offline)
                mosquitto_publish(g.m, NULL, g.topic_ack, (int)strlen(d->payload), d->payload, 1,
                                  false);
            free(d->payload);
            free(d);
        }
        int tel = !g.offline && now >= next_tel;
        if (tel) {
            g.seq++;
            next_tel = now + (g.telemetry_ms > 0 ? g.telemetry_ms : g.interval_s * 1000);
            if (g.m) {
                if (g.garbage) mosquitto_publish(g.m, NULL, g.topic_tel, 5, "nope{", 0, false);
                json_t *t = state_json();
                json_object_set_new(t, "seq", json_integer((json_int_t)g.seq));
                char *txt = json_dumps(t, JSON_COMPACT);
                json_decref(t);
                if (txt) mosquitto_publish(g.m, NULL, g.topic_tel, (int)strlen(txt), txt, 0, false);
                free(txt);
            }
        }
        pthread_mutex_unlock(&g.lock);
        if (tel && ctx) coap_resource_notify_observers(g.tel_res, NULL);
    }
    if (g.m) {
        if (!g.offline) { /* orderly: say offline ourselves, then leave */
            const char *off = "{\"online\":false}";
            mosquitto_publish(g.m, NULL, g.topic_state, (int)strlen(off), off, 1, true);
            usleep(100 * 1000);
            mosquitto_disconnect(g.m);
            mosquitto_loop_stop(g.m, false);
        }
        mosquitto_destroy(g.m);
        mosquitto_lib_cleanup();
    }
    if (ctx) coap_free_context(ctx);
    coap_cleanup();
    for (size_t i = 0; i < CACHE; i++) {
        free(g.cache[i].mqtt);
        free(g.cache[i].coap);
    }
    while (g.delayed) {
        delayed *d = g.delayed;
        g.delayed = d->next;
        free(d->payload);
        free(d);
    }
    return 0;
}

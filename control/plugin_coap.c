/* plugin_coap.c -- the "coap" transport, on libcoap 3 (4.3.1 API).
 *
 * Device settings:
 *   "coap": {"uri":"coap://127.0.0.1:5683/cmd" | "coaps://...",
 *            "confirmable":true, "ack_timeout":2.0, "ack_random_factor":1.5,
 *            "max_retransmit":4,
 *            "psk": {"identity":"...", "key":"..."},     (coaps: this,
 *            "pki": {"ca_file":"ca.pem", "cert_file"?, "key_file"?,  or this)
 *                    "verify_peer":true},
 *            "observe":"telemetry", "observe_refresh_ms":30000,
 *            "handshake_timeout_ms":5000}
 * (libcoap 4.3.1 ignores an ack_timeout below 1 s, so 1 s is the minimum.)
 * Config section (optional): "coap": {"log_level": 3}  (syslog levels)
 *
 * Commands are POSTed as JSON {"id","command","params"} (Content-Format 50),
 * Confirmable unless the device or the command says otherwise.  A 2.xx
 * answer -> delivered + acknowledged (result: the JSON body, or its
 * "result" member); 4.xx/5.xx -> rejected with the code (404 for 4.04);
 * RST -> rejected; retransmissions exhausted -> timeout; DTLS failure, or
 * no DTLS session within handshake_timeout_ms (a wrong PSK makes the peer
 * drop our Finished silently) -> failed.  ICMP unreachable is not final:
 * libcoap keeps retransmitting, and the timeout detail mentions it.  Telemetry: a GET with Observe
 * on the "observe" path; each notification becomes telemetry; the observation is re-registered when
 * no notification came for observe_refresh_ms, or when it is refused/lost.
 *
 * DTLS with certificates ("pki"): the device's certificate must chain to a CA
 * in the device's own ca_file (each device gets its own OpenSSL verify store,
 * so one device's CA is never trusted for another) and name the URI's host
 * (DNS name or IP address, checked by OpenSSL). "cert_file"/"key_file":
 * vigil's client certificate, for devices that require one. "verify_peer":
 * false skips both checks (warned about on stderr). A certificate that is
 * not accepted fails the handshake: the commands waiting on it end "failed"
 * with the reason.
 *
 * Threads: libcoap is not thread-safe, so one "coap thread" owns the
 * coap_context_t, every session and the pending-token table, and is the only
 * one to call libcoap after init.  The owner thread hands it jobs (send,
 * cancel) through p->jobs, guarded by p->lock; the coap thread waits (at
 * most 50 ms, or until libcoap's next retransmission) in its own poll() on
 * libcoap's descriptor and p->wake_fd, an eventfd that pushing a job writes
 * to, so a command leaves at once; then it lets libcoap do its I/O without
 * waiting and drains the jobs.
 * Results go back through the core's callbacks (the handover queue).
 */
#include <errno.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "control/control_internal.h"

#define TOKEN_LEN 8
#define LOOP_MS   50

struct coap_plugin;

typedef struct coap_dev {
    /* read-only after init */
    struct coap_plugin *p;
    char id[CONTROL_ID_MAX];
    coap_address_t addr;
    int secure;
    char **path;
    size_t npath;
    char **obs_path;
    size_t nobs;
    int confirmable;
    coap_fixed_point_t ack_timeout, random_factor;
    int max_retransmit;
    char *psk_identity, *psk_key;
    char host[256]; /* the URI's host, for the certificate check and SNI */
    int pki, verify_peer;
    char *ca_file, *cert_file, *key_file;
    X509_STORE *store; /* the CAs of ca_file: this device's alone */
    int observe_refresh_ms;
    int handshake_timeout_ms;
    /* coap thread only */
    coap_session_t *session;
    int session_dead;
    int64_t session_started; /* for the DTLS handshake timeout */
    int icmp;                /* ICMP errors seen since the last answer */
    int reachable;           /* -1 unknown, 0 no answer, 1 answered (coap thread) */
    char tls_reason[160];    /* why the last certificate was refused, or "" */
    uint8_t obs_token[TOKEN_LEN];
    int obs_state;  /* 0 idle, 1 requested, 2 established */
    int64_t obs_at; /* when requested / last notification */
    int64_t obs_retry_at;
} coap_dev;

typedef struct pending {
    uint8_t token[TOKEN_LEN];
    char id[CONTROL_ID_MAX];
    coap_dev *dev;
} pending;

typedef struct job {
    int cancel;
    char id[CONTROL_ID_MAX];
    coap_dev *dev;
    char *payload;
    int confirmable;
    struct job *next;
} job;

typedef struct coap_plugin {
    /* read-only after init */
    const control_callbacks *cb;
    control_core *core;
    coap_dev *devs;
    size_t ndev;
    pthread_t thread;
    int thread_started;
    int wake_fd; /* eventfd: any thread writes, the coap thread reads */

    pthread_mutex_t lock; /* guards jobs, stop and the counters */
    job *jobs, *jobs_tail;
    int stop;
    uint64_t sent, answered, rejected, timeouts, failed, notifications, observe_registrations;

    /* coap thread only */
    coap_context_t *ctx;
    pending *pend;
    size_t npend, cappend;
    uint64_t token_seq;
} coap_plugin;

/* ---- config ------------------------------------------------------------ */

static void free_segs(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Splits "a/b/c" into segments; empty segments are skipped. */
static int split_path(const uint8_t *s, size_t len, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '/')
            j++;
        if (j > i) {
            char **v = realloc(*out, (*n + 1) * sizeof *v);
            if (!v) return -1;
            *out = v;
            v[*n] = strndup((const char *)s + i, j - i);
            if (!v[*n]) return -1;
            (*n)++;
        }
        i = j + 1;
    }
    return 0;
}

static int number_in(const json_t *o, const char *key, double def, double lo, double hi,
                     double *out, char *err, size_t errlen) {
    json_t *v = json_object_get(o, key);
    *out = def;
    if (!v) return 0;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        snprintf(err, errlen, "\"%s\" must be a number between %g and %g", key, lo, hi);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int pki_file(const json_t *pki, const char *key, int required, char *err, size_t errlen) {
    json_t *v = json_object_get(pki, key);
    if (!v && !required) return 0;
    const char *path = json_string_value(v);
    if (!path || !*path) {
        snprintf(err, errlen, "\"pki\": \"%s\" must be a path to a PEM file", key);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "\"pki\": \"%s\": cannot read '%.150s': %s", key, path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* "pki": {"ca_file", "cert_file"?, "key_file"?, "verify_peer"?} */
static int pki_check(const json_t *pki, char *err, size_t errlen) {
    if (!json_is_object(pki)) {
        snprintf(err, errlen, "\"pki\" must be an object");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)pki, k, v) {
        if (strcmp(k, "ca_file") && strcmp(k, "cert_file") && strcmp(k, "key_file") &&
            strcmp(k, "verify_peer")) {
            snprintf(err, errlen,
                     "\"pki\": unknown setting \"%s\" (expected ca_file, cert_file, key_file, "
                     "verify_peer)",
                     k);
            return -1;
        }
    }
    json_t *vp = json_object_get(pki, "verify_peer");
    if (vp && !json_is_boolean(vp)) {
        snprintf(err, errlen, "\"pki\": \"verify_peer\" must be true or false");
        return -1;
    }
    int verify = !vp || json_is_true(vp);
    if (pki_file(pki, "ca_file", verify, err, errlen) < 0 ||
        pki_file(pki, "cert_file", 0, err, errlen) < 0 ||
        pki_file(pki, "key_file", 0, err, errlen) < 0)
        return -1;
    if (!json_object_get(pki, "cert_file") != !json_object_get(pki, "key_file")) {
        snprintf(err, errlen, "\"pki\": \"cert_file\" and \"key_file\" go together");
        return -1;
    }
    if (coap_get_tls_library_version()->type != COAP_TLS_LIBRARY_OPENSSL) {
        snprintf(err, errlen, "\"pki\" needs libcoap built with OpenSSL");
        return -1;
    }
    return 0;
}

static int coap_check_device(const json_t *device, char *err, size_t errlen) {
    json_t *c = json_object_get(device, "coap");
    if (!json_is_object(c)) {
        snprintf(err, errlen, "missing \"coap\" settings object");
        return -1;
    }
    const char *uri = json_string_value(json_object_get(c, "uri"));
    coap_uri_t u;
    if (!uri || coap_split_uri((const uint8_t *)uri, strlen(uri), &u) < 0 ||
        (u.scheme != COAP_URI_SCHEME_COAP && u.scheme != COAP_URI_SCHEME_COAPS) ||
        u.host.length == 0) {
        snprintf(err, errlen, "\"uri\" must be a coap:// or coaps:// URI with a host");
        return -1;
    }
    json_t *psk = json_object_get(c, "psk"), *pki = json_object_get(c, "pki");
    if (u.scheme == COAP_URI_SCHEME_COAPS && !!psk == !!pki) {
        snprintf(err, errlen,
                 "coaps:// needs either \"psk\": {\"identity\",\"key\"} or \"pki\": "
                 "{\"ca_file\",...}");
        return -1;
    }
    if (u.scheme != COAP_URI_SCHEME_COAPS && (psk || pki)) {
        snprintf(err, errlen, "\"%s\" is only for coaps:// URIs", psk ? "psk" : "pki");
        return -1;
    }
    if (psk && (!json_is_string(json_object_get(psk, "identity")) ||
                !json_is_string(json_object_get(psk, "key")))) {
        snprintf(err, errlen, "coaps:// needs \"psk\": {\"identity\",\"key\"}");
        return -1;
    }
    if (pki && pki_check(pki, err, errlen) < 0) return -1;
    json_t *cf = json_object_get(c, "confirmable");
    if (cf && !json_is_boolean(cf)) {
        snprintf(err, errlen, "\"confirmable\" must be true or false");
        return -1;
    }
    json_t *obs = json_object_get(c, "observe");
    if (obs && !json_is_string(obs)) {
        snprintf(err, errlen, "\"observe\" must be a path string");
        return -1;
    }
    double d;
    if (number_in(c, "ack_timeout", 2, 1, 60, &d, err, errlen) < 0 ||
        number_in(c, "ack_random_factor", 1.5, 1, 4, &d, err, errlen) < 0 ||
        number_in(c, "max_retransmit", 4, 0, 10, &d, err, errlen) < 0 ||
        number_in(c, "observe_refresh_ms", 30000, 500, 3600000, &d, err, errlen) < 0 ||
        number_in(c, "handshake_timeout_ms", 5000, 100, 600000, &d, err, errlen) < 0)
        return -1;
    return 0;
}

static coap_fixed_point_t fixed(double v) {
    coap_fixed_point_t f;
    f.integer_part = (uint16_t)v;
    int frac = (int)((v - f.integer_part) * 1000 + 0.5);
    f.fractional_part = (uint16_t)(frac > 999 ? 999 : frac);
    return f;
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

/* The device's certificate settings, and its own verify store from ca_file. */
static int pki_setup_dev(coap_dev *d, const json_t *pki, char *err, size_t errlen) {
    json_t *vp = json_object_get(pki, "verify_peer");
    d->pki = 1;
    d->verify_peer = !vp || json_is_true(vp);
    d->ca_file = dup_or_null(json_string_value(json_object_get(pki, "ca_file")));
    d->cert_file = dup_or_null(json_string_value(json_object_get(pki, "cert_file")));
    d->key_file = dup_or_null(json_string_value(json_object_get(pki, "key_file")));
    if (d->ca_file) {
        d->store = X509_STORE_new();
        if (!d->store || X509_STORE_load_locations(d->store, d->ca_file, NULL) != 1) {
            snprintf(err, errlen, "\"pki\": \"ca_file\": '%.150s' holds no PEM certificate",
                     d->ca_file);
            return -1;
        }
    }
    if (!d->verify_peer)
        vg_log(VG_LOG_WARN,
               "control: coap: WARNING: device '%s': pki.verify_peer is false: its certificate "
               "is not checked, anyone can pose as it",
               d->id);
    return 0;
}

static int dev_setup(coap_dev *d, const json_t *device, char *err, size_t errlen) {
    const json_t *c = json_object_get(device, "coap");
    const char *uri = json_string_value(json_object_get(c, "uri"));
    coap_uri_t u;
    coap_split_uri((const uint8_t *)uri, strlen(uri), &u);
    control_strlcpy(d->id, json_string_value(json_object_get(device, "id")), sizeof d->id);
    d->secure = u.scheme == COAP_URI_SCHEME_COAPS;

    char host[256];
    if (u.host.length >= sizeof host) {
        snprintf(err, errlen, "host name too long");
        return -1;
    }
    memcpy(host, u.host.s, u.host.length);
    host[u.host.length] = '\0';
    control_strlcpy(d->host, host, sizeof d->host);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *ai = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, errlen, "cannot resolve '%.100s': %s", host, gai_strerror(rc));
        return -1;
    }
    coap_address_init(&d->addr);
    d->addr.size = ai->ai_addrlen;
    memcpy(&d->addr.addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (d->addr.addr.sa.sa_family == AF_INET)
        d->addr.addr.sin.sin_port = htons(u.port);
    else
        d->addr.addr.sin6.sin6_port = htons(u.port);

    if (split_path(u.path.s, u.path.length, &d->path, &d->npath) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *obs = json_string_value(json_object_get(c, "observe"));
    if (obs && split_path((const uint8_t *)obs, strlen(obs), &d->obs_path, &d->nobs) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_t *cf = json_object_get(c, "confirmable");
    d->confirmable = cf ? json_is_true(cf) : 1;
    double v;
    number_in(c, "ack_timeout", 2, 1, 60, &v, err, errlen);
    d->ack_timeout = fixed(v);
    number_in(c, "ack_random_factor", 1.5, 1, 4, &v, err, errlen);
    d->random_factor = fixed(v);
    number_in(c, "max_retransmit", 4, 0, 10, &v, err, errlen);
    d->max_retransmit = (int)v;
    number_in(c, "observe_refresh_ms", 30000, 500, 3600000, &v, err, errlen);
    d->observe_refresh_ms = (int)v;
    number_in(c, "handshake_timeout_ms", 5000, 100, 600000, &v, err, errlen);
    d->handshake_timeout_ms = (int)v;
    json_t *pki = json_object_get(c, "pki");
    if (d->secure && pki) return pki_setup_dev(d, pki, err, errlen);
    if (d->secure) {
        json_t *psk = json_object_get(c, "psk");
        d->psk_identity = strdup(json_string_value(json_object_get(psk, "identity")));
        d->psk_key = strdup(json_string_value(json_object_get(psk, "key")));
        if (!d->psk_identity || !d->psk_key) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* ---- coap thread ------------------------------------------------------- */

static void count(coap_plugin *p, uint64_t *counter) {
    pthread_mutex_lock(&p->lock);
    (*counter)++;
    pthread_mutex_unlock(&p->lock);
}

static void new_token(coap_plugin *p, uint8_t *tok) {
    uint64_t v = ++p->token_seq;
    uint32_t r = (uint32_t)(uintptr_t)p ^ (uint32_t)control_now_ms();
    for (int i = 0; i < 4; i++)
        tok[i] = (uint8_t)(v >> (8 * i));
    memcpy(tok + 4, &r, 4);
}

static pending *pending_find(coap_plugin *p, coap_bin_const_t tok) {
    if (tok.length != TOKEN_LEN) return NULL;
    for (size_t i = 0; i < p->npend; i++)
        if (memcmp(p->pend[i].token, tok.s, TOKEN_LEN) == 0) return &p->pend[i];
    return NULL;
}

static void pending_remove(coap_plugin *p, pending *e) {
    *e = p->pend[--p->npend];
}

static int pending_add(coap_plugin *p, const uint8_t *tok, const char *id, coap_dev *d) {
    if (p->npend == p->cappend) {
        size_t cap = p->cappend ? p->cappend * 2 : 16;
        pending *n = realloc(p->pend, cap * sizeof *n);
        if (!n) return -1;
        p->pend = n;
        p->cappend = cap;
    }
    pending *e = &p->pend[p->npend++];
    memcpy(e->token, tok, TOKEN_LEN);
    control_strlcpy(e->id, id, sizeof e->id);
    e->dev = d;
    return 0;
}

/* Right after libcoap made the session's SSL object (the handshake has only
 * just begun: the device's certificate is checked later, on this thread):
 * the device's own CAs, instead of the SSL_CTX's store that libcoap shares
 * between sessions, and the host name or address the certificate must carry,
 * which OpenSSL then checks. */
static int pki_restrict(coap_dev *d, coap_session_t *s) {
    coap_tls_library_t lib;
    SSL *ssl = coap_session_get_tls(s, &lib);
    if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL) return -1;
    if (!d->verify_peer) return 0;
    if (!d->store || SSL_set1_verify_cert_store(ssl, d->store) != 1) return -1;
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, d->host) != 1 &&
        X509_VERIFY_PARAM_set1_host(vp, d->host, 0) != 1)
        return -1;
    return 0;
}

/* Why OpenSSL refused the device's certificate, if it did, for the detail of
 * the commands that fail with the handshake. */
static void pki_note_failure(coap_dev *d, coap_session_t *s) {
    coap_tls_library_t lib;
    SSL *ssl = d->pki ? coap_session_get_tls(s, &lib) : NULL;
    if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL) return;
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK)
        snprintf(d->tls_reason, sizeof d->tls_reason, "certificate of %.60s not accepted: %s",
                 d->host, X509_verify_cert_error_string(vr));
}

static coap_session_t *pki_session(coap_plugin *p, coap_dev *d) {
    coap_dtls_pki_t pki;
    memset(&pki, 0, sizeof pki);
    pki.version = COAP_DTLS_PKI_SETUP_VERSION;
    pki.verify_peer_cert = (uint8_t)d->verify_peer;
    pki.cert_chain_validation = 1;
    pki.cert_chain_verify_depth = 4;
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, d->host, &a4) != 1 && inet_pton(AF_INET6, d->host, &a6) != 1)
        pki.client_sni = d->host; /* SNI carries names only */
    pki.pki_key.key_type = COAP_PKI_KEY_PEM;
    pki.pki_key.key.pem.ca_file = NULL; /* not into the shared store: pki_restrict() */
    pki.pki_key.key.pem.public_cert = d->cert_file;
    pki.pki_key.key.pem.private_key = d->key_file;
    d->tls_reason[0] = 0;
    coap_session_t *s = coap_new_client_session_pki(p->ctx, NULL, &d->addr, COAP_PROTO_DTLS, &pki);
    if (s && pki_restrict(d, s) < 0) {
        coap_session_release(s);
        return NULL;
    }
    return s;
}

static coap_session_t *dev_session(coap_plugin *p, coap_dev *d) {
    if (d->session &&
        (d->session_dead || coap_session_get_state(d->session) == COAP_SESSION_STATE_NONE)) {
        coap_session_release(d->session);
        d->session = NULL;
        d->session_dead = 0;
        d->obs_state = 0;
    }
    if (d->session) return d->session;
    if (d->secure && d->pki) {
        d->session = pki_session(p, d);
    } else if (d->secure) {
        coap_dtls_cpsk_t cpsk;
        memset(&cpsk, 0, sizeof cpsk);
        cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        cpsk.psk_info.identity.s = (const uint8_t *)d->psk_identity;
        cpsk.psk_info.identity.length = strlen(d->psk_identity);
        cpsk.psk_info.key.s = (const uint8_t *)d->psk_key;
        cpsk.psk_info.key.length = strlen(d->psk_key);
        d->session = coap_new_client_session_psk2(p->ctx, NULL, &d->addr, COAP_PROTO_DTLS, &cpsk);
    } else {
        d->session = coap_new_client_session(p->ctx, NULL, &d->addr, COAP_PROTO_UDP);
    }
    if (!d->session) return NULL;
    d->session_started = control_now_ms();
    coap_session_set_app_data(d->session, d);
    coap_session_set_ack_timeout(d->session, d->ack_timeout);
    coap_session_set_ack_random_factor(d->session, d->random_factor);
    coap_session_set_max_retransmit(d->session, (unsigned)d->max_retransmit);
    return d->session;
}

static coap_pdu_t *new_request(coap_session_t *s, int con, coap_pdu_code_t code, const uint8_t *tok,
                               char **path, size_t npath, int observe) {
    coap_pdu_t *pdu = coap_pdu_init(con ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, code,
                                    coap_new_message_id(s), coap_session_max_pdu_size(s));
    if (!pdu) return NULL;
    uint8_t buf[4];
    if (!coap_add_token(pdu, TOKEN_LEN, tok)) goto fail;
    /* options in ascending number: Observe (6), Uri-Path (11), Content-Format (12) */
    if (observe &&
        !coap_add_option(pdu, COAP_OPTION_OBSERVE,
                         coap_encode_var_safe(buf, sizeof buf, COAP_OBSERVE_ESTABLISH), buf))
        goto fail;
    for (size_t i = 0; i < npath; i++)
        if (!coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path[i]), (const uint8_t *)path[i]))
            goto fail;
    return pdu;
fail:
    coap_delete_pdu(pdu);
    return NULL;
}

static void do_send(coap_plugin *p, job *j) {
    coap_dev *d = j->dev;
    coap_session_t *s = dev_session(p, d);
    uint8_t tok[TOKEN_LEN], buf[4];
    new_token(p, tok);
    coap_pdu_t *pdu =
        s ? new_request(s, j->confirmable, COAP_REQUEST_CODE_POST, tok, d->path, d->npath, 0)
          : NULL;
    if (pdu && (!coap_add_option(
                    pdu, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(buf, sizeof buf, COAP_MEDIATYPE_APPLICATION_JSON), buf) ||
                !coap_add_data(pdu, strlen(j->payload), (const uint8_t *)j->payload))) {
        coap_delete_pdu(pdu);
        pdu = NULL;
    }
    if (!pdu || pending_add(p, tok, j->id, d) < 0) {
        coap_delete_pdu(pdu);
        count(p, &p->failed);
        p->cb->command_status(p->core, d->id, j->id, CONTROL_FAILED, 0,
                              s        ? "cannot build CoAP request"
                              : d->pki ? "cannot set up the DTLS session (cert_file, key_file?)"
                                       : "cannot set up the CoAP session",
                              NULL);
        return;
    }
    if (coap_send(s, pdu) == COAP_INVALID_MID) {
        pending_remove(p, &p->pend[p->npend - 1]);
        count(p, &p->failed);
        p->cb->command_status(p->core, d->id, j->id, CONTROL_FAILED, 0, "coap_send failed", NULL);
        return;
    }
    count(p, &p->sent);
    p->cb->command_status(p->core, d->id, j->id, CONTROL_SENT, 0, NULL, NULL);
}

static void observe_start(coap_plugin *p, coap_dev *d, int64_t now) {
    coap_session_t *s = dev_session(p, d);
    if (!s) {
        d->obs_retry_at = now + 1000;
        return;
    }
    /* Forget the old token: late notifications on it get a RST, which
     * makes the device drop that observer. */
    coap_bin_const_t old = {TOKEN_LEN, d->obs_token};
    pending *e = pending_find(p, old);
    if (e) pending_remove(p, e);
    new_token(p, d->obs_token);
    coap_pdu_t *pdu =
        new_request(s, 1, COAP_REQUEST_CODE_GET, d->obs_token, d->obs_path, d->nobs, 1);
    if (pdu && pending_add(p, d->obs_token, "", d) < 0) {
        coap_delete_pdu(pdu);
        pdu = NULL;
    }
    if (!pdu || coap_send(s, pdu) == COAP_INVALID_MID) { /* coap_send owns pdu */
        e = pending_find(p, (coap_bin_const_t){TOKEN_LEN, d->obs_token});
        if (e) pending_remove(p, e);
        d->obs_state = 0;
        d->obs_retry_at = now + 1000;
        return;
    }
    count(p, &p->observe_registrations);
    d->obs_state = 1;
    d->obs_at = now;
}

static void observe_maintain(coap_plugin *p, int64_t now) {
    for (size_t i = 0; i < p->ndev; i++) {
        coap_dev *d = &p->devs[i];
        if (!d->nobs) continue;
        int lapsed = 0;
        if (d->obs_state == 0 && now >= d->obs_retry_at)
            lapsed = 1;
        else if (d->obs_state > 0 && now - d->obs_at > d->observe_refresh_ms)
            lapsed = 1; /* no answer / no notification for too long */
        if (lapsed) observe_start(p, d, now);
    }
}

static json_t *body_json(const coap_pdu_t *pdu, int *malformed) {
    size_t len;
    const uint8_t *data;
    *malformed = 0;
    if (!coap_get_data(pdu, &len, &data)) return NULL;
    return control_coap_body_json(data, len, malformed); /* coap_answer.c */
}

/* A device that answers anything (even 4.xx or RST) is online; one that lets
 * a request run out of retransmissions, or whose session failed, is not.
 * Reported as the device's state when it changes. */
static void set_reachable(coap_dev *d, int up, const char *why) {
    if (d->reachable == up) return;
    d->reachable = up;
    json_t *st = json_pack("{s:b}", "online", up);
    if (st && why) json_object_set_new(st, "reason", json_string(why));
    if (st) d->p->cb->device_state(d->p->core, d->id, st);
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcvd, const coap_mid_t mid) {
    (void)sent;
    (void)mid;
    coap_dev *d = coap_session_get_app_data(s);
    if (!d) return COAP_RESPONSE_OK;
    coap_plugin *p = d->p;
    d->icmp = 0;
    set_reachable(d, 1, NULL);
    pending *e = pending_find(p, coap_pdu_get_token(rcvd));
    if (!e) return COAP_RESPONSE_FAIL; /* unknown token (e.g. old observation): RST */
    coap_pdu_code_t code = coap_pdu_get_code(rcvd);
    int cls = COAP_RESPONSE_CLASS(code);
    int bad;
    json_t *body = body_json(rcvd, &bad);

    if (e->id[0] == '\0') { /* the telemetry observation */
        coap_opt_iterator_t it;
        int observing = coap_check_option(rcvd, COAP_OPTION_OBSERVE, &it) != NULL;
        if (cls == 2) count(p, &p->notifications);
        control_coap_report_telemetry(p->cb, p->core, d->id, code, body, bad); /* steals body */
        if (cls == 2 && observing) {
            d->obs_state = 2;
            d->obs_at = control_now_ms();
        } else { /* refused or ended: retry later */
            pending_remove(p, e);
            d->obs_state = 0;
            d->obs_retry_at = control_now_ms() + d->observe_refresh_ms;
        }
        return COAP_RESPONSE_OK;
    }

    char id[CONTROL_ID_MAX];
    control_strlcpy(id, e->id, sizeof id);
    pending_remove(p, e);
    count(p, cls == 2 ? &p->answered : &p->rejected);
    control_coap_report_answer(p->cb, p->core, d->id, id, code, body); /* steals body */
    return COAP_RESPONSE_OK;
}

/* Why a DTLS handshake failed, as far as we know. */
static const char *dtls_failure(coap_dev *d, char *buf, size_t len) {
    if (d->tls_reason[0])
        snprintf(buf, len, "DTLS handshake failed: %s", d->tls_reason);
    else
        snprintf(buf, len, "DTLS handshake failed");
    return buf;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid) {
    (void)mid;
    coap_dev *d = coap_session_get_app_data(s);
    if (!d || !sent) return;
    coap_plugin *p = d->p;
    pending *e = pending_find(p, coap_pdu_get_token(sent));
    if (!e) return;
    if (reason == COAP_NACK_TOO_MANY_RETRIES) set_reachable(d, 0, "no answer");
    if (reason == COAP_NACK_RST) set_reachable(d, 1, NULL);
    if (e->id[0] == '\0') { /* the observation request */
        pending_remove(p, e);
        d->obs_state = 0;
        d->obs_retry_at = control_now_ms() + 1000;
        return;
    }
    if (reason == COAP_NACK_ICMP_ISSUE) {
        /* e.g. port unreachable: libcoap keeps retransmitting (the device
         * may come up), so this is not final; remembered for the detail. */
        d->icmp++;
        return;
    }
    char id[CONTROL_ID_MAX], detail[256];
    control_strlcpy(id, e->id, sizeof id);
    pending_remove(p, e);
    switch (reason) {
    case COAP_NACK_TOO_MANY_RETRIES:
        snprintf(detail, sizeof detail, "no answer after %d retransmissions%s", d->max_retransmit,
                 d->icmp ? " (ICMP: unreachable)" : "");
        count(p, &p->timeouts);
        p->cb->command_status(p->core, d->id, id, CONTROL_TIMEOUT, 0, detail, NULL);
        break;
    case COAP_NACK_RST:
        count(p, &p->rejected);
        p->cb->command_status(p->core, d->id, id, CONTROL_REJECTED, 0, "reset (RST) by device",
                              NULL);
        break;
    case COAP_NACK_TLS_FAILED:
        d->session_dead = 1;
        pki_note_failure(d, s);
        count(p, &p->failed);
        p->cb->command_status(p->core, d->id, id, CONTROL_FAILED, 0,
                              dtls_failure(d, detail, sizeof detail), NULL);
        break;
    default:
        count(p, &p->failed);
        p->cb->command_status(p->core, d->id, id, CONTROL_FAILED, 0, "not deliverable", NULL);
        break;
    }
}

/* Fails everything waiting on d's session, which is recreated on next use. */
static void session_fail(coap_plugin *p, coap_dev *d, const char *why) {
    d->session_dead = 1;
    set_reachable(d, 0, why);
    for (size_t i = 0; i < p->npend;) {
        pending *e = &p->pend[i];
        if (e->dev != d) {
            i++;
            continue;
        }
        if (e->id[0]) {
            count(p, &p->failed);
            p->cb->command_status(p->core, d->id, e->id, CONTROL_FAILED, 0, why, NULL);
        }
        pending_remove(p, e);
    }
    d->obs_state = 0;
    d->obs_retry_at = control_now_ms() + 1000;
}

static void handshake_check(coap_plugin *p, int64_t now) {
    for (size_t i = 0; i < p->ndev; i++) {
        coap_dev *d = &p->devs[i];
        if (d->secure && d->session && !d->session_dead &&
            coap_session_get_state(d->session) != COAP_SESSION_STATE_ESTABLISHED &&
            now - d->session_started > d->handshake_timeout_ms)
            session_fail(p, d,
                         d->pki ? "DTLS handshake did not complete (certificate not accepted?)"
                                : "DTLS handshake did not complete (wrong PSK?)");
    }
}

static int on_event(coap_session_t *s, const coap_event_t ev) {
    coap_dev *d = coap_session_get_app_data(s);
    if (!d) return 0;
    if (ev == COAP_EVENT_DTLS_ERROR || ev == COAP_EVENT_SESSION_FAILED ||
        ev == COAP_EVENT_DTLS_CLOSED) {
        char why[256];
        if (ev == COAP_EVENT_DTLS_ERROR) pki_note_failure(d, s);
        session_fail(d->p, d,
                     ev == COAP_EVENT_DTLS_ERROR ? dtls_failure(d, why, sizeof why)
                                                 : "session failed");
        return 0;
    }
    return 0;
}

/* Sleeps until libcoap has I/O or a timer due, a job is pushed, or LOOP_MS
 * passed. libcoap's descriptor is its epoll fd (Debian builds libcoap with
 * epoll), the way coap_io(3) describes for an application's own wait. */
static void wait_for_io(coap_plugin *p) {
    coap_tick_t now;
    coap_ticks(&now);
    unsigned int next = coap_io_prepare_epoll(p->ctx, now); /* ms, 0: no timer */
    int timeout = next > 0 && next < LOOP_MS ? (int)next : LOOP_MS;
    struct pollfd pf[2] = {{.fd = p->wake_fd, .events = POLLIN},
                           {.fd = coap_context_get_coap_fd(p->ctx), .events = POLLIN}};
    if (poll(pf, pf[1].fd >= 0 ? 2 : 1, timeout) > 0 && (pf[0].revents & POLLIN)) {
        uint64_t n;
        if (read(p->wake_fd, &n, sizeof n) < 0) { /* raced with another read: fine */
        }
    }
}

static void *coap_thread(void *arg) {
    coap_plugin *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int stop = p->stop;
        job *jobs = p->jobs;
        p->jobs = p->jobs_tail = NULL;
        pthread_mutex_unlock(&p->lock);
        while (jobs) {
            job *j = jobs;
            jobs = j->next;
            if (!stop) {
                if (j->cancel) {
                    for (size_t i = 0; i < p->npend; i++)
                        if (strcmp(p->pend[i].id, j->id) == 0) {
                            pending_remove(p, &p->pend[i]);
                            break;
                        }
                } else {
                    do_send(p, j);
                }
            }
            free(j->payload);
            free(j);
        }
        if (stop) break;
        observe_maintain(p, control_now_ms());
        handshake_check(p, control_now_ms());
        wait_for_io(p);
        coap_io_process(p->ctx, COAP_IO_NO_WAIT);
    }
    return NULL;
}

/* ---- owner thread ------------------------------------------------------ */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void) {
    coap_startup();
}

static void coap_shutdown(void *state);

static void *coap_init(const control_callbacks *cb, control_core *core, const json_t *sec,
                       const json_t *devices, char *err, size_t errlen) {
    pthread_once(&lib_once, lib_init);
    json_t *ll = json_object_get(sec, "log_level");
    coap_set_log_level(json_is_integer(ll) ? (coap_log_t)json_integer_value(ll) : LOG_CRIT);
    coap_dtls_set_log_level(json_is_integer(ll) ? (coap_log_t)json_integer_value(ll) : LOG_CRIT);

    coap_plugin *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0) {
        snprintf(err, errlen, "cannot create an eventfd");
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    p->cb = cb;
    p->core = core;
    p->ndev = json_array_size(devices);
    p->devs = calloc(p->ndev ? p->ndev : 1, sizeof *p->devs);
    if (!p->devs) {
        snprintf(err, errlen, "out of memory");
        coap_shutdown(p);
        return NULL;
    }
    for (size_t i = 0; i < p->ndev; i++) {
        p->devs[i].p = p;
        p->devs[i].reachable = -1;
        char e[CONTROL_ERR_MAX];
        if (dev_setup(&p->devs[i], json_array_get(devices, i), e, sizeof e) < 0) {
            snprintf(err, errlen, "device '%s': %s",
                     json_string_value(json_object_get(json_array_get(devices, i), "id")), e);
            coap_shutdown(p);
            return NULL;
        }
        if (p->devs[i].secure && !coap_dtls_is_supported()) {
            snprintf(err, errlen, "device '%s': coaps:// but libcoap has no DTLS", p->devs[i].id);
            coap_shutdown(p);
            return NULL;
        }
    }
    p->ctx = coap_new_context(NULL);
    if (!p->ctx) {
        snprintf(err, errlen, "cannot create CoAP context");
        coap_shutdown(p);
        return NULL;
    }
    coap_register_response_handler(p->ctx, on_response);
    coap_register_nack_handler(p->ctx, on_nack);
    coap_register_event_handler(p->ctx, on_event);
    if (pthread_create(&p->thread, NULL, coap_thread, p) != 0) {
        snprintf(err, errlen, "cannot start CoAP thread");
        coap_shutdown(p);
        return NULL;
    }
    p->thread_started = 1;
    cb->transport_state(core, "coap", 1, NULL);
    return p;
}

static void wake_coap_thread(coap_plugin *p) {
    uint64_t one = 1;
    if (write(p->wake_fd, &one, sizeof one) < 0) { /* counter full: already awake */
    }
}

static void push_job(coap_plugin *p, job *j) {
    pthread_mutex_lock(&p->lock);
    if (p->jobs_tail)
        p->jobs_tail->next = j;
    else
        p->jobs = j;
    p->jobs_tail = j;
    pthread_mutex_unlock(&p->lock);
    wake_coap_thread(p);
}

static int coap_send_cmd(void *state, const control_send *cmd, char *err, size_t errlen) {
    coap_plugin *p = state;
    coap_dev *d = NULL;
    for (size_t i = 0; i < p->ndev; i++)
        if (strcmp(p->devs[i].id, cmd->device_id) == 0) d = &p->devs[i];
    if (!d) {
        snprintf(err, errlen, "device not configured for coap");
        return -1;
    }
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->payload = control_command_body(cmd))) {
        free(j);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    control_strlcpy(j->id, cmd->command_id, sizeof j->id);
    j->dev = d;
    json_t *c = json_object_get(cmd->options, "confirmable");
    j->confirmable = c ? json_is_true(c) : d->confirmable;
    push_job(p, j);
    return 0;
}

static void coap_cancel(void *state, const char *id) {
    coap_plugin *p = state;
    job *j = calloc(1, sizeof *j);
    if (!j) return;
    j->cancel = 1;
    control_strlcpy(j->id, id, sizeof j->id);
    push_job(p, j);
}

static json_t *coap_status(void *state) {
    coap_plugin *p = state;
    pthread_mutex_lock(&p->lock);
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sent", (json_int_t)p->sent,
                          "answered", (json_int_t)p->answered, "rejected", (json_int_t)p->rejected,
                          "timeouts", (json_int_t)p->timeouts, "failed", (json_int_t)p->failed,
                          "notifications", (json_int_t)p->notifications, "observe_registrations",
                          (json_int_t)p->observe_registrations);
    pthread_mutex_unlock(&p->lock);
    return o;
}

static void coap_shutdown(void *state) {
    coap_plugin *p = state;
    if (!p) return;
    if (p->thread_started) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_mutex_unlock(&p->lock);
        wake_coap_thread(p);
        pthread_join(p->thread, NULL);
    }
    /* The thread is gone: this thread now owns libcoap state. */
    for (size_t i = 0; i < p->ndev; i++) {
        coap_dev *d = &p->devs[i];
        if (d->session) {
            coap_session_set_app_data(d->session, NULL);
            coap_session_release(d->session);
        }
    }
    if (p->ctx) coap_free_context(p->ctx);
    for (size_t i = 0; i < p->ndev; i++) {
        coap_dev *d = &p->devs[i];
        free_segs(d->path, d->npath);
        free_segs(d->obs_path, d->nobs);
        free(d->psk_identity);
        free(d->psk_key);
        free(d->ca_file);
        free(d->cert_file);
        free(d->key_file);
        X509_STORE_free(d->store);
    }
    free(p->devs);
    free(p->pend);
    job *j = p->jobs;
    while (j) {
        job *n = j->next;
        free(j->payload);
        free(j);
        j = n;
    }
    pthread_mutex_destroy(&p->lock);
    close(p->wake_fd);
    free(p);
}

const control_plugin control_plugin_coap = {
    .api_version = CONTROL_API_VERSION,
    .name = "coap",
    .check_device = coap_check_device,
    .init = coap_init,
    .send = coap_send_cmd,
    .cancel = coap_cancel,
    .status = coap_status,
    .shutdown = coap_shutdown,
};

/* config.h -- vigil's configuration: the embedded demo default, or a JSON file.
 *
 *   {"server": {"port": 8080, "bind": null, "web_root": "web", "log_level": "info",
 *               "max_text_bytes": 65536, "max_subscriptions": 16,
 *               "viewer_queue_frames": 128, "slow_viewer_skips": 3,
 *               "slow_viewer_window_s": 10, "stall_timeout_s": 5,
 *               "tls_cert": null, "tls_key": null,
 *               "metrics_token": null, "metrics_bind": "127.0.0.1:9464",  (absent: none)
 *               "http_redirect_port": 8080,  (absent: none)
 *               "record_path": "/var/lib/vigil/recordings"},  (absent: none)
 *    "streams": [{"id": "demo", "source": "test://", "options": {...},
 *                 "variants": {"sub": "rtsp://..."},                 (optional)
 *                 "transcode": {"codec": "h264", "max_height": 720},  (optional)
 *                 "record": {"mode": "continuous", "path": "/rec", "segment_s": 60,
 *                            "retain_days": 7, "max_gb": 50}}]}      (optional)
 *
 * Loading validates everything up front; an error names the field and why
 * (e.g. "streams[1].id: duplicate id 'door'") so start-up can stop with it.
 * Unknown keys are errors too: a typo must not silently do nothing.
 *
 * Thread: loaded on the main thread before anything starts; read-only after.
 * A reload (server/reload.h) loads a whole new one and switches to it on the
 * lws service thread; a config is never changed once loaded. */
#ifndef VIGIL_SERVER_CONFIG_H
#define VIGIL_SERVER_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "media/recorder.h"

/* One substream of a stream (server/config_variants.c). */
typedef struct vg_variant_config {
    char *name;      /* not "main" nor "transcode" */
    char *source;    /* a pulled source: test://, file:// or rtsp:// */
    json_t *options; /* owned reference, may be NULL */
} vg_variant_config;

/* A stream's transcode (server/config_variants.c): made only when set. */
typedef struct vg_transcode_config {
    bool enabled;
    char codec[8]; /* "h264": what it makes */
    uint32_t max_height;
    uint32_t bitrate_kbps;
} vg_transcode_config;

typedef struct vg_stream_config {
    char *id;
    char *source;
    json_t *options; /* owned reference, may be NULL */
    vg_variant_config *variants; /* in config order: the lightest first */
    size_t nvariants;
    vg_transcode_config transcode;
    vg_record_config record; /* mode VG_RECORD_OFF when absent (server/config_record.c) */
} vg_stream_config;

/* The "auth" section (server/config_auth.c). */
typedef struct vg_auth_config {
    unsigned char secret[256]; /* the token signing key */
    size_t secret_len;
    bool secret_ephemeral;     /* none configured: random for this run only */
    json_t *anonymous_streams; /* patterns anonymous viewers may watch; NULL: none */
    json_t *allowed_origins;   /* exact origins allowed to open /ws; NULL: same origin */
    uint32_t rotation_grace_s; /* the previous secret's life after a reload changes it */
} vg_auth_config;

#define VG_ROTATION_GRACE_DEFAULT_S 600
#define VG_ROTATION_GRACE_MAX_S     604800

typedef struct vg_config {
    int port;
    char *bind; /* NULL: all interfaces */
    char *web_root;
    int log_level;
    uint32_t max_text_bytes;
    uint32_t max_subscriptions;
    /* limits against abuse (PROTOCOL.md "Limits") */
    uint32_t max_connections, max_connections_per_ip;
    uint32_t hello_timeout_s, idle_timeout_s;
    uint32_t messages_per_s, commands_per_s;
    uint32_t viewer_queue_frames;
    uint32_t viewer_queue_ms; /* 0: no age bound */
    int direct_writes;        /* media straight to plain sockets (server/media_write.h) */
    uint32_t slow_viewer_skips;
    uint32_t slow_viewer_window_s;
    uint32_t stall_timeout_s;
    uint32_t shutdown_timeout_s; /* SIGTERM: the drain's bound (server/drain.h) */
    uint32_t max_frame_bytes;
    uint32_t max_publish_frame_bytes; /* largest binary message from a publisher */
    uint32_t max_transcodes; /* transcodes running at once (default: the cores) */
    char *record_path;       /* streams' record.path when they name none, or NULL */
    char *metrics_token;     /* a scraper's bearer token for GET /metrics, or NULL */
    /* server.metrics_bind, "host:port" as written (NULL: none), and what it
     * says (server/config_metrics.c): a listener for GET /metrics only */
    char *metrics_bind;
    char metrics_host[16]; /* an IPv4 address */
    int metrics_port;      /* 0: no such listener */
    vg_stream_config *streams;
    size_t nstreams;
    /* The whole config document (owned reference, NULL for the default
     * config): control/ reads its own sections ("devices", "control", one per
     * transport) from it when the server starts (control_start). */
    json_t *root;
    vg_auth_config auth;
    /* TLS (server/tls.c): https and wss when tls_cert and tls_key are set
     * (paths of PEM files: the certificate, followed by any intermediate
     * certificates, and its key; NULL: plain HTTP). http_redirect_port: a
     * second, plain-HTTP listener redirecting to https (0: none). */
    char *tls_cert;
    char *tls_key;
    int tls_ktls; /* ask OpenSSL for kernel TLS (SSL_OP_ENABLE_KTLS) */
    int http_redirect_port;
    /* the "cluster" section (server/config_cluster.c), owned; NULL: alone */
    vg_cluster_config *cluster;
} vg_config;

/* The embedded default: one stream "demo" from the built-in test source. */
int vg_config_default(vg_config *c);

/* Loads and validates. 0, or -1 with a message naming the field in err (and c
 * left empty). */
int vg_config_load_file(vg_config *c, const char *path, char *err, size_t errlen);
/* Same from parsed JSON; borrows root. */
int vg_config_load_json(vg_config *c, json_t *root, char *err, size_t errlen);

void vg_config_free(vg_config *c);

/* For a reload (server/reload.h): appends to `names` (an array) the
 * "server.<setting>" whose values differ between a and b. */
void vg_config_server_diff(const vg_config *a, const vg_config *b, json_t *names);
/* Sets dst's "server" setting `name` (without "server.") to src's value.
 * 0, or -1 (no such setting, or OOM). */
int vg_config_server_copy(vg_config *dst, const vg_config *src, const char *name);

/* The "auth" section (obj borrowed, NULL when absent: a random secret for
 * this run and no anonymous access). 0, or -1 with a message in err. */
int vg_config_load_auth(vg_config *c, const json_t *obj, char *err, size_t errlen);
/* The "cluster" section (obj borrowed, NULL when absent). 0, or -1 with a
 * message naming the field in err. */
int vg_config_load_cluster(vg_config *c, const json_t *obj, char *err, size_t errlen);
void vg_config_free_cluster(vg_cluster_config *cc);
/* True for an id the config accepts for a stream or a variant: 1-64
 * letters, digits, '-', '_' or '.'. */
bool vg_config_valid_id(const char *id);
/* A stream's "variants" and "transcode" (either may be NULL). `where` is
 * "streams[N]". 0, or -1 with a message naming the field. */
int vg_config_load_variants(vg_stream_config *sc, const json_t *variants,
                            const json_t *transcode, const char *where, char *err,
                            size_t errlen);
void vg_config_free_variants(vg_stream_config *sc);
/* A stream's "record" (NULL when absent: no recording); `default_path` is
 * server.record_path (may be NULL). 0, or -1 with a message naming the
 * field. */
int vg_config_load_record(vg_stream_config *sc, const json_t *record, const char *default_path,
                          const char *where, char *err, size_t errlen);
/* Parses server.metrics_bind into metrics_host and metrics_port and checks
 * that its port is neither server.port nor http_redirect_port (again after
 * --port changed the port). 0, or -1 with a message naming the field. */
int vg_config_check_metrics_bind(vg_config *c, char *err, size_t errlen);
/* Reads the token secret from a file (at least 32 bytes; trailing
 * whitespace ignored). 0, or -1 with a message in err. */
int vg_config_read_secret(vg_config *c, const char *path, char *err, size_t errlen);

#endif

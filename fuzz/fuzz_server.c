/* fuzz_server.c -- a server and a session without a network (see
 * fuzz_server.h). */
#include "fuzz/fuzz_server.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "server/devices.h"
#include "server/publisher.h"
#include "signaling/signaling.h"

/* ---- stubs: there is no lws connection here ---- */
int lws_callback_on_writable(struct lws *wsi) {
    (void)wsi;
    return 1;
}
void lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs) {
    (void)wsi, (void)reason, (void)secs;
}
void lws_close_reason(struct lws *wsi, enum lws_close_status status, unsigned char *buf,
                      size_t len) {
    (void)wsi, (void)status, (void)buf, (void)len;
}
int lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol wp) {
    (void)wsi;
    if (wp == LWS_WRITE_TEXT) {
        json_error_t je;
        json_t *r = json_loadb((const char *)buf, len, 0, &je);
        if (!json_is_object(r) || !json_is_string(json_object_get(r, "type")))
            fuzz_fail("reply is not a message", r ? "no type" : je.text);
        json_decref(r);
    }
    return (int)len;
}

/* ---- the fake transports in place of control/plugin_list.c ---- */
int control_register_builtin_plugins(control_t *c, char *err, size_t errlen) {
    if (control_register_plugin(c, &fuzz_fake_mqtt, err, errlen) < 0) return -1;
    return control_register_plugin(c, &fuzz_fake_coap, err, errlen);
}
int control_owns_config_section(const char *name) {
    return !strcmp(name, "devices") || !strcmp(name, "control") || !strcmp(name, "mqtt") ||
           !strcmp(name, "coap");
}

static void hook_viewer(vg_viewer *v) {
    (void)v;
}
static void hook_state(vg_stream *s, const char *reason) {
    (void)s, (void)reason;
}
static const vg_stream_hooks hooks = {{hook_viewer, hook_viewer}, hook_state, NULL};

vg_config fuzz_server_config;

void fuzz_server_init(void) {
    json_error_t je;
    json_t *root = json_loads(fuzz_config_text, JSON_REJECT_DUPLICATES, &je);
    char err[256];
    if (!root) fuzz_fail("fuzz config", je.text);
    if (vg_config_load_json(&fuzz_server_config, root, err, sizeof(err)))
        fuzz_fail("fuzz config", err);
    json_decref(root);
}

void fuzz_server_up(vg_server *srv, vg_session *sess) {
    const vg_config *config = &fuzz_server_config;
    memset(srv, 0, sizeof(*srv));
    srv->config = config;
    srv->protocol = &vg_signaling_protocol;
    vg_stream_limits lim = {.queue_frames = 16,
                            .slow_skips = 3,
                            .slow_window_us = 10000000,
                            .max_frame_bytes = 1 << 20,
                            .stall_timeout_us = 5000000,
                            .publish_queue_bytes = 1 << 20};
    srv->streams = calloc(config->nstreams, sizeof(*srv->streams));
    if (!srv->streams) fuzz_fail("calloc", NULL);
    for (size_t i = 0; i < config->nstreams; i++)
        srv->streams[i] =
            vg_stream_new(config->streams[i].id, config->streams[i].source,
                          config->streams[i].options, (uint32_t)i + 1, &lim, &hooks, NULL, NULL);
    srv->nstreams = config->nstreams;
    srv->streams[0]->codecs = strdup("avc1.64001f"); /* "demo" is live */
    char err[256];
    if (vg_devices_start(srv, err, sizeof(err))) fuzz_fail("vg_devices_start", err);

    if (vg_session_init(sess, srv, NULL, config->max_subscriptions))
        fuzz_fail("vg_session_init", "out of memory");
    int64_t now = vg_server_now_us();
    vg_rate_limit_init(&sess->msg_rate, config->messages_per_s, 2.0 * config->messages_per_s, now);
    vg_rate_limit_init(&sess->cmd_rate, config->commands_per_s, 2.0 * config->commands_per_s, now);
    sess->serial = ++srv->next_session_serial;
    srv->sessions = sess;
    srv->session_count = 1;
}

void fuzz_server_down(vg_server *srv, vg_session *sess) {
    srv->sessions = NULL;
    vg_publisher_stop(sess, "publisher gone");
    vg_session_destroy(sess);
    vg_devices_stop(srv);
    for (size_t i = 0; i < srv->nstreams; i++)
        vg_stream_free(srv->streams[i]);
    free(srv->streams);
}

bool fuzz_server_write_out(vg_session *sess) {
    while ((sess->out_head || sess->closing) && !sess->close_sent)
        if (vg_session_on_writable(sess) < 0) return false;
    return !sess->close_sent; /* past its close frame, lws hangs up */
}

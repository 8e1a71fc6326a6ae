/* fuzz_signaling.c -- libFuzzer target: whole vigil.v1 text messages into
 * the session's text path (vg_session_on_text -> vg_signaling_handle), as
 * tests/unit/test_signaling.c does it: a real server struct, session,
 * streams and device control, and no connection (the lws calls a session
 * makes are stubbed below; replies leave through vg_session_on_writable and
 * the lws_write stub, as they would to the socket).
 *
 * Input: one message per line. An optional first line picks who the client
 * already is, as if it had come with an access_token on the upgrade:
 *   #none (default: only hello is accepted), #admin, #viewer, #operator,
 *   #anon (anonymous viewer of "demo").
 * A line ending in a backslash is sent as a non-final fragment (without the
 * backslash) and reassembled with what follows.
 *
 * Everything is built and freed per input (LeakSanitizer checks it). Device
 * control runs with the fake transports of fuzz_common.c: this file provides
 * control_register_builtin_plugins() and control_owns_config_section()
 * instead of control/plugin_list.c, so vg_devices_start() starts them and
 * not libmosquitto or libcoap. After the last message the devices report
 * state, telemetry and a transport change, which go to the session if it
 * watches them. Every text written must be a JSON object with a string
 * "type" (checked). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "server/devices.h"
#include "server/server.h"
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
static const vg_stream_hooks hooks = {hook_viewer, hook_viewer, hook_state};

static vg_config config;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    json_error_t je;
    json_t *root = json_loads(fuzz_config_text, JSON_REJECT_DUPLICATES, &je);
    char err[256];
    if (!root) fuzz_fail("fuzz config", je.text);
    if (vg_config_load_json(&config, root, err, sizeof(err))) fuzz_fail("fuzz config", err);
    json_decref(root);
    return 0;
}

/* Who the session is before its first message (see the file comment). */
static void set_access(vg_session *s, const char *directive, size_t len) {
    static const struct {
        const char *name, *claims;
    } modes[] = {
        {"#admin", "{\"sub\":\"root\",\"role\":\"admin\",\"exp\":4102444800}"},
        {"#viewer",
         "{\"sub\":\"v\",\"role\":\"viewer\",\"streams\":[\"d*\"],\"devices\":[\"cam1\"],"
         "\"exp\":4102444800}"},
        {"#operator", "{\"sub\":\"op\",\"role\":\"operator\",\"streams\":[\"*\"],"
                      "\"devices\":[\"cam*\",\"lamp?\"],\"exp\":4102444800}"},
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (len != strlen(modes[i].name) || memcmp(directive, modes[i].name, len)) continue;
        json_t *claims = json_loads(modes[i].claims, 0, NULL);
        vg_access_from_claims(&s->access, claims);
        json_decref(claims);
        return;
    }
    if (len == 5 && !memcmp(directive, "#anon", 5))
        vg_access_anonymous(&s->access, config.auth.anonymous_streams);
}

/* Writes what the session has queued, as the lws writable callbacks would;
 * false once the session has closed the connection. */
static bool write_out(vg_session *s) {
    while (s->out_head || s->closing)
        if (vg_session_on_writable(s) < 0) return false;
    return true;
}

/* What devices report on their own (state, telemetry, the transport). */
static void device_reports(vg_server *srv) {
    const control_callbacks *cb = fuzz_transport_cb;
    control_core *core = fuzz_transport_core;
    cb->device_state(core, "cam1", json_pack("{s:b}", "online", 1));
    cb->telemetry(core, "cam1", json_pack("{s:f}", "temperature_c", 41.5));
    cb->telemetry(core, "lamp1", json_pack("{s:b}", "on", 1));
    cb->transport_state(core, "mqtt", 0, "connection lost");
    cb->malformed(core, "cam1", "ack: needs \"id\"");
    vg_devices_poll(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vg_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.config = &config;
    vg_stream_limits lim = {.queue_frames = 16,
                            .slow_skips = 3,
                            .slow_window_us = 10000000,
                            .max_frame_bytes = 1 << 20,
                            .stall_timeout_us = 5000000};
    srv.streams = calloc(config.nstreams, sizeof(*srv.streams));
    if (!srv.streams) return 0;
    for (size_t i = 0; i < config.nstreams; i++)
        srv.streams[i] =
            vg_stream_new(config.streams[i].id, config.streams[i].source, config.streams[i].options,
                          (uint32_t)i + 1, &lim, &hooks, NULL, NULL);
    srv.nstreams = config.nstreams;
    srv.streams[0]->codecs = strdup("avc1.64001f"); /* "demo" is live */
    char err[256];
    if (vg_devices_start(&srv, err, sizeof(err))) fuzz_fail("vg_devices_start", err);

    vg_session sess;
    if (vg_session_init(&sess, &srv, NULL, config.max_subscriptions))
        fuzz_fail("vg_session_init", "out of memory");
    int64_t now = vg_server_now_us();
    vg_rate_limit_init(&sess.msg_rate, config.messages_per_s, 2.0 * config.messages_per_s, now);
    vg_rate_limit_init(&sess.cmd_rate, config.commands_per_s, 2.0 * config.commands_per_s, now);
    sess.serial = ++srv.next_session_serial;
    srv.sessions = &sess;
    srv.session_count = 1;

    const char *p = (const char *)data, *end = p + size;
    if (size && p[0] == '#') {
        const char *nl = memchr(p, '\n', size);
        set_access(&sess, p, (size_t)((nl ? nl : end) - p));
        p = nl ? nl + 1 : end;
    }
    bool open = true;
    while (p < end && open) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        bool final = !(len && p[len - 1] == '\\');
        if (vg_session_on_text(&sess, p, final ? len : len - 1, final, config.max_text_bytes) < 0)
            break; /* too large: the server closes with 1009 */
        vg_devices_poll(&srv);
        open = write_out(&sess);
        p = nl ? nl + 1 : end;
    }
    if (open) {
        device_reports(&srv);
        write_out(&sess);
    }

    srv.sessions = NULL;
    vg_session_destroy(&sess);
    vg_devices_stop(&srv);
    for (size_t i = 0; i < srv.nstreams; i++)
        vg_stream_free(srv.streams[i]);
    free(srv.streams);
    return 0;
}

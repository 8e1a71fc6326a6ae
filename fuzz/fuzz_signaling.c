/* fuzz_signaling.c -- libFuzzer target: whole vigil.v1 text messages into
 * the session's text path (vg_session_on_text -> vg_signaling_handle), as
 * tests/unit/test_signaling.c does it: a real server struct, session,
 * streams and device control, and no connection (the two lws calls a
 * session makes are stubbed below).
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
 * not libmosquitto or libcoap. Every reply must be a JSON object with a
 * string "type" (checked). */
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

/* Takes every queued reply off the session and checks its shape. */
static void drain_replies(vg_session *s) {
    while (s->out_head) {
        vg_outmsg *m = s->out_head;
        s->out_head = m->next;
        if (!s->out_head) s->out_tail = NULL;
        s->out_count--;
        s->out_bytes -= m->len;
        json_error_t je;
        json_t *r = json_loadb((const char *)m->buf + LWS_PRE, m->len, 0, &je);
        if (!json_is_object(r) || !json_is_string(json_object_get(r, "type")))
            fuzz_fail("reply is not a message", r ? "no type" : je.text);
        json_decref(r);
        free(m);
    }
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
    while (p < end && !sess.closing) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        bool final = !(len && p[len - 1] == '\\');
        if (vg_session_on_text(&sess, p, final ? len : len - 1, final, config.max_text_bytes) < 0)
            break; /* too large: the server closes with 1009 */
        vg_devices_poll(&srv);
        drain_replies(&sess);
        p = nl ? nl + 1 : end;
    }

    srv.sessions = NULL;
    vg_session_destroy(&sess);
    vg_devices_stop(&srv);
    for (size_t i = 0; i < srv.nstreams; i++)
        vg_stream_free(srv.streams[i]);
    free(srv.streams);
    return 0;
}

/* fuzz_publish.c -- libFuzzer target: the WebSocket publish path, a
 * `publish` request and then binary messages (PROTOCOL.md "Publishing":
 * 16-byte header + access unit or audio frame) through the same calls
 * server/ws_session.c makes: vg_session_on_text for the request,
 * vg_publisher_on_binary for every piece of a binary message, and
 * vg_publisher_stop when the connection goes.
 *
 * Input: the first line is the text of the publish request (anything: the
 * request validation is fuzzed too); the rest is a series of binary pieces,
 * each [1 byte: bit 0 = last piece of its message][2 bytes: length, big
 * endian][that many bytes]. The session is an admin (it may publish), on a
 * server with the publish:// streams "porch" (video) and "yard" (video and
 * Opus audio); no pipeline runs, so the feed keeps and drops frames as it
 * does before a pipeline attaches. Everything is built and freed per input. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "server/publisher.h"
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

static void hook_viewer(vg_viewer *v) {
    (void)v;
}
static void hook_state(vg_stream *s, const char *reason) {
    (void)s, (void)reason;
}
static const vg_stream_hooks hooks = {hook_viewer, hook_viewer, hook_state};

static const char config_text[] =
    "{\"server\": {\"max_publish_frame_bytes\": 65536, \"log_level\": \"error\"},"
    " \"streams\": [{\"id\": \"porch\", \"source\": \"publish://\"},"
    "  {\"id\": \"yard\", \"source\": \"publish://\", \"options\": {\"audio\": \"opus\"}}],"
    " \"auth\": {\"secret\": \"" FUZZ_SECRET "\"}}";

static vg_config config;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    json_error_t je;
    json_t *root = json_loads(config_text, JSON_REJECT_DUPLICATES, &je);
    char err[256];
    if (!root) fuzz_fail("publish config", je.text);
    if (vg_config_load_json(&config, root, err, sizeof(err))) fuzz_fail("publish config", err);
    json_decref(root);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vg_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.config = &config;
    vg_stream_limits lim = {.queue_frames = 16,
                            .slow_skips = 3,
                            .slow_window_us = 10000000,
                            .max_frame_bytes = 1 << 20,
                            .stall_timeout_us = 5000000,
                            .publish_queue_bytes = 1 << 20};
    srv.streams = calloc(config.nstreams, sizeof(*srv.streams));
    if (!srv.streams) return 0;
    for (size_t i = 0; i < config.nstreams; i++)
        srv.streams[i] =
            vg_stream_new(config.streams[i].id, config.streams[i].source, config.streams[i].options,
                          (uint32_t)i + 1, &lim, &hooks, NULL, NULL);
    srv.nstreams = config.nstreams;

    vg_session sess;
    if (vg_session_init(&sess, &srv, NULL, config.max_subscriptions))
        fuzz_fail("vg_session_init", "out of memory");
    int64_t now = vg_server_now_us();
    vg_rate_limit_init(&sess.msg_rate, 1000, 2000, now);
    vg_rate_limit_init(&sess.cmd_rate, 1000, 2000, now);
    json_t *claims = json_loads("{\"sub\":\"cam\",\"role\":\"admin\",\"exp\":4102444800}", 0, NULL);
    vg_access_from_claims(&sess.access, claims);
    json_decref(claims);
    srv.sessions = &sess;
    srv.session_count = 1;

    const uint8_t *p = data, *end = data + size;
    const uint8_t *nl = memchr(p, '\n', size);
    size_t line = (size_t)((nl ? nl : end) - p);
    if (vg_session_on_text(&sess, p, line, true, config.max_text_bytes) == 0) {
        p = nl ? nl + 1 : end;
        while (sess.pub && !sess.closing && end - p >= 3) {
            bool last = p[0] & 1;
            size_t len = (size_t)p[1] << 8 | p[2];
            p += 3;
            if (len > (size_t)(end - p)) len = (size_t)(end - p);
            if (vg_publisher_on_binary(&sess, p, len, last, config.max_publish_frame_bytes) < 0)
                break; /* too large: the server closes with 1009 */
            p += len;
        }
    }

    vg_publisher_stop(&sess, "publisher gone");
    srv.sessions = NULL;
    vg_session_destroy(&sess);
    for (size_t i = 0; i < srv.nstreams; i++)
        vg_stream_free(srv.streams[i]);
    free(srv.streams);
    return 0;
}

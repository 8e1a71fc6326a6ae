/* fuzz_signaling.c -- libFuzzer target: whole vigil.v1 text messages into
 * the session's text path (vg_session_on_text -> vg_signaling_handle), on
 * the network-less server and session of fuzz_server.h (the approach of
 * tests/unit/test_signaling.c).
 *
 * Input: one message per line. An optional first line picks who the client
 * already is, as if it had come with an access_token on the upgrade:
 *   #none (default: only hello is accepted), #admin, #viewer, #operator,
 *   #anon (anonymous viewer of "demo").
 * A line ending in a backslash is sent as a non-final fragment (without the
 * backslash) and reassembled with what follows.
 *
 * Everything is built and freed per input (LeakSanitizer checks it). After
 * the last message the devices report state, telemetry and a transport
 * change, which go to the session if it watches them. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "fuzz/fuzz_server.h"
#include "server/devices.h"
#include "signaling/signaling.h"

static const vg_config *config = &fuzz_server_config;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    fuzz_server_init();
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
        vg_access_anonymous(&s->access, config->auth.anonymous_streams);
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
    vg_session sess;
    fuzz_server_up(&srv, &sess);

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
        if (vg_session_on_text(&sess, p, final ? len : len - 1, final, config->max_text_bytes) < 0)
            break; /* too large: the server closes with 1009 */
        vg_devices_poll(&srv);
        open = fuzz_server_write_out(&sess);
        p = nl ? nl + 1 : end;
    }
    if (open) {
        device_reports(&srv);
        fuzz_server_write_out(&sess);
    }

    fuzz_server_down(&srv, &sess);
    return 0;
}

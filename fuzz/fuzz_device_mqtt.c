/* fuzz_device_mqtt.c -- libFuzzer target: what devices publish to vigil over
 * MQTT (<prefix>/<device>/ack, /telemetry, /state), through the parsing
 * plugin_mqtt.c uses for every message (control_mqtt_parse_message,
 * control/mqtt_message.c), the handover queue and the control core that
 * applies the reports (command life, device state and telemetry), then the
 * queries that serialise what was stored (the REST and devices replies).
 *
 * Each input gets a fresh control_t with the devices of fuzz_common.c (cam1
 * on the fake "mqtt" transport, lamp1 on "coap") and two commands in flight
 * on cam1. Input: messages separated by a line "%%"; in each, the first
 * line is the topic (prefix "vigil") and the rest the payload. "@1@" and
 * "@2@" in a payload stand for the ids of the two commands, which a fuzzer
 * cannot guess. Every event the core emits must be an object with a type. */
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"
#include "fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    fuzz_fake_ack = 0; /* the commands stay open for the device to answer */
    return 0;
}

static void sink(void *user, const json_t *ev) {
    (void)user;
    char *text = json_dumps(ev, JSON_COMPACT);
    if (!text || !json_is_string(json_object_get(ev, "type"))) fuzz_fail("event", text);
    free(text);
}

/* payload with @1@/@2@ replaced by the ids. New malloc'd buffer, *outlen. */
static char *substitute(const char *p, size_t len, char ids[2][CONTROL_ID_MAX], size_t *outlen) {
    char *out = malloc(len * (CONTROL_ID_MAX / 3 + 1) + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (i + 3 <= len && p[i] == '@' && (p[i + 1] == '1' || p[i + 1] == '2') &&
            p[i + 2] == '@') {
            const char *id = ids[p[i + 1] - '1'];
            memcpy(out + n, id, strlen(id));
            n += strlen(id);
            i += 3;
        } else {
            out[n++] = p[i++];
        }
    }
    *outlen = n;
    return out;
}

static void serialise(json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    free(text);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    control_t *c = fuzz_control_new(sink, NULL);
    if (!c) fuzz_fail("fuzz_control_new", NULL);
    char ids[2][CONTROL_ID_MAX], err[CONTROL_ERR_MAX];
    json_t *params = json_pack("{s:b}", "on", 1);
    json_t *ptz = json_pack("{s:f, s:f}", "pan", 0.5, "tilt", -0.25);
    if (control_command_issue(c, "cam1", "light", params, NULL, ids[0], sizeof(ids[0]), err,
                              sizeof(err)) ||
        control_command_issue(c, "cam1", "ptz", ptz, NULL, ids[1], sizeof(ids[1]), err,
                              sizeof(err)))
        fuzz_fail("control_command_issue", err);
    json_decref(params);
    json_decref(ptz);
    control_poll(c);

    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *sep = memmem(p, (size_t)(end - p), "\n%%\n", 4);
        const char *msg_end = sep ? sep : end;
        const char *nl = memchr(p, '\n', (size_t)(msg_end - p));
        const char *payload = nl ? nl + 1 : msg_end;
        char *topic = strndup(p, (size_t)((nl ? nl : msg_end) - p));
        size_t plen = 0;
        char *body = substitute(payload, (size_t)(msg_end - payload), ids, &plen);
        if (topic && body)
            control_mqtt_parse_message(fuzz_transport_cb, fuzz_transport_core, "vigil", topic, body,
                                       plen);
        free(topic);
        free(body);
        control_poll(c);
        p = sep ? sep + 4 : end;
    }

    serialise(control_devices_json(c));
    serialise(control_device_json(c, "cam1"));
    serialise(control_command_json(c, ids[0]));
    serialise(control_stats_json(c));
    control_destroy(c);
    return 0;
}

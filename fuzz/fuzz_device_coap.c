/* fuzz_device_coap.c -- libFuzzer target: what a CoAP device answers,
 * through the parsing plugin_coap.c uses for every response
 * (control/coap_answer.c: the body as JSON, then the report of a command's
 * answer or of a telemetry notification), the handover queue and the
 * control core, then the queries that serialise the result.
 *
 * Each input gets a fresh control_t with the devices of fuzz_common.c and a
 * command in flight on lamp1 (fake "coap" transport). Input: byte 0 is the
 * response code (class << 5 | detail: 0x44 is 2.04, 0x84 is 4.04), byte 1
 * says what it answers (bit 0 set: the telemetry observation; clear: the
 * command), the rest is the body. Every event must be an object with a
 * type. */
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"
#include "fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    return 0;
}

static void sink(void *user, const json_t *ev) {
    (void)user;
    char *text = json_dumps(ev, JSON_COMPACT);
    if (!text || !json_is_string(json_object_get(ev, "type"))) fuzz_fail("event", text);
    free(text);
}

static void serialise(json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    free(text);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return -1;
    control_t *c = fuzz_control_new(sink, NULL);
    if (!c) fuzz_fail("fuzz_control_new", NULL);
    char id[CONTROL_ID_MAX], err[CONTROL_ERR_MAX];
    json_t *params = json_pack("{s:b}", "on", 0);
    if (control_command_issue(c, "lamp1", "light", params, NULL, id, sizeof(id), err, sizeof(err)))
        fuzz_fail("control_command_issue", err);
    json_decref(params);
    control_poll(c);

    /* The body as libcoap hands it over: its own buffer, exactly its size. */
    size_t blen = size - 2;
    uint8_t *body = malloc(blen ? blen : 1);
    if (!body) fuzz_fail("malloc", NULL);
    memcpy(body, data + 2, blen);
    int malformed = 0;
    json_t *j = control_coap_body_json(body, blen, &malformed);
    free(body);
    if (data[1] & 1)
        control_coap_report_telemetry(fuzz_transport_cb, fuzz_transport_core, "lamp1", data[0], j,
                                      malformed);
    else
        control_coap_report_answer(fuzz_transport_cb, fuzz_transport_core, "lamp1", id, data[0], j);
    control_poll(c);

    serialise(control_device_json(c, "lamp1"));
    serialise(control_command_json(c, id));
    serialise(control_stats_json(c));
    control_destroy(c);
    return 0;
}

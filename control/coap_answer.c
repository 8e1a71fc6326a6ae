/* coap_answer.c -- what a CoAP device answers, turned into control
 * callbacks: the body of a response to a command or of a telemetry
 * notification.  Split from plugin_coap.c's on_response so it has no libcoap
 * in it and can be fuzzed (fuzz/fuzz_device_coap.c).  Any thread (no state
 * of its own). */
#include <stdio.h>

#include "control/control_internal.h"

#define RESPONSE_CLASS(code)  ((int)((code) >> 5) & 0x7)
#define RESPONSE_DETAIL(code) ((int)((code)&0x1f))

json_t *control_coap_body_json(const uint8_t *data, size_t len, int *malformed) {
    *malformed = 0;
    if (len == 0) return NULL;
    json_t *j = json_loadb((const char *)data, len, 0, NULL);
    if (j) return j;
    *malformed = 1;
    return json_pack("{s:s%}", "text", (const char *)data, len);
}

void control_coap_report_telemetry(const control_callbacks *cb, control_core *core,
                                   const char *device, unsigned code, json_t *body, int malformed) {
    if (RESPONSE_CLASS(code) == 2) {
        if (body && !malformed && json_is_object(body)) {
            cb->telemetry(core, device, body);
            return;
        }
        cb->malformed(core, device, "telemetry: not a JSON object");
    }
    json_decref(body);
}

void control_coap_report_answer(const control_callbacks *cb, control_core *core, const char *device,
                                const char *id, unsigned code, json_t *body) {
    int cls = RESPONSE_CLASS(code), num = cls * 100 + RESPONSE_DETAIL(code);
    if (cls == 2) {
        json_t *res = body;
        if (json_is_object(body) && json_object_get(body, "result"))
            res = json_incref(json_object_get(body, "result")), json_decref(body);
        cb->command_status(core, device, id, CONTROL_DELIVERED, 0, NULL, NULL);
        cb->command_status(core, device, id, CONTROL_ACKNOWLEDGED, num, NULL, res);
        return;
    }
    char detail[200];
    const char *why = NULL;
    if (json_is_object(body)) {
        why = json_string_value(json_object_get(body, "error"));
        if (!why) why = json_string_value(json_object_get(body, "text"));
    }
    snprintf(detail, sizeof detail, "%d.%02d%s%s", cls, RESPONSE_DETAIL(code), why ? " " : "",
             why ? why : "");
    json_decref(body);
    cb->command_status(core, device, id, CONTROL_REJECTED, num, detail, NULL);
}

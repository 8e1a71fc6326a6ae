/* mqtt_message.c -- what a device publishes on <prefix>/<device>/ack,
 * /telemetry and /state, turned into control callbacks.  Split from
 * plugin_mqtt.c's on_message so the parsing has no libmosquitto in it and
 * can be fuzzed (fuzz/fuzz_device_mqtt.c); the plugin calls it for every
 * message.  Any thread (no state of its own). */
#include <stdio.h>
#include <string.h>

#include "control/control_internal.h"

static void handle_ack(const control_callbacks *cb, control_core *core, const char *device,
                       json_t *msg) {
    const char *id = json_string_value(json_object_get(msg, "id"));
    const char *st = json_string_value(json_object_get(msg, "status"));
    if (!id || !st || (strcmp(st, "ok") != 0 && strcmp(st, "error") != 0)) {
        cb->malformed(core, device, "ack: needs \"id\" and \"status\" ok|error");
        return;
    }
    if (strcmp(st, "ok") == 0) {
        json_t *res = json_object_get(msg, "result");
        cb->command_status(core, device, id, CONTROL_ACKNOWLEDGED, 0, NULL,
                           res ? json_incref(res) : NULL);
    } else {
        json_t *e = json_object_get(msg, "error");
        const char *es = json_string_value(e);
        json_t *code = json_object_get(msg, "code");
        cb->command_status(core, device, id, CONTROL_REJECTED,
                           json_is_integer(code) ? (int)json_integer_value(code) : 0,
                           es ? es : "refused by device", NULL);
    }
}

void control_mqtt_parse_message(const control_callbacks *cb, control_core *core, const char *prefix,
                                const char *topic, const void *payload, size_t len) {
    size_t pl = strlen(prefix);
    const char *t = topic;
    if (strncmp(t, prefix, pl) != 0 || t[pl] != '/') return;
    const char *dev = t + pl + 1, *slash = strchr(dev, '/');
    if (!slash || (size_t)(slash - dev) >= CONTROL_ID_MAX) return;
    char device[CONTROL_ID_MAX];
    memcpy(device, dev, (size_t)(slash - dev));
    device[slash - dev] = '\0';
    const char *kind = slash + 1;

    if (len == 0) /* a cleared retained message */
        return;
    json_error_t je;
    json_t *j = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        char what[300];
        snprintf(what, sizeof what, "%.40s: invalid JSON: %.200s", kind,
                 j ? "not an object" : je.text);
        json_decref(j);
        cb->malformed(core, device, what);
        return;
    }
    if (strcmp(kind, "ack") == 0) {
        handle_ack(cb, core, device, j);
        json_decref(j);
    } else if (strcmp(kind, "telemetry") == 0) {
        cb->telemetry(core, device, j);
    } else if (strcmp(kind, "state") == 0) {
        cb->device_state(core, device, j);
    } else {
        json_decref(j);
    }
}

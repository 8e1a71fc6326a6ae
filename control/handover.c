/* handover.c -- the one structure shared between threads: reports from
 * plugin I/O threads (libmosquitto's loop thread, the CoAP thread) to the
 * owner thread, on the common hand-off (common/handoff.h), which wakes the
 * owner with the application's wake call.
 *
 * Producers: the control_callbacks below, on any thread.  They allocate a
 * report and post it.
 * Consumer: control_poll() on the owner thread, via control_handover_take().
 * Bounded: past CONTROL_HANDOVER_MAX queued reports, telemetry is dropped
 * (and counted); command status, state and errors are always kept.
 */
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"

void control_handover_init(control_core *core, control_wake_fn wake, void *user) {
    vg_handoff_init(&core->queue, CONTROL_HANDOVER_MAX, wake, user);
}

void control_handover_wake(control_core *core) {
    vg_handoff_wake(&core->queue);
}

uint64_t control_handover_dropped(control_core *core) {
    return vg_handoff_dropped(&core->queue);
}

void control_report_free(control_report *r) {
    while (r) {
        control_report *next = r->next;
        free(r->detail);
        json_decref(r->json);
        free(r);
        r = next;
    }
}

static void push(control_core *core, control_report *r) {
    bool droppable = r->kind == CONTROL_REPORT_TELEMETRY;
    if (vg_handoff_post(&core->queue, &r->node, droppable, true) == VG_HANDOFF_DROPPED) {
        control_report_free(r);
    }
}

static control_report *report_new(control_report_kind kind, const char *device, json_t *json) {
    control_report *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(json);
        return NULL;
    }
    r->kind = kind;
    control_strlcpy(r->device, device, sizeof r->device);
    r->json = json;
    return r;
}

static void cb_command_status(control_core *core, const char *device_id, const char *command_id,
                              control_status status, int code, const char *detail, json_t *result) {
    control_report *r = report_new(CONTROL_REPORT_STATUS, device_id, result);
    if (!r) return;
    control_strlcpy(r->command, command_id, sizeof r->command);
    r->status = status;
    r->code = code;
    r->detail = detail ? strdup(detail) : NULL;
    push(core, r);
}

static void cb_telemetry(control_core *core, const char *device_id, json_t *data) {
    control_report *r = report_new(CONTROL_REPORT_TELEMETRY, device_id, data);
    if (r) push(core, r);
}

static void cb_device_state(control_core *core, const char *device_id, json_t *state) {
    control_report *r = report_new(CONTROL_REPORT_STATE, device_id, state);
    if (r) push(core, r);
}

static void cb_transport_state(control_core *core, const char *transport, int connected,
                               const char *detail) {
    control_report *r = report_new(CONTROL_REPORT_TRANSPORT, NULL, NULL);
    if (!r) return;
    control_strlcpy(r->transport, transport, sizeof r->transport);
    r->code = connected;
    r->detail = detail ? strdup(detail) : NULL;
    push(core, r);
}

static void cb_malformed(control_core *core, const char *device_id, const char *what) {
    control_report *r = report_new(CONTROL_REPORT_MALFORMED, device_id, NULL);
    if (!r) return;
    r->detail = what ? strdup(what) : NULL;
    push(core, r);
}

const control_callbacks control_handover_callbacks = {
    .command_status = cb_command_status,
    .telemetry = cb_telemetry,
    .device_state = cb_device_state,
    .transport_state = cb_transport_state,
    .malformed = cb_malformed,
};

control_report *control_handover_take(control_core *core) {
    return (control_report *)vg_handoff_take_all(&core->queue);
}

void control_handover_destroy(control_core *core) {
    control_report_free(control_handover_take(core));
    vg_handoff_destroy(&core->queue);
}

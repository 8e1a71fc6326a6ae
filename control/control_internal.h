/* control_internal.h -- what the control/ files share with each other (and
 * with their unit tests).  Not for the embedding application: see control.h.
 *
 * Everything here is owned by the owner thread except struct control_core
 * (the handover queue), which is guarded by its own mutex.
 */
#ifndef VIGIL_CONTROL_INTERNAL_H
#define VIGIL_CONTROL_INTERNAL_H

#include <pthread.h>

#include "common/handoff.h"
#include "control/control.h"

#define CONTROL_DEFAULT_HISTORY    20
#define CONTROL_DEFAULT_TIMEOUT_MS 10000
#define CONTROL_HANDOVER_MAX       4096 /* queued reports before telemetry is dropped */

int64_t control_now_ms(void); /* CLOCK_MONOTONIC, ms */
void control_strlcpy(char *dst, const char *src, size_t n);
/* 1 if s is a usable device id / topic level: [A-Za-z0-9_.-]{1,63}. */
int control_id_is_valid(const char *s);

/* The built-in transports (plugin_mqtt.c, plugin_coap.c), listed in
 * plugin_list.c. */
extern const control_plugin control_plugin_mqtt;
extern const control_plugin control_plugin_coap;
extern const control_plugin control_plugin_agent;

/* The running state of the plugin named `name`, NULL if it is not
 * registered or not started (it has no devices). Owner thread. */
void *control_plugin_state(const control_t *c, const char *name);

/* ---- validate_command.c: parameter schemas ---------------------------- */

/* Checks a device's "commands" object at config time (borrowed). */
int control_schema_check(const json_t *commands, char *err, size_t errlen);
/* Checks params (borrowed, object or NULL) against command `name` of the
 * commands object (borrowed).  Returns 0, or -1 with err naming the command
 * or the parameter. */
int control_command_validate(const json_t *commands, const char *name, const json_t *params,
                             char *err, size_t errlen);
/* Checks per-command options: {"qos":0..2,"confirmable":bool,"timeout_ms":1..}. */
int control_options_validate(const json_t *options, char *err, size_t errlen);

/* ---- command_body.c: what a transport sends ---------------------------- */

/* The command as the compact JSON text {"id","command","params"} every
 * transport puts on the wire.  Returns a malloc'd string (free() it), or
 * NULL when out of memory. */
char *control_command_body(const control_send *cmd);

/* ---- mqtt_message.c, coap_answer.c: what devices send ---------------- */

/* One MQTT message from the broker: topic <prefix>/<device>/<kind> with kind
 * ack, telemetry or state; the payload (len bytes, not NUL-terminated) is
 * parsed and reported through cb (malformed payloads too).  Anything else
 * is ignored, as is an empty payload (a cleared retained message). */
void control_mqtt_parse_message(const control_callbacks *cb, control_core *core, const char *prefix,
                                const char *topic, const void *payload, size_t len);

/* The body of a CoAP response: its JSON (object or array), {"text": body}
 * with *malformed set when it is not JSON, NULL when empty (or not UTF-8).
 * New ref. */
json_t *control_coap_body_json(const uint8_t *data, size_t len, int *malformed);
/* Reports a notification of the telemetry observation with response code
 * `code` (class << 5 | detail): a 2.xx JSON object is telemetry, any other
 * 2.xx body is malformed.  body: stolen. */
void control_coap_report_telemetry(const control_callbacks *cb, control_core *core,
                                   const char *device, unsigned code, json_t *body, int malformed);
/* Reports the answer to command `id`: 2.xx is delivered then acknowledged
 * (the result is body.result when there is one, else the body), anything
 * else is rejected with "4.04 <body.error or body.text>".  body: stolen. */
void control_coap_report_answer(const control_callbacks *cb, control_core *core, const char *device,
                                const char *id, unsigned code, json_t *body);

/* ---- command_track.c: one command's life, per-device history ----------- */

typedef struct control_command {
    char id[CONTROL_ID_MAX];
    char device[CONTROL_ID_MAX];
    char *name;
    json_t *params;  /* own ref */
    json_t *options; /* own ref, may be NULL */
    control_status status;
    int code;
    char *error;    /* last detail, may be NULL */
    json_t *result; /* own ref, may be NULL */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t deadline_ms; /* timeout when not terminal by then */
    json_t *timeline;    /* own ref: [{"status","at_ms"}...] */
} control_command;

/* params/options: borrowed (copied by reference count). */
control_command *control_command_new(const char *id, const char *device, const char *name,
                                     const json_t *params, const json_t *options, int64_t now_ms,
                                     int timeout_ms);
void control_command_free(control_command *cmd);
/* Moves the command if control_status_can_move(); result: stolen.
 * Returns 1 if it moved, 0 if the report was stale and ignored. */
int control_command_move(control_command *cmd, control_status to, int code, const char *detail,
                         json_t *result, int64_t now_ms);
/* Counts a command that has just reached its terminal status: its status,
 * and its time from creation to now (updated_ms).  Nothing for another. */
void control_outcomes_add(control_outcomes *o, const control_command *cmd);
/* new ref: {"id","device","command","params","status","created_ms",...} */
json_t *control_command_to_json(const control_command *cmd);

/* The last `cap` commands of a device, oldest first. */
typedef struct control_history {
    control_command **v;
    size_t len, cap;
} control_history;

int control_history_init(control_history *h, size_t cap);
/* Appends cmd (taking ownership).  If full, frees the oldest terminal
 * command; if none is terminal returns -1 and does not take cmd. */
int control_history_push(control_history *h, control_command *cmd);
control_command *control_history_find(const control_history *h, const char *id);
void control_history_clear(control_history *h);

/* ---- registry.c: devices from the config ------------------------------ */

typedef struct control_device {
    char id[CONTROL_ID_MAX];
    const char *name;       /* inside config */
    const char *transport;  /* inside config */
    const char *stream;     /* inside config, may be NULL */
    json_t *config;         /* own ref: the device object */
    const json_t *commands; /* inside config */
    int plugin;             /* index in control_t's plugin table */
    int timeout_ms;
    control_history history;
    json_t *state;     /* own ref, last device.state, may be NULL */
    json_t *telemetry; /* own ref, last telemetry, may be NULL */
    int64_t state_ms, telemetry_ms;
    int online; /* -1 unknown, 0 offline, 1 online */
    uint64_t issued, malformed, telemetry_count;
    control_outcomes outcomes; /* terminal statuses and latencies (control_outcomes_add) */
} control_device;

typedef struct control_registry {
    control_device *dev;
    size_t n;
} control_registry;

/* Loads config["devices"] (borrowed).  plugins: the registered transports
 * (their check_device is called).  history/timeout_ms: defaults from the
 * "control" section.  Returns 0, or -1 with err naming device and field;
 * on error the registry is left empty. */
int control_registry_load(control_registry *r, const json_t *config,
                          const control_plugin *const *plugins, size_t nplugins, size_t history,
                          int timeout_ms, char *err, size_t errlen);
control_device *control_registry_find(const control_registry *r, const char *id);
void control_registry_free(control_registry *r);

/* ---- handover.c: the queue between plugin threads and the owner -------- */

typedef enum control_report_kind {
    CONTROL_REPORT_STATUS,
    CONTROL_REPORT_TELEMETRY,
    CONTROL_REPORT_STATE,
    CONTROL_REPORT_TRANSPORT,
    CONTROL_REPORT_MALFORMED,
} control_report_kind;

typedef struct control_report {
    union { /* first: the hand-off links reports through it */
        vg_handoff_node node;
        struct control_report *next; /* the next report of a taken list */
    };
    control_report_kind kind;
    char device[CONTROL_ID_MAX]; /* "" if none */
    char command[CONTROL_ID_MAX];
    char transport[32];
    control_status status;
    int code;     /* STATUS: code; TRANSPORT: connected */
    char *detail; /* own, may be NULL */
    json_t *json; /* own ref, may be NULL */
} control_report;

/* Shared by plugin threads (producers) and the owner thread (consumer): the
 * common hand-off (common/handoff.h), which has the lock and says what it
 * guards. Telemetry is droppable when full; the other reports are not. */
struct control_core {
    vg_handoff queue; /* of control_report */
};

extern const control_callbacks control_handover_callbacks;

void control_handover_init(control_core *core, control_wake_fn wake, void *user);
/* Wakes the owner thread: "poll soon". Any thread. */
void control_handover_wake(control_core *core);
/* Telemetry reports dropped so far because the owner fell behind. Any thread. */
uint64_t control_handover_dropped(control_core *core);
/* Takes the whole queue (owner thread); returns the list, oldest first. */
control_report *control_handover_take(control_core *core);
void control_report_free(control_report *r);
void control_handover_destroy(control_core *core);

#endif

/* control.h -- device control: the core API and the transport plugin contract.
 *
 * Two halves, one header:
 *
 *  1. The core API (control_*), used by the embedding application (the
 *     server, the test driver).  A control_t holds the device registry, the
 *     commands and their life, and the registered transport plugins.
 *
 *  2. The plugin contract (control_plugin, control_callbacks), in the style
 *     of Janus' plugin.h: a plugin fills in a const table of function
 *     pointers; the core hands it a const table of callbacks.  The API
 *     version is checked at registration.  The core never names a transport:
 *     adding a third plugin means writing control/plugin_<name>.c and adding
 *     one line to control/plugin_list.c.
 *
 * Threads.  Every control_* function below must be called from one thread,
 * the "owner thread" (in the server: the lws service thread).  Plugins run
 * their I/O on threads of their own; they report results only through the
 * control_callbacks, which are safe to call from any thread: they copy the
 * report into a mutex-guarded handover queue and call the application's wake
 * function.  The owner thread then calls control_poll(), which drains the
 * queue, moves commands through their life, enforces timeouts and emits
 * events to the application's sink.  Nothing else is shared.
 *
 * Command life:  queued -> sent -> delivered -> acknowledged
 *                                            \-> rejected | failed | timeout
 * A status only moves forward (a step may be skipped, e.g. sent ->
 * acknowledged); the four last ones are terminal.
 *
 * Ownership of json_t values is written at each declaration:
 *   "borrowed"  the callee neither keeps nor frees it (copy or incref to keep);
 *   "stolen"    the callee takes the caller's reference (and frees it even on
 *               error); the caller must not use it afterwards;
 *   "new ref"   the caller receives a reference it must json_decref().
 */
#ifndef VIGIL_CONTROL_H
#define VIGIL_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define CONTROL_API_VERSION 1

#define CONTROL_ID_MAX  64  /* device ids and command ids, with NUL */
#define CONTROL_ERR_MAX 256 /* suggested size of error buffers */

typedef enum control_status {
    CONTROL_QUEUED = 0,
    CONTROL_SENT,
    CONTROL_DELIVERED,
    CONTROL_ACKNOWLEDGED, /* terminal: the device answered with a result */
    CONTROL_REJECTED,     /* terminal: the device (or its server) said no */
    CONTROL_FAILED,       /* terminal: transport error */
    CONTROL_TIMEOUT,      /* terminal: no answer in time */
} control_status;

/* "queued", "sent", ... ; NULL for an out-of-range value. */
const char *control_status_name(control_status s);
int control_status_is_terminal(control_status s);
/* 1 if a command in `from` may move to `to` (forward only, terminal final). */
int control_status_can_move(control_status from, control_status to);

/* ------------------------------------------------------------------------ */
/* Plugin contract                                                           */
/* ------------------------------------------------------------------------ */

/* The handle a plugin passes back in every callback.  Opaque to plugins. */
typedef struct control_core control_core;

/* Callbacks the core gives a plugin at init.  Safe from any thread, never
 * blocking for long (one mutex, one wake call).  Strings are copied. */
typedef struct control_callbacks {
    /* A command moved.  device_id: the device the report came from, or NULL
     * if the transport cannot tell (then it is not cross-checked).
     * code: transport/device code (CoAP 404 for 4.04, 0 if none).
     * detail: human-readable reason, or NULL.
     * result: the device's result object, stolen, may be NULL. */
    void (*command_status)(control_core *core, const char *device_id, const char *command_id,
                           control_status status, int code, const char *detail, json_t *result);
    /* Telemetry from a device.  data: stolen. */
    void (*telemetry)(control_core *core, const char *device_id, json_t *data);
    /* The device's own state report (MQTT retained state, last-will). stolen. */
    void (*device_state)(control_core *core, const char *device_id, json_t *state);
    /* The transport's connection changed (e.g. broker up/down). */
    void (*transport_state)(control_core *core, const char *transport, int connected,
                            const char *detail);
    /* A device sent something unusable (bad JSON, ack without id ...):
     * counted per device and dropped.  device_id may be NULL if unknown. */
    void (*malformed)(control_core *core, const char *device_id, const char *what);
} control_callbacks;

/* What the core asks a plugin to send.  All fields are borrowed for the
 * duration of the send() call only. */
typedef struct control_send {
    const char *command_id;
    const char *device_id;
    const char *name;      /* command name, validated */
    const json_t *params;  /* validated parameters (object) */
    const json_t *device;  /* the device's config object */
    const json_t *options; /* per-command options object ({"qos":1,
                              "confirmable":false}) or NULL */
    int timeout_ms;        /* the command's time limit (the core enforces it) */
} control_send;

typedef struct control_plugin {
    int api_version;  /* CONTROL_API_VERSION */
    const char *name; /* the "transport" value in device configs and
                         the name of the plugin's config section */
    /* Checks one device's transport settings (device: borrowed, the whole
     * device object).  Called while loading the registry, before init; may
     * be NULL.  Returns 0, or -1 with a message in err. */
    int (*check_device)(const json_t *device, char *err, size_t errlen);
    /* Starts the plugin.  section: the plugin's config section (borrowed,
     * may be NULL); devices: array of the device objects that use this
     * transport (borrowed; the plugin may incref what it keeps).  Returns
     * the plugin's state, or NULL with a message in err. */
    void *(*init)(const control_callbacks *cb, control_core *core, const json_t *section,
                  const json_t *devices, char *err, size_t errlen);
    /* Sends (or hands to its I/O thread) one command; called on the owner
     * thread, must not block.  Returns 0 if accepted (every later status
     * arrives through cb->command_status), or -1 with a message in err (the
     * core marks the command failed). */
    int (*send)(void *state, const control_send *cmd, char *err, size_t errlen);
    /* The core gave up on a command (timeout): forget it, do not send it if
     * it is still held.  May be NULL. */
    void (*cancel)(void *state, const char *command_id);
    /* Connection state and counters for the API.  new ref, may be NULL. */
    json_t *(*status)(void *state);
    /* Stops threads, frees everything.  No callback is made after return. */
    void (*shutdown)(void *state);
} control_plugin;

/* ------------------------------------------------------------------------ */
/* Core API (owner thread only)                                              */
/* ------------------------------------------------------------------------ */

typedef struct control control_t;

/* Wakes the owner thread so it calls control_poll().  Called from any
 * thread, possibly with an internal lock held: it must only signal (e.g.
 * lws_cancel_service, write to an eventfd), never call back into control. */
typedef void (*control_wake_fn)(void *user);
/* Receives every event on the owner thread, from control_poll().
 * event: borrowed.  Shapes:
 *  {"type":"command.status","device","id","command","status","at_ms",
 *   "code"?,"error"?,"result"?}
 *  {"type":"telemetry","device","data"}
 *  {"type":"device.state","device","state","online"}
 *  {"type":"transport.state","transport","connected","detail"?} */
typedef void (*control_event_fn)(void *user, const json_t *event);

control_t *control_create(control_wake_fn wake, void *wake_user, control_event_fn sink,
                          void *sink_user);
/* Registers a transport.  Fails if the API version differs or the name is
 * taken.  Before control_start(). */
int control_register_plugin(control_t *c, const control_plugin *p, char *err, size_t errlen);
/* Registers the plugins listed in control/plugin_list.c. */
int control_register_builtin_plugins(control_t *c, char *err, size_t errlen);
/* Loads the registry from the config root (borrowed: "devices", "control"
 * {"history","timeout_ms"} and one section per transport) and starts the
 * plugins that have devices.  Returns 0 or -1 with a message naming the
 * offending device and field. */
int control_start(control_t *c, const json_t *config, char *err, size_t errlen);
/* Drains handed-over reports, applies timeouts, emits events.  Returns the
 * number of events emitted.  Call after each wake and at least every
 * control_poll_interval_ms() so timeouts fire. */
int control_poll(control_t *c);
int control_poll_interval_ms(const control_t *c);
/* Stops the plugins and frees everything. */
void control_destroy(control_t *c);
/* Ends every command that has no final status yet as "failed" with `reason`
 * (borrowed), e.g. before control_destroy() when device control restarts;
 * the events go out from the next control_poll(). Returns how many. Owner
 * thread. */
size_t control_fail_unfinished(control_t *c, const char *reason);

/* Why control_command_issue() refused a command (0 when it did not). */
typedef enum control_issue_result {
    CONTROL_ISSUE_OK = 0,
    CONTROL_ISSUE_UNKNOWN_DEVICE = -1,
    CONTROL_ISSUE_UNKNOWN_COMMAND = -2, /* also: no command name */
    CONTROL_ISSUE_BAD_PARAMS = -3,      /* missing, unknown, mistyped, out of range */
    CONTROL_ISSUE_BAD_OPTION = -4,      /* qos, confirmable, timeout_ms */
    CONTROL_ISSUE_UNAVAILABLE = -5,     /* transport not running, history full, OOM */
} control_issue_result;

/* Issues a command.  params: borrowed, object or NULL ({}); options:
 * borrowed, NULL or {"qos":0..2,"confirmable":bool,"timeout_ms":int}.
 * On success writes the command id into id_out and returns CONTROL_ISSUE_OK;
 * the "queued" and "sent"/"failed" events follow from control_poll().  On a
 * bad request returns one of the negative control_issue_result values and err
 * names the device, command or parameter. */
int control_command_issue(control_t *c, const char *device_id, const char *name,
                          const json_t *params, const json_t *options, char *id_out, size_t id_len,
                          char *err, size_t errlen);

/* 1 if a top-level config section named `name` belongs to control ("devices",
 * "control", or a built-in transport's own section).  Any thread. */
int control_owns_config_section(const char *name);

/* What became of each device's commands, for GET /metrics: how many reached
 * each terminal status, and how long they took from issue to that status
 * (a histogram in seconds; the buckets are control_latency_bounds_s, +Inf
 * implied).  Counted when a command reaches its terminal status, on the
 * owner thread. */
#define CONTROL_LATENCY_BUCKETS 9
extern const double control_latency_bounds_s[CONTROL_LATENCY_BUCKETS];

typedef struct control_outcomes {
    uint64_t by_status[CONTROL_TIMEOUT + 1]; /* terminal statuses only; the rest stay 0 */
    /* commands per bucket, not cumulative: latency_in[i] took at most
     * bounds[i] and more than bounds[i - 1]; slower ones are only in count */
    uint64_t latency_in[CONTROL_LATENCY_BUCKETS];
    uint64_t latency_count;
    double latency_sum_s;
} control_outcomes;

/* Devices in the registry, in config order (0 before control_start). */
size_t control_device_count(const control_t *c);
/* The i-th device's id (borrowed: valid while c lives), its commands issued
 * and their outcomes (copied into *out).  NULL when i is out of range. */
const char *control_device_outcomes(const control_t *c, size_t i, uint64_t *issued,
                                    control_outcomes *out);

/* Queries; all return new refs, NULL if not found. */
json_t *control_devices_json(control_t *c); /* array */
json_t *control_device_json(control_t *c, const char *device_id);
json_t *control_command_json(control_t *c, const char *command_id);
json_t *control_stats_json(control_t *c);
/* Commands without a final status yet (queued, sent or delivered). */
size_t control_unfinished_count(const control_t *c);

#endif

/* core.c -- the control core: plugin registration, start-up, issuing
 * commands, draining the handover queue, timeouts, events and queries.
 *
 * Threads: a control_t is owned by the owner thread; every function here
 * runs there.  The only shared member is c->core (handover.c), guarded by
 * its own mutex.  Plugins are called on the owner thread (init, send,
 * cancel, status, shutdown) and report back from theirs via the handover.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "control/control_internal.h"

#define CONTROL_MAX_PLUGINS 8

struct control {
    control_core core; /* shared: see handover.c */
    control_event_fn sink;
    void *sink_user;
    const control_plugin *plugins[CONTROL_MAX_PLUGINS];
    void *pstate[CONTROL_MAX_PLUGINS]; /* NULL if not started */
    size_t np;
    control_registry reg;
    json_t *pending;    /* events to emit at next poll */
    json_t *transports; /* name -> {"connected","detail"} */
    uint32_t nonce;
    uint64_t seq;
    int started;
    uint64_t issued, bad_requests, unknown_reports, foreign_reports, malformed_unknown_device,
        stale_reports;
};

control_t *control_create(control_wake_fn wake, void *wake_user, control_event_fn sink,
                          void *sink_user) {
    control_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    control_handover_init(&c->core, wake, wake_user);
    c->sink = sink;
    c->sink_user = sink_user;
    c->pending = json_array();
    c->transports = json_object();
    if (getentropy(&c->nonce, sizeof c->nonce) < 0)
        c->nonce = (uint32_t)control_now_ms() ^ (uint32_t)getpid();
    return c;
}

int control_register_plugin(control_t *c, const control_plugin *p, char *err, size_t errlen) {
    if (!p || !p->name || !p->init || !p->send || !p->shutdown) {
        snprintf(err, errlen, "plugin table incomplete");
        return -1;
    }
    if (p->api_version != CONTROL_API_VERSION) {
        snprintf(err, errlen, "plugin '%s' was built for control API %d, core is %d", p->name,
                 p->api_version, CONTROL_API_VERSION);
        return -1;
    }
    if (c->started) {
        snprintf(err, errlen, "plugin '%s' registered after start", p->name);
        return -1;
    }
    for (size_t i = 0; i < c->np; i++)
        if (strcmp(c->plugins[i]->name, p->name) == 0) {
            snprintf(err, errlen, "plugin '%s' registered twice", p->name);
            return -1;
        }
    if (c->np == CONTROL_MAX_PLUGINS) {
        snprintf(err, errlen, "too many plugins");
        return -1;
    }
    c->plugins[c->np++] = p;
    return 0;
}

static void stop_plugins(control_t *c) {
    for (size_t i = 0; i < c->np; i++)
        if (c->pstate[i]) {
            c->plugins[i]->shutdown(c->pstate[i]);
            c->pstate[i] = NULL;
        }
}

int control_start(control_t *c, const json_t *config, char *err, size_t errlen) {
    if (c->started) {
        snprintf(err, errlen, "control already started");
        return -1;
    }
    size_t history = CONTROL_DEFAULT_HISTORY;
    int timeout_ms = CONTROL_DEFAULT_TIMEOUT_MS;
    json_t *sec = json_object_get(config, "control");
    if (sec) {
        json_t *h = json_object_get(sec, "history"), *t = json_object_get(sec, "timeout_ms");
        if (h &&
            (!json_is_integer(h) || json_integer_value(h) < 1 || json_integer_value(h) > 1000)) {
            snprintf(err, errlen, "control: \"history\" must be an integer between 1 and 1000");
            return -1;
        }
        if (t &&
            (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 600000)) {
            snprintf(err, errlen,
                     "control: \"timeout_ms\" must be an integer between 1 and 600000");
            return -1;
        }
        if (h) history = (size_t)json_integer_value(h);
        if (t) timeout_ms = (int)json_integer_value(t);
    }
    if (control_registry_load(&c->reg, config, c->plugins, c->np, history, timeout_ms, err,
                              errlen) < 0)
        return -1;
    for (size_t i = 0; i < c->np; i++) {
        json_t *devs = json_array();
        for (size_t d = 0; d < c->reg.n; d++)
            if (c->reg.dev[d].plugin == (int)i) json_array_append(devs, c->reg.dev[d].config);
        if (json_array_size(devs) == 0) {
            json_decref(devs);
            continue;
        }
        char e[CONTROL_ERR_MAX] = "";
        c->pstate[i] =
            c->plugins[i]->init(&control_handover_callbacks, &c->core,
                                json_object_get(config, c->plugins[i]->name), devs, e, sizeof e);
        json_decref(devs);
        if (!c->pstate[i]) {
            snprintf(err, errlen, "%s: %s", c->plugins[i]->name, e);
            stop_plugins(c);
            control_registry_free(&c->reg);
            return -1;
        }
    }
    c->started = 1;
    return 0;
}

static control_device *device_of_command(const control_t *c, const char *id,
                                         control_command **out) {
    for (size_t i = 0; i < c->reg.n; i++) {
        control_command *cmd = control_history_find(&c->reg.dev[i].history, id);
        if (cmd) {
            *out = cmd;
            return &c->reg.dev[i];
        }
    }
    *out = NULL;
    return NULL;
}

static void emit_status(control_t *c, const control_command *cmd) {
    json_t *ev =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", "command.status", "device", cmd->device,
                  "id", cmd->id, "command", cmd->name, "status", control_status_name(cmd->status),
                  "at_ms", (json_int_t)(cmd->updated_ms - cmd->created_ms));
    if (!ev) return;
    if (cmd->status == CONTROL_QUEUED) json_object_set(ev, "params", cmd->params);
    if (cmd->code) json_object_set_new(ev, "code", json_integer(cmd->code));
    if (cmd->error && cmd->status != CONTROL_ACKNOWLEDGED)
        json_object_set_new(ev, "error", json_string(cmd->error));
    if (cmd->result && control_status_is_terminal(cmd->status))
        json_object_set(ev, "result", cmd->result);
    json_array_append_new(c->pending, ev);
}

static void move(control_t *c, control_device *d, control_command *cmd, control_status to, int code,
                 const char *detail, json_t *result, int64_t now) {
    if (!control_command_move(cmd, to, code, detail, result, now)) {
        c->stale_reports++;
        return;
    }
    control_outcomes_add(&d->outcomes, cmd);
    emit_status(c, cmd);
    if (to == CONTROL_TIMEOUT && c->plugins[d->plugin]->cancel && c->pstate[d->plugin])
        c->plugins[d->plugin]->cancel(c->pstate[d->plugin], cmd->id);
}

int control_command_issue(control_t *c, const char *device_id, const char *name,
                          const json_t *params, const json_t *options, char *id_out, size_t id_len,
                          char *err, size_t errlen) {
    control_device *d = control_registry_find(&c->reg, device_id);
    if (!d) {
        snprintf(err, errlen, "unknown device '%s'", device_id ? device_id : "");
        c->bad_requests++;
        return CONTROL_ISSUE_UNKNOWN_DEVICE;
    }
    char e[CONTROL_ERR_MAX];
    int bad = 0;
    if (!name || !json_object_get(d->commands, name))
        bad = CONTROL_ISSUE_UNKNOWN_COMMAND;
    else if (control_command_validate(d->commands, name, params, e, sizeof e) < 0)
        bad = CONTROL_ISSUE_BAD_PARAMS;
    else if (control_options_validate(options, e, sizeof e) < 0)
        bad = CONTROL_ISSUE_BAD_OPTION;
    if (bad == CONTROL_ISSUE_UNKNOWN_COMMAND)
        snprintf(e, sizeof e, "unknown command '%s'", name ? name : "");
    if (bad) {
        snprintf(err, errlen, "device '%s': %s", d->id, e);
        c->bad_requests++;
        return bad;
    }
    if (!c->pstate[d->plugin]) {
        snprintf(err, errlen, "device '%s': transport '%s' is not running", d->id, d->transport);
        return CONTROL_ISSUE_UNAVAILABLE;
    }
    char id[CONTROL_ID_MAX];
    snprintf(id, sizeof id, "%08x-%llu", c->nonce, (unsigned long long)++c->seq);
    int timeout_ms = d->timeout_ms;
    json_t *t = json_object_get(options, "timeout_ms");
    if (t) timeout_ms = (int)json_integer_value(t);
    int64_t now = control_now_ms();
    control_command *cmd = control_command_new(id, d->id, name, params, options, now, timeout_ms);
    if (!cmd) {
        snprintf(err, errlen, "out of memory");
        return CONTROL_ISSUE_UNAVAILABLE;
    }
    if (control_history_push(&d->history, cmd) < 0) {
        snprintf(err, errlen, "device '%s': %zu commands already in flight", d->id, d->history.cap);
        control_command_free(cmd);
        return CONTROL_ISSUE_UNAVAILABLE;
    }
    d->issued++;
    c->issued++;
    emit_status(c, cmd);
    control_send s = {
        .command_id = cmd->id,
        .device_id = d->id,
        .name = cmd->name,
        .params = cmd->params,
        .device = d->config,
        .options = cmd->options,
        .timeout_ms = timeout_ms,
    };
    if (c->plugins[d->plugin]->send(c->pstate[d->plugin], &s, e, sizeof e) < 0)
        move(c, d, cmd, CONTROL_FAILED, 0, e, NULL, control_now_ms());
    control_strlcpy(id_out, id, id_len);
    control_handover_wake(&c->core); /* pending events: poll soon */
    return 0;
}

static void handle_report(control_t *c, control_report *r, int64_t now) {
    control_device *d = r->device[0] ? control_registry_find(&c->reg, r->device) : NULL;
    json_t *ev;
    switch (r->kind) {
    case CONTROL_REPORT_STATUS: {
        control_command *cmd;
        control_device *owner = device_of_command(c, r->command, &cmd);
        if (!cmd) {
            c->unknown_reports++;
            return;
        }
        if (d && d != owner) { /* a device answering for another */
            c->foreign_reports++;
            d->malformed++;
            return;
        }
        json_t *res = r->json;
        r->json = NULL;
        move(c, owner, cmd, r->status, r->code, r->detail, res, now);
        return;
    }
    case CONTROL_REPORT_TELEMETRY:
        if (!d) {
            c->unknown_reports++;
            return;
        }
        json_decref(d->telemetry);
        d->telemetry = r->json;
        r->json = NULL;
        d->telemetry_ms = now;
        d->telemetry_count++;
        ev = json_pack("{s:s, s:s, s:O}", "type", "telemetry", "device", d->id, "data",
                       d->telemetry);
        break;
    case CONTROL_REPORT_STATE: {
        if (!d) {
            c->unknown_reports++;
            return;
        }
        json_decref(d->state);
        d->state = r->json;
        r->json = NULL;
        d->state_ms = now;
        json_t *on = json_object_get(d->state, "online");
        if (json_is_boolean(on)) d->online = json_is_true(on);
        ev = json_pack("{s:s, s:s, s:O, s:o}", "type", "device.state", "device", d->id, "state",
                       d->state, "online", d->online < 0 ? json_null() : json_boolean(d->online));
        json_t *why = json_object_get(d->state, "reason");
        if (ev && json_is_string(why)) json_object_set(ev, "reason", why);
        break;
    }
    case CONTROL_REPORT_TRANSPORT:
        json_object_set_new(
            c->transports, r->transport,
            json_pack("{s:b, s:s}", "connected", r->code, "detail", r->detail ? r->detail : ""));
        ev = json_pack("{s:s, s:s, s:b}", "type", "transport.state", "transport", r->transport,
                       "connected", r->code);
        if (ev && r->detail) json_object_set_new(ev, "detail", json_string(r->detail));
        break;
    case CONTROL_REPORT_MALFORMED:
        if (d)
            d->malformed++;
        else
            c->malformed_unknown_device++;
        vg_log(VG_LOG_WARN, "control: malformed report from '%s': %s",
               r->device[0] ? r->device : "?", r->detail ? r->detail : "");
        return;
    default: return;
    }
    if (ev) json_array_append_new(c->pending, ev);
}

int control_poll(control_t *c) {
    int64_t now = control_now_ms();
    control_report *list = control_handover_take(&c->core);
    for (control_report *r = list; r; r = r->next)
        handle_report(c, r, now);
    control_report_free(list);
    for (size_t i = 0; i < c->reg.n; i++) {
        control_device *d = &c->reg.dev[i];
        for (size_t k = 0; k < d->history.len; k++) {
            control_command *cmd = d->history.v[k];
            if (!control_status_is_terminal(cmd->status) && now >= cmd->deadline_ms) {
                char e[96];
                snprintf(e, sizeof e, "no answer within %lld ms",
                         (long long)(cmd->deadline_ms - cmd->created_ms));
                move(c, d, cmd, CONTROL_TIMEOUT, 0, e, NULL, now);
            }
        }
    }
    /* Emit after all state changes; the sink may call back into control. */
    json_t *events = c->pending;
    c->pending = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) if (c->sink) c->sink(c->sink_user, ev);
    int n = (int)json_array_size(events);
    json_decref(events);
    return n;
}

size_t control_fail_unfinished(control_t *c, const char *reason) {
    size_t n = 0;
    int64_t now = control_now_ms();
    for (size_t i = 0; c && i < c->reg.n; i++) {
        control_device *d = &c->reg.dev[i];
        for (size_t k = 0; k < d->history.len; k++) {
            control_command *cmd = d->history.v[k];
            if (control_status_is_terminal(cmd->status)) continue;
            move(c, d, cmd, CONTROL_FAILED, 0, reason, NULL, now);
            n++;
        }
    }
    return n;
}

int control_poll_interval_ms(const control_t *c) {
    (void)c;
    return 100;
}

void control_destroy(control_t *c) {
    if (!c) return;
    stop_plugins(c); /* no callback after this */
    control_handover_destroy(&c->core);
    control_registry_free(&c->reg);
    json_decref(c->pending);
    json_decref(c->transports);
    free(c);
}

static json_t *device_summary(const control_t *c, const control_device *d) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:I, s:I}", "id", d->id, "name", d->name,
                          "transport", d->transport, "commands", d->commands, "malformed",
                          (json_int_t)d->malformed, "issued", (json_int_t)d->issued);
    if (!o) return NULL;
    json_object_set_new(o, "stream", d->stream ? json_string(d->stream) : json_null());
    json_object_set_new(o, "online", d->online < 0 ? json_null() : json_boolean(d->online));
    json_object_set(o, "state", d->state ? d->state : json_null());
    json_object_set(o, "telemetry", d->telemetry ? d->telemetry : json_null());
    json_t *ts = json_object_get(c->transports, d->transport);
    json_object_set_new(o, "transport_connected",
                        ts ? json_incref(json_object_get(ts, "connected")) : json_null());
    json_object_set_new(o, "telemetry_age_ms",
                        d->telemetry ? json_integer(control_now_ms() - d->telemetry_ms)
                                     : json_null());
    return o;
}

size_t control_device_count(const control_t *c) {
    return c->reg.n;
}

const char *control_device_outcomes(const control_t *c, size_t i, uint64_t *issued,
                                    control_outcomes *out) {
    if (i >= c->reg.n) return NULL;
    *issued = c->reg.dev[i].issued;
    *out = c->reg.dev[i].outcomes;
    return c->reg.dev[i].id;
}

json_t *control_devices_json(control_t *c) {
    json_t *a = json_array();
    for (size_t i = 0; i < c->reg.n; i++)
        json_array_append_new(a, device_summary(c, &c->reg.dev[i]));
    return a;
}

json_t *control_device_json(control_t *c, const char *device_id) {
    control_device *d = control_registry_find(&c->reg, device_id);
    if (!d) return NULL;
    json_t *o = device_summary(c, d);
    json_t *recent = json_array();
    for (size_t i = d->history.len; i-- > 0;) /* newest first */
        json_array_append_new(recent, control_command_to_json(d->history.v[i]));
    json_object_set_new(o, "recent", recent);
    return o;
}

json_t *control_command_json(control_t *c, const char *command_id) {
    control_command *cmd;
    if (!command_id || !device_of_command(c, command_id, &cmd)) return NULL;
    return control_command_to_json(cmd);
}

json_t *control_stats_json(control_t *c) {
    uint64_t dropped = control_handover_dropped(&c->core);
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "issued", (json_int_t)c->issued, "bad_requests",
        (json_int_t)c->bad_requests, "unknown_reports", (json_int_t)c->unknown_reports,
        "foreign_reports", (json_int_t)c->foreign_reports, "stale_reports",
        (json_int_t)c->stale_reports, "malformed_unknown_device",
        (json_int_t)c->malformed_unknown_device, "telemetry_dropped", (json_int_t)dropped);
    json_t *devs = json_object();
    for (size_t i = 0; i < c->reg.n; i++) {
        control_device *d = &c->reg.dev[i];
        json_object_set_new(devs, d->id,
                            json_pack("{s:I, s:I, s:I}", "issued", (json_int_t)d->issued,
                                      "malformed", (json_int_t)d->malformed, "telemetry",
                                      (json_int_t)d->telemetry_count));
    }
    json_object_set_new(o, "devices", devs);
    json_t *tr = json_object();
    for (size_t i = 0; i < c->np; i++) {
        if (!c->pstate[i]) continue;
        json_t *s = c->plugins[i]->status ? c->plugins[i]->status(c->pstate[i]) : NULL;
        json_object_set_new(tr, c->plugins[i]->name, s ? s : json_object());
    }
    json_object_set_new(o, "transports", tr);
    return o;
}

size_t control_unfinished_count(const control_t *c) {
    size_t n = 0;
    for (size_t i = 0; c && i < c->reg.n; i++)
        for (size_t k = 0; k < c->reg.dev[i].history.len; k++)
            n += !control_status_is_terminal(c->reg.dev[i].history.v[k]->status);
    return n;
}

void *control_plugin_state(const control_t *c, const char *name) {
    for (size_t i = 0; i < c->np; i++)
        if (!strcmp(c->plugins[i]->name, name)) return c->pstate[i];
    return NULL;
}

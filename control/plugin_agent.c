/* plugin_agent.c -- the "agent" transport: devices served by a vigil-agent
 * connected to the server's WebSocket (control/agent.h).
 *
 * Device config: {"id":"door", "transport":"agent", "commands":{...}}; no
 * transport settings and no config section. A command goes to the
 * connection attached to its device as
 *   {"type":"device.command","device","command_id","name","params","timeout_ms"}
 * and the agent's answer comes back through control_agent_answer().
 *
 * Thread: the owner thread only. The plugin is called by the core (send,
 * cancel, status) and by the application (control/agent.h), both there, so
 * nothing here is locked; its reports still go through the core's handover
 * like every plugin's, and come out at the next control_poll().
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/agent.h"
#include "control/control_internal.h"

typedef struct agent_device {
    char id[CONTROL_ID_MAX];
    control_agent_link link; /* link.user NULL: no connection attached */
} agent_device;

/* A command sent to an agent and not answered yet. */
typedef struct agent_command {
    char id[CONTROL_ID_MAX];
    agent_device *dev;
} agent_command;

typedef struct agent_plugin {
    const control_callbacks *cb;
    control_core *core;
    agent_device *dev;
    size_t ndev;
    agent_command *inflight;
    size_t ninflight, capinflight;
    uint64_t sent, delivered, answered, refused_answers, attaches, replaced;
} agent_plugin;

static agent_device *find_device(agent_plugin *p, const char *id) {
    for (size_t i = 0; id && i < p->ndev; i++)
        if (!strcmp(p->dev[i].id, id)) return &p->dev[i];
    return NULL;
}

static agent_command *find_inflight(agent_plugin *p, const char *command_id) {
    for (size_t i = 0; command_id && i < p->ninflight; i++)
        if (!strcmp(p->inflight[i].id, command_id)) return &p->inflight[i];
    return NULL;
}

static void forget(agent_plugin *p, agent_command *cmd) {
    *cmd = p->inflight[--p->ninflight];
}

static void report_state(agent_plugin *p, const agent_device *d, bool online, const char *reason) {
    json_t *st = json_pack("{s:b}", "online", online);
    if (st && reason) json_object_set_new(st, "reason", json_string(reason));
    if (st) p->cb->device_state(p->core, d->id, st);
}

/* Every unanswered command of d fails: its agent is gone. */
static void fail_inflight(agent_plugin *p, const agent_device *d, const char *why) {
    for (size_t i = p->ninflight; i-- > 0;)
        if (p->inflight[i].dev == d) {
            p->cb->command_status(p->core, d->id, p->inflight[i].id, CONTROL_FAILED, 0, why, NULL);
            forget(p, &p->inflight[i]);
        }
}

static void *agent_init(const control_callbacks *cb, control_core *core, const json_t *section,
                        const json_t *devices, char *err, size_t errlen) {
    (void)section;
    agent_plugin *p = calloc(1, sizeof *p);
    if (p) p->dev = calloc(json_array_size(devices), sizeof *p->dev);
    if (!p || !p->dev) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cb = cb;
    p->core = core;
    size_t i;
    json_t *d;
    json_array_foreach(devices, i, d) {
        control_strlcpy(p->dev[i].id, json_string_value(json_object_get(d, "id")),
                        sizeof p->dev[i].id);
        report_state(p, &p->dev[i], false, "agent not connected");
    }
    p->ndev = json_array_size(devices);
    /* The transport is vigil's own WebSocket: up as long as vigil is. */
    cb->transport_state(core, "agent", 1, "agents connect to /ws");
    return p;
}

static int agent_send(void *state, const control_send *cmd, char *err, size_t errlen) {
    agent_plugin *p = state;
    agent_device *d = find_device(p, cmd->device_id);
    if (!d || !d->link.user) {
        snprintf(err, errlen, "device '%s': its agent is not connected", cmd->device_id);
        return -1;
    }
    if (p->ninflight == p->capinflight) {
        size_t cap = p->capinflight ? 2 * p->capinflight : 16;
        agent_command *v = realloc(p->inflight, cap * sizeof *v);
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        p->inflight = v;
        p->capinflight = cap;
    }
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:O, s:i}", "type", "device.command", "device",
                            d->id, "command_id", cmd->command_id, "name", cmd->name, "params",
                            (json_t *)cmd->params, "timeout_ms", cmd->timeout_ms);
    int r = msg ? d->link.send(d->link.user, msg, cmd->command_id) : -1;
    json_decref(msg);
    if (r < 0) {
        snprintf(err, errlen, "device '%s': its agent's connection is closing", d->id);
        return -1;
    }
    agent_command *c = &p->inflight[p->ninflight++];
    control_strlcpy(c->id, cmd->command_id, sizeof c->id);
    c->dev = d;
    p->sent++;
    p->cb->command_status(p->core, d->id, cmd->command_id, CONTROL_SENT, 0, NULL, NULL);
    return 0;
}

static void agent_cancel(void *state, const char *command_id) {
    agent_plugin *p = state;
    agent_command *c = find_inflight(p, command_id);
    if (c) forget(p, c);
}

static json_t *agent_status(void *state) {
    agent_plugin *p = state;
    json_int_t attached = 0;
    for (size_t i = 0; i < p->ndev; i++)
        attached += p->dev[i].link.user != NULL;
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connected", 1,
                     "devices_attached", attached, "in_flight", (json_int_t)p->ninflight, "sent",
                     (json_int_t)p->sent, "delivered", (json_int_t)p->delivered, "answered",
                     (json_int_t)p->answered, "refused_answers", (json_int_t)p->refused_answers,
                     "attaches", (json_int_t)p->attaches, "replaced", (json_int_t)p->replaced);
}

static void agent_shutdown(void *state) {
    agent_plugin *p = state;
    free(p->inflight);
    free(p->dev);
    free(p);
}

const control_plugin control_plugin_agent = {
    .api_version = CONTROL_API_VERSION,
    .name = "agent",
    .check_device = NULL,
    .init = agent_init,
    .send = agent_send,
    .cancel = agent_cancel,
    .status = agent_status,
    .shutdown = agent_shutdown,
};

/* ---- control/agent.h: what the application reports ------------------- */

static agent_plugin *plugin_of(const control_t *c) {
    return c ? control_plugin_state(c, "agent") : NULL;
}

int control_agent_attach(control_t *c, const char *device_id, const control_agent_link *link,
                         char *err, size_t errlen) {
    agent_plugin *p = plugin_of(c);
    agent_device *d = p ? find_device(p, device_id) : NULL;
    if (!d) {
        snprintf(err, errlen, "no device '%s' is served by an agent", device_id ? device_id : "");
        return -1;
    }
    int replaced = 0;
    if (d->link.user && d->link.user != link->user) {
        fail_inflight(p, d, "the agent connected again (the old connection's commands are lost)");
        p->replaced++;
        replaced = 1;
    }
    d->link = *link;
    p->attaches++;
    report_state(p, d, true, NULL);
    return replaced;
}

void control_agent_detach(control_t *c, const char *device_id, void *user, const char *reason) {
    agent_plugin *p = plugin_of(c);
    agent_device *d = p ? find_device(p, device_id) : NULL;
    if (!d || !user || d->link.user != user) return;
    char why[CONTROL_ERR_MAX];
    snprintf(why, sizeof why, "the agent disconnected before answering (%s)", reason);
    fail_inflight(p, d, why);
    memset(&d->link, 0, sizeof d->link);
    report_state(p, d, false, reason);
}

void control_agent_delivered(control_t *c, const char *command_id) {
    agent_plugin *p = plugin_of(c);
    agent_command *cmd = p ? find_inflight(p, command_id) : NULL;
    if (!cmd) return; /* answered, failed or timed out meanwhile */
    p->delivered++;
    p->cb->command_status(p->core, cmd->dev->id, cmd->id, CONTROL_DELIVERED, 0, NULL, NULL);
}

int control_agent_answer(control_t *c, void *user, const char *command_id, control_status status,
                         int code, const char *error, json_t *result, char *err, size_t errlen) {
    agent_plugin *p = plugin_of(c);
    agent_command *cmd = p ? find_inflight(p, command_id) : NULL;
    if (!cmd || cmd->dev->link.user != user) {
        if (p) p->refused_answers++;
        json_decref(result);
        snprintf(err, errlen, "no command '%s' is waiting for an answer from this connection",
                 command_id ? command_id : "");
        return -1;
    }
    p->answered++;
    p->cb->command_status(p->core, cmd->dev->id, cmd->id, status, code, error, result);
    forget(p, cmd);
    return 0;
}

int control_agent_report(control_t *c, void *user, const char *device_id, json_t *telemetry,
                         json_t *state, char *err, size_t errlen) {
    agent_plugin *p = plugin_of(c);
    agent_device *d = p ? find_device(p, device_id) : NULL;
    if (!d || !user || d->link.user != user) {
        json_decref(telemetry);
        json_decref(state);
        snprintf(err, errlen, "this connection does not serve device '%s'",
                 device_id ? device_id : "");
        return -1;
    }
    if (telemetry) p->cb->telemetry(p->core, d->id, telemetry);
    if (state) {
        /* The agent's own state, with what vigil knows: it is connected. */
        json_object_set_new(state, "online", json_true());
        p->cb->device_state(p->core, d->id, state);
    }
    return 0;
}

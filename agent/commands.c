/* commands.c -- device commands and telemetry on the agent (commands.h). */
#include "agent/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/handler.h"
#include "agent/telemetry_pipe.h"
#include "common/handoff.h"
#include "common/log.h"

#define TELEMETRY_TAG "telemetry" /* the tag of telemetry runs: never a command id */
#define TIMEOUT_MARGIN_MS 250     /* answer "timeout" before vigil gives up */

/* A finished run, handed from its watcher thread to the service thread. */
typedef struct finished {
    vg_handoff_node node; /* first: the hand-off links through it */
    ag_handler_result *r;
} finished;

struct ag_commands {
    const ag_config *cfg;  /* borrowed, read-only */
    ag_runner *runner;
    ag_telemetry_pipe *pipe; /* telemetry lines from a FIFO, or NULL */
    vg_handoff done;       /* of finished: watcher threads post, service thread takes */
    json_t *telemetry;     /* the newest reading not sent yet (service thread) */
    bool telemetry_running;
    int64_t telemetry_due_ms;
    uint64_t handled, acknowledged, rejected, timed_out;
};

static void on_done(void *user, ag_handler_result *r) {
    ag_commands *c = user;
    finished *f = calloc(1, sizeof *f);
    if (!f) { /* nothing to tell vigil with: it times the command out */
        ag_handler_result_free(r);
        return;
    }
    f->r = r;
    vg_handoff_post(&c->done, &f->node, false, true);
}

/* (the pipe's reader thread) One telemetry object, handed over like a
 * telemetry handler's result. */
static void on_pipe_line(void *user, json_t *obj) {
    ag_handler_result *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(obj);
        return;
    }
    snprintf(r->tag, sizeof r->tag, "%s", TELEMETRY_TAG);
    r->outcome = AG_HANDLER_OK;
    r->result = obj;
    on_done(user, r);
}

ag_commands *ag_commands_new(const ag_config *cfg, void (*wake)(void *), void *wake_user,
                             char *err, size_t errlen) {
    ag_commands *c = calloc(1, sizeof *c);
    if (!c || vg_handoff_init(&c->done, 1024, wake, wake_user)) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->runner = ag_runner_new(cfg->max_running ? cfg->max_running : 4, on_done, c);
    if (!c->runner) {
        vg_handoff_destroy(&c->done);
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (cfg->telemetry_fifo &&
        !(c->pipe = ag_telemetry_pipe_start(cfg->telemetry_fifo, on_pipe_line, c, err, errlen))) {
        ag_commands_free(c);
        return NULL;
    }
    return c;
}

static json_t *result_msg(const char *command_id, const char *status, const char *error) {
    json_t *m = json_pack("{s:s, s:s, s:s}", "type", "result", "command_id", command_id, "status",
                          status);
    if (m && error) json_object_set_new(m, "error", json_string(error));
    return m;
}

static void answer_now(ag_commands *c, const char *command_id, const char *error, ag_send_fn send,
                       void *user) {
    c->rejected++;
    vg_log(VG_LOG_WARN, "command %s rejected: %s", command_id, error);
    json_t *m = result_msg(command_id, "rejected", error);
    if (m) send(user, m);
}

void ag_commands_on_command(ag_commands *c, const json_t *msg, ag_send_fn send, void *user) {
    const char *cid = json_string_value(json_object_get(msg, "command_id"));
    const char *name = json_string_value(json_object_get(msg, "name"));
    const char *device = json_string_value(json_object_get(msg, "device"));
    if (!cid || !name || strlen(cid) >= sizeof(((ag_handler_result *)0)->tag)) {
        vg_log(VG_LOG_WARN, "vigil sent a device.command without command_id or name: ignored");
        return;
    }
    c->handled++;
    const ag_handler_config *h = ag_config_command(c->cfg, name);
    if (!h || !device || !c->cfg->device_id || strcmp(device, c->cfg->device_id)) {
        char e[200];
        snprintf(e, sizeof e, "this agent has no handler for '%.64s' on device '%.64s'", name,
                 device ? device : "");
        answer_now(c, cid, e, send, user);
        return;
    }
    unsigned limit = h->timeout_ms;
    json_int_t cmd_ms = json_integer_value(json_object_get(msg, "timeout_ms"));
    if (cmd_ms > 0) {
        json_int_t room = cmd_ms > 2 * TIMEOUT_MARGIN_MS ? cmd_ms - TIMEOUT_MARGIN_MS : cmd_ms / 2;
        if (room < (json_int_t)limit) limit = (unsigned)(room > 0 ? room : 1);
    }
    json_t *params = json_object_get(msg, "params");
    json_t *input = json_pack("{s:s, s:o, s:s, s:s}", "command", name, "params",
                              params ? json_incref(params) : json_object(), "device", device,
                              "command_id", cid);
    char err[160] = "";
    int r = input ? ag_runner_start(c->runner, (const char *const *)h->argv, input, limit, cid, err,
                                    sizeof err)
                  : -1;
    json_decref(input);
    if (r < 0) answer_now(c, cid, err[0] ? err : "out of memory", send, user);
}

/* A command run's outcome as a `result`. */
static json_t *command_outcome(ag_commands *c, ag_handler_result *r) {
    json_t *m;
    switch (r->outcome) {
    case AG_HANDLER_OK:
        c->acknowledged++;
        m = result_msg(r->tag, "acknowledged", NULL);
        if (m) json_object_set(m, "result", r->result);
        break;
    case AG_HANDLER_TIMEOUT:
        c->timed_out++;
        m = result_msg(r->tag, "timeout", r->error);
        break;
    default:
        c->rejected++;
        m = result_msg(r->tag, "rejected", r->error);
        if (m && r->exit_code > 0) json_object_set_new(m, "code", json_integer(r->exit_code));
        break;
    }
    vg_log(VG_LOG_INFO, "command %s: %s after %ld ms%s%s", r->tag,
           r->outcome == AG_HANDLER_OK        ? "acknowledged"
           : r->outcome == AG_HANDLER_TIMEOUT ? "timeout"
                                              : "rejected",
           r->elapsed_ms, r->outcome == AG_HANDLER_OK ? "" : ": ", r->error);
    return m;
}

/* The reading waiting to go, as a `report`. */
static void send_telemetry(ag_commands *c, ag_send_fn send, void *user) {
    if (!c->telemetry || !c->cfg->device_id) return;
    json_t *m = json_pack("{s:s, s:s, s:O}", "type", "report", "device", c->cfg->device_id,
                          "telemetry", c->telemetry);
    if (m) send(user, m);
    json_decref(c->telemetry);
    c->telemetry = NULL;
}

void ag_commands_flush(ag_commands *c, ag_send_fn send, void *user) {
    vg_handoff_node *n = vg_handoff_take_all(&c->done);
    while (n) {
        finished *f = (finished *)n;
        n = n->next;
        ag_handler_result *r = f->r;
        if (!strcmp(r->tag, TELEMETRY_TAG)) {
            c->telemetry_running = false;
            if (r->outcome == AG_HANDLER_OK) {
                /* Connected: every reading goes (a pipe's lines each count);
                 * not: the newest waits. */
                if (send) send_telemetry(c, send, user);
                json_decref(c->telemetry);
                c->telemetry = json_incref(r->result);
                if (send) send_telemetry(c, send, user);
            } else {
                vg_log(VG_LOG_WARN, "telemetry handler: %s", r->error);
            }
        } else if (send) {
            json_t *m = command_outcome(c, r);
            if (m) send(user, m);
        } else {
            vg_log(VG_LOG_WARN, "command %s finished while vigil was unreachable: its outcome is "
                   "lost (vigil has failed it)", r->tag);
        }
        ag_handler_result_free(r);
        free(f);
    }
    if (send) send_telemetry(c, send, user);
}

int32_t ag_commands_tick(ag_commands *c, int64_t now_ms) {
    const ag_config *cfg = c->cfg;
    if (!cfg->telemetry.argv || !cfg->device_id) return INT32_MAX;
    if (now_ms < c->telemetry_due_ms) return (int32_t)(c->telemetry_due_ms - now_ms);
    c->telemetry_due_ms = now_ms + (int64_t)cfg->telemetry_interval_s * 1000;
    if (!c->telemetry_running) {
        json_t *input = json_pack("{s:s}", "device", cfg->device_id);
        char err[160];
        if (input && ag_runner_start(c->runner, (const char *const *)cfg->telemetry.argv, input,
                                     cfg->telemetry.timeout_ms, TELEMETRY_TAG, err,
                                     sizeof err) == 0)
            c->telemetry_running = true;
        else
            vg_log(VG_LOG_WARN, "telemetry handler not started: %s", input ? err : "no memory");
        json_decref(input);
    }
    return (int32_t)cfg->telemetry_interval_s * 1000;
}

void ag_commands_counts(const ag_commands *c, uint64_t out[4]) {
    out[0] = c->handled;
    out[1] = c->acknowledged;
    out[2] = c->rejected;
    out[3] = c->timed_out;
}

void ag_commands_free(ag_commands *c) {
    if (!c) return;
    ag_telemetry_pipe_stop(c->pipe);
    ag_runner_free(c->runner); /* every callback has come */
    ag_commands_flush(c, NULL, NULL);
    json_decref(c->telemetry);
    vg_handoff_destroy(&c->done);
    free(c);
}

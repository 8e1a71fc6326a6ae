/* command_track.c -- the life of one command and the bounded per-device
 * history of the last N commands.
 *
 *   queued -> sent -> delivered -> acknowledged | rejected | failed | timeout
 *
 * Statuses only move forward (rank order); a step may be skipped; the four
 * terminal statuses are final, so a late or duplicated report is ignored.
 * Owned by the owner thread; no locking here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/control_internal.h"

static const char *const status_names[] = {
    "queued", "sent", "delivered", "acknowledged", "rejected", "failed", "timeout",
};

const char *control_status_name(control_status s) {
    if ((int)s < 0 || (size_t)s >= sizeof status_names / sizeof status_names[0]) return NULL;
    return status_names[s];
}

int control_status_is_terminal(control_status s) {
    return s >= CONTROL_ACKNOWLEDGED && s <= CONTROL_TIMEOUT;
}

int control_status_can_move(control_status from, control_status to) {
    if (!control_status_name(from) || !control_status_name(to)) return 0;
    if (control_status_is_terminal(from)) return 0;
    return to > from;
}

int64_t control_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void control_strlcpy(char *dst, const char *src, size_t n) {
    if (!n) return;
    size_t l = src ? strlen(src) : 0;
    if (l >= n) l = n - 1;
    if (l) memcpy(dst, src, l);
    dst[l] = '\0';
}

int control_id_is_valid(const char *s) {
    if (!s || !*s || strlen(s) >= CONTROL_ID_MAX) return 0;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return 0;
    }
    return 1;
}

static void timeline_add(control_command *cmd, control_status s, int64_t now_ms) {
    json_array_append_new(cmd->timeline,
                          json_pack("{s:s, s:I}", "status", control_status_name(s), "at_ms",
                                    (json_int_t)(now_ms - cmd->created_ms)));
}

control_command *control_command_new(const char *id, const char *device, const char *name,
                                     const json_t *params, const json_t *options, int64_t now_ms,
                                     int timeout_ms) {
    control_command *cmd = calloc(1, sizeof *cmd);
    if (!cmd) return NULL;
    control_strlcpy(cmd->id, id, sizeof cmd->id);
    control_strlcpy(cmd->device, device, sizeof cmd->device);
    cmd->name = strdup(name ? name : "");
    cmd->params = params && json_is_object(params) ? json_deep_copy(params) : json_object();
    cmd->options = options && json_is_object(options) ? json_deep_copy(options) : NULL;
    cmd->timeline = json_array();
    if (!cmd->name || !cmd->params || !cmd->timeline) {
        control_command_free(cmd);
        return NULL;
    }
    cmd->status = CONTROL_QUEUED;
    cmd->created_ms = cmd->updated_ms = now_ms;
    cmd->deadline_ms = now_ms + (timeout_ms > 0 ? timeout_ms : CONTROL_DEFAULT_TIMEOUT_MS);
    timeline_add(cmd, CONTROL_QUEUED, now_ms);
    return cmd;
}

void control_command_free(control_command *cmd) {
    if (!cmd) return;
    free(cmd->name);
    free(cmd->error);
    json_decref(cmd->params);
    json_decref(cmd->options);
    json_decref(cmd->result);
    json_decref(cmd->timeline);
    free(cmd);
}

int control_command_move(control_command *cmd, control_status to, int code, const char *detail,
                         json_t *result, int64_t now_ms) {
    if (!control_status_can_move(cmd->status, to)) {
        json_decref(result);
        return 0;
    }
    cmd->status = to;
    cmd->updated_ms = now_ms;
    if (code) cmd->code = code;
    if (detail) {
        free(cmd->error);
        cmd->error = strdup(detail);
    }
    if (result) {
        json_decref(cmd->result);
        cmd->result = result;
    }
    timeline_add(cmd, to, now_ms);
    return 1;
}

const double control_latency_bounds_s[CONTROL_LATENCY_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5,
                                                                  1,    2.5,  5,   10};

void control_outcomes_add(control_outcomes *o, const control_command *cmd) {
    if (!control_status_is_terminal(cmd->status)) return;
    o->by_status[cmd->status]++;
    double s = (double)(cmd->updated_ms - cmd->created_ms) / 1000.0;
    if (s < 0) s = 0;
    o->latency_count++;
    o->latency_sum_s += s;
    for (int i = 0; i < CONTROL_LATENCY_BUCKETS; i++)
        if (s <= control_latency_bounds_s[i]) {
            o->latency_in[i]++;
            break;
        }
}

json_t *control_command_to_json(const control_command *cmd) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:s, s:O}", "id", cmd->id, "device", cmd->device,
                          "command", cmd->name, "params", cmd->params, "status",
                          control_status_name(cmd->status), "timeline", cmd->timeline);
    if (!o) return NULL;
    if (cmd->options) json_object_set(o, "options", cmd->options);
    if (cmd->code) json_object_set_new(o, "code", json_integer(cmd->code));
    if (cmd->error) json_object_set_new(o, "error", json_string(cmd->error));
    if (cmd->result) json_object_set(o, "result", cmd->result);
    return o;
}

int control_history_init(control_history *h, size_t cap) {
    h->len = 0;
    h->cap = cap ? cap : CONTROL_DEFAULT_HISTORY;
    h->v = calloc(h->cap, sizeof *h->v);
    return h->v ? 0 : -1;
}

int control_history_push(control_history *h, control_command *cmd) {
    if (h->len == h->cap) {
        size_t i;
        for (i = 0; i < h->len; i++)
            if (control_status_is_terminal(h->v[i]->status)) break;
        if (i == h->len) return -1; /* all in flight: refuse, keep the bound */
        control_command_free(h->v[i]);
        memmove(&h->v[i], &h->v[i + 1], (h->len - i - 1) * sizeof *h->v);
        h->len--;
    }
    h->v[h->len++] = cmd;
    return 0;
}

control_command *control_history_find(const control_history *h, const char *id) {
    for (size_t i = 0; i < h->len; i++)
        if (strcmp(h->v[i]->id, id) == 0) return h->v[i];
    return NULL;
}

void control_history_clear(control_history *h) {
    for (size_t i = 0; i < h->len; i++)
        control_command_free(h->v[i]);
    free(h->v);
    h->v = NULL;
    h->len = h->cap = 0;
}

/* dispatch.c -- parses and validates vigil.v1 requests from a table, and
 * reports every error in one place (see signaling.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server/server.h"
#include "signaling/signaling.h"

typedef enum field_type {
    FIELD_STRING,  /* non-empty string, at most 256 bytes */
    FIELD_CHANNEL, /* integer from 1 to 2^32-1 */
    FIELD_INTEGER, /* integer from min to max */
    FIELD_BOOL,
    FIELD_OBJECT,
    FIELD_NAMES, /* array of 1 to 16 strings, each 1 to 16 bytes (codec families) */
    FIELD_IDS,   /* array of 1 to 64 strings, each 1 to 63 bytes (device ids) */
} field_type;

typedef struct field_spec {
    const char *name;
    field_type type;
    bool required;
    json_int_t min, max; /* FIELD_INTEGER */
} field_spec;

typedef struct request_spec {
    const char *type;
    void (*handle)(vg_session *s, json_t *msg, json_t *id);
    field_spec fields[7];
} request_spec;

#define REQUIRED(n, t)                                                                             \
    { .name = n, .type = t, .required = true }
#define OPTIONAL(n, t)                                                                             \
    { .name = n, .type = t }
#define INT_RANGE(n, lo, hi)                                                                       \
    { .name = n, .type = FIELD_INTEGER, .min = lo, .max = hi }

static const request_spec requests[] = {
    {"hello", vg_handle_hello, {OPTIONAL("token", FIELD_STRING)}},
    {"list", vg_handle_list, {{0}}},
    {"subscribe",
     vg_handle_subscribe,
     {REQUIRED("stream", FIELD_STRING), OPTIONAL("mode", FIELD_STRING),
      OPTIONAL("accept", FIELD_NAMES), OPTIONAL("variant", FIELD_STRING)}},
    {"unsubscribe", vg_handle_unsubscribe, {REQUIRED("channel", FIELD_CHANNEL)}},
    {"stats", vg_handle_stats, {{0}}},
    {"devices", vg_handle_devices, {OPTIONAL("watch", FIELD_BOOL)}},
    {"command",
     vg_handle_command,
     {REQUIRED("device", FIELD_STRING), REQUIRED("name", FIELD_STRING),
      OPTIONAL("params", FIELD_OBJECT), INT_RANGE("qos", 0, 2), OPTIONAL("confirmable", FIELD_BOOL),
      INT_RANGE("timeout_ms", 1, 600000)}},
    {"publish",
     vg_handle_publish,
     {REQUIRED("stream", FIELD_STRING), REQUIRED("video", FIELD_OBJECT),
      OPTIONAL("audio", FIELD_OBJECT)}},
    {"unpublish", vg_handle_unpublish, {REQUIRED("channel", FIELD_CHANNEL)}},
    /* from vigil-agents (role device) */
    {"serve", vg_handle_serve, {REQUIRED("devices", FIELD_IDS)}},
    {"result",
     vg_handle_result,
     {REQUIRED("command_id", FIELD_STRING), REQUIRED("status", FIELD_STRING),
      OPTIONAL("result", FIELD_OBJECT), INT_RANGE("code", -1000000, 1000000)}},
    {"report",
     vg_handle_report,
     {REQUIRED("device", FIELD_STRING), OPTIONAL("telemetry", FIELD_OBJECT),
      OPTIONAL("state", FIELD_OBJECT)}},
};

json_t *vg_signaling_reply(const char *type, json_t *id) {
    json_t *r = json_pack("{s:s}", "type", type);
    if (r && id) json_object_set(r, "id", id);
    return r;
}

void vg_signaling_error(vg_session *s, json_t *id, const char *code, const char *field,
                        const char *fmt, ...) {
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    s->errors++;
    if (s->server) s->server->errors_total++;
    json_t *e = vg_signaling_reply("error", id);
    if (!e) return;
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", json_string(message));
    if (field) json_object_set_new(e, "field", json_string(field));
    vg_session_send_json(s, e);
}

/* An array of 1 to max_n strings of 1 to max_len bytes. */
static bool names_ok(json_t *v, size_t max_n, size_t max_len) {
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n < 1 || n > max_n) return false;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || !json_string_length(e) || json_string_length(e) > max_len)
            return false;
    }
    return true;
}

static bool usable_id(json_t *id) {
    return json_is_integer(id) || (json_is_string(id) && json_string_length(id) <= 64);
}

static bool check_field(vg_session *s, json_t *msg, json_t *id, const field_spec *f) {
    json_t *v = json_object_get(msg, f->name);
    if (!v) {
        if (!f->required) return true;
        vg_signaling_error(s, id, "bad_field", f->name, "missing field '%s'", f->name);
        return false;
    }
    switch (f->type) {
    case FIELD_STRING:
        if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 256)
            return true;
        vg_signaling_error(s, id, "bad_field", f->name, "field '%s' must be a non-empty string",
                           f->name);
        return false;
    case FIELD_CHANNEL:
        if (json_is_integer(v) && json_integer_value(v) >= 1 &&
            json_integer_value(v) <= (json_int_t)UINT32_MAX)
            return true;
        vg_signaling_error(s, id, "bad_field", f->name, "field '%s' must be a positive integer",
                           f->name);
        return false;
    case FIELD_INTEGER:
        if (json_is_integer(v) && json_integer_value(v) >= f->min &&
            json_integer_value(v) <= f->max)
            return true;
        vg_signaling_error(s, id, "bad_field", f->name,
                           "field '%s' must be an integer from %" JSON_INTEGER_FORMAT
                           " to %" JSON_INTEGER_FORMAT,
                           f->name, f->min, f->max);
        return false;
    case FIELD_BOOL:
        if (json_is_boolean(v)) return true;
        vg_signaling_error(s, id, "bad_field", f->name, "field '%s' must be true or false",
                           f->name);
        return false;
    case FIELD_OBJECT:
        if (json_is_object(v)) return true;
        vg_signaling_error(s, id, "bad_field", f->name, "field '%s' must be an object", f->name);
        return false;
    case FIELD_NAMES:
        if (names_ok(v, 16, 16)) return true;
        vg_signaling_error(s, id, "bad_field", f->name,
                           "field '%s' must be an array of 1 to 16 short strings", f->name);
        return false;
    case FIELD_IDS:
        if (names_ok(v, 64, 63)) return true;
        vg_signaling_error(s, id, "bad_field", f->name,
                           "field '%s' must be an array of 1 to 64 ids (1 to 63 bytes)", f->name);
        return false;
    }
    return false;
}

/* Counts one incoming message against the connection's rate; false when it
 * is over (the client got rate_limited). A client sending at more than twice
 * its rate for a second is closed with 1008. */
bool vg_signaling_admit(vg_session *s) {
    int64_t now = vg_server_now_us();
    if (vg_rate_limit_take(&s->msg_rate, now)) return true;
    if (now - s->flood_window_us > 1000000) {
        s->flood_window_us = now;
        s->flood_rejected = 0;
    }
    if (++s->flood_rejected > s->server->config->messages_per_s) {
        s->server->flood_closed_total++;
        vg_session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "flooding");
        return false;
    }
    s->server->rate_limited_total++;
    vg_signaling_error(s, NULL, "rate_limited", NULL, "more than %u messages per second",
                       s->server->config->messages_per_s);
    return false;
}

void vg_signaling_handle(vg_session *s, const char *text, size_t len) {
    if (!vg_signaling_admit(s)) return;
    json_error_t je;
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!msg) {
        vg_signaling_error(s, NULL, "bad_json", NULL, "invalid JSON at %d:%d: %s", je.line,
                           je.column, je.text);
        return;
    }
    if (!json_is_object(msg)) {
        vg_signaling_error(s, NULL, "bad_message", NULL, "a message must be a JSON object");
        goto out;
    }
    json_t *id = json_object_get(msg, "id");
    if (id && !usable_id(id)) {
        vg_signaling_error(s, NULL, "bad_field", "id",
                           "field 'id' must be a number or a string of at most 64 characters");
        goto out;
    }
    json_t *type = json_object_get(msg, "type");
    if (!json_is_string(type)) {
        vg_signaling_error(s, id, "bad_message", "type", "a message needs a string 'type'");
        goto out;
    }
    const request_spec *req = NULL;
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
        if (!strcmp(requests[i].type, json_string_value(type))) req = &requests[i];
    if (!req) {
        vg_signaling_error(s, id, "unknown_type", "type", "unknown message type '%.64s'",
                           json_string_value(type));
        goto out;
    }
    if (s->access.role == VG_ROLE_NONE && req->handle != vg_handle_hello) {
        vg_signaling_error(s, id, "hello_required", NULL,
                           "send hello (with a token) before '%.64s'", json_string_value(type));
        goto out;
    }
    for (const field_spec *f = req->fields; f->name; f++)
        if (!check_field(s, msg, id, f)) goto out;
    req->handle(s, msg, id);
out:
    json_decref(msg);
}

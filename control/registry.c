/* registry.c -- loads the devices declared in the config.
 *
 *   "devices": [{"id":"cam1", "name":"Front door", "transport":"mqtt",
 *                "stream":"cam1", "timeout_ms":5000,
 *                "mqtt": {...transport settings...},
 *                "commands": {"light": {"on": {"type":"bool"}}, ...}}]
 *
 * Every error names the device (by id or index) and the field.  The
 * transport's own settings are checked by its plugin's check_device.
 * Owned by the owner thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"

/* "clip_on" is the server's (server/clip_rules.h): control/ lets it be. */
static const char *const device_keys[] = {
    "id", "name", "transport", "stream", "commands", "timeout_ms", "clip_on",
};

static int key_allowed(const char *key, const control_plugin *const *plugins, size_t np) {
    for (size_t i = 0; i < sizeof device_keys / sizeof device_keys[0]; i++)
        if (strcmp(key, device_keys[i]) == 0) return 1;
    for (size_t i = 0; i < np; i++)
        if (strcmp(key, plugins[i]->name) == 0) return 1;
    return 0;
}

static int load_one(control_device *d, const json_t *o, size_t index,
                    const control_plugin *const *plugins, size_t np, size_t history, int timeout_ms,
                    char *err, size_t errlen) {
    char e[CONTROL_ERR_MAX];
    if (!json_is_object(o)) {
        snprintf(err, errlen, "devices[%zu]: must be an object", index);
        return -1;
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!id) {
        snprintf(err, errlen, "devices[%zu]: missing \"id\"", index);
        return -1;
    }
    if (!control_id_is_valid(id)) {
        snprintf(err, errlen, "devices[%zu]: \"id\" '%s' must be 1-63 of A-Z a-z 0-9 _ - .", index,
                 id);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        if (!key_allowed(key, plugins, np)) {
            snprintf(err, errlen, "device '%s': unknown field \"%s\"", id, key);
            return -1;
        }
    }
    json_t *name = json_object_get(o, "name");
    if (name && !json_is_string(name)) {
        snprintf(err, errlen, "device '%s': \"name\" must be a string", id);
        return -1;
    }
    json_t *stream = json_object_get(o, "stream");
    if (stream && !json_is_string(stream) && !json_is_null(stream)) {
        snprintf(err, errlen, "device '%s': \"stream\" must be a string or null", id);
        return -1;
    }
    const char *transport = json_string_value(json_object_get(o, "transport"));
    if (!transport) {
        snprintf(err, errlen, "device '%s': missing \"transport\"", id);
        return -1;
    }
    int pi = -1;
    for (size_t i = 0; i < np; i++)
        if (strcmp(plugins[i]->name, transport) == 0) pi = (int)i;
    if (pi < 0) {
        snprintf(err, errlen, "device '%s': unknown transport '%s'", id, transport);
        return -1;
    }
    json_t *to = json_object_get(o, "timeout_ms");
    if (to &&
        (!json_is_integer(to) || json_integer_value(to) < 1 || json_integer_value(to) > 600000)) {
        snprintf(err, errlen, "device '%s': \"timeout_ms\" must be an integer between 1 and 600000",
                 id);
        return -1;
    }
    if (control_schema_check(json_object_get(o, "commands"), e, sizeof e) < 0) {
        snprintf(err, errlen, "device '%s': %s", id, e);
        return -1;
    }
    if (plugins[pi]->check_device && plugins[pi]->check_device(o, e, sizeof e) < 0) {
        snprintf(err, errlen, "device '%s': %s: %s", id, transport, e);
        return -1;
    }
    memset(d, 0, sizeof *d);
    control_strlcpy(d->id, id, sizeof d->id);
    d->config = json_incref((json_t *)o);
    d->name = name ? json_string_value(name) : d->id;
    d->transport = transport;
    d->stream = stream ? json_string_value(stream) : NULL;
    d->commands = json_object_get(o, "commands");
    d->plugin = pi;
    d->timeout_ms = to ? (int)json_integer_value(to) : timeout_ms;
    d->online = -1;
    if (control_history_init(&d->history, history) < 0) {
        json_decref(d->config);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int control_registry_load(control_registry *r, const json_t *config,
                          const control_plugin *const *plugins, size_t np, size_t history,
                          int timeout_ms, char *err, size_t errlen) {
    r->dev = NULL;
    r->n = 0;
    json_t *arr = json_object_get(config, "devices");
    if (!arr) return 0; /* no devices: control is idle */
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "\"devices\" must be an array");
        return -1;
    }
    size_t n = json_array_size(arr);
    if (!n) return 0;
    r->dev = calloc(n, sizeof *r->dev);
    if (!r->dev) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        const char *id = json_string_value(json_object_get(o, "id"));
        if (id && control_registry_find(r, id)) {
            snprintf(err, errlen, "devices[%zu]: duplicate id '%s'", i, id);
            control_registry_free(r);
            return -1;
        }
        if (load_one(&r->dev[r->n], o, i, plugins, np, history, timeout_ms, err, errlen) < 0) {
            control_registry_free(r);
            return -1;
        }
        r->n++;
    }
    return 0;
}

control_device *control_registry_find(const control_registry *r, const char *id) {
    if (!id) return NULL;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->dev[i].id, id) == 0) return &r->dev[i];
    return NULL;
}

void control_registry_free(control_registry *r) {
    for (size_t i = 0; i < r->n; i++) {
        control_device *d = &r->dev[i];
        control_history_clear(&d->history);
        json_decref(d->state);
        json_decref(d->telemetry);
        json_decref(d->config);
    }
    free(r->dev);
    r->dev = NULL;
    r->n = 0;
}

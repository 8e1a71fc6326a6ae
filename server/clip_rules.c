/* clip_rules.c -- device events that start clips (see clip_rules.h). */
#include "server/clip_rules.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "server/clips.h"
#include "server/server.h"

#define RULES_MAX 16

static const vg_stream_config *stream_config(const vg_config *config, const char *id) {
    for (size_t i = 0; id && i < config->nstreams; i++)
        if (!strcmp(config->streams[i].id, id)) return &config->streams[i];
    return NULL;
}

/* One rule of device `dev` against its stream's config. 0, or -1 with err. */
static int check_rule(const json_t *rule, size_t k, const char *dev, const vg_stream_config *sc,
                      char *err, size_t errlen) {
    if (!json_is_object(rule)) {
        snprintf(err, errlen, "device '%s': clip_on[%zu]: must be an object", dev, k);
        return -1;
    }
    const json_t *match = json_object_get(rule, "match");
    if (!json_is_object(match) || !json_object_size(match)) {
        snprintf(err, errlen,
                 "device '%s': clip_on[%zu].match: an object of the telemetry fields to match, "
                 "e.g. {\"button\": \"pressed\"}",
                 dev, k);
        return -1;
    }
    vg_clip_request req = {0};
    const char *field;
    char msg[160];
    if (vg_clips_read_fields(rule, "match", sc->record.preroll_s, &req, &field, msg, sizeof(msg))) {
        snprintf(err, errlen, "device '%s': clip_on[%zu].%s (stream '%s')", dev, k, msg, sc->id);
        return -1;
    }
    return 0;
}

int vg_clip_rules_check(const vg_config *config, char *err, size_t errlen) {
    const json_t *devices = config->root ? json_object_get(config->root, "devices") : NULL;
    size_t i;
    json_t *d;
    json_array_foreach(devices, i, d) {
        const json_t *rules = json_object_get(d, "clip_on");
        if (!rules) continue;
        const char *dev = json_string_value(json_object_get(d, "id"));
        const char *stream = json_string_value(json_object_get(d, "stream"));
        if (!dev) dev = "?";
        const vg_stream_config *sc = stream_config(config, stream);
        if (!sc || sc->record.mode == VG_RECORD_OFF) {
            snprintf(err, errlen, "device '%s': clip_on: the device's \"stream\" must name a "
                     "stream with a \"record\" section (clips are written there)", dev);
            return -1;
        }
        if (!json_is_array(rules) || !json_array_size(rules) ||
            json_array_size(rules) > RULES_MAX) {
            snprintf(err, errlen, "device '%s': clip_on: an array of 1 to %d rules", dev,
                     RULES_MAX);
            return -1;
        }
        size_t k;
        json_t *rule;
        json_array_foreach(rules, k, rule)
            if (check_rule(rule, k, dev, sc, err, errlen)) return -1;
    }
    return 0;
}

/* Every field of `match` is in `data` with an equal value. */
static bool matches(const json_t *match, const json_t *data) {
    const char *key;
    json_t *want;
    json_object_foreach((json_t *)match, key, want) {
        const json_t *got = json_object_get(data, key);
        if (!got || !json_equal(got, want)) return false;
    }
    return true;
}

/* The device's config object in the config control/ runs from. */
static const json_t *device_config(vg_server *srv, const char *device) {
    const vg_config *config = srv->control_source;
    const json_t *devices = config && config->root ? json_object_get(config->root, "devices")
                                                   : NULL;
    size_t i;
    json_t *d;
    json_array_foreach(devices, i, d) {
        const char *id = json_string_value(json_object_get(d, "id"));
        if (id && !strcmp(id, device)) return d;
    }
    return NULL;
}

static void start(vg_server *srv, vg_stream *s, const char *device, const json_t *rule) {
    if (s->recorder && vg_recorder_device_clip_active(s->recorder, device)) {
        srv->clip_events_ignored_total++;
        vg_log(VG_LOG_DEBUG, "device %s: event while its clip of %s is being made: no new clip",
               device, s->id);
        return;
    }
    /* checked when the config was loaded (vg_clip_rules_check) */
    vg_clip_request req = {0};
    const char *field;
    char msg[160];
    if (vg_clips_read_fields(rule, "match", s->recorder ? s->recorder->preroll_s : 0, &req, &field,
                             msg, sizeof(msg))) {
        vg_log(VG_LOG_WARN, "device %s: no clip of %s: clip_on.%s", device, s->id, msg);
        return;
    }
    req.subject = device;
    req.reason = "device event";
    req.device = device;
    vg_clip_refusal why;
    json_t *clip = vg_clips_start(s, &req, &why);
    if (!clip) {
        vg_log(VG_LOG_WARN, "device %s: no clip of %s: %s", device, s->id, why.message);
        return;
    }
    json_decref(clip);
}

void vg_clip_rules_telemetry(vg_server *srv, const char *device, const json_t *data) {
    const json_t *d = device && json_is_object(data) ? device_config(srv, device) : NULL;
    const json_t *rules = d ? json_object_get(d, "clip_on") : NULL;
    if (!rules) return;
    vg_stream *s = vg_server_find_stream(srv, json_string_value(json_object_get(d, "stream")));
    if (!s) return;
    size_t k;
    json_t *rule;
    json_array_foreach(rules, k, rule) {
        if (!matches(json_object_get(rule, "match"), data)) continue;
        start(srv, s, device, rule);
        return; /* one clip per event, from its first matching rule */
    }
}

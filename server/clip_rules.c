/* clip_rules.c -- device events that start clips (see clip_rules.h). */
#include "server/clip_rules.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "server/clips.h"
#include "server/http_clips.h"
#include "server/server.h"

#define RULES_MAX 16
#define LABEL_MAX 64
#define POST_DEFAULT_S 20

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
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)rule, key, v) {
        if (strcmp(key, "match") && strcmp(key, "pre_s") && strcmp(key, "post_s") &&
            strcmp(key, "label")) {
            snprintf(err, errlen,
                     "device '%s': clip_on[%zu].%.40s: unknown field (expected match, pre_s, "
                     "post_s, label)",
                     dev, k, key);
            return -1;
        }
    }
    const json_t *match = json_object_get(rule, "match"), *pre = json_object_get(rule, "pre_s"),
                 *post = json_object_get(rule, "post_s"), *label = json_object_get(rule, "label");
    if (!json_is_object(match) || !json_object_size(match)) {
        snprintf(err, errlen,
                 "device '%s': clip_on[%zu].match: an object of the telemetry fields to match, "
                 "e.g. {\"button\": \"pressed\"}",
                 dev, k);
        return -1;
    }
    if (pre && (!json_is_number(pre) || json_number_value(pre) < 0 ||
                json_number_value(pre) > sc->record.preroll_s)) {
        snprintf(err, errlen, "device '%s': clip_on[%zu].pre_s: seconds from 0 to %g (stream "
                 "'%s' record.preroll_s)", dev, k, sc->record.preroll_s, sc->id);
        return -1;
    }
    if (post && (!json_is_number(post) || json_number_value(post) < 0 ||
                 json_number_value(post) > VG_CLIP_POST_MAX_S)) {
        snprintf(err, errlen, "device '%s': clip_on[%zu].post_s: seconds from 0 to %d", dev, k,
                 VG_CLIP_POST_MAX_S);
        return -1;
    }
    if (label && (!json_is_string(label) || !json_string_length(label) ||
                  json_string_length(label) > LABEL_MAX)) {
        snprintf(err, errlen, "device '%s': clip_on[%zu].label: 1 to %d characters", dev, k,
                 LABEL_MAX);
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
    const json_t *pre = json_object_get(rule, "pre_s"), *post = json_object_get(rule, "post_s");
    vg_clip_request req = {
        .pre_s = pre ? json_number_value(pre) : s->recorder ? s->recorder->preroll_s : 0,
        .post_s = post ? json_number_value(post) : POST_DEFAULT_S,
        .label = json_string_value(json_object_get(rule, "label")),
        .subject = device,
        .reason = "device event",
        .device = device,
    };
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

/* config_record.c -- a stream's "record" section (see config.h; what it
 * does: media/recorder.h).
 *
 *   "record": {"mode": "continuous", "path": "/var/lib/vigil/recordings",
 *              "segment_s": 60, "retain_days": 7, "max_gb": 50,
 *              "preroll_s": 10, "preroll_mb": 16}
 *
 * Only "mode" is required; "path" defaults to server.record_path (one of
 * them must be set: clips are written there in either mode). retain_days,
 * max_gb and the pre-roll may be fractions (0.5 days, 0.25 GB); 0 means no
 * such limit. */
#include "server/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct number_field {
    const char *name;
    double min, max, def;
    bool integer;
} number_field;

static const number_field numbers[] = {
    {"segment_s", 1, 86400, 60, true},
    {"retain_days", 0, 36500, 7, false},
    {"max_gb", 0, 1e6, 0, false},
    {"preroll_s", 0, 300, 10, false},
    {"preroll_mb", 1, 1024, 16, false},
};
#define NNUMBERS (sizeof(numbers) / sizeof(numbers[0]))

/* A number field's value into *out: its default when absent. 0, or -1
 * naming the field. */
static int load_number(const json_t *obj, const number_field *f, double *out, const char *where,
                       char *err, size_t errlen) {
    const json_t *v = json_object_get(obj, f->name);
    *out = f->def;
    if (!v) return 0;
    bool ok = f->integer ? json_is_integer(v) : json_is_number(v);
    double x = json_number_value(v);
    if (!ok || x < f->min || x > f->max) {
        snprintf(err, errlen, "%s.record.%s: must be %s from %g to %g", where, f->name,
                 f->integer ? "an integer" : "a number", f->min, f->max);
        return -1;
    }
    *out = x;
    return 0;
}

static int load_mode(const json_t *v, vg_record_mode *mode, const char *where, char *err,
                     size_t errlen) {
    const char *m = json_is_string(v) ? json_string_value(v) : "";
    if (!strcmp(m, "continuous"))
        *mode = VG_RECORD_CONTINUOUS;
    else if (!strcmp(m, "events"))
        *mode = VG_RECORD_EVENTS;
    else {
        snprintf(err, errlen, "%s.record.mode: %s (expected \"continuous\" or \"events\")", where,
                 v ? "must be \"continuous\" or \"events\"" : "missing");
        return -1;
    }
    return 0;
}

int vg_config_load_record(vg_stream_config *sc, const json_t *obj, const char *default_path,
                          const char *where, char *err, size_t errlen) {
    sc->record = (vg_record_config){0};
    if (!obj) return 0;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s.record: must be an object with \"mode\"", where);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool known = !strcmp(key, "mode") || !strcmp(key, "path");
        for (size_t i = 0; i < NNUMBERS; i++)
            known |= !strcmp(key, numbers[i].name);
        if (!known) {
            snprintf(err, errlen, "%s.record.%.40s: unknown field (expected mode, path, "
                     "segment_s, retain_days, max_gb, preroll_s, preroll_mb)", where, key);
            return -1;
        }
    }
    vg_record_config rc = {0};
    if (load_mode(json_object_get(obj, "mode"), &rc.mode, where, err, errlen)) return -1;
    double x[NNUMBERS];
    for (size_t i = 0; i < NNUMBERS; i++)
        if (load_number(obj, &numbers[i], &x[i], where, err, errlen)) return -1;
    rc.segment_s = (uint32_t)x[0];
    rc.retain_days = x[1];
    rc.max_gb = x[2];
    rc.preroll_s = x[3];
    rc.preroll_mb = x[4];
    const json_t *path = json_object_get(obj, "path");
    if (path && (!json_is_string(path) || !json_string_length(path) ||
                 strlen(json_string_value(path)) > 1024)) {
        snprintf(err, errlen, "%s.record.path: must be a directory (a non-empty string)", where);
        return -1;
    }
    const char *dir = path ? json_string_value(path) : default_path;
    if (!dir) {
        snprintf(err, errlen, "%s.record.path: missing, and no server.record_path to default to",
                 where);
        return -1;
    }
    rc.path = dir ? strdup(dir) : NULL;
    if (dir && !rc.path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sc->record = rc;
    return 0;
}

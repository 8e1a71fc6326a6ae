/* config_variants.c -- a stream's "variants" (substreams) and "transcode"
 * (see config.h; what they do: media/variant.h).
 *
 *   "variants": {"sub": "rtsp://cam/stream2",
 *                "tiny": {"source": "rtsp://cam/stream3", "options": {...}}}
 *   "transcode": {"codec": "h264", "max_height": 720, "bitrate_kbps": 1500}
 *
 * A substream is pulled from the camera only while someone watches it, so
 * it must be a source vigil opens itself (test://, file://, rtsp://): a
 * camera that pushes (srtp://, rtp://) or a publisher does not wait to be
 * asked. Variants keep their config order: the dashboard takes the first as
 * the lightest. */
#include "server/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/source.h"

#define MAX_VARIANTS 8

/* A stream's ids, less the two names subscribe gives a meaning. */
static bool valid_name(const char *name) {
    return vg_config_valid_id(name) && strcmp(name, "main") && strcmp(name, "transcode");
}

static int load_variant(vg_variant_config *vc, const char *name, const json_t *v,
                        const char *where, char *err, size_t errlen) {
    if (!valid_name(name)) {
        snprintf(err, errlen,
                 "%s.variants.%.40s: a variant's name is 1-64 letters, digits, '-', '_' or "
                 "'.', and not \"main\" or \"transcode\"",
                 where, name);
        return -1;
    }
    const json_t *source = v, *options = NULL;
    if (json_is_object(v)) {
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)v, key, x) {
            if (strcmp(key, "source") && strcmp(key, "options")) {
                snprintf(err, errlen, "%s.variants.%s.%.40s: unknown field (expected source, "
                         "options)", where, name, key);
                return -1;
            }
        }
        source = json_object_get(v, "source");
        options = json_object_get(v, "options");
    }
    if (!json_is_string(source)) {
        snprintf(err, errlen,
                 "%s.variants.%s: must be a source URI, or {\"source\": URI, \"options\": {...}}",
                 where, name);
        return -1;
    }
    const char *uri = json_string_value(source);
    if (strncmp(uri, "test://", 7) && strncmp(uri, "file://", 7) && strncmp(uri, "rtsp://", 7)) {
        snprintf(err, errlen,
                 "%s.variants.%s: a substream is opened when watched: test://, file:// or "
                 "rtsp://, not '%.32s'",
                 where, name, uri);
        return -1;
    }
    char why[256];
    if (vg_source_validate(uri, options, why, sizeof(why))) {
        snprintf(err, errlen, "%s.variants.%s.%s", where, name, why);
        return -1;
    }
    vc->name = strdup(name);
    vc->source = strdup(uri);
    vc->options = options ? json_incref((json_t *)options) : NULL;
    if (!vc->name || !vc->source) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int load_uint(const json_t *obj, const char *field, uint32_t lo, uint32_t hi,
                     uint32_t *out, const char *where, char *err, size_t errlen) {
    const json_t *v = json_object_get(obj, field);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "%s.transcode.%s: must be an integer from %u to %u", where, field,
                 lo, hi);
        return -1;
    }
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

static int load_transcode(vg_transcode_config *t, const json_t *obj, const char *where,
                          char *err, size_t errlen) {
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s.transcode: must be an object, e.g. {\"codec\": \"h264\", "
                 "\"max_height\": 720, \"bitrate_kbps\": 1500}", where);
        return -1;
    }
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)obj, key, x) {
        if (strcmp(key, "codec") && strcmp(key, "max_height") && strcmp(key, "bitrate_kbps")) {
            snprintf(err, errlen, "%s.transcode.%.40s: unknown field (expected codec, "
                     "max_height, bitrate_kbps)", where, key);
            return -1;
        }
    }
    const json_t *codec = json_object_get(obj, "codec");
    if (codec && (!json_is_string(codec) || strcmp(json_string_value(codec), "h264"))) {
        snprintf(err, errlen, "%s.transcode.codec: must be \"h264\" (what every browser "
                 "decodes)", where);
        return -1;
    }
    *t = (vg_transcode_config){.enabled = true, .codec = "h264", .max_height = 720,
                               .bitrate_kbps = 1500};
    if (load_uint(obj, "max_height", 64, 2160, &t->max_height, where, err, errlen) ||
        load_uint(obj, "bitrate_kbps", 50, 50000, &t->bitrate_kbps, where, err, errlen))
        return -1;
    /* x264 wants even sizes. */
    t->max_height &= ~1u;
    return 0;
}

int vg_config_load_variants(vg_stream_config *sc, const json_t *variants,
                            const json_t *transcode, const char *where, char *err,
                            size_t errlen) {
    if (transcode && load_transcode(&sc->transcode, transcode, where, err, errlen)) return -1;
    if (!variants) return 0;
    if (!json_is_object(variants) || json_object_size(variants) == 0 ||
        json_object_size(variants) > MAX_VARIANTS) {
        snprintf(err, errlen,
                 "%s.variants: must be an object of 1 to %d substreams, e.g. {\"sub\": "
                 "\"rtsp://cam/stream2\"}",
                 where, MAX_VARIANTS);
        return -1;
    }
    sc->variants = calloc(json_object_size(variants), sizeof(*sc->variants));
    if (!sc->variants) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)variants, name, v) {
        if (load_variant(&sc->variants[sc->nvariants], name, v, where, err, errlen)) {
            sc->nvariants++; /* what it allocated goes with the rest */
            return -1;
        }
        sc->nvariants++;
    }
    return 0;
}

void vg_config_free_variants(vg_stream_config *sc) {
    for (size_t i = 0; i < sc->nvariants; i++) {
        free(sc->variants[i].name);
        free(sc->variants[i].source);
        json_decref(sc->variants[i].options);
    }
    free(sc->variants);
    sc->variants = NULL;
    sc->nvariants = 0;
}

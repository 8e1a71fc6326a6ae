/* variant.c -- substreams and the transcode of a stream (see variant.h). */
#include "media/variant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "media/source.h"
#include "media/stream.h"

int vg_variant_add(vg_stream *main, const char *name, const char *source, json_t *options,
                   uint32_t channel) {
    vg_stream **grown = realloc(main->variants, (main->nvariants + 1) * sizeof(*grown));
    if (!grown) return -1;
    main->variants = grown;
    vg_stream *v = vg_stream_new(main->id, source, options, channel, &main->limits, main->hooks,
                                 main->inbox, main->reaper);
    if (!v) return -1;
    size_t len = strlen(main->id) + strlen(name) + 2;
    char *label = malloc(len);
    v->variant = strdup(name);
    if (!label || !v->variant) {
        free(label);
        vg_stream_free(v);
        return -1;
    }
    snprintf(label, len, "%s/%s", main->id, name);
    free(v->label);
    v->label = label;
    v->parent = main;
    main->variants[main->nvariants++] = v;
    if (vg_source_is_transcode(source)) main->transcode = v;
    return 0;
}

vg_stream *vg_variant_find(vg_stream *main, const char *name) {
    if (!strcmp(name, "main")) return main;
    for (size_t i = 0; i < main->nvariants; i++)
        if (!strcmp(main->variants[i]->variant, name)) return main->variants[i];
    return NULL;
}

const char *vg_variant_kind(const vg_stream *v) {
    return vg_source_is_transcode(v->source) ? "transcode" : "substream";
}

bool vg_variant_running(const vg_stream *v) {
    return v->parent && v->state != VG_STREAM_STOPPED;
}

/* ---- the transcode follows its main stream ----------------------------- */

/* The publish config of a decoder configuration frame (kind 3, PROTOCOL.md
 * "WebCodecs mode"): its codec string and description. -1 when the frame
 * does not hold one. */
static int config_of(vg_frame *f, vg_publish_config *cfg) {
    const uint8_t *p = vg_frame_payload(f);
    size_t len = f->payload_len;
    if (len < 2) return -1;
    size_t jlen = (size_t)p[0] << 8 | p[1];
    if (2 + jlen > len) return -1;
    json_t *j = json_loadb((const char *)p + 2, jlen, 0, NULL);
    const char *codec = json_string_value(json_object_get(j, "codec"));
    *cfg = (vg_publish_config){0};
    cfg->codec = codec ? vg_video_codec_by_rfc6381(codec) : NULL;
    if (cfg->codec) snprintf(cfg->video_codec, sizeof(cfg->video_codec), "%s", codec);
    json_decref(j);
    size_t dlen = len - 2 - jlen;
    if (!cfg->codec || !dlen) return -1;
    cfg->description = malloc(dlen);
    if (!cfg->description) return -1;
    memcpy(cfg->description, p + 2 + jlen, dlen);
    cfg->description_len = dlen;
    return 0;
}

/* A new configuration of the main stream: the transcode starts over from it
 * (its pipeline's caps are made from it). */
static void follow_config(vg_stream *t, vg_stream *main, vg_frame *f, int64_t now_us) {
    vg_publish_config cfg;
    if (config_of(f, &cfg)) {
        vg_log(VG_LOG_WARN, "stream %s: the main stream's decoder configuration is unusable",
               t->label);
        return;
    }
    vg_stream_publisher_leave(t, main, "the main stream restarted", now_us);
    if (vg_stream_publisher_join(t, main, "main", "vigil", &cfg, now_us))
        vg_publish_config_clear(&cfg);
}

/* One access unit of the main stream (kind 4: 8-byte pts, then the unit). */
static void feed_unit(vg_stream *t, vg_frame *f, int64_t now_us) {
    const uint8_t *p = vg_frame_payload(f);
    if (f->payload_len <= 8) return;
    int64_t pts = 0;
    for (int i = 0; i < 8; i++)
        pts = (int64_t)((uint64_t)pts << 8 | p[i]);
    vg_publish_feed_video(t->feed, p + 8, f->payload_len - 8, vg_frame_is_keyframe(f),
                          pts > 0 ? (uint64_t)pts : 0, now_us);
}

void vg_variant_follow_main(vg_stream *main, vg_frame *f, int64_t now_us) {
    vg_stream *t = main->transcode;
    if (!t || !vg_variant_running(t)) return;
    if (f->kind == VG_FRAME_DECODER_CONFIG)
        follow_config(t, main, f, now_us);
    else if (f->kind == VG_FRAME_ACCESS_UNIT && vg_publish_feed_owner(t->feed) == main)
        feed_unit(t, f, now_us);
}

void vg_variant_main_down(vg_stream *main, int64_t now_us) {
    vg_stream *t = main->transcode;
    if (t && vg_variant_running(t))
        vg_stream_publisher_leave(t, main, "waiting for the main stream", now_us);
}

/* ---- on demand ---------------------------------------------------------- */

void vg_variant_demand(vg_stream *v, int64_t now_us) {
    if (!v->parent) return;
    v->idle_since_us = 0;
    if (v->state != VG_STREAM_STOPPED) return;
    vg_log(VG_LOG_INFO, "stream %s: watched, starting", v->label);
    v->attempt = 0;
    vg_stream *main = v->parent;
    vg_relay *wc = vg_stream_relay(main, VG_RELAY_WEBCODECS);
    if (v != main->transcode || main->state != VG_STREAM_LIVE || !wc->setup) {
        /* A substream opens its camera; a transcode waits for the main. */
        vg_stream_start(v, now_us);
        return;
    }
    /* The main stream's current configuration, then its GOP: the first
     * transcoded picture comes without waiting for the next keyframe. */
    vg_publish_config cfg;
    if (config_of(wc->setup, &cfg) || vg_publish_feed_claim(v->feed, main, "main", "vigil", &cfg))
        vg_publish_config_clear(&cfg);
    vg_stream_start(v, now_us);
    for (uint32_t i = 0; v->pipeline && i < wc->gop.count; i++)
        vg_variant_follow_main(main, wc->gop.frames[i], now_us);
}

void vg_variant_tick(vg_stream *v, int64_t now_us) {
    if (!vg_variant_running(v)) return;
    if (vg_stream_viewer_count(v)) {
        v->idle_since_us = 0;
        return;
    }
    if (!v->idle_since_us) {
        v->idle_since_us = now_us;
        return;
    }
    if (now_us - v->idle_since_us < VG_VARIANT_LINGER_US) return;
    vg_log(VG_LOG_INFO, "stream %s: not watched, stopping", v->label);
    vg_stream_stop(v);
    if (v->feed && vg_publish_feed_owner(v->feed)) vg_publish_feed_release(v->feed);
    v->idle_since_us = 0;
}

/* clips.c -- starting a clip of a stream (see clips.h). */
#include "server/clips.h"

#include <stdio.h>
#include <string.h>

#include "common/utc_time.h"
#include "server/server.h"

int vg_clips_read_fields(const json_t *obj, const char *extra, double preroll_s,
                         vg_clip_request *req, const char **field, char *msg, size_t msglen) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (strcmp(key, "pre_s") && strcmp(key, "post_s") && strcmp(key, "label") &&
            (!extra || strcmp(key, extra))) {
            *field = key;
            snprintf(msg, msglen, "%.40s: unknown field (expected %s%spre_s, post_s, label)", key,
                     extra ? extra : "", extra ? ", " : "");
            return -1;
        }
    }
    const json_t *pre = json_object_get(obj, "pre_s"), *post = json_object_get(obj, "post_s"),
                 *label = json_object_get(obj, "label");
    req->pre_s = pre ? json_number_value(pre) : preroll_s;
    req->post_s = post ? json_number_value(post) : VG_CLIP_POST_DEFAULT_S;
    if (pre && (!json_is_number(pre) || req->pre_s < 0 || req->pre_s > preroll_s)) {
        *field = "pre_s";
        snprintf(msg, msglen, "pre_s: seconds from 0 to %g (the stream's record.preroll_s)",
                 preroll_s);
        return -1;
    }
    if (post && (!json_is_number(post) || req->post_s < 0 || req->post_s > VG_CLIP_POST_MAX_S)) {
        *field = "post_s";
        snprintf(msg, msglen, "post_s: seconds from 0 to %d", VG_CLIP_POST_MAX_S);
        return -1;
    }
    if (label) {
        const char *l = json_string_value(label);
        bool ok = l && *l && strlen(l) <= VG_CLIP_LABEL_MAX;
        for (const char *c = l; ok && *c; c++)
            ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
        if (!ok) {
            *field = "label";
            snprintf(msg, msglen, "label: 1 to %d printable characters", VG_CLIP_LABEL_MAX);
            return -1;
        }
        req->label = l;
    }
    return 0;
}

static json_t *refuse(vg_clip_refusal *why, unsigned int status, const char *code,
                      const char *message, const char *stream) {
    why->status = status;
    why->code = code;
    snprintf(why->message, sizeof(why->message), message, stream);
    return NULL;
}

json_t *vg_clips_start(vg_stream *s, const vg_clip_request *req, vg_clip_refusal *why) {
    if (!s->recorder)
        return refuse(why, 409, "not_recorded",
                      "stream '%.64s' has no \"record\" section: clips need its path", s->id);
    if (s->state != VG_STREAM_LIVE)
        return refuse(why, 409, "stream_offline", "stream '%.64s' is not live: nothing to clip",
                      s->id);
    int64_t now_us = vg_server_now_us(), start_us;
    char name[VG_CLIP_NAME_MAX];
    switch (vg_recorder_clip(s->recorder, req, now_us, name, sizeof(name), &start_us)) {
    case VG_CLIP_STARTED: break;
    case VG_CLIP_BUSY:
        return refuse(why, 429, "too_many_clips",
                      "stream '%.64s' has as many clips being made as it may: try again when "
                      "one is complete",
                      s->id);
    case VG_CLIP_NOMEM:
        return refuse(why, 500, "no_memory", "no clip of '%.64s': out of memory", s->id);
    }
    char url[96 + VG_CLIP_NAME_MAX], start[40], end[40], at[40];
    snprintf(url, sizeof(url), "/api/streams/%s/recordings/%s.mp4", s->id, name);
    vg_utc_format_ms(start_us / 1000, start, sizeof(start));
    vg_utc_format_ms((now_us + (int64_t)(req->post_s * 1e6)) / 1000, end, sizeof(end));
    vg_utc_format_ms(now_us / 1000, at, sizeof(at));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:s?, s:s?, s:s?, s:s?, s:b}",
                     "id", name, "stream", s->id, "url", url, "start", start, "end", end,
                     "requested_at", at, "pre_s", (double)(now_us - start_us) / 1e6, "post_s",
                     req->post_s, "label", req->label, "subject", req->subject, "reason",
                     req->reason, "device", req->device, "complete", false);
}

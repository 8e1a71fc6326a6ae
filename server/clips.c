/* clips.c -- starting a clip of a stream (see clips.h). */
#include "server/clips.h"

#include <stdio.h>

#include "common/utc_time.h"
#include "server/server.h"

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

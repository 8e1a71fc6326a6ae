/* http_clips.c -- a clip asked for over REST (see http_clips.h). */
#include "server/http_clips.h"

#include <stdio.h>
#include <string.h>

#include "server/clips.h"
#include "server/server.h"

int vg_http_post_clip(struct lws *wsi, vg_http_session *hs, const char *stream, const char *body,
                      size_t len) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    char msg[160];
    /* A stream the client may not see does not exist for it. */
    vg_stream *s = vg_access_sees_stream(&hs->access, stream) ? vg_server_find_stream(srv, stream)
                                                               : NULL;
    if (!s) {
        snprintf(msg, sizeof(msg), "no stream named '%.64s'", stream);
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "unknown_stream", NULL, msg,
                                       NULL);
    }
    if (hs->access.role != VG_ROLE_ADMIN && hs->access.role != VG_ROLE_OPERATOR) {
        srv->forbidden_total++;
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_FORBIDDEN, "forbidden", NULL,
                                       "making clips is for admins and operators", NULL);
    }
    json_error_t je;
    json_t *fields = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : json_object();
    if (!json_is_object(fields)) {
        json_decref(fields);
        srv->errors_total++;
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_json", NULL,
                                       "the body must be a JSON object (or empty)", NULL);
    }
    vg_clip_request req = {.subject = vg_access_sub(&hs->access), .reason = "request"};
    const char *field = NULL;
    double preroll_s = s->recorder ? s->recorder->preroll_s : 0;
    if (vg_clips_read_fields(fields, NULL, preroll_s, &req, &field, msg, sizeof(msg))) {
        srv->errors_total++;
        int rc = vg_http_reply_api_error(wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_field", field, msg,
                                         NULL);
        json_decref(fields);
        return rc;
    }
    vg_clip_refusal why;
    json_t *clip = vg_clips_start(s, &req, &why);
    json_decref(fields); /* after: req.label points into it */
    if (!clip)
        return vg_http_reply_api_error(wsi, hs, why.status, why.code, NULL, why.message,
                                       why.status == 429 ? "5" : NULL);
    char location[160];
    snprintf(location, sizeof(location), "%s", json_string_value(json_object_get(clip, "url")));
    return vg_http_reply_json(wsi, hs, 201 /* Created: lws names no constant */, clip, "location:", location, false);
}

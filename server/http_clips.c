/* http_clips.c -- a clip asked for over REST (see http_clips.h). */
#include "server/http_clips.h"

#include <stdio.h>
#include <string.h>

#include "server/clips.h"
#include "server/server.h"

#define LABEL_MAX 64
#define POST_DEFAULT_S 20

/* The request's fields into *req (label borrowed from body). 0, or -1 with
 * the field and why. */
static int read_fields(const json_t *body, double preroll_s, vg_clip_request *req,
                       const char **field, char *msg, size_t msglen) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        if (strcmp(key, "pre_s") && strcmp(key, "post_s") && strcmp(key, "label")) {
            *field = key;
            snprintf(msg, msglen, "%.40s: unknown field (expected pre_s, post_s, label)", key);
            return -1;
        }
    }
    const json_t *pre = json_object_get(body, "pre_s"), *post = json_object_get(body, "post_s"),
                 *label = json_object_get(body, "label");
    req->pre_s = pre ? json_number_value(pre) : preroll_s;
    req->post_s = post ? json_number_value(post) : POST_DEFAULT_S;
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
        bool ok = l && *l && strlen(l) <= LABEL_MAX;
        for (const char *c = l; ok && *c; c++)
            ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
        if (!ok) {
            *field = "label";
            snprintf(msg, msglen, "label: 1 to %d printable characters", LABEL_MAX);
            return -1;
        }
        req->label = l;
    }
    return 0;
}

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
    if (read_fields(fields, preroll_s, &req, &field, msg, sizeof(msg))) {
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

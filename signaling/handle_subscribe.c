/* handle_subscribe.c -- "subscribe": a new channel on a stream, in mode
 * "mse" (fMP4) or "webcodecs" (decoder configuration + access units). The
 * init segment (or decoder configuration) and the GOP cache are queued at
 * once, behind the reply. A client that says which codec families it can
 * decode (`accept`) gets unsupported_codec rather than a picture it cannot
 * show. */
#include <stdio.h>
#include <string.h>

#include "server/server.h"
#include "signaling/signaling.h"

/* True when the client takes what the stream sends: no `accept` (every
 * client before it existed), codecs not known yet (the stream.state event
 * says them when it goes live), or the stream's codec among the families
 * listed (avc1 and avc3 are one family, hvc1 and hev1 another:
 * media/video_codec.h). */
static bool accepts(json_t *accept, const char *codecs) {
    const vg_video_codec *sent = vg_video_codec_by_rfc6381(codecs);
    if (!accept || !codecs) return true;
    for (size_t i = 0; sent && i < json_array_size(accept); i++)
        if (vg_video_codec_by_rfc6381(json_string_value(json_array_get(accept, i))) == sent)
            return true;
    return false;
}

void vg_handle_subscribe(vg_session *s, json_t *msg, json_t *id) {
    const char *name = json_string_value(json_object_get(msg, "stream"));
    json_t *mode = json_object_get(msg, "mode");
    const char *mode_name = mode ? json_string_value(mode) : "mse";
    vg_mode vmode;
    if (!strcmp(mode_name, "mse")) {
        vmode = VG_MODE_MSE;
    } else if (!strcmp(mode_name, "webcodecs")) {
        vmode = VG_MODE_WEBCODECS;
    } else {
        vg_signaling_error(s, id, "unsupported_mode", "mode",
                           "mode '%.32s' is not supported (supported: mse, webcodecs)", mode_name);
        return;
    }
    /* A stream the client may not see does not exist for it. */
    vg_stream *stream =
        vg_access_sees_stream(&s->access, name) ? vg_server_find_stream(s->server, name) : NULL;
    if (!stream) {
        vg_signaling_error(s, id, "unknown_stream", "stream", "no stream named '%.64s'", name);
        return;
    }
    if (!accepts(json_object_get(msg, "accept"), stream->codecs)) {
        vg_signaling_error(s, id, "unsupported_codec", "accept",
                           "stream '%.64s' sends %.96s, which is not in accept", name,
                           stream->codecs);
        return;
    }
    /* The reply is queued first; text is written before media, so it precedes
     * the init segment on the wire. */
    json_t *r = vg_signaling_reply("subscribe", id);
    vg_subscription *sub = NULL;
    vg_subscribe_result res = r ? vg_session_subscribe(s, stream, vmode, &sub)
                                : VG_SUBSCRIBE_NO_MEMORY;
    if (res != VG_SUBSCRIBED) {
        json_decref(r);
        if (res == VG_SUBSCRIBE_ALREADY)
            vg_signaling_error(s, id, "already_subscribed", "stream",
                               "already subscribed to '%.64s'", name);
        else if (res == VG_SUBSCRIBE_TOO_MANY)
            vg_signaling_error(s, id, "too_many_subscriptions", NULL,
                               "at most %u subscriptions per connection", s->max_subs);
        else
            vg_signaling_error(s, id, "internal", NULL, "could not subscribe");
        return;
    }
    /* A WebCodecs client has no use for a MIME type: its decoder
     * configuration comes as a binary frame. */
    char mime[160];
    bool has_mime = stream->codecs && vmode == VG_MODE_MSE;
    if (has_mime) snprintf(mime, sizeof(mime), "video/mp4; codecs=\"%s\"", stream->codecs);
    json_object_set_new(r, "stream", json_string(stream->id));
    json_object_set_new(r, "mode", json_string(mode_name));
    json_object_set_new(r, "channel", json_integer(sub->viewer.channel));
    json_object_set_new(r, "state", json_string(vg_stream_state_name(stream->state)));
    json_object_set_new(r, "codecs", stream->codecs ? json_string(stream->codecs) : json_null());
    json_object_set_new(r, "mime", has_mime ? json_string(mime) : json_null());
    vg_session_send_json(s, r);
}

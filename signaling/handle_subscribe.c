/* handle_subscribe.c -- "subscribe": a new channel on a stream, in mode
 * "mse" (fMP4) or "webcodecs" (decoder configuration + access units), of
 * its main picture or a variant (media/variant.h), named or picked. The
 * init segment (or decoder configuration) and the GOP cache are queued at
 * once, behind the reply. A client that says which codec families it can
 * decode (`accept`) gets unsupported_codec rather than a picture it cannot
 * show. */
#include <stdio.h>
#include <string.h>

#include "server/cluster_node.h"
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

/* The picture a client gets when it names none: the main stream when it
 * can decode it, else the first substream it can (or that has not told its
 * codec yet), else the transcode when it takes H.264. NULL: nothing. */
static vg_stream *pick_variant(vg_stream *main, json_t *accept) {
    if (accepts(accept, main->codecs)) return main;
    for (size_t i = 0; i < main->nvariants; i++) {
        vg_stream *v = main->variants[i];
        if (v != main->transcode && accepts(accept, v->codecs)) return v;
    }
    if (main->transcode && accepts(accept, "avc1")) return main->transcode;
    return NULL;
}

/* Which variant of `main` the request asks for, or picks for it; NULL after
 * an error reply. A transcode that is not running yet needs a free place
 * under server.max_transcodes. */
static vg_stream *choose(vg_session *s, json_t *id, vg_stream *main, json_t *msg) {
    json_t *accept = json_object_get(msg, "accept");
    json_t *named = json_object_get(msg, "variant");
    vg_stream *v;
    if (named) {
        v = vg_variant_find(main, json_string_value(named));
        if (!v) {
            vg_signaling_error(s, id, "unknown_variant", "variant",
                               "stream '%.64s' has no variant '%.32s'", main->id,
                               json_string_value(named));
            return NULL;
        }
        if (!accepts(accept, v->codecs)) {
            vg_signaling_error(s, id, "unsupported_codec", "accept",
                               "variant '%.32s' of stream '%.64s' sends %.96s, which is not in "
                               "accept",
                               json_string_value(named), main->id, v->codecs);
            return NULL;
        }
    } else if (!(v = pick_variant(main, accept))) {
        vg_signaling_error(s, id, "unsupported_codec", "accept",
                           "stream '%.64s' sends %.96s, which is not in accept, and has no "
                           "variant that is",
                           main->id, main->codecs);
        return NULL;
    }
    uint32_t max = s->server->config->max_transcodes;
    if (v == main->transcode && !vg_variant_running(v) &&
        vg_server_transcodes_running(s->server) >= max) {
        vg_signaling_error(s, id, "transcode_limit", "variant",
                           "%u transcode%s running already (server.max_transcodes)", max,
                           max == 1 ? " is" : "s are");
        return NULL;
    }
    return v;
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
    vg_stream *main =
        vg_access_sees_stream(&s->access, name) ? vg_server_find_stream(s->server, name) : NULL;
    if (!main) {
        vg_signaling_error(s, id, "unknown_stream", "stream", "no stream named '%.64s'", name);
        return;
    }
    vg_stream *stream = choose(s, id, main, msg);
    if (!stream) return;
    /* A variant nobody watched starts now, before the viewer attaches: the
     * reply carries its state, and no event precedes the reply. (A
     * subscribe refused below leaves it to stop after its linger time.) */
    vg_variant_demand(stream, vg_server_now_us());
    vg_cluster_node_demand(s->server, main, vg_server_now_us()); /* another node's frames */
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
    json_object_set_new(r, "variant", json_string(stream->variant ? stream->variant : "main"));
    json_object_set_new(r, "channel", json_integer(sub->viewer.channel));
    json_object_set_new(r, "state", json_string(vg_stream_state_name(stream->state)));
    if (main->node || main->remote) { /* a cluster: the node that ingests it */
        json_object_set_new(r, "node", main->node ? json_string(main->node) : json_null());
        json_object_set_new(r, "epoch", json_integer((json_int_t)main->epoch));
    }
    json_object_set_new(r, "codecs", stream->codecs ? json_string(stream->codecs) : json_null());
    json_object_set_new(r, "mime", has_mime ? json_string(mime) : json_null());
    vg_session_send_json(s, r);
}

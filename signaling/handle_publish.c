/* handle_publish.c -- "publish": the client becomes the source of a
 * publish:// stream and then sends its media as binary frames
 * (server/publisher.h); "unpublish": it stops. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "server/publisher.h"
#include "server/server.h"
#include "signaling/signaling.h"

#define MAX_DESCRIPTION_BYTES 4096

/* The bytes of a base64 string of at most MAX_DESCRIPTION_BYTES (g_free()),
 * or NULL. */
static guchar *decode_base64(const char *b64, size_t *n) {
    *n = 0;
    if (!b64 || strlen(b64) >= MAX_DESCRIPTION_BYTES * 4 / 3 + 4 ||
        strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
            strlen(b64) ||
        strlen(b64) % 4 != 0)
        return NULL;
    return g_base64_decode(b64, n);
}

/* "video": {"codec":"avc1.42E01F","description":"<base64 avcC>"?}, or for
 * a stream whose options.codec is "h265" {"codec":"hvc1...","description":
 * "<base64 hvcC>"?}. */
static bool parse_video(vg_session *s, json_t *id, json_t *video, const vg_stream *stream,
                        vg_publish_config *cfg) {
    const char *want =
        stream->options ? json_string_value(json_object_get(stream->options, "codec")) : NULL;
    cfg->codec = vg_video_codec_by_name(want ? want : "h264");
    const char *codec = json_string_value(json_object_get(video, "codec"));
    if (!cfg->codec || !codec || strlen(codec) >= sizeof(cfg->video_codec) ||
        vg_video_codec_by_rfc6381(codec) != cfg->codec || !strchr(codec, '.')) {
        vg_signaling_error(s, id, "bad_field", "video.codec",
                           "video.codec must be an %s codec string such as \"%s\"",
                           cfg->codec == &vg_codec_h264 ? "H.264" : "H.265",
                           cfg->codec == &vg_codec_h264 ? "avc1.42E01F" : "hvc1.1.6.L93.B0");
        return false;
    }
    snprintf(cfg->video_codec, sizeof(cfg->video_codec), "%s", codec);
    json_t *desc = json_object_get(video, "description");
    if (!desc || json_is_null(desc)) return true; /* Annex-B access units */
    size_t n = 0;
    guchar *avcc = decode_base64(json_string_value(desc), &n);
    /* An avcC or hvcC record starts with configurationVersion 1; the parser
     * checks the rest. */
    if (!avcc || n < 7 || avcc[0] != 1) {
        g_free(avcc);
        vg_signaling_error(s, id, "bad_field", "video.description",
                           "video.description must be the base64 of an %s record",
                           cfg->codec == &vg_codec_h264 ? "avcC" : "hvcC");
        return false;
    }
    cfg->description = malloc(n);
    if (cfg->description) {
        memcpy(cfg->description, avcc, n);
        cfg->description_len = n;
    }
    g_free(avcc);
    return cfg->description != NULL;
}

/* audio.description: the OpusHead (optional) or the AudioSpecificConfig
 * (AAC: required), checked by making the caps the pipeline will use. */
static bool parse_audio_description(vg_session *s, json_t *id, json_t *audio,
                                    vg_publish_config *cfg) {
    json_t *desc = json_object_get(audio, "description");
    bool aac = !strcmp(cfg->audio_codec, "aac");
    if ((!desc || json_is_null(desc)) && !aac) return true;
    size_t n = 0;
    guchar *bytes = desc ? decode_base64(json_string_value(desc), &n) : NULL;
    if (bytes && n) {
        cfg->audio_description = malloc(n);
        if (cfg->audio_description) {
            memcpy(cfg->audio_description, bytes, n);
            cfg->audio_description_len = n;
        }
    }
    g_free(bytes);
    GstCaps *caps = cfg->audio_description ? vg_publish_audio_caps(cfg) : NULL;
    if (caps) {
        gst_caps_unref(caps);
        return true;
    }
    vg_signaling_error(s, id, "bad_field", "audio.description",
                       aac ? "audio.description must be the base64 of the AAC "
                             "AudioSpecificConfig"
                           : "audio.description must be the base64 of an OpusHead");
    return false;
}

/* "audio": {"codec":"opus"|"aac","sample_rate":48000,"channels":2,
 * "description":"<base64>"?}, which must be what the stream's config says
 * it takes. */
static bool parse_audio(vg_session *s, json_t *id, json_t *audio, const vg_stream *stream,
                        vg_publish_config *cfg) {
    const char *want =
        stream->options ? json_string_value(json_object_get(stream->options, "audio")) : NULL;
    const char *codec = json_string_value(json_object_get(audio, "codec"));
    if (!want) {
        vg_signaling_error(s, id, "bad_field", "audio", "stream '%.64s' takes no audio",
                           stream->id);
        return false;
    }
    if (!codec || strcmp(codec, want)) {
        vg_signaling_error(s, id, "bad_field", "audio.codec", "audio.codec must be \"%s\"", want);
        return false;
    }
    json_t *rate = json_object_get(audio, "sample_rate");
    json_t *ch = json_object_get(audio, "channels");
    if (!json_is_integer(rate) || json_integer_value(rate) < 8000 ||
        json_integer_value(rate) > 192000) {
        vg_signaling_error(s, id, "bad_field", "audio.sample_rate",
                           "audio.sample_rate must be an integer from 8000 to 192000");
        return false;
    }
    if (!json_is_integer(ch) || json_integer_value(ch) < 1 || json_integer_value(ch) > 8) {
        vg_signaling_error(s, id, "bad_field", "audio.channels",
                           "audio.channels must be an integer from 1 to 8");
        return false;
    }
    snprintf(cfg->audio_codec, sizeof(cfg->audio_codec), "%s", codec);
    cfg->sample_rate = (uint32_t)json_integer_value(rate);
    cfg->channels = (uint32_t)json_integer_value(ch);
    if (!strcmp(codec, "opus") && cfg->channels > 2 && !json_object_get(audio, "description")) {
        vg_signaling_error(s, id, "bad_field", "audio.channels",
                           "Opus with more than 2 channels needs its OpusHead as "
                           "audio.description");
        return false;
    }
    return parse_audio_description(s, id, audio, cfg);
}

void vg_handle_publish(vg_session *s, json_t *msg, json_t *id) {
    const char *name = json_string_value(json_object_get(msg, "stream"));
    /* A stream the client may not see does not exist for it. */
    vg_stream *stream = vg_access_sees_stream(&s->access, name) ||
                                vg_access_publishes_stream(&s->access, name)
                            ? vg_server_find_stream(s->server, name)
                            : NULL;
    if (!stream) {
        vg_signaling_error(s, id, "unknown_stream", "stream", "no stream named '%.64s'", name);
        return;
    }
    if (!vg_access_publishes_stream(&s->access, name)) {
        s->server->forbidden_total++;
        vg_signaling_error(s, id, "forbidden", "stream", "this token may not publish '%.64s'",
                           name);
        return;
    }
    if (!stream->feed) {
        vg_signaling_error(s, id, "bad_field", "stream",
                           "stream '%.64s' is not fed by publishers (its source is not publish://)",
                           name);
        return;
    }
    if (s->pub) {
        vg_signaling_error(s, id, "already_publishing", "stream",
                           "this connection already publishes '%.64s'", s->pub->stream->id);
        return;
    }
    if (vg_publish_feed_owner(stream->feed)) {
        vg_signaling_error(s, id, "already_publishing", "stream", "'%.64s' already has a publisher",
                           name);
        return;
    }
    vg_publish_config cfg = {0};
    json_t *audio = json_object_get(msg, "audio");
    if (!parse_video(s, id, json_object_get(msg, "video"), stream, &cfg) ||
        (audio && !parse_audio(s, id, audio, stream, &cfg))) {
        vg_publish_config_clear(&cfg);
        return;
    }
    const char *format = cfg.description ? cfg.codec->au_format : "annexb";
    vg_publish_result res = vg_publisher_start(s, stream, &cfg, audio != NULL);
    vg_publish_config_clear(&cfg); /* moved into the stream, unless refused */
    if (res != VG_PUBLISHING) {
        vg_signaling_error(s, id, res == VG_PUBLISH_NO_MEMORY ? "internal" : "already_publishing",
                           NULL, "could not publish '%.64s'", name);
        return;
    }
    vg_publisher *p = s->pub;
    json_t *r = vg_signaling_reply("publish", id);
    if (!r) return;
    json_object_set_new(r, "stream", json_string(stream->id));
    json_object_set_new(r, "channel", json_integer(p->channel));
    json_object_set_new(r, "format", json_string(format));
    json_object_set_new(r, "max_frame_bytes",
                        json_integer((json_int_t)s->server->config->max_publish_frame_bytes));
    json_object_set_new(r, "audio_relayed", json_boolean(audio != NULL));
    vg_session_send_json(s, r);
}

void vg_handle_unpublish(vg_session *s, json_t *msg, json_t *id) {
    json_int_t channel = json_integer_value(json_object_get(msg, "channel"));
    if (!s->pub || s->pub->channel != (uint32_t)channel) {
        vg_signaling_error(s, id, "unknown_channel", "channel", "not publishing on channel %lld",
                           (long long)channel);
        return;
    }
    vg_publisher_stop(s, "publisher stopped");
    json_t *r = vg_signaling_reply("unpublish", id);
    if (!r) return;
    json_object_set_new(r, "channel", json_integer(channel));
    vg_session_send_json(s, r);
}

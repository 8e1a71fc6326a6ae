/* publisher.c -- a connection that publishes a stream (see publisher.h). */
#include "server/publisher.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/server.h"

vg_publish_result vg_publisher_start(vg_session *s, vg_stream *stream, vg_publish_config *cfg,
                                     bool audio) {
    if (s->pub) return VG_PUBLISH_ALREADY;
    vg_publisher *p = calloc(1, sizeof(*p));
    if (!p) return VG_PUBLISH_NO_MEMORY;
    if (vg_stream_publisher_join(stream, s, vg_access_sub(&s->access), s->peer, cfg,
                                 vg_server_now_us())) {
        free(p);
        return VG_PUBLISH_TAKEN;
    }
    p->stream = stream;
    p->channel = stream->channel;
    p->audio = audio;
    s->pub = p;
    return VG_PUBLISHING;
}

void vg_publisher_stop(vg_session *s, const char *reason) {
    vg_publisher *p = s->pub;
    if (!p) return;
    vg_log(VG_LOG_INFO, "stream %s: publisher %s (%s) left after %llu messages", p->stream->id,
           vg_access_sub(&s->access), s->peer, (unsigned long long)p->messages);
    vg_stream_publisher_leave(p->stream, s, reason, vg_server_now_us());
    free(p->rx);
    free(p);
    s->pub = NULL;
}

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t be64(const uint8_t *b) {
    return (uint64_t)be32(b) << 32 | be32(b + 4);
}

/* A message that is not a usable frame: counted, and said at most once a
 * second (a client that never reads is closed by its reply queue anyway). */
static void bad_frame(vg_session *s, const char *why) {
    vg_publisher *p = s->pub;
    p->malformed++;
    vg_publish_feed_malformed(p->stream->feed);
    int64_t now = vg_server_now_us();
    if (now - p->bad_reported_us < 1000000) return;
    p->bad_reported_us = now;
    s->server->protocol->bad_frame(s, why);
}

/* One complete binary message. */
static void on_message(vg_session *s, const uint8_t *d, size_t len) {
    vg_publisher *p = s->pub;
    p->messages++;
    p->bytes += len;
    if (len <= VG_PUBLISH_HEADER_LEN) {
        bad_frame(s, "a publish frame is a 16-byte header and a payload");
        return;
    }
    if (d[0] != VG_PUBLISH_VERSION) {
        bad_frame(s, "unknown publish frame version");
        return;
    }
    if (be32(d + 4) != p->channel) {
        bad_frame(s, "the frame's channel is not this connection's publish channel");
        return;
    }
    const uint8_t *payload = d + VG_PUBLISH_HEADER_LEN;
    size_t plen = len - VG_PUBLISH_HEADER_LEN;
    uint64_t time_us = be64(d + 8);
    int64_t now = vg_server_now_us();
    switch (d[1]) {
    case VG_PUBLISH_KIND_VIDEO:
        vg_publish_feed_video(p->stream->feed, payload, plen, d[2] & VG_PUBLISH_KEYFRAME, time_us,
                              now);
        break;
    case VG_PUBLISH_KIND_AUDIO:
        if (!p->audio) {
            bad_frame(s, "audio frame, but the publish request announced no audio");
            return;
        }
        vg_publish_feed_audio(p->stream->feed, payload, plen, time_us, now);
        break;
    default: bad_frame(s, "unknown publish frame kind"); break;
    }
}

int vg_publisher_on_binary(vg_session *s, const void *in, size_t len, bool final,
                           uint32_t max_bytes) {
    vg_publisher *p = s->pub;
    if (len > max_bytes - p->rx_len) return -1;
    if (final && p->rx_len == 0) { /* in one piece: no copy */
        on_message(s, in, len);
        return 0;
    }
    if (p->rx_len + len > p->rx_cap) {
        size_t cap = p->rx_cap ? p->rx_cap : 64 * 1024;
        while (cap < p->rx_len + len)
            cap *= 2;
        if (cap > max_bytes) cap = max_bytes;
        uint8_t *nrx = realloc(p->rx, cap);
        if (!nrx) return -1;
        p->rx = nrx;
        p->rx_cap = cap;
    }
    if (len) memcpy(p->rx + p->rx_len, in, len); /* an empty first fragment: rx is NULL */
    p->rx_len += len;
    if (final) {
        size_t n = p->rx_len;
        p->rx_len = 0;
        on_message(s, p->rx, n);
    }
    return 0;
}

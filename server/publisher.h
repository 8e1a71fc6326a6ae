/* publisher.h -- the publishing side of one vigil.v1 connection: after a
 * successful `publish` request (signaling/handle_publish.c) the client sends
 * binary messages, each a 16-byte header and one H.264 access unit or audio
 * frame (PROTOCOL.md, "Publishing"). They are reassembled here up to
 * server.max_publish_frame_bytes (larger: the connection is closed with
 * 1009), checked, and handed to the stream's feed (media/publish.h).
 *
 * A connection publishes at most one stream. When it unpublishes or goes
 * away, the stream shows `retrying` until the next publisher.
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_PUBLISHER_H
#define VIGIL_SERVER_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/publish.h"
#include "media/stream.h"

typedef struct vg_session vg_session;

#define VG_PUBLISH_HEADER_LEN 16
#define VG_PUBLISH_VERSION    1
#define VG_PUBLISH_KIND_VIDEO 1
#define VG_PUBLISH_KIND_AUDIO 2
#define VG_PUBLISH_KEYFRAME   0x01

typedef struct vg_publisher {
    vg_stream *stream;
    uint32_t channel;
    bool audio; /* the publish request announced audio */
    /* the binary message being reassembled; kept between messages */
    uint8_t *rx;
    size_t rx_len, rx_cap;
    /* counters */
    uint64_t messages, bytes, malformed;
    int64_t bad_reported_us; /* last bad_frame error sent (at most one a second) */
} vg_publisher;

/* What vg_publisher_start did. */
typedef enum vg_publish_result {
    VG_PUBLISHING,           /* the session publishes the stream now */
    VG_PUBLISH_ALREADY,      /* this session already publishes a stream */
    VG_PUBLISH_TAKEN,        /* another publisher has the stream */
    VG_PUBLISH_NO_MEMORY,
} vg_publish_result;

/* Makes the session the publisher of `stream` (s->pub) with the config of
 * its request (moved in when it succeeds). */
vg_publish_result vg_publisher_start(vg_session *s, vg_stream *stream, vg_publish_config *cfg,
                                     bool audio);
/* The session stops publishing (reason for the stream's viewers); no-op if
 * it does not publish. */
void vg_publisher_stop(vg_session *s, const char *reason);

/* One piece of an incoming binary message of a publishing session. Returns 0,
 * or -1 when the message is larger than max_bytes (the caller closes with
 * 1009). */
int vg_publisher_on_binary(vg_session *s, const void *in, size_t len, bool final,
                           uint32_t max_bytes);

#endif

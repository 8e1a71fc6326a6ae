/* http_recordings.h -- a stream's recordings over HTTP (signaling/PROTOCOL.md,
 * "Recordings"):
 *
 *   GET    /api/streams/{id}/recordings?from=&to=   the segments and clips
 *          overlapping [from, to] (ISO 8601 UTC, both optional), by start
 *   GET    /api/streams/{id}/recordings/{name}.mp4  the file, with Range (206)
 *   HEAD   the same without a body
 *   DELETE /api/streams/{id}/recordings/{name}.mp4  admin or operator: 204
 *
 * Names are the file names the recorder and the clips write, and nothing
 * else: "<stream>-<YYYYMMDDTHHMMSSZ>[-n]" (a segment, in <path>/<stream>/) and
 * "<stream>-clip-<YYYYMMDDTHHMMSSZ>[-n]" (a clip, in <path>/<stream>/clips/,
 * with its "<name>.json" sidecar). A stream the token does not cover is
 * unknown_stream (404), as for the snapshot and subscribe.
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_HTTP_RECORDINGS_H
#define VIGIL_SERVER_HTTP_RECORDINGS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "server/http_reply.h"
#include "server/recordings_index.h" /* vg_recording_name_kind */

typedef enum vg_recordings_path {
    VG_RECORDINGS_NONE = 0,
    VG_RECORDINGS_LIST, /* /api/streams/{id}/recordings */
    VG_RECORDINGS_FILE, /* /api/streams/{id}/recordings/{name}.mp4 (any name) */
} vg_recordings_path;

/* Which recordings path `uri` is (for the route table of http_api.c). */
vg_recordings_path vg_recordings_route(const char *uri);

/* An ISO 8601 UTC time ("2026-12-05T12:00:00Z", fractions of a second
 * allowed) in milliseconds since the epoch: 0, or -1. */
int vg_recording_parse_time(const char *text, int64_t *ms);

/* In LWS_CALLBACK_HTTP for a path vg_recordings_route() knows, with
 * hs->access set; `del`: a DELETE. As vg_http_reply(): 0, or -1. */
int vg_http_recordings(struct lws *wsi, vg_http_session *hs, const char *uri, bool del);

#endif

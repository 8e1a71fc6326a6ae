/* http_recordings.c -- a stream's recordings over HTTP (see
 * http_recordings.h).
 *
 * Disk work on the service thread, bounded (a bounded alternative to a
 * worker thread, as lws's own file mount serves web/ from this thread):
 *   - the listing takes one stream's two directories' names from the
 *     index (server/recordings_index.h: read again only when a directory
 *     changed), then looks on disk (a stat, a clip's sidecar) at just the
 *     files whose names say they may overlap the range, at most MAX_LISTED
 *     of them ("truncated" past that). Measured with a week of one-minute
 *     segments in one directory (10080 files), request to reply, for the
 *     two hours a tile's timeline asks for: 2.0-2.5 ms with the names kept
 *     (15 ms when they are read: the first listing after a change), a
 *     full 1000 9.5 ms (an /api/health 0.6 ms);
 *   - a whole file goes out through lws_serve_http_file, a chunk per
 *     writable socket, exactly as web/'s files do;
 *   - a Range request gets at most MAX_PART bytes, read (usually from the
 *     page cache: the file was just written) and written at once like
 *     every other reply (server/http_reply.h says why at once). lws cannot
 *     serve ranges itself: Debian's lws 4.1 is built without
 *     LWS_WITH_RANGES, so the one Range header is parsed here.
 *
 * Thread: lws service thread only. */

#include "server/http_recordings.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/utc_time.h"
#include "server/recordings_index.h"
#include "server/server.h"

#define MAX_LISTED 1000
/* The longest a clip may last (pre-roll and post time together), for
 * passing over clips that end before the range without reading them. */
#define CLIP_SPAN_MAX_S 3600
/* The most of a file one Range request gets (the Content-Range says what
 * came; a player asks again from there). */
#define MAX_PART  (1024 * 1024)

/* ---- names and times ------------------------------------------------------- */

vg_recordings_path vg_recordings_route(const char *uri) {
    static const char prefix[] = "/api/streams/";
    if (strncmp(uri, prefix, sizeof(prefix) - 1)) return VG_RECORDINGS_NONE;
    const char *id = uri + sizeof(prefix) - 1, *slash = strchr(id, '/');
    if (!slash || slash == id || strncmp(slash, "/recordings", 11)) return VG_RECORDINGS_NONE;
    const char *rest = slash + 11;
    if (!*rest) return VG_RECORDINGS_LIST;
    size_t n = strlen(rest);
    /* "/x.mp4" at least, one path segment */
    if (rest[0] != '/' || n < 6 || strchr(rest + 1, '/') || strcmp(rest + n - 4, ".mp4"))
        return VG_RECORDINGS_NONE;
    return VG_RECORDINGS_FILE;
}

int vg_recording_parse_time(const char *text, int64_t *ms) {
    struct tm tm = {0};
    const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p || strlen(text) < 19) return -1;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 3) frac = frac * 10 + (*p - '0');
        if (!digits) return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (strcmp(p, "Z")) return -1;
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}

/* ---- replies ----------------------------------------------------------------- */

/* The stream's recordings directory "<path>/<stream>" in out; 0, or -1 when
 * the stream records nowhere (no record.path nor server.record_path). */
static int stream_dir(vg_server *srv, const char *id, char *out, size_t outlen) {
    const char *path = srv->config->record_path;
    for (size_t i = 0; i < srv->config->nstreams; i++)
        if (!strcmp(srv->config->streams[i].id, id) && srv->config->streams[i].record.path)
            path = srv->config->streams[i].record.path;
    if (!path) return -1;
    int n = snprintf(out, outlen, "%s/%s", path, id);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The base name of the segment being written now ("" when none). */
static void current_segment(vg_stream *s, char *out, size_t outlen) {
    out[0] = 0;
    if (!s->recorder || !s->recorder->sink) return;
    vg_record_status st;
    uint64_t dropped;
    vg_recorder_status(s->recorder, &st, &dropped);
    if (st.state != VG_RECORD_RECORDING) return;
    const char *slash = strrchr(st.file, '/'), *base = slash ? slash + 1 : st.file;
    if (strlen(base) < outlen) strcpy(out, base);
}

/* ---- the listing --------------------------------------------------------------- */

typedef struct listing {
    const char *stream;
    const char *writing;       /* the segment being written now */
    const vg_recorder *clips;  /* the stream's recorder: the clips being made (or NULL) */
    vg_recordings_index *index; /* the directories' names */
    int64_t from_ms, to_ms, now_ms;
    json_t *items;
    bool truncated;
} listing;

/* The clip's sidecar fields into item (what it says about start and end
 * wins over the name and the file's time). */
static void add_sidecar(json_t *item, const char *json_path) {
    json_t *side = json_load_file(json_path, 0, NULL);
    if (!json_is_object(side)) {
        json_decref(side);
        json_object_set_new(item, "complete", json_false());
        return;
    }
    static const char *const fields[] = {"label", "subject", "reason",  "device",
                                         "start", "end",     "complete", "error"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = json_object_get(side, fields[i]);
        if (v) json_object_set(item, fields[i], v);
    }
    if (!json_object_get(item, "complete")) json_object_set_new(item, "complete", json_false());
    json_decref(side);
}

static int64_t item_ms(json_t *item, const char *key) {
    int64_t ms = 0;
    const char *t = json_string_value(json_object_get(item, key));
    return t && !vg_recording_parse_time(t, &ms) ? ms : -1;
}

/* Adds one recording (`file` of `dir`) when it overlaps the range. */
static void add_recording(listing *l, const char *dir, int kind, const char *file, time_t start_s) {
    int64_t start_ms = (int64_t)start_s * 1000;
    char path[PATH_MAX], name[208];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    snprintf(name, sizeof(name), "%.*s", (int)(strlen(file) - 4), file); /* without .mp4 */
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode)) return;
    bool writing = kind == 1 && !strcmp(file, l->writing);
    int64_t end_ms =
        writing ? l->now_ms : (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    char start[40], end[40], url[512];
    vg_utc_format_ms(start_ms, start, sizeof(start));
    vg_utc_format_ms(end_ms, end, sizeof(end));
    snprintf(url, sizeof(url), "/api/streams/%s/recordings/%s", l->stream, file);
    json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "id", name, "kind",
                             kind == 1 ? "segment" : "clip", "start", start, "end", end, "bytes",
                             (json_int_t)st.st_size, "url", url, "recording", writing);
    if (!item) return;
    if (kind == 2) {
        snprintf(path + strlen(path) - 4, 6, ".json");
        add_sidecar(item, path);
        int64_t s = item_ms(item, "start"), en = item_ms(item, "end");
        if (s >= 0) start_ms = s;
        if (en >= 0) end_ms = en;
        /* a clip being made now: its file grows until "end" (one that a
         * crash or a failure left incomplete is not being made) */
        json_object_set_new(item, "recording",
                            json_boolean(l->clips && vg_recorder_clip_active(l->clips, name)));
    }
    if (end_ms < l->from_ms || start_ms > l->to_ms) {
        json_decref(item);
        return;
    }
    if (json_array_size(l->items) >= MAX_LISTED) {
        l->truncated = true;
        json_decref(item);
        return;
    }
    json_object_set_new(item, "start_ms", json_integer(start_ms)); /* sort key, removed */
    json_array_append_new(l->items, item);
}

/* Adds the recordings of `dir` (segments, or clips: `kind`) that overlap
 * the range. Only those that may overlap are looked at on disk (stat, a
 * clip's sidecar): a stream's segments follow one another, so of those
 * starting before `from` only the last can reach into the range; a clip
 * lasts at most CLIP_SPAN_MAX_S. */
static void list_dir(listing *l, const char *dir, int kind) {
    size_t n;
    const vg_recording_file *v = vg_recordings_index_get(l->index, dir, l->stream, kind, &n);
    size_t first = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t start_ms = (int64_t)v[i].start_s * 1000;
        if (kind == 1 && start_ms < l->from_ms)
            first = i; /* the last segment starting before from */
        if (kind == 2 && start_ms + CLIP_SPAN_MAX_S * 1000LL < l->from_ms) first = i + 1;
    }
    for (size_t i = first; i < n && !l->truncated; i++) {
        if ((int64_t)v[i].start_s * 1000 > l->to_ms) break;
        add_recording(l, dir, kind, v[i].file, v[i].start_s);
    }
}

static int by_start(const void *a, const void *b) {
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t sx = json_integer_value(json_object_get(x, "start_ms"));
    json_int_t sy = json_integer_value(json_object_get(y, "start_ms"));
    if (sx != sy) return sx < sy ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "id")),
                  json_string_value(json_object_get(y, "id")));
}

/* The items sorted by start, without their sort key. */
static json_t *sorted(json_t *items) {
    size_t n = json_array_size(items);
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    json_t *out = json_array();
    if (!v || !out) {
        free(v);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(items, i);
    qsort(v, n, sizeof(*v), by_start);
    for (size_t i = 0; i < n; i++) {
        json_object_del(v[i], "start_ms");
        json_array_append(out, v[i]);
    }
    free(v);
    return out;
}

static int time_arg(struct lws *wsi, const char *name, int64_t *ms, char *msg, size_t msglen) {
    char text[64];
    int got = vg_http_query_arg(wsi, name, text, sizeof(text));
    if (!got) return 0;
    if (got < 0 || vg_recording_parse_time(text, ms)) {
        snprintf(msg, msglen, "%s: an ISO 8601 UTC time, e.g. 2026-12-05T12:00:00Z", name);
        return -1;
    }
    return 0;
}

static int list(struct lws *wsi, vg_http_session *hs, vg_server *srv, vg_stream *s) {
    char msg[160], dir[PATH_MAX], clips[PATH_MAX + 8], writing[256];
    listing l = {.stream = s->id,
                 .clips = s->recorder,
                 .index = &srv->recordings_index,
                 .from_ms = INT64_MIN,
                 .to_ms = INT64_MAX,
                 .now_ms = vg_server_now_us() / 1000};
    if (time_arg(wsi, "from", &l.from_ms, msg, sizeof(msg)))
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_field", "from", msg,
                                       NULL);
    if (time_arg(wsi, "to", &l.to_ms, msg, sizeof(msg)))
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_field", "to", msg,
                                       NULL);
    if (l.from_ms > l.to_ms)
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_field", "to",
                                       "to: must not be before from", NULL);
    current_segment(s, writing, sizeof(writing));
    l.writing = writing;
    l.items = json_array();
    if (!stream_dir(srv, s->id, dir, sizeof(dir))) {
        list_dir(&l, dir, 1);
        snprintf(clips, sizeof(clips), "%s/clips", dir);
        if (!l.truncated) list_dir(&l, clips, 2);
    }
    json_t *items = sorted(l.items);
    json_decref(l.items);
    if (!items) return -1;
    json_t *body = json_pack("{s:s, s:o}", "stream", s->id, "recordings", items);
    if (body && l.truncated) json_object_set_new(body, "truncated", json_true());
    return vg_http_reply_json(wsi, hs, HTTP_STATUS_OK, body, NULL, NULL, false);
}

/* ---- one file ---------------------------------------------------------------- */

/* The Range header's one byte range within `size`: 1 with [*first, *last],
 * 0 to send the whole file (no Range, or one we ignore as RFC 9110 14.2
 * allows: not "bytes=", several ranges, bad syntax), -1 unsatisfiable.
 * Parsed here because lws parses ranges only when built with
 * LWS_WITH_RANGES, which Debian's lws 4.1 is not. */
static int byte_range(struct lws *wsi, off_t size, off_t *first, off_t *last) {
    char h[128];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_RANGE);
    if (n <= 0 || n >= (int)sizeof(h) || lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_RANGE) <= 0)
        return 0;
    if (strncmp(h, "bytes=", 6) || strchr(h, ',')) return 0;
    const char *p = h + 6, *dash = strchr(p, '-');
    if (!dash) return 0;
    char *end;
    if (dash == p) { /* "-N": the last N bytes */
        if (!isdigit((unsigned char)dash[1])) return 0;
        long long k = strtoll(dash + 1, &end, 10);
        if (*end) return 0;
        if (k == 0 || size == 0) return -1;
        *first = k >= size ? 0 : size - (off_t)k;
        *last = size - 1;
        return 1;
    }
    if (!isdigit((unsigned char)*p)) return 0;
    long long a = strtoll(p, &end, 10);
    if (end != dash) return 0;
    long long b = size - 1;
    if (dash[1]) {
        if (!isdigit((unsigned char)dash[1])) return 0;
        b = strtoll(dash + 1, &end, 10);
        if (*end || b < a) return 0;
    }
    if (a >= size) return -1;
    *first = (off_t)a;
    *last = b >= size ? size - 1 : (off_t)b;
    return 1;
}

/* The file, whole (200, through lws's file serving) or the part of it the
 * Range asks for (206, at most MAX_PART bytes of it, written at once), or
 * 416; for HEAD the headers only. */
static int send_file(struct lws *wsi, vg_http_session *hs, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "unknown_recording", NULL,
                                       "no such recording", NULL);
    }
    off_t first = 0, last = st.st_size - 1;
    int r = byte_range(wsi, st.st_size, &first, &last);
    if (r > 0 && last - first + 1 > MAX_PART) last = first + MAX_PART - 1;
    if (r == 0 && !hs->head) { /* lws streams it, as it does web/'s files */
        close(fd);
        static const char extra[] = "accept-ranges: bytes\r\ncache-control: no-store\r\n";
        int n = lws_serve_http_file(wsi, path, "video/mp4", extra, (int)strlen(extra));
        return n < 0 ? -1 : n > 0 ? (lws_http_transaction_completed(wsi) ? -1 : 0) : 0;
    }
    unsigned int status = r > 0   ? HTTP_STATUS_PARTIAL_CONTENT
                          : r < 0 ? HTTP_STATUS_REQ_RANGE_NOT_SATISFIABLE
                                  : HTTP_STATUS_OK;
    size_t len = r < 0 ? 0 : (size_t)(last - first + 1);
    char range[96];
    if (r > 0)
        snprintf(range, sizeof(range), "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                 (long long)st.st_size);
    else
        snprintf(range, sizeof(range), "bytes */%lld", (long long)st.st_size);
    /* The part, read now (usually from the page cache); HEAD: its length only. */
    uint8_t *part = NULL;
    if (r > 0 && !hs->head) {
        part = malloc(len);
        bool cut = !part || pread(fd, part, len, first) != (ssize_t)len; /* cut meanwhile */
        if (cut) {
            free(part);
            close(fd);
            return -1;
        }
    }
    close(fd);
    const vg_http_header extra[] = {{"accept-ranges:", "bytes"}, {"content-range:", range}};
    int rc = vg_http_reply_headers(wsi, hs, status, r < 0 ? "text/plain" : "video/mp4", part, len,
                                   extra, r != 0 ? 2 : 1, false);
    free(part);
    return rc;
}

/* DELETE: admin or operator, never the segment being written. */
static int delete_file(struct lws *wsi, vg_http_session *hs, vg_server *srv, vg_stream *s,
                       const char *name, const char *path, int kind) {
    if (hs->access.role != VG_ROLE_ADMIN && hs->access.role != VG_ROLE_OPERATOR) {
        srv->forbidden_total++;
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_FORBIDDEN, "forbidden", NULL,
                                       "deleting recordings is for admins and operators", NULL);
    }
    char writing[256], file[256];
    current_segment(s, writing, sizeof(writing));
    snprintf(file, sizeof(file), "%s.mp4", name);
    if (kind == 1 && !strcmp(writing, file))
        return vg_http_reply_api_error(
            wsi, hs, HTTP_STATUS_CONFLICT, "recording_in_progress", NULL,
            "this segment is being written now: it can be deleted once it ends", NULL);
    if (kind == 2 && s->recorder && vg_recorder_clip_active(s->recorder, name))
        return vg_http_reply_api_error(
            wsi, hs, HTTP_STATUS_CONFLICT, "recording_in_progress", NULL,
            "this clip is being made now: it can be deleted once it is complete", NULL);
    if (unlink(path)) {
        if (errno == ENOENT)
            return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "unknown_recording",
                                           NULL, "no such recording", NULL);
        char msg[160];
        snprintf(msg, sizeof(msg), "could not delete: %s", strerror(errno));
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_INTERNAL_SERVER_ERROR, "delete_failed",
                                       NULL, msg, NULL);
    }
    if (kind == 2) {
        char side[PATH_MAX];
        snprintf(side, sizeof(side), "%.*s.json", (int)(strlen(path) - 4), path);
        unlink(side);
    }
    srv->recordings_deleted_total++;
    vg_log(VG_LOG_INFO, "stream %s: recording %s deleted by %s (%s)", s->id, file,
           vg_access_sub(&hs->access), vg_role_name(hs->access.role));
    return vg_http_reply_bytes(wsi, hs, HTTP_STATUS_NO_CONTENT, "application/json", "", 0, NULL,
                               NULL, false);
}

static int one_file(struct lws *wsi, vg_http_session *hs, vg_server *srv, vg_stream *s,
                    const char *file, bool del) {
    char name[208], dir[PATH_MAX], path[PATH_MAX + 256];
    size_t n = strlen(file);
    time_t start_s;
    int kind = 0;
    if (n - 4 < sizeof(name)) {
        memcpy(name, file, n - 4);
        name[n - 4] = 0;
        kind = vg_recording_name_kind(name, s->id, &start_s);
    }
    if (!kind)
        return vg_http_reply_api_error(
            wsi, hs, HTTP_STATUS_BAD_REQUEST, "bad_name", NULL,
            "not a recording name: <stream>-<YYYYMMDDTHHMMSSZ>[-n].mp4 or "
            "<stream>-clip-<YYYYMMDDTHHMMSSZ>[-n].mp4",
            NULL);
    if (stream_dir(srv, s->id, dir, sizeof(dir)))
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "unknown_recording", NULL,
                                       "this stream records nowhere", NULL);
    snprintf(path, sizeof(path), "%s/%s%s", dir, kind == 2 ? "clips/" : "", file);
    return del ? delete_file(wsi, hs, srv, s, name, path, kind) : send_file(wsi, hs, path);
}

int vg_http_recordings(struct lws *wsi, vg_http_session *hs, const char *uri, bool del) {
    vg_server *srv = lws_context_user(lws_get_context(wsi));
    const char *id = uri + strlen("/api/streams/"), *slash = strchr(id, '/');
    char stream[CONTROL_ID_MAX], msg[160];
    size_t n = (size_t)(slash - id);
    snprintf(stream, sizeof(stream), "%.*s", (int)(n < sizeof(stream) ? n : sizeof(stream) - 1),
             id);
    /* A stream the client may not see does not exist for it (as for the snapshot). */
    vg_stream *s = n < sizeof(stream) && vg_access_sees_stream(&hs->access, stream)
                       ? vg_server_find_stream(srv, stream)
                       : NULL;
    if (!s) {
        snprintf(msg, sizeof(msg), "no stream named '%.64s'", stream);
        return vg_http_reply_api_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "unknown_stream", NULL, msg,
                                       NULL);
    }
    if (vg_recordings_route(uri) == VG_RECORDINGS_LIST) return list(wsi, hs, srv, s);
    return one_file(wsi, hs, srv, s, slash + strlen("/recordings/"), del);
}

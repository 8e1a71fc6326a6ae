/* record_sink.c -- one recording's segment files (see record_sink.h). */
#include "media/record_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/utc_time.h"
#include "media/retention.h"

const char *vg_record_state_name(vg_record_state st) {
    switch (st) {
    case VG_RECORD_STOPPED: return "stopped";
    case VG_RECORD_RECORDING: return "recording";
    case VG_RECORD_ERROR: return "error";
    }
    return "unknown";
}

vg_record_sink *vg_record_sink_new(const char *dir, const char *name, int64_t max_age_s,
                                   uint64_t max_bytes) {
    vg_record_sink *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    k->fd = -1;
    k->dir = strdup(dir);
    k->name = strdup(name);
    k->max_age_s = max_age_s;
    k->max_bytes = max_bytes;
    if (!k->dir || !k->name || pthread_mutex_init(&k->lock, NULL)) {
        free(k->dir);
        free(k->name);
        free(k);
        return NULL;
    }
    return k;
}

vg_record_sink *vg_record_sink_new_clip(const char *dir, const char *name, json_t *meta) {
    vg_record_sink *k = vg_record_sink_new(dir, name, 0, 0);
    if (!k) {
        json_decref(meta);
        return NULL;
    }
    k->clip = true;
    k->sidecar = meta;
    return k;
}

void vg_record_sink_free(vg_record_sink *k) {
    if (!k) return;
    vg_record_sink_close(k);
    json_decref(k->sidecar);
    pthread_mutex_destroy(&k->lock);
    free(k->dir);
    free(k->name);
    free(k);
}

void vg_record_sink_status(vg_record_sink *k, vg_record_status *out) {
    pthread_mutex_lock(&k->lock);
    *out = k->status;
    pthread_mutex_unlock(&k->lock);
}

static void set_time(json_t *o, const char *key, int64_t us) {
    char t[40];
    vg_utc_format_ms(us / 1000, t, sizeof(t));
    json_object_set_new(o, key, json_string(t));
}

/* A clip's sidecar as it stands: written aside, then renamed over the old
 * one, so that a reader never sees half of it. `error`: why the clip ended
 * early, or NULL. */
static void write_sidecar(vg_record_sink *k, bool complete, const char *error) {
    char path[PATH_MAX + 8], tmp[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s.json", k->dir, k->name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    set_time(k->sidecar, "start", k->first_us);
    set_time(k->sidecar, "end", k->last_us);
    json_object_set_new(k->sidecar, "complete", json_boolean(complete));
    if (error) json_object_set_new(k->sidecar, "error", json_string(error));
    if (json_dump_file(k->sidecar, tmp, JSON_COMPACT) || rename(tmp, path)) {
        vg_log(VG_LOG_WARN, "clip %s: cannot write %s: %s", k->name, path, strerror(errno));
        unlink(tmp);
    }
}

void vg_record_stamp(int64_t us, char out[32]) {
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y%m%dT%H%M%SZ", &tm);
}

/* The sink stops with `reason` (what failed, then errno's text); the file
 * written so far stays. */
static void fail(vg_record_sink *k, const char *what, int err) {
    bool wrote = k->fd >= 0 && k->offset > 0; /* the file is there, with its init */
    if (k->fd >= 0) close(k->fd);
    k->fd = -1;
    pthread_mutex_lock(&k->lock);
    snprintf(k->status.reason, sizeof(k->status.reason), "%s: %s", what, strerror(err));
    k->status.state = VG_RECORD_ERROR;
    k->status.errors++;
    pthread_mutex_unlock(&k->lock);
    vg_log(VG_LOG_WARN, "recording %s stopped: %s: %s", k->name, what, strerror(err));
    if (k->clip && wrote) write_sidecar(k, false, k->status.reason);
}

/* mkdir -p: every missing component of `dir`. 0, or -1 with errno. */
static int make_dirs(const char *dir) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c) continue;
        char was = *c;
        *c = 0;
        if (mkdir(p, 0755) && errno != EEXIST) return -1;
        *c = was;
        if (!was) break;
    }
    struct stat st;
    if (stat(dir, &st)) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Writes all of buf (one write() unless the kernel takes less). On failure
 * the file is cut back to its last whole fragment. 0, or errno. */
static int write_whole(vg_record_sink *k, const uint8_t *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(k->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : ENOSPC;
            if (ftruncate(k->fd, (off_t)k->offset)) { /* keep err: it says why */
            }
            return err;
        }
        done += (size_t)n;
    }
    k->offset += len;
    return 0;
}

static void count_written(vg_record_sink *k, size_t len) {
    pthread_mutex_lock(&k->lock);
    k->status.bytes += len;
    pthread_mutex_unlock(&k->lock);
}

/* Creates the segment's file: "<dir>/<name>-<UTC>.mp4", or with "-2" ...
 * when a segment of the same second exists. The fd, or -1 with errno. */
static int create_file(vg_record_sink *k, int64_t start_us) {
    if (k->clip) {
        if (snprintf(k->path, sizeof(k->path), "%s/%s.mp4", k->dir, k->name) >=
            (int)sizeof(k->path)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        return open(k->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    char stamp[32];
    vg_record_stamp(start_us, stamp);
    for (int n = 1; n < 100; n++) {
        char suffix[8] = "";
        if (n > 1) snprintf(suffix, sizeof(suffix), "-%d", n);
        if (snprintf(k->path, sizeof(k->path), "%s/%s-%s%s.mp4", k->dir, k->name, stamp,
                     suffix) >= (int)sizeof(k->path)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(k->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

static void apply_retention(vg_record_sink *k) {
    if (k->clip || (!k->max_age_s && !k->max_bytes)) return;
    vg_retention_result r;
    if (vg_retention_apply(k->dir, k->name, (int64_t)time(NULL), k->max_age_s, k->max_bytes,
                           &r)) {
        vg_log(VG_LOG_WARN, "recording %s: retention cannot read %s: %s", k->name, k->dir,
               strerror(errno));
        return;
    }
    if (!r.deleted) return;
    pthread_mutex_lock(&k->lock);
    k->status.deleted += r.deleted;
    pthread_mutex_unlock(&k->lock);
    vg_log(VG_LOG_INFO, "recording %s: retention removed %u segment%s (%llu bytes), %u kept",
           k->name, r.deleted, r.deleted == 1 ? "" : "s", (unsigned long long)r.bytes_freed,
           r.kept);
}

void vg_record_sink_close(vg_record_sink *k) {
    if (k->fd < 0) return;
    close(k->fd);
    k->fd = -1;
    pthread_mutex_lock(&k->lock);
    if (k->status.state == VG_RECORD_RECORDING) k->status.state = VG_RECORD_STOPPED;
    pthread_mutex_unlock(&k->lock);
    if (k->clip) write_sidecar(k, true, NULL);
}

void vg_record_sink_open(vg_record_sink *k, vg_frame *init, int64_t start_us) {
    if (k->clip && (k->fd >= 0 || k->status.segments)) {
        fail(k, "a clip is one file", EEXIST);
        return;
    }
    vg_record_sink_close(k);
    apply_retention(k);
    if (make_dirs(k->dir)) {
        fail(k, "cannot create the directory", errno);
        return;
    }
    k->fd = create_file(k, start_us);
    if (k->fd < 0) {
        fail(k, "cannot create a segment file", errno);
        return;
    }
    k->offset = 0;
    int err = write_whole(k, vg_frame_payload(init), init->payload_len);
    if (err) {
        unlink(k->path); /* without its init segment the file is of no use */
        fail(k, "cannot write", err);
        return;
    }
    pthread_mutex_lock(&k->lock);
    bool recovered = k->status.state == VG_RECORD_ERROR;
    k->status.state = VG_RECORD_RECORDING;
    k->status.reason[0] = 0;
    snprintf(k->status.file, sizeof(k->status.file), "%s", k->path);
    k->status.segments++;
    k->status.bytes += init->payload_len;
    pthread_mutex_unlock(&k->lock);
    vg_log(recovered ? VG_LOG_INFO : VG_LOG_DEBUG, "recording %s%s: %s", k->name,
           recovered ? " again" : "", k->path);
    if (k->clip) {
        k->first_us = k->last_us = start_us;
        write_sidecar(k, false, NULL);
    }
}

void vg_record_sink_write(vg_record_sink *k, vg_frame *f) {
    if (k->fd < 0) return;
    int err = write_whole(k, vg_frame_payload(f), f->payload_len);
    if (err) {
        fail(k, "cannot write", err);
        return;
    }
    count_written(k, f->payload_len);
    if (f->time_us > k->last_us) k->last_us = f->time_us;
}

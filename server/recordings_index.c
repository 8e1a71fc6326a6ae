/* recordings_index.c -- recording names, and a directory's kept between
 * listings (see recordings_index.h). */
#include "server/recordings_index.h"

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STAMP_LEN 16 /* YYYYMMDDTHHMMSSZ */
/* A directory changed less than this before it was read is read again. */
#define SETTLED_NS 1000000000LL

/* "YYYYMMDDTHHMMSSZ" at s: the UTC time, or -1. */
static time_t parse_stamp(const char *s) {
    for (int i = 0; i < STAMP_LEN; i++) {
        bool digit = isdigit((unsigned char)s[i]);
        if (i == 8 ? s[i] != 'T' : i == 15 ? s[i] != 'Z' : !digit) return -1;
    }
    struct tm tm = {0};
    const char *end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
    return end == s + STAMP_LEN ? timegm(&tm) : -1;
}

int vg_recording_name_kind(const char *name, const char *stream, time_t *start_s) {
    size_t sl = strlen(stream);
    if (strncmp(name, stream, sl) || name[sl] != '-') return 0;
    const char *p = name + sl + 1;
    int kind = 1;
    if (!strncmp(p, "clip-", 5)) {
        kind = 2;
        p += 5;
    }
    time_t t = parse_stamp(p);
    if (t < 0) return 0;
    p += STAMP_LEN;
    if (*p == '-') { /* "-n": another file started in the same second */
        p++;
        if (!isdigit((unsigned char)*p) || *p == '0') return 0;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits++ < 6)
            p++;
    }
    if (*p) return 0;
    *start_s = t;
    return kind;
}

static int by_start(const void *a, const void *b) {
    const vg_recording_file *x = a, *y = b;
    if (x->start_s != y->start_s) return x->start_s < y->start_s ? -1 : 1;
    return strcmp(x->file, y->file);
}

/* Reads `dir` into d: readdir, the names parsed, no stat. */
static void read_dir(struct vg_recordings_dir *d, const char *dir) {
    free(d->files);
    d->files = NULL;
    d->n = 0;
    DIR *h = opendir(dir);
    if (!h) return;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(h))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || len >= sizeof(d->files->file) || strcmp(e->d_name + len - 4, ".mp4"))
            continue;
        char name[sizeof(d->files->file)];
        memcpy(name, e->d_name, len - 4);
        name[len - 4] = 0;
        time_t start_s;
        if (vg_recording_name_kind(name, d->stream, &start_s) != d->kind) continue;
        if (d->n == cap) {
            vg_recording_file *grown = realloc(d->files, (cap = cap ? cap * 2 : 64) * sizeof(*grown));
            if (!grown) break;
            d->files = grown;
        }
        memcpy(d->files[d->n].file, e->d_name, len + 1);
        d->files[d->n++].start_s = start_s;
    }
    closedir(h);
    if (d->n) qsort(d->files, d->n, sizeof(*d->files), by_start);
}

static int64_t ns_of(const struct timespec *t) {
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* The kept directory for (dir, stream, kind), or the slot to read it into. */
static struct vg_recordings_dir *slot(vg_recordings_index *ix, const char *dir,
                                      const char *stream, int kind, bool *found) {
    struct vg_recordings_dir *lru = &ix->dirs[0];
    for (size_t i = 0; i < VG_RECORDINGS_INDEX_DIRS; i++) {
        struct vg_recordings_dir *d = &ix->dirs[i];
        if (d->dir[0] && d->kind == kind && !strcmp(d->dir, dir) && !strcmp(d->stream, stream)) {
            *found = true;
            return d;
        }
        if (d->used < lru->used) lru = d;
    }
    *found = false;
    return lru;
}

const vg_recording_file *vg_recordings_index_get(vg_recordings_index *ix, const char *dir,
                                                 const char *stream, int kind, size_t *n) {
    *n = 0;
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode) || strlen(dir) >= PATH_MAX ||
        strlen(stream) >= sizeof(ix->dirs[0].stream))
        return NULL;
    bool found;
    struct vg_recordings_dir *d = slot(ix, dir, stream, kind, &found);
    d->used = ++ix->clock;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    bool same = found && d->dev == st.st_dev && d->ino == st.st_ino &&
                ns_of(&d->mtime) == ns_of(&st.st_mtim);
    bool settled = ns_of(&now) - ns_of(&st.st_mtim) >= SETTLED_NS;
    if (same && settled) {
        ix->hits++;
    } else {
        if (!found) {
            strcpy(d->dir, dir);
            strcpy(d->stream, stream);
            d->kind = kind;
        }
        d->dev = st.st_dev;
        d->ino = st.st_ino;
        d->mtime = st.st_mtim;
        read_dir(d, dir);
        ix->reads++;
    }
    *n = d->n;
    return d->files;
}

void vg_recordings_index_free(vg_recordings_index *ix) {
    for (size_t i = 0; i < VG_RECORDINGS_INDEX_DIRS; i++) {
        free(ix->dirs[i].files);
        ix->dirs[i] = (struct vg_recordings_dir){0};
    }
}

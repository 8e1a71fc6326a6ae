/* retention.c -- removing the oldest recordings (see retention.h). */
#include "media/retention.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct entry {
    char *name;
    int64_t mtime_s;
    uint64_t size;
} entry;

static int oldest_first(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->mtime_s != y->mtime_s) return x->mtime_s < y->mtime_s ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int is_recording(const char *name, const char *prefix) {
    size_t n = strlen(name), p = strlen(prefix);
    return n > p + 5 && !strncmp(name, prefix, p) && name[p] == '-' &&
           !strcmp(name + n - 4, ".mp4");
}

/* The directory's recordings, with their times and sizes. -1 on error. */
static int list(DIR *d, const char *prefix, entry **out, size_t *count) {
    entry *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (!is_recording(de->d_name, prefix) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            entry *grown = realloc(v, cap * sizeof(*v));
            if (!grown) goto oom;
            v = grown;
        }
        v[n].name = strdup(de->d_name);
        if (!v[n].name) goto oom;
        v[n].mtime_s = (int64_t)st.st_mtime;
        v[n].size = (uint64_t)st.st_size;
        n++;
    }
    *out = v;
    *count = n;
    return 0;
oom:
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    errno = ENOMEM;
    return -1;
}

int vg_retention_apply(const char *dir, const char *prefix, int64_t now_s, int64_t max_age_s,
                       uint64_t max_bytes, vg_retention_result *out) {
    *out = (vg_retention_result){0};
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    entry *v;
    size_t n;
    if (list(d, prefix, &v, &n)) {
        closedir(d);
        return -1;
    }
    qsort(v, n, sizeof(*v), oldest_first);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += v[i].size;
    for (size_t i = 0; i < n; i++) {
        bool too_old = max_age_s > 0 && now_s - v[i].mtime_s > max_age_s;
        bool too_big = max_bytes > 0 && total > max_bytes;
        if ((too_old || too_big) && unlinkat(dirfd(d), v[i].name, 0) == 0) {
            total -= v[i].size;
            out->deleted++;
            out->bytes_freed += v[i].size;
        } else {
            out->kept++;
        }
        free(v[i].name);
    }
    out->bytes_kept = total;
    free(v);
    closedir(d);
    return 0;
}

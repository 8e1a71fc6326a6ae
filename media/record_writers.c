/* record_writers.c -- a recording writer per disk (see record_writers.h). */
#include "media/record_writers.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

void vg_record_writers_init(vg_record_writers *ws, size_t queue_bytes) {
    memset(ws, 0, sizeof(*ws));
    ws->queue_bytes = queue_bytes;
}

int vg_record_path_device(const char *path, dev_t *dev) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    struct stat st;
    for (;;) {
        if (!stat(p, &st)) break;
        char *slash = strrchr(p, '/');
        if (slash == p && !p[1]) return -1; /* not even "/" */
        if (!slash) { /* a relative path none of which exists: the working directory's */
            if (stat(".", &st)) return -1;
            break;
        }
        slash[slash == p] = 0; /* "/x" -> "/" */
    }
    *dev = st.st_dev;
    return 0;
}

vg_record_writer *vg_record_writers_for(vg_record_writers *ws, const char *path) {
    dev_t dev = 0;
    if (vg_record_path_device(path, &dev))
        vg_log(VG_LOG_WARN, "recording path %s: %s: its disk is not known", path, strerror(errno));
    for (size_t i = 0; i < ws->n; i++)
        if (ws->v[i].dev == dev) return &ws->v[i].writer;
    if (ws->n == VG_RECORD_WRITERS_MAX) return &ws->v[ws->n - 1].writer;
    if (vg_record_writer_start(&ws->v[ws->n].writer, ws->queue_bytes)) {
        vg_log(VG_LOG_ERROR, "recording path %s: cannot start a writer thread", path);
        return NULL;
    }
    ws->v[ws->n].dev = dev;
    vg_log(VG_LOG_DEBUG, "recording writer %zu for the disk of %s", ws->n + 1, path);
    return &ws->v[ws->n++].writer;
}

void vg_record_writers_stop(vg_record_writers *ws) {
    for (size_t i = 0; i < ws->n; i++)
        vg_record_writer_stop(&ws->v[i].writer);
    ws->n = 0;
}

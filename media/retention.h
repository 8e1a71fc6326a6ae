/* retention.h -- which recorded files go, oldest first.
 *
 * A stream's recordings live in one directory, one file per segment, named
 * "<stream>-<UTC start>.mp4". Retention removes, oldest first (by the time
 * the file was last written, then by name), every such file older than
 * max_age_s, then more until what is left holds at most max_bytes. Only files
 * with the stream's prefix and the .mp4 suffix are considered: anything else
 * an operator keeps there is left alone. The file being written is never
 * passed in (the writer runs this between segments), so the directory may
 * hold max_bytes plus the segment in progress.
 *
 * Thread: the recording writer thread (media/record_writer.h); it touches
 * only the filesystem, no shared state. */
#ifndef VIGIL_MEDIA_RETENTION_H
#define VIGIL_MEDIA_RETENTION_H

#include <stdint.h>

typedef struct vg_retention_result {
    uint32_t deleted;      /* files removed */
    uint32_t kept;         /* files left */
    uint64_t bytes_kept;   /* their size */
    uint64_t bytes_freed;  /* the removed files' size */
} vg_retention_result;

/* Applies the limits to `dir`'s files named "<prefix>-*.mp4"; max_age_s or
 * max_bytes 0: no such limit. `now_s`: the wall clock (time()). 0, or -1
 * when the directory cannot be read (errno set; a missing directory is 0,
 * nothing to do). */
int vg_retention_apply(const char *dir, const char *prefix, int64_t now_s, int64_t max_age_s,
                       uint64_t max_bytes, vg_retention_result *out);

#endif

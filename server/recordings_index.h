/* recordings_index.h -- what the files of a recordings directory are, by
 * their names alone, kept between listings.
 *
 * A recording's name says its stream, its kind and its start
 * ("<stream>-<YYYYMMDDTHHMMSSZ>[-n]" a segment, "<stream>-clip-...[-n]" a
 * clip). Reading and parsing a week of one-minute segments (10080 names)
 * takes the service thread about 14 ms, and a dashboard asks every 10 s per
 * tile, while the directory changes about once a minute. So the names of
 * the last few directories listed are kept, sorted by start, and read again
 * only when the directory's identity or modification time has changed.
 * A directory modified within the last second is read every time: its
 * time may not have ticked for the newest change (file times are coarse).
 *
 * Bounded: VG_RECORDINGS_INDEX_DIRS directories (the least recently used
 * gives way); names longer than a recording's can be are not kept.
 *
 * Thread: lws service thread only; no lock. */
#ifndef VIGIL_SERVER_RECORDINGS_INDEX_H
#define VIGIL_SERVER_RECORDINGS_INDEX_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define VG_RECORDINGS_INDEX_DIRS 8

/* One recording file: its name (with ".mp4") and the start it carries. */
typedef struct vg_recording_file {
    char file[104]; /* a stream id (< 64) + "-clip-" + stamp + "-n" + ".mp4" fits */
    time_t start_s;
} vg_recording_file;

typedef struct vg_recordings_index {
    struct vg_recordings_dir {
        char dir[PATH_MAX]; /* "" : a free slot */
        char stream[64];
        int kind;
        dev_t dev;
        ino_t ino;
        struct timespec mtime;
        vg_recording_file *files; /* sorted by start, then name */
        size_t n;
        uint64_t used; /* for least recently used */
    } dirs[VG_RECORDINGS_INDEX_DIRS];
    uint64_t clock;
    uint64_t reads, hits; /* directory reads, and answers without one */
} vg_recordings_index;

/* A recording's name: 1 for a segment, 2 for a clip of `stream`, 0 for
 * anything else; *start_s is the UTC start the name carries. */
int vg_recording_name_kind(const char *name, const char *stream, time_t *start_s);

/* The recordings of `stream` of `kind` (1 segments, 2 clips) in `dir`,
 * sorted by start: *n of them, borrowed until the next call (NULL, 0 when
 * the directory is missing or has none). */
const vg_recording_file *vg_recordings_index_get(vg_recordings_index *ix, const char *dir,
                                                 const char *stream, int kind, size_t *n);
/* Lets go of every kept directory. */
void vg_recordings_index_free(vg_recordings_index *ix);

#endif

/* record_sink.h -- one recording's files on disk: the segments of a stream's
 * continuous recording, or one clip (media/clip.h).
 *
 * A sink opens a file per segment, writes the fMP4 init segment first and
 * then each fragment (moof+mdat) with a single write(), so that a process
 * killed at any moment leaves a file that is readable up to its last whole
 * fragment. A write that fails (disk full, I/O error) or comes out short is
 * cut back to the last whole fragment (ftruncate), the file is closed, and
 * the sink shows the error until the next segment opens: the bytes already
 * on disk stay valid. Before each new segment the sink applies its retention
 * (media/retention.h) to its directory.
 *
 * Files are named "<dir>/<name>-<UTC start>.mp4", e.g.
 * "/var/lib/vigil/door/door-20261205T120000Z.mp4"; a second segment starting
 * in the same second gets "-2", "-3" ... before ".mp4".
 *
 * A clip's sink writes one file whose name its maker chose
 * ("<dir>/<name>.mp4", never replacing one), beside a sidecar
 * "<dir>/<name>.json": the maker's metadata plus "start" (the first
 * fragment's time), "end" (the last one's) and "complete" (false while the
 * clip is being written or after a failure, whose reason is in "error"). The
 * sidecar is replaced whole (written aside, then renamed) when the file
 * opens and when it ends. Clips are not subject to retention.
 *
 * Thread: the recording writer thread (media/record_writer.h) does all the
 * disk work and owns `fd`, `offset` and `path`. The status is read from any
 * thread (the lws service thread for /api/streams and /metrics) through
 * vg_record_sink_status(); `lock` guards `status`. The configuration fields
 * are immutable after vg_record_sink_new(). */
#ifndef VIGIL_MEDIA_RECORD_SINK_H
#define VIGIL_MEDIA_RECORD_SINK_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdint.h>

#include "media/frame.h"

typedef enum vg_record_state {
    VG_RECORD_STOPPED = 0, /* no file open: not started, or ended cleanly */
    VG_RECORD_RECORDING,   /* a segment is open */
    VG_RECORD_ERROR,       /* the last open or write failed: see reason */
} vg_record_state;

typedef struct vg_record_status {
    vg_record_state state;
    char reason[192];    /* why ERROR, else empty */
    char file[PATH_MAX]; /* the segment being written, or the last one */
    uint64_t bytes;      /* written, over every segment */
    uint64_t segments;   /* opened */
    uint64_t errors;     /* failures to open or write: each one bumps it */
    uint64_t deleted;    /* segments removed by retention */
} vg_record_status;

typedef struct vg_record_sink {
    /* configuration: immutable after vg_record_sink_new() */
    char *dir;          /* where the files go: "<path>/<stream>" */
    char *name;         /* file name prefix: the stream id */
    int64_t max_age_s;  /* retention by age; 0: none */
    uint64_t max_bytes; /* retention by size; 0: none */
    bool clip;          /* one file named `name`, with a sidecar */

    /* writer thread only */
    int fd; /* -1: no file open */
    uint64_t offset; /* bytes of whole fragments in the open file */
    char path[PATH_MAX];
    json_t *sidecar;          /* a clip's metadata (owned); NULL for segments */
    int64_t first_us, last_us; /* a clip's first and last fragment times */

    pthread_mutex_t lock; /* guards status */
    vg_record_status status;
} vg_record_sink;

/* NULL on OOM. */
vg_record_sink *vg_record_sink_new(const char *dir, const char *name, int64_t max_age_s,
                                   uint64_t max_bytes);
/* A clip's sink: the file "<dir>/<name>.mp4" and its sidecar, whose other
 * fields come from `meta` (stolen; any object). NULL on OOM (meta freed). */
vg_record_sink *vg_record_sink_new_clip(const char *dir, const char *name, json_t *meta);
/* Closes the open file (if any) and frees the sink. Writer thread, or any
 * thread once the writer can no longer reach it. */
void vg_record_sink_free(vg_record_sink *k);

/* Closes the segment being written, applies retention, and starts a new one
 * named for `start_us` (wall clock, µs) with the init segment `init`. On
 * failure the sink is in ERROR. A clip's sink opens its one file (a second
 * open is a failure). Writer thread. */
void vg_record_sink_open(vg_record_sink *k, vg_frame *init, int64_t start_us);
/* Appends one fragment to the open segment; nothing when none is open (an
 * error closed it). Writer thread. */
void vg_record_sink_write(vg_record_sink *k, vg_frame *f);
/* Ends the segment being written (state STOPPED unless in ERROR). Writer
 * thread. */
void vg_record_sink_close(vg_record_sink *k);

/* "YYYYMMDDTHHMMSSZ" (UTC) of `us` (wall clock, µs), as recording names
 * carry it. */
void vg_record_stamp(int64_t us, char out[32]);

/* A copy of the status. Any thread. */
void vg_record_sink_status(vg_record_sink *k, vg_record_status *out);
const char *vg_record_state_name(vg_record_state st);

#endif

/* record_writers.h -- the recording writer threads, one per disk.
 *
 * A recording's writes go to the writer of the disk its directory is on
 * (media/record_writer.h): recordings on one disk queue behind each other,
 * where the disk is the bottleneck, and a slow or full disk never holds up
 * the recordings of another. A disk is a filesystem device (st_dev) of the
 * recording path, or of its nearest existing parent when the path is not
 * made yet. A writer is started when its disk's first recording asks for
 * it, so a server that records nothing runs none; past
 * VG_RECORD_WRITERS_MAX disks, the last writer serves the rest.
 *
 * Thread: the lws service thread asks for writers and stops them; each
 * writer has its own lock. The writers never move (a fixed array), so a
 * recorder may keep the pointer it was given until the writers stop. */
#ifndef VIGIL_MEDIA_RECORD_WRITERS_H
#define VIGIL_MEDIA_RECORD_WRITERS_H

#include <stddef.h>
#include <sys/types.h>

#include "media/record_writer.h"

#define VG_RECORD_WRITERS_MAX 8

typedef struct vg_record_writers {
    size_t queue_bytes; /* each writer's queue bound */
    size_t n;           /* writers started */
    struct {
        dev_t dev;
        vg_record_writer writer;
    } v[VG_RECORD_WRITERS_MAX];
} vg_record_writers;

void vg_record_writers_init(vg_record_writers *ws, size_t queue_bytes);
/* The writer of the disk `path` is on, started if it was not; NULL when
 * its thread cannot be started (the caller records nothing then). */
vg_record_writer *vg_record_writers_for(vg_record_writers *ws, const char *path);
/* Each writer writes what is queued and its thread ends. Nobody may post
 * after. */
void vg_record_writers_stop(vg_record_writers *ws);

/* The device of `path`, or of its nearest existing parent ("." for a
 * relative path with none). 0, or -1 with errno. */
int vg_record_path_device(const char *path, dev_t *dev);

#endif

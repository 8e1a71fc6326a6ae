/* record_writer.h -- the thread that writes recordings to disk, and the
 * bounded queue the lws service thread hands frames to it through.
 *
 * The service thread must never wait on a disk: it posts references to the
 * frames it already holds (no copy) with what to do with them (open a
 * segment, append a fragment, close, let go of a sink), and this thread does
 * the writing (media/record_sink.h). One writer serves every recording on
 * one disk (media/record_writers.h): the disk is the bottleneck, not the
 * CPU, and one thread keeps the writes of many streams from competing for
 * it, while another disk's recordings go on beside.
 *
 * Bounded in bytes: an OPEN or a FRAME that would take the queue past
 * max_bytes is refused (the caller keeps its reference and drops the
 * recording to the next keyframe: media/recorder.h); CLOSE and RELEASE always
 * get through, so a sink is always closed and freed. Posting never waits
 * beyond a short mutex hold.
 *
 * Thread: any thread posts (in practice the lws service thread); the writer
 * thread takes. `lock` guards head, tail, bytes, stopping and dropped;
 * `wake` is signalled with it held. max_bytes is immutable after
 * vg_record_writer_start(). */
#ifndef VIGIL_MEDIA_RECORD_WRITER_H
#define VIGIL_MEDIA_RECORD_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/frame.h"
#include "media/record_sink.h"

typedef enum vg_record_op {
    VG_RECORD_OPEN,    /* frame: the init segment; start_us: the segment's start */
    VG_RECORD_FRAME,   /* frame: a fragment */
    VG_RECORD_CLOSE,   /* end the segment being written */
    VG_RECORD_RELEASE, /* close and free the sink: its poster lets go of it */
} vg_record_op;

typedef struct vg_record_item {
    struct vg_record_item *next;
    vg_record_op op;
    vg_record_sink *sink;
    vg_frame *frame; /* a reference of the item's own, or NULL */
    int64_t start_us;
} vg_record_item;

typedef struct vg_record_writer {
    pthread_t thread;
    bool started;
    size_t max_bytes;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    vg_record_item *head, *tail;
    size_t bytes;   /* payload bytes queued */
    bool stopping;
    uint64_t dropped; /* OPENs and FRAMEs refused: the queue was full */
} vg_record_writer;

/* Starts the thread. 0, or -1. */
int vg_record_writer_start(vg_record_writer *w, size_t max_bytes);
/* Writes what is queued, then joins the thread. Nobody may post after. A
 * no-op when not started. */
void vg_record_writer_stop(vg_record_writer *w);

/* Queues `op` for `sink` (the item takes its own reference to `frame`).
 * 0, or -1 when an OPEN or FRAME was refused (the queue is full, or out of
 * memory): nothing is queued then. CLOSE and RELEASE are never refused
 * for a full queue (out of memory they are logged and skipped: the sink
 * and its open file are then kept, not freed under the writer). */
int vg_record_writer_post(vg_record_writer *w, vg_record_op op, vg_record_sink *sink,
                          vg_frame *frame, int64_t start_us);

/* Bytes queued now. Any thread. */
size_t vg_record_writer_queued(vg_record_writer *w);

#endif

/* media_internal.h -- what media.c (the queue, the control thread, the
 * appsinks, life) and media_build.c (the pipeline of each kind of source)
 * share: the state of one camera. Not for the rest of the agent: media.h.
 */
#ifndef VIGIL_AGENT_MEDIA_INTERNAL_H
#define VIGIL_AGENT_MEDIA_INTERNAL_H

#include <gst/gst.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/media.h"

#define RESTART_DELAY_US 1000000
#define AUDIO_RATE       48000
#define AUDIO_CHANNELS   1
#define AUDIO_BITRATE    32000
/* Elements pad-added makes for one run of a source: a depayloader, a parser
 * and fakesinks for any further video stream. */
#define MAX_DYNAMIC 6
#define TEXT_LEN    320
/* The latency mark (docs/LATENCY.md, as the server's test:// draws it):
 * 4 sync squares black/white/black/white, then 32 data bits. */
#define MARK_SYNC 4
#define MARK_BITS 32

/* What the parser in front of the video appsink may give it: Annex-B access
 * units, which is also what makes h264parse/h265parse convert to them. */
#define VIDEO_SINK_CAPS                                                                            \
    "video/x-h264,stream-format=byte-stream,alignment=au;"                                         \
    "video/x-h265,stream-format=byte-stream,alignment=au"

typedef enum source_kind { SRC_TEST, SRC_V4L2, SRC_RTSP, SRC_FILE } source_kind;

typedef enum restart_state {
    RESTART_NONE,    /* running, or not started */
    RESTART_ASKED,   /* an error or end of stream: the control thread stops it */
    RESTART_WAITING, /* stopped; plays again at restart_at_us */
} restart_state;

struct ag_media {
    ag_media_config cfg; /* defaults filled in; its strings are the copies below */
    char *source, *audio, *encoder;
    char shown[256]; /* the source as messages show it: no password */
    source_kind kind;
    void (*wake)(void *);
    void *wake_user;

    GstElement *pipeline;         /* owned */
    GstElement *vsink;            /* in the pipeline */
    GstElement *asink;            /* in the pipeline; NULL without audio */
    GstElement *mark, *mark_text; /* test:// with latency_mark: set per frame (on_raw_frame) */

    /* lock guards the queue (head, tail, bytes, count), skipping, stats,
     * codec and family, and the pts offset with the latest pts seen. */
    pthread_mutex_t lock;
    ag_frame *head, *tail;
    size_t bytes; /* payload bytes queued */
    uint32_t count;
    bool skipping;        /* dropping up to the next video keyframe */
    ag_media_stats stats; /* queued_bytes and queued_frames are filled in when read */
    char codec[64];
    const char *family; /* a literal, so a caller may keep it */
    int64_t pts_offset_us;
    int64_t last_pts_us;    /* INT64_MIN: none yet */
    int64_t last_pts_at_us; /* when it came (monotonic) */

    /* ctl_lock guards started, starting, stopping, restart, restart_at_us,
     * reason, start_error, seek_wanted, the restart log's repeat count,
     * and the dynamic elements (dyn, ndyn, video_linked). ctl_cond wakes the
     * control thread. Never held across a GStreamer call: state changes post
     * messages, and the sync handler takes this lock. */
    pthread_mutex_t ctl_lock;
    pthread_cond_t ctl_cond;
    pthread_t ctl_thread;
    bool ctl_running; /* the thread exists (join it) */
    bool started, starting, stopping;
    restart_state restart;
    int64_t restart_at_us;
    char reason[TEXT_LEN];        /* why it restarts */
    char last_reason[TEXT_LEN];   /* the previous restart's, to log repeats less */
    unsigned repeats;             /* restarts in a row for last_reason */
    char start_error[TEXT_LEN];   /* the first error while ag_media_start sets it playing */
    bool seek_wanted;             /* file://: loop (a segment seek) */
    GstElement *dyn[MAX_DYNAMIC]; /* made by pad-added, removed at each restart */
    int ndyn;
    bool video_linked;

    /* file:// video times across loops (file_time): the file's streaming
     * thread alone uses them while it runs, play_again while it does not. */
    guint64 file_base;     /* the segment base of the last frame, -1: none */
    int64_t file_shift_us; /* added to each loop's times so far */
    int64_t file_end_us;   /* where the latest frame ends, INT64_MIN: none */
};

/* Builds the source's elements and the audio branch into m->pipeline, up
 * to the appsinks media.c made (media_build.c). 0, or -1 with err naming the
 * missing element or the failed link. */
int ag_media_build(ag_media *m, char *err, size_t errlen);

#endif

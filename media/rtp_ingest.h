/* rtp_ingest.h -- the UDP receiver of a push source (srtp://, rtp://): a
 * socket bound to the stream's listen address and a thread of its own that
 * reads datagrams, runs each through media/rtp_rx.c (decrypt, validate,
 * count) and pushes the accepted RTP packets into the current pipeline's
 * appsrc.
 *
 * Why a thread and not a GLib source in the pipeline: vigil runs no GLib
 * main loop (the bus has a sync handler, lws runs the service loop), and the
 * socket must outlive pipelines. The stream keeps its receiver from start to
 * stop, across pipeline restarts: the port stays bound while the camera is
 * away, the counters keep counting, and the moment valid packets return the
 * stream sees it and builds a new pipeline. Pipelines come and go; the
 * stream attaches each one's appsrc here and detaches it before tearing the
 * pipeline down. The thread blocks only in poll() (it is not a GStreamer
 * streaming thread), and pushing never blocks: the appsrc is leaky
 * (drops its oldest packets if the pipeline falls behind).
 *
 * Thread: created, attached to and freed on the lws service thread. The
 * receiver thread owns `rx` except its counters (atomics, read from any
 * thread). `lock` guards `appsrc` (a reference of its own). */
#ifndef VIGIL_MEDIA_RTP_INGEST_H
#define VIGIL_MEDIA_RTP_INGEST_H

#include <gst/gst.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "media/rtp_rx.h"

typedef struct vg_rtp_ingest vg_rtp_ingest;

/* Binds the listen address of a push source URI and starts the receiver.
 * `id` names the thread. NULL with err set (e.g. the port is in use). */
vg_rtp_ingest *vg_rtp_ingest_new(const char *uri, const json_t *options, const char *id, char *err,
                                 size_t errlen);
/* Stops the thread, closes the socket, detaches the appsrc, frees. */
void vg_rtp_ingest_free(vg_rtp_ingest *in);

/* Video packets go to `appsrc` from now on, sound packets to `audio_appsrc`
 * (references are taken); NULL: nowhere. */
void vg_rtp_ingest_attach(vg_rtp_ingest *in, GstElement *appsrc, GstElement *audio_appsrc);

/* Wall clock of the last accepted packet, 0 if none yet. Any thread. */
int64_t vg_rtp_ingest_last_packet_us(const vg_rtp_ingest *in);
/* Datagrams that failed SRTP authentication so far. Any thread. */
uint64_t vg_rtp_ingest_auth_failed(const vg_rtp_ingest *in);
/* The receiver's counters (media/rtp_rx.h: atomics, read them with
 * atomic_load), for GET /metrics. Borrowed: valid until vg_rtp_ingest_free.
 * Any thread. */
const vg_rtp_counters *vg_rtp_ingest_counters(const vg_rtp_ingest *in);
/* silence_timeout_s, in microseconds. */
int64_t vg_rtp_ingest_silence_us(const vg_rtp_ingest *in);

/* The counters as /api/streams shows them ("ingest"); `in` may be NULL
 * (not listening: zeros). Returns a new reference. */
json_t *vg_rtp_ingest_describe(const vg_rtp_ingest *in, int64_t now_us);

#endif

/* rtp_ingest.c -- a push source's socket and receiver thread (see
 * rtp_ingest.h). */
#include "media/rtp_ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_DATAGRAM   65536
#define SOCKET_RCVBUF  (4 * 1024 * 1024) /* bursts of a large keyframe; the kernel may cap it */
#define DRAIN_PER_POLL 256               /* datagrams read per wake-up before checking `stop` */

struct vg_rtp_ingest {
    /* immutable after vg_rtp_ingest_new() */
    int fd;
    int wake[2]; /* a pipe: written once to stop the thread */
    pthread_t thread;
    bool thread_started;
    int64_t silence_us;
    char name[16];

    vg_rtp_rx rx; /* receiver thread, except rx.counters (atomics) */
    uint8_t *buf; /* receiver thread: MAX_DATAGRAM + 1 bytes */

    pthread_mutex_t lock;
    GstElement *appsrc, *audio_appsrc; /* guarded by lock; our own references, or NULL */
};

/* (receiver thread) One accepted packet to the current appsrc of its kind,
 * if any. */
static void deliver(vg_rtp_ingest *in, GstBuffer *buf, bool audio) {
    pthread_mutex_lock(&in->lock);
    GstElement *to = audio ? in->audio_appsrc : in->appsrc;
    if (to)
        gst_app_src_push_buffer(GST_APP_SRC(to), buf); /* takes buf; FLUSHING is fine */
    else
        gst_buffer_unref(buf);
    pthread_mutex_unlock(&in->lock);
}

/* (receiver thread) Reads what is queued on the socket, up to a bound. */
static void drain_socket(vg_rtp_ingest *in) {
    for (int i = 0; i < DRAIN_PER_POLL; i++) {
        ssize_t n = recv(in->fd, in->buf, MAX_DATAGRAM + 1, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) return; /* EAGAIN, or an ICMP error reported on the socket: nothing to read */
        if (n > MAX_DATAGRAM) {
            atomic_fetch_add(&in->rx.counters.malformed, 1); /* truncated */
            continue;
        }
        GstBuffer *buf = NULL;
        vg_rtp_verdict v = vg_rtp_rx_packet(&in->rx, in->buf, (size_t)n, g_get_real_time(), &buf);
        if (buf) deliver(in, buf, v == VG_RTP_AUDIO);
    }
}

static void *receiver_main(void *arg) {
    vg_rtp_ingest *in = arg;
    struct pollfd fds[2] = {{.fd = in->fd, .events = POLLIN},
                            {.fd = in->wake[0], .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents) break;
        if (fds[0].revents) drain_socket(in);
    }
    return NULL;
}

vg_rtp_ingest *vg_rtp_ingest_new(const char *uri, const json_t *options, const char *id, char *err,
                                 size_t errlen) {
    vg_rtp_options o;
    if (vg_rtp_options_parse(uri, options, &o, err, errlen)) return NULL;
    vg_rtp_ingest *in = calloc(1, sizeof(*in));
    if (!in) {
        vg_rtp_options_wipe(&o);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->fd = -1;
    in->wake[0] = in->wake[1] = -1;
    in->silence_us = (int64_t)o.silence_timeout_s * 1000000;
    snprintf(in->name, sizeof(in->name), "rtp-%.11s", id);
    pthread_mutex_init(&in->lock, NULL);
    int rx_ok = vg_rtp_rx_init(&in->rx, &o, err, errlen);
    if (rx_ok) {
        vg_rtp_options_wipe(&o);
        pthread_mutex_destroy(&in->lock);
        free(in);
        return NULL;
    }
    in->buf = malloc(MAX_DATAGRAM + 1);
    /* No SO_REUSEADDR: two streams on one port must fail, not share packets. */
    in->fd = socket(o.listen.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (!in->buf || in->fd < 0 || pipe2(in->wake, O_CLOEXEC)) {
        snprintf(err, errlen, "could not create a UDP socket: %s", strerror(errno));
        goto fail;
    }
    int rcvbuf = SOCKET_RCVBUF;
    setsockopt(in->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(in->fd, (struct sockaddr *)&o.listen, o.listen_len)) {
        const char *scheme_end = strstr(uri, "://");
        snprintf(err, errlen, "cannot listen on UDP %s: %s", scheme_end ? scheme_end + 3 : uri,
                 strerror(errno));
        goto fail;
    }
    if (pthread_create(&in->thread, NULL, receiver_main, in)) {
        snprintf(err, errlen, "could not start the receiver thread");
        goto fail;
    }
    in->thread_started = true;
    pthread_setname_np(in->thread, in->name);
    vg_rtp_options_wipe(&o);
    return in;
fail:
    vg_rtp_options_wipe(&o);
    vg_rtp_ingest_free(in);
    return NULL;
}

void vg_rtp_ingest_free(vg_rtp_ingest *in) {
    if (!in) return;
    if (in->thread_started) {
        ssize_t w;
        do
            w = write(in->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(in->thread, NULL);
    }
    if (in->fd >= 0) close(in->fd);
    if (in->wake[0] >= 0) close(in->wake[0]);
    if (in->wake[1] >= 0) close(in->wake[1]);
    vg_rtp_ingest_attach(in, NULL, NULL);
    vg_rtp_rx_free(&in->rx);
    pthread_mutex_destroy(&in->lock);
    free(in->buf);
    free(in);
}

void vg_rtp_ingest_attach(vg_rtp_ingest *in, GstElement *appsrc, GstElement *audio_appsrc) {
    pthread_mutex_lock(&in->lock);
    GstElement *old = in->appsrc, *old_audio = in->audio_appsrc;
    in->appsrc = appsrc ? gst_object_ref(appsrc) : NULL;
    in->audio_appsrc = audio_appsrc ? gst_object_ref(audio_appsrc) : NULL;
    pthread_mutex_unlock(&in->lock);
    if (old) gst_object_unref(old);
    if (old_audio) gst_object_unref(old_audio);
}

int64_t vg_rtp_ingest_last_packet_us(const vg_rtp_ingest *in) {
    return atomic_load(&in->rx.counters.last_packet_us);
}

uint64_t vg_rtp_ingest_auth_failed(const vg_rtp_ingest *in) {
    return atomic_load(&in->rx.counters.auth_failed);
}

const vg_rtp_counters *vg_rtp_ingest_counters(const vg_rtp_ingest *in) {
    return &in->rx.counters;
}

int64_t vg_rtp_ingest_silence_us(const vg_rtp_ingest *in) {
    return in->silence_us;
}

json_t *vg_rtp_ingest_describe(const vg_rtp_ingest *in, int64_t now_us) {
    const vg_rtp_counters *c = in ? &in->rx.counters : NULL;
#define LOAD(field) (json_int_t)(c ? atomic_load(&c->field) : 0)
    int64_t last = c ? atomic_load(&c->last_packet_us) : 0;
    json_t *d = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "packets", LOAD(packets), "bytes",
                          LOAD(bytes), "audio_packets", LOAD(audio_packets), "auth_failed",
                          LOAD(auth_failed), "replayed", LOAD(replayed), "malformed",
                          LOAD(malformed), "ignored", LOAD(ignored));
    if (!d) return NULL;
    json_object_set_new(d, "last_packet_age_ms",
                        last ? json_integer((json_int_t)((now_us - last) / 1000)) : json_null());
    json_object_set_new(d, "ssrc", last ? json_integer(LOAD(ssrc)) : json_null());
#undef LOAD
    return d;
}

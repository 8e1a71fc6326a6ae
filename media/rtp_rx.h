/* rtp_rx.h -- what happens to one received datagram of a push source: a
 * minimal sanity check, SRTP decryption and authentication with libsrtp
 * (srtp:// only), RTP validation with GStreamer's RTP library, and the
 * per-stream counters. No socket here (media/rtp_ingest.c has it), so the
 * logic is unit-tested with packets protected by libsrtp itself.
 *
 * One libsrtp session per stream, created with an ssrc_any_inbound policy:
 * each new SSRC (a restarted camera) gets a fresh stream context cloned from
 * the template once a packet of it authenticates; replay protection is on
 * (window of VG_RTP_REPLAY_WINDOW packets). A camera that restarts with the
 * same SSRC and key but lower sequence numbers would look like a replay
 * forever, so after silence_timeout of no valid packet the session is
 * recreated: the first packet after a silence starts a new replay window.
 * (The cost: packets captured before a silence can be replayed once after
 * it. Nothing replayed is accepted while the camera is sending.)
 *
 * Datagrams are dropped and counted, never fatal: `malformed` (too short,
 * not RTP version 2, RTP headers that do not fit, truncated), `auth_failed`
 * (SRTP authentication failed: wrong key, forged or corrupt),
 * `replayed` (SRTP replay check), `ignored` (RTCP, or a payload type that is
 * neither the video's nor the sound's). `packets`/`bytes` count what is
 * accepted, `audio_packets` the part of it that is sound.
 *
 * Thread: vg_rtp_rx_packet() and the session are used by one thread only
 * (the receiver's); the counters are atomics that any thread may read. */
#ifndef VIGIL_MEDIA_RTP_RX_H
#define VIGIL_MEDIA_RTP_RX_H

#include <gst/gst.h>
#include <srtp2/srtp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/rtp_options.h"
#include "media/srtp_lib.h"

#define VG_RTP_REPLAY_WINDOW 1024

typedef enum vg_rtp_verdict {
    VG_RTP_OK,
    VG_RTP_MALFORMED,
    VG_RTP_AUTH_FAILED,
    VG_RTP_REPLAYED,
    VG_RTP_IGNORED,
    VG_RTP_AUDIO, /* accepted, and it is the sound (audio_payload_type) */
} vg_rtp_verdict;

typedef struct vg_rtp_counters {
    atomic_uint_fast64_t packets, bytes, audio_packets;
    atomic_uint_fast64_t auth_failed, replayed, malformed, ignored;
    atomic_uint_fast64_t sessions;      /* SRTP sessions created (1 + resets after silence) */
    atomic_int_fast64_t last_packet_us; /* wall clock of the last accepted packet, 0: none */
    atomic_uint_fast32_t ssrc;          /* SSRC of the last accepted video packet */
} vg_rtp_counters;

typedef struct vg_rtp_rx {
    /* configuration: immutable after vg_rtp_rx_init() */
    bool secure;
    vg_srtp_profile profile;
    uint8_t key[VG_SRTP_MAX_KEY_LEN];
    uint8_t payload_type;
    bool audio; /* audio_payload_type is the sound's */
    uint8_t audio_payload_type;
    int64_t silence_us;
    const vg_srtp_lib *srtp_lib; /* srtp:// only (media/srtp_lib.h) */
    /* receiver thread */
    srtp_t srtp; /* NULL for rtp:// */
    vg_rtp_counters counters;
} vg_rtp_rx;

/* Sets up the receive state for parsed options (copies the key). -1 with
 * err set if libsrtp refuses. */
int vg_rtp_rx_init(vg_rtp_rx *rx, const vg_rtp_options *o, char *err, size_t errlen);
void vg_rtp_rx_free(vg_rtp_rx *rx);

/* Handles one datagram of `len` bytes; `data` is decrypted in place. On
 * VG_RTP_OK (video) and VG_RTP_AUDIO *out is a new buffer holding the plain
 * RTP packet (the caller owns it); otherwise *out is NULL. Counts the outcome. `now_us` is the
 * wall clock (g_get_real_time()). */
vg_rtp_verdict vg_rtp_rx_packet(vg_rtp_rx *rx, uint8_t *data, size_t len, int64_t now_us,
                                GstBuffer **out);

const char *vg_rtp_verdict_name(vg_rtp_verdict v);

#endif

/* fuzz_rtp.c -- libFuzzer target: datagrams into the per-datagram function
 * of push sources, vg_rtp_rx_packet() (media/rtp_rx.h), for three receivers
 * set up fresh for each input: srtp:// with AES_CM_128_HMAC_SHA1_80,
 * srtp:// with AEAD_AES_128_GCM (both with the fixed key of fuzz_common.h)
 * and plain rtp://; the first and the last also take sound (the payload
 * type after the video's). Every datagram goes to all three (a copy each, of
 * exactly its size, since SRTP decrypts in place).
 *
 * Input: a sequence of records, so replays, new SSRCs and the session reset
 * after a silence are reachable:
 *   [len: 2 bytes big-endian][advance: 1 byte, seconds][len bytes]
 * The clock starts at a fixed time and moves on by `advance` seconds
 * before the datagram. A last record shorter than its len is sent as it is.
 * FUZZ_VERBOSE=1 in the environment prints each verdict on stderr (to check seeds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "media/rtp_rx.h"

#define T0 1700000000000000LL /* microseconds */

static vg_rtp_options opts[3];
static bool verbose;
/* Debian's libsrtp does its crypto with NSS, which is set up when the first
 * cipher is made and torn down (dlclose of its token module) with the last:
 * per input, that is most of the time spent. One session kept open for the
 * whole run keeps NSS up; the per-input receivers are still fresh. */
static vg_rtp_rx keep_nss_up;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    gst_init(NULL, NULL);
    const vg_srtp_profile profiles[3] = {VG_SRTP_AES_CM_128_HMAC_SHA1_80, VG_SRTP_AEAD_AES_128_GCM,
                                         VG_SRTP_AES_CM_128_HMAC_SHA1_80};
    for (int i = 0; i < 3; i++) {
        memset(&opts[i], 0, sizeof(opts[i]));
        opts[i].secure = i < 2;
        opts[i].profile = profiles[i];
        opts[i].key_len = vg_srtp_profile_key_len(profiles[i]);
        fuzz_srtp_key(opts[i].key, opts[i].key_len);
        opts[i].payload_type = FUZZ_RTP_PT;
        opts[i].clock_rate = 90000;
        opts[i].silence_timeout_s = 3;
        /* Sound on the port (the next payload type) for all but the GCM one. */
        opts[i].audio = i != 1;
        opts[i].audio_payload_type = (FUZZ_RTP_PT + 1) & 0x7f;
    }
    char err[128];
    if (vg_rtp_rx_init(&keep_nss_up, &opts[0], err, sizeof(err))) fuzz_fail("vg_rtp_rx_init", err);
    return 0;
}

static void deliver(int i, vg_rtp_rx *rx, const uint8_t *dgram, size_t len, int64_t now) {
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return;
    if (len) memcpy(copy, dgram, len);
    GstBuffer *out = NULL;
    vg_rtp_verdict v = vg_rtp_rx_packet(rx, copy, len, now, &out);
    if (verbose)
        fprintf(stderr, "%s %zu bytes at +%llds: %s\n",
                i == 2 ? "rtp     "
                : i    ? "srtp-gcm"
                       : "srtp-cm ",
                len, (long long)((now - T0) / 1000000), vg_rtp_verdict_name(v));
    if ((v == VG_RTP_OK || v == VG_RTP_AUDIO) != (out != NULL))
        fuzz_fail("vg_rtp_rx_packet", vg_rtp_verdict_name(v));
    if (out) {
        if (gst_buffer_get_size(out) < 12 || gst_buffer_get_size(out) > len)
            fuzz_fail("accepted packet", "size out of range");
        gst_buffer_unref(out);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vg_rtp_rx rx[3];
    char err[128];
    for (int i = 0; i < 3; i++)
        if (vg_rtp_rx_init(&rx[i], &opts[i], err, sizeof(err))) fuzz_fail("vg_rtp_rx_init", err);
    int64_t now = T0;
    size_t off = 0;
    while (off + 3 <= size) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        now += (int64_t)data[off + 2] * 1000000;
        off += 3;
        if (len > size - off) len = size - off;
        for (int i = 0; i < 3; i++)
            deliver(i, &rx[i], data + off, len, now);
        off += len;
    }
    for (int i = 0; i < 3; i++) {
        vg_rtp_counters *c = &rx[i].counters;
        if (atomic_load(&c->packets) && !atomic_load(&c->last_packet_us))
            fuzz_fail("counters", "packets without a time");
        vg_rtp_rx_free(&rx[i]);
    }
    return 0;
}

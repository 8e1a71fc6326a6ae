/* rtp_rx.c -- one datagram: check, decrypt, validate, count (see rtp_rx.h). */
#include "media/rtp_rx.h"

#include <gst/rtp/gstrtpbuffer.h>
#include <stdio.h>
#include <string.h>

#define RTP_HEADER_LEN 12

static srtp_err_status_t create_session(vg_rtp_rx *rx) {
    srtp_policy_t policy;
    memset(&policy, 0, sizeof(policy));
    if (rx->profile == VG_SRTP_AEAD_AES_128_GCM) {
        rx->srtp_lib->policy_aes_gcm_128_16_auth(&policy.rtp);
        rx->srtp_lib->policy_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
        rx->srtp_lib->policy_aes_cm_128_hmac_sha1_80(&policy.rtp);
        rx->srtp_lib->policy_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    }
    policy.ssrc.type = ssrc_any_inbound;
    policy.key = rx->key;
    policy.window_size = VG_RTP_REPLAY_WINDOW;
    policy.allow_repeat_tx = 0;
    policy.next = NULL;
    srtp_err_status_t st = rx->srtp_lib->create(&rx->srtp, &policy);
    if (st != srtp_err_status_ok)
        rx->srtp = NULL;
    else
        atomic_fetch_add(&rx->counters.sessions, 1);
    return st;
}

static void drop_session(vg_rtp_rx *rx) {
    if (rx->srtp) rx->srtp_lib->dealloc(rx->srtp);
    rx->srtp = NULL;
}

int vg_rtp_rx_init(vg_rtp_rx *rx, const vg_rtp_options *o, char *err, size_t errlen) {
    memset(rx, 0, sizeof(*rx));
    rx->secure = o->secure;
    rx->profile = o->profile;
    rx->payload_type = o->payload_type;
    rx->audio = o->audio;
    rx->audio_payload_type = o->audio_payload_type;
    rx->silence_us = (int64_t)o->silence_timeout_s * 1000000;
    if (!rx->secure) return 0;
    memcpy(rx->key, o->key, o->key_len);
    rx->srtp_lib = vg_srtp_lib_get(err, errlen);
    if (!rx->srtp_lib) {
        vg_rtp_rx_free(rx);
        return -1;
    }
    srtp_err_status_t st = create_session(rx);
    if (st != srtp_err_status_ok) {
        snprintf(err, errlen, "libsrtp could not set up a session (error %d)", (int)st);
        vg_rtp_rx_free(rx);
        return -1;
    }
    return 0;
}

void vg_rtp_rx_free(vg_rtp_rx *rx) {
    drop_session(rx);
    volatile uint8_t *k = rx->key;
    for (size_t i = 0; i < sizeof(rx->key); i++)
        k[i] = 0;
}

static vg_rtp_verdict count(vg_rtp_rx *rx, vg_rtp_verdict v) {
    switch (v) {
    case VG_RTP_OK:
    case VG_RTP_AUDIO: break;
    case VG_RTP_MALFORMED: atomic_fetch_add(&rx->counters.malformed, 1); break;
    case VG_RTP_AUTH_FAILED: atomic_fetch_add(&rx->counters.auth_failed, 1); break;
    case VG_RTP_REPLAYED: atomic_fetch_add(&rx->counters.replayed, 1); break;
    case VG_RTP_IGNORED: atomic_fetch_add(&rx->counters.ignored, 1); break;
    }
    return v;
}

/* In place; *len becomes the plain RTP length. */
static vg_rtp_verdict decrypt(vg_rtp_rx *rx, uint8_t *data, size_t *len, int64_t now_us) {
    int64_t last = atomic_load(&rx->counters.last_packet_us);
    if (last && now_us - last > rx->silence_us) drop_session(rx); /* see rtp_rx.h */
    if (!rx->srtp && create_session(rx) != srtp_err_status_ok) return VG_RTP_MALFORMED;
    int n = (int)*len;
    srtp_err_status_t st = rx->srtp_lib->unprotect(rx->srtp, data, &n);
    switch (st) {
    case srtp_err_status_ok: *len = (size_t)n; return VG_RTP_OK;
    case srtp_err_status_auth_fail: return VG_RTP_AUTH_FAILED;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: return VG_RTP_REPLAYED;
    default: return VG_RTP_MALFORMED;
    }
}

vg_rtp_verdict vg_rtp_rx_packet(vg_rtp_rx *rx, uint8_t *data, size_t len, int64_t now_us,
                                GstBuffer **out) {
    *out = NULL;
    /* The minimal check before libsrtp: an RTP version 2 header. */
    if (len < RTP_HEADER_LEN || len > (size_t)INT32_MAX || (data[0] >> 6) != 2)
        return count(rx, VG_RTP_MALFORMED);
    /* RTCP multiplexed on the port (RFC 5761: 200-204 read as marker + 72-76). */
    if (data[1] >= 192 && data[1] <= 223) return count(rx, VG_RTP_IGNORED);
    if (rx->secure) {
        vg_rtp_verdict v = decrypt(rx, data, &len, now_us);
        if (v != VG_RTP_OK) return count(rx, v);
    }
    GstBuffer *buf = gst_buffer_new_memdup(data, len);
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    if (!buf || !gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp)) {
        if (buf) gst_buffer_unref(buf);
        return count(rx, VG_RTP_MALFORMED);
    }
    uint8_t pt = gst_rtp_buffer_get_payload_type(&rtp);
    uint32_t ssrc = gst_rtp_buffer_get_ssrc(&rtp);
    gst_rtp_buffer_unmap(&rtp);
    bool audio = rx->audio && pt == rx->audio_payload_type;
    if (pt != rx->payload_type && !audio) {
        gst_buffer_unref(buf);
        return count(rx, VG_RTP_IGNORED);
    }
    atomic_fetch_add(&rx->counters.packets, 1);
    atomic_fetch_add(&rx->counters.bytes, len);
    if (audio)
        atomic_fetch_add(&rx->counters.audio_packets, 1);
    else
        atomic_store(&rx->counters.ssrc, ssrc);
    atomic_store(&rx->counters.last_packet_us, now_us);
    *out = buf;
    return audio ? VG_RTP_AUDIO : VG_RTP_OK;
}

const char *vg_rtp_verdict_name(vg_rtp_verdict v) {
    switch (v) {
    case VG_RTP_OK: return "ok";
    case VG_RTP_MALFORMED: return "malformed";
    case VG_RTP_AUTH_FAILED: return "auth_failed";
    case VG_RTP_REPLAYED: return "replayed";
    case VG_RTP_IGNORED: return "ignored";
    case VG_RTP_AUDIO: return "audio";
    }
    return "unknown";
}

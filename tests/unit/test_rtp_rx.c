/* test_rtp_rx.c -- the receive logic of srtp:// and rtp:// push sources
 * (media/rtp_rx.c): packets protected here with libsrtp itself
 * (srtp_protect, an outbound session with the same master key) must come out
 * as the original RTP; a wrong key, a tampered packet, a replay and garbage
 * are dropped and counted under their own name; a restarted camera (new SSRC,
 * or the same SSRC with lower sequence numbers after a silence) is accepted
 * again. Both profiles (AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM). */
#include <gst/gst.h>
#include <string.h>

#include "check_main.h"
#include "media/rtp_rx.h"

#define PT      96
#define SSRC_A  0x11223344u
#define SSRC_B  0x55667788u
#define T0      1000000000000LL /* a wall-clock time, microseconds */
#define SILENCE 3               /* seconds */

static uint8_t key_a[VG_SRTP_MAX_KEY_LEN], key_b[VG_SRTP_MAX_KEY_LEN];

static void gst_up(void) {
    gst_init(NULL, NULL);
    for (size_t i = 0; i < sizeof(key_a); i++) {
        key_a[i] = (uint8_t)(i * 7 + 1);
        key_b[i] = (uint8_t)(i * 13 + 5);
    }
}

static void gst_down(void) {
    gst_deinit();
}

static vg_rtp_options options(bool secure, vg_srtp_profile profile, const uint8_t *key) {
    vg_rtp_options o;
    memset(&o, 0, sizeof(o));
    o.secure = secure;
    o.profile = profile;
    o.key_len = vg_srtp_profile_key_len(profile);
    if (key) memcpy(o.key, key, o.key_len);
    o.payload_type = PT;
    o.clock_rate = 90000;
    o.silence_timeout_s = SILENCE;
    return o;
}

/* A camera's side: an outbound libsrtp session. */
static srtp_t sender_new(vg_srtp_profile profile, uint8_t *key) {
    srtp_policy_t p;
    memset(&p, 0, sizeof(p));
    if (profile == VG_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_rtp_default(&p.rtp);
        srtp_crypto_policy_set_rtcp_default(&p.rtcp);
    }
    p.ssrc.type = ssrc_any_outbound;
    p.key = key;
    p.window_size = 1024;
    srtp_t s = NULL;
    ck_assert_int_eq(srtp_create(&s, &p), srtp_err_status_ok);
    return s;
}

/* An RTP packet: 12-byte header and `payload` bytes of a pattern. */
static size_t make_rtp(uint8_t *buf, uint8_t pt, uint16_t seq, uint32_t ssrc, size_t payload) {
    buf[0] = 0x80;
    buf[1] = pt;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    uint32_t ts = seq * 3000u;
    for (int i = 0; i < 4; i++) {
        buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    for (size_t i = 0; i < payload; i++)
        buf[12 + i] = (uint8_t)(seq + i);
    return 12 + payload;
}

/* Protects an RTP packet into out (room for the trailer); returns its length. */
static size_t protect(srtp_t tx, uint8_t *out, uint8_t pt, uint16_t seq, uint32_t ssrc) {
    int len = (int)make_rtp(out, pt, seq, ssrc, 100);
    ck_assert_int_eq(srtp_protect(tx, out, &len), srtp_err_status_ok);
    return (size_t)len;
}

/* Runs one datagram (a copy: it is decrypted in place) through rx. */
static vg_rtp_verdict feed(vg_rtp_rx *rx, const uint8_t *pkt, size_t len, int64_t now) {
    uint8_t copy[2048];
    memcpy(copy, pkt, len);
    GstBuffer *out = NULL;
    vg_rtp_verdict v = vg_rtp_rx_packet(rx, copy, len, now, &out);
    ck_assert_msg((v == VG_RTP_OK || v == VG_RTP_AUDIO) == (out != NULL), "verdict %s, buffer %p",
                  vg_rtp_verdict_name(v), (void *)out);
    if (out) gst_buffer_unref(out);
    return v;
}

#define COUNT(rx, f) ((uint64_t)atomic_load(&(rx).counters.f))

static void decrypts_profile(vg_srtp_profile profile) {
    char err[256];
    vg_rtp_options o = options(true, profile, key_a);
    vg_rtp_rx rx;
    ck_assert_int_eq(vg_rtp_rx_init(&rx, &o, err, sizeof(err)), 0);
    srtp_t tx = sender_new(profile, key_a);
    for (uint16_t seq = 1000; seq < 1010; seq++) {
        uint8_t pkt[2048], plain[2048];
        size_t len = protect(tx, pkt, PT, seq, SSRC_A);
        size_t plain_len = make_rtp(plain, PT, seq, SSRC_A, 100);
        ck_assert_uint_gt(len, plain_len); /* the auth tag */
        uint8_t copy[2048];
        memcpy(copy, pkt, len);
        GstBuffer *out = NULL;
        ck_assert_int_eq(vg_rtp_rx_packet(&rx, copy, len, T0 + seq, &out), VG_RTP_OK);
        ck_assert_ptr_nonnull(out);
        ck_assert_uint_eq(gst_buffer_get_size(out), plain_len);
        GstMapInfo map;
        ck_assert(gst_buffer_map(out, &map, GST_MAP_READ));
        ck_assert_mem_eq(map.data, plain, plain_len);
        gst_buffer_unmap(out, &map);
        gst_buffer_unref(out);
    }
    ck_assert_uint_eq(COUNT(rx, packets), 10);
    ck_assert_uint_eq(COUNT(rx, bytes), 10 * 112);
    ck_assert_uint_eq(COUNT(rx, auth_failed) + COUNT(rx, replayed) + COUNT(rx, malformed), 0);
    ck_assert_int_eq(atomic_load(&rx.counters.last_packet_us), T0 + 1009);
    ck_assert_uint_eq(atomic_load(&rx.counters.ssrc), SSRC_A);
    srtp_dealloc(tx);
    vg_rtp_rx_free(&rx);
}

START_TEST(aes_cm_hmac_sha1_80_decrypts_to_the_original_rtp) {
    decrypts_profile(VG_SRTP_AES_CM_128_HMAC_SHA1_80);
}
END_TEST

START_TEST(aead_aes_128_gcm_decrypts_to_the_original_rtp) {
    decrypts_profile(VG_SRTP_AEAD_AES_128_GCM);
}
END_TEST

static void wrong_key_fails_auth(vg_srtp_profile profile) {
    char err[256];
    vg_rtp_options o = options(true, profile, key_a);
    vg_rtp_rx rx;
    ck_assert_int_eq(vg_rtp_rx_init(&rx, &o, err, sizeof(err)), 0);
    srtp_t tx = sender_new(profile, key_b);
    for (uint16_t seq = 0; seq < 5; seq++) {
        uint8_t pkt[2048];
        size_t len = protect(tx, pkt, PT, seq, SSRC_A);
        ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_AUTH_FAILED);
    }
    ck_assert_uint_eq(COUNT(rx, auth_failed), 5);
    ck_assert_uint_eq(COUNT(rx, packets), 0);
    ck_assert_int_eq(atomic_load(&rx.counters.last_packet_us), 0);
    srtp_dealloc(tx);
    vg_rtp_rx_free(&rx);
}

START_TEST(a_wrong_key_fails_authentication_and_is_counted) {
    wrong_key_fails_auth(VG_SRTP_AES_CM_128_HMAC_SHA1_80);
    wrong_key_fails_auth(VG_SRTP_AEAD_AES_128_GCM);
}
END_TEST

START_TEST(replays_and_tampering_are_dropped_and_counted) {
    char err[256];
    vg_rtp_options o = options(true, VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    vg_rtp_rx rx;
    ck_assert_int_eq(vg_rtp_rx_init(&rx, &o, err, sizeof(err)), 0);
    srtp_t tx = sender_new(VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    uint8_t p1[2048], p2[2048], p3[2048];
    size_t l1 = protect(tx, p1, PT, 10, SSRC_A);
    size_t l2 = protect(tx, p2, PT, 11, SSRC_A);
    size_t l3 = protect(tx, p3, PT, 12, SSRC_A);
    ck_assert_int_eq(feed(&rx, p1, l1, T0), VG_RTP_OK);
    ck_assert_int_eq(feed(&rx, p2, l2, T0), VG_RTP_OK);
    ck_assert_int_eq(feed(&rx, p1, l1, T0), VG_RTP_REPLAYED); /* older, already seen */
    ck_assert_int_eq(feed(&rx, p2, l2, T0), VG_RTP_REPLAYED); /* the newest, again */
    p3[20] ^= 1;                                              /* one bit of the payload */
    ck_assert_int_eq(feed(&rx, p3, l3, T0), VG_RTP_AUTH_FAILED);
    p3[20] ^= 1; /* the genuine one still passes: a forgery did not poison the window */
    ck_assert_int_eq(feed(&rx, p3, l3, T0), VG_RTP_OK);
    ck_assert_uint_eq(COUNT(rx, packets), 3);
    ck_assert_uint_eq(COUNT(rx, replayed), 2);
    ck_assert_uint_eq(COUNT(rx, auth_failed), 1);
    srtp_dealloc(tx);
    vg_rtp_rx_free(&rx);
}
END_TEST

START_TEST(garbage_is_malformed_rtcp_and_other_payload_types_ignored) {
    char err[256];
    vg_rtp_options o = options(true, VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    vg_rtp_rx rx;
    ck_assert_int_eq(vg_rtp_rx_init(&rx, &o, err, sizeof(err)), 0);
    uint8_t junk[64];
    memset(junk, 0xab, sizeof(junk)); /* version 2 (0xab >> 6), random */
    ck_assert_int_eq(feed(&rx, junk, 0, T0), VG_RTP_MALFORMED);
    ck_assert_int_eq(feed(&rx, junk, 5, T0), VG_RTP_MALFORMED);
    ck_assert_int_eq(feed(&rx, (const uint8_t *)"hello, is this vigil?", 21, T0),
                     VG_RTP_MALFORMED); /* version 1 */
    junk[0] = 0x00;
    ck_assert_int_eq(feed(&rx, junk, sizeof(junk), T0), VG_RTP_MALFORMED); /* version 0 */
    junk[0] = 0x80;
    /* Version 2 but random: only the SRTP tag can tell, and it does. */
    ck_assert_int_eq(feed(&rx, junk, sizeof(junk), T0), VG_RTP_AUTH_FAILED);
    junk[1] = 200; /* an RTCP sender report on the same port */
    ck_assert_int_eq(feed(&rx, junk, sizeof(junk), T0), VG_RTP_IGNORED);
    /* Authentic, but another payload type than the stream's (e.g. audio). */
    srtp_t tx = sender_new(VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    uint8_t pkt[2048];
    size_t len = protect(tx, pkt, 0, 1, SSRC_A);
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_IGNORED);
    ck_assert_uint_eq(COUNT(rx, malformed), 4);
    ck_assert_uint_eq(COUNT(rx, auth_failed), 1);
    ck_assert_uint_eq(COUNT(rx, ignored), 2);
    ck_assert_uint_eq(COUNT(rx, packets), 0);
    /* None of that disturbs a genuine packet. */
    len = protect(tx, pkt, PT, 2, SSRC_A);
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_OK);
    srtp_dealloc(tx);
    vg_rtp_rx_free(&rx);
}
END_TEST

/* Sound on the same port: its payload type is accepted as audio, counted
 * apart, and does not change the video SSRC the stream reports. */
START_TEST(the_audio_payload_type_is_accepted_as_sound) {
    char err[256];
    vg_rtp_options o = options(true, VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    o.audio = true;
    o.audio_payload_type = 111;
    vg_rtp_rx rx;
    ck_assert_int_eq(vg_rtp_rx_init(&rx, &o, err, sizeof(err)), 0);
    srtp_t video = sender_new(VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    srtp_t sound = sender_new(VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    uint8_t pkt[2048];
    size_t len = protect(video, pkt, PT, 1, SSRC_A);
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_OK);
    len = protect(sound, pkt, 111, 1, SSRC_B);
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_AUDIO);
    len = protect(sound, pkt, 112, 2, SSRC_B); /* neither: ignored */
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_IGNORED);
    ck_assert_uint_eq(COUNT(rx, packets), 2);
    ck_assert_uint_eq(COUNT(rx, audio_packets), 1);
    ck_assert_uint_eq(COUNT(rx, ignored), 1);
    ck_assert_uint_eq(COUNT(rx, ssrc), SSRC_A);
    srtp_dealloc(video);
    srtp_dealloc(sound);
    vg_rtp_rx_free(&rx);
}
END_TEST

START_TEST(a_restarted_camera_is_accepted_again) {
    char err[256];
    vg_rtp_options o = options(true, VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    vg_rtp_rx rx;
    ck_assert_int_eq(vg_rtp_rx_init(&rx, &o, err, sizeof(err)), 0);
    uint8_t pkt[2048];
    size_t len;
    srtp_t cam = sender_new(VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    for (uint16_t seq = 5000; seq < 5100; seq++) {
        len = protect(cam, pkt, PT, seq, SSRC_A);
        ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_OK);
    }
    srtp_dealloc(cam);

    /* Restart with a new SSRC (the usual case): a context of its own at once. */
    cam = sender_new(VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    len = protect(cam, pkt, PT, 7, SSRC_B);
    ck_assert_int_eq(feed(&rx, pkt, len, T0 + 100000), VG_RTP_OK);
    ck_assert_uint_eq(atomic_load(&rx.counters.ssrc), SSRC_B);
    srtp_dealloc(cam);

    /* Restart with the same SSRC and lower sequence numbers: a replay while
     * the old one could still be sending, accepted after a silence. */
    cam = sender_new(VG_SRTP_AES_CM_128_HMAC_SHA1_80, key_a);
    len = protect(cam, pkt, PT, 3, SSRC_A);
    ck_assert_int_eq(feed(&rx, pkt, len, T0 + 1000000), VG_RTP_REPLAYED);
    ck_assert_uint_eq(COUNT(rx, sessions), 1);
    int64_t later = T0 + 100000 + SILENCE * 1000000LL + 1;
    ck_assert_int_eq(feed(&rx, pkt, len, later), VG_RTP_OK);
    ck_assert_uint_eq(COUNT(rx, sessions), 2);
    len = protect(cam, pkt, PT, 4, SSRC_A);
    ck_assert_int_eq(feed(&rx, pkt, len, later + 40000), VG_RTP_OK);
    ck_assert_int_eq(feed(&rx, pkt, len, later + 80000), VG_RTP_REPLAYED); /* still protected */
    srtp_dealloc(cam);
    vg_rtp_rx_free(&rx);
}
END_TEST

START_TEST(plain_rtp_is_validated_with_gstreamer) {
    char err[256];
    vg_rtp_options o = options(false, VG_SRTP_AES_CM_128_HMAC_SHA1_80, NULL);
    vg_rtp_rx rx;
    ck_assert_int_eq(vg_rtp_rx_init(&rx, &o, err, sizeof(err)), 0);
    uint8_t pkt[256];
    size_t len = make_rtp(pkt, PT, 1, SSRC_A, 50);
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_OK);
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_OK); /* no replay window without SRTP */
    pkt[0] = 0x8f; /* 15 CSRCs announced: 60 more header bytes than there are */
    ck_assert_int_eq(feed(&rx, pkt, 20, T0), VG_RTP_MALFORMED);
    pkt[0] = 0xa0; /* padding, with a padding length longer than the packet */
    pkt[len - 1] = 200;
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_MALFORMED);
    len = make_rtp(pkt, 97, 2, SSRC_A, 50);
    ck_assert_int_eq(feed(&rx, pkt, len, T0), VG_RTP_IGNORED);
    ck_assert_int_eq(feed(&rx, (const uint8_t *)"\x80", 1, T0), VG_RTP_MALFORMED);
    ck_assert_uint_eq(COUNT(rx, packets), 2);
    ck_assert_uint_eq(COUNT(rx, bytes), 2 * 62);
    ck_assert_uint_eq(COUNT(rx, malformed), 3);
    ck_assert_uint_eq(COUNT(rx, ignored), 1);
    ck_assert_uint_eq(COUNT(rx, sessions), 0);
    vg_rtp_rx_free(&rx);
}
END_TEST

static Suite *rtp_rx_suite(void) {
    Suite *s = suite_create("rtp_rx");
    TCase *tc = tcase_create("rx");
    tcase_add_unchecked_fixture(tc, gst_up, gst_down);
    tcase_add_test(tc, aes_cm_hmac_sha1_80_decrypts_to_the_original_rtp);
    tcase_add_test(tc, aead_aes_128_gcm_decrypts_to_the_original_rtp);
    tcase_add_test(tc, a_wrong_key_fails_authentication_and_is_counted);
    tcase_add_test(tc, replays_and_tampering_are_dropped_and_counted);
    tcase_add_test(tc, garbage_is_malformed_rtcp_and_other_payload_types_ignored);
    tcase_add_test(tc, the_audio_payload_type_is_accepted_as_sound);
    tcase_add_test(tc, a_restarted_camera_is_accepted_again);
    tcase_add_test(tc, plain_rtp_is_validated_with_gstreamer);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(rtp_rx_suite)

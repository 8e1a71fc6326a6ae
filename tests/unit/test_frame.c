/* test_frame.c -- the refcounted frame and its wire header. */
#include <string.h>

#include "check_main.h"
#include "media/frame.h"

START_TEST(header_is_big_endian_and_complete) {
    vg_frame *f =
        vg_frame_new(VG_FRAME_MEDIA, VG_FRAME_KEYFRAME, 0x01020304u, 0x1122334455667788LL, 3);
    ck_assert_ptr_nonnull(f);
    memcpy(vg_frame_payload(f), "abc", 3);
    const uint8_t *w = vg_frame_wire(f);
    const uint8_t want[16] = {1,    2,    1,    0,    1,    2,    3,    4,
                              0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    ck_assert_mem_eq(w, want, 16);
    ck_assert_mem_eq(w + 16, "abc", 3);
    ck_assert_uint_eq(vg_frame_wire_len(f), 19);
    /* lws needs LWS_PRE bytes of headroom before the wire bytes */
    ck_assert_uint_ge((size_t)(w - f->data), LWS_PRE);
    vg_frame_unref(f);
}
END_TEST

START_TEST(refcount_keeps_frame_until_last_unref) {
    vg_frame *f = vg_frame_new(VG_FRAME_INIT, 0, 1, 0, 10);
    ck_assert_int_eq(atomic_load(&f->refcount), 1);
    vg_frame *g = vg_frame_ref(f);
    ck_assert_ptr_eq(f, g);
    ck_assert_int_eq(atomic_load(&f->refcount), 2);
    vg_frame_unref(f);
    ck_assert_int_eq(atomic_load(&g->refcount), 1);
    vg_frame_unref(g); /* valgrind proves it is freed exactly once */
    vg_frame_unref(NULL);
}
END_TEST

START_TEST(copy_with_flags_changes_only_flags) {
    vg_frame *f = vg_frame_new(VG_FRAME_MEDIA, VG_FRAME_KEYFRAME, 7, 42, 5);
    memcpy(vg_frame_payload(f), "hello", 5);
    vg_frame *c = vg_frame_copy_with_flags(f, VG_FRAME_KEYFRAME | VG_FRAME_AFTER_SKIP);
    ck_assert_ptr_ne(c, f);
    ck_assert_uint_eq(vg_frame_wire(c)[2], 3);
    ck_assert_uint_eq(vg_frame_wire(f)[2], 1);
    ck_assert_mem_eq(vg_frame_wire(c) + 3, vg_frame_wire(f) + 3, 13);
    ck_assert_mem_eq(vg_frame_payload(c), "hello", 5);
    vg_frame_unref(f);
    vg_frame_unref(c);
}
END_TEST

/* RFC 6455 5.2: FIN + binary, no mask, the length of header + payload in 7,
 * 16 or 64 bits, right before the wire bytes. */
START_TEST(websocket_header_precedes_the_wire_bytes) {
    const struct {
        size_t payload;
        uint8_t want[10];
        size_t want_len;
    } cases[] = {
        {109, {0x82, 125}, 2},                               /* 125: the most in 7 bits */
        {110, {0x82, 126, 0, 126}, 4},                       /* 126: 16 bits */
        {65519, {0x82, 126, 0xff, 0xff}, 4},                 /* 65535 */
        {65520, {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 10},    /* 65536: 64 bits */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vg_frame *f = vg_frame_new(VG_FRAME_MEDIA, 0, 1, 0, cases[i].payload);
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(f->ws_header_len, cases[i].want_len);
        ck_assert_uint_eq(vg_frame_ws_message_len(f), cases[i].want_len + 16 + cases[i].payload);
        ck_assert_ptr_eq(vg_frame_ws_message(f) + cases[i].want_len, vg_frame_wire(f));
        ck_assert_mem_eq(vg_frame_ws_message(f), cases[i].want, cases[i].want_len);
        vg_frame *c = vg_frame_copy_with_flags(f, VG_FRAME_AFTER_SKIP);
        ck_assert_mem_eq(vg_frame_ws_message(c), cases[i].want, cases[i].want_len);
        vg_frame_unref(c);
        vg_frame_unref(f);
    }
}
END_TEST

static Suite *frame_suite(void) {
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("frame");
    tcase_add_test(tc, header_is_big_endian_and_complete);
    tcase_add_test(tc, refcount_keeps_frame_until_last_unref);
    tcase_add_test(tc, copy_with_flags_changes_only_flags);
    tcase_add_test(tc, websocket_header_precedes_the_wire_bytes);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(frame_suite)

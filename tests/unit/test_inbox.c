/* test_inbox.c -- the hand-off to the service thread: one wake-up per batch,
 * quiet posts that ride on the next wake-up, and bounded media. */
#include <string.h>

#include "check_main.h"
#include "media/inbox.h"

static int wakes;
static void count_wake(void *ctx) {
    (void)ctx;
    wakes++;
}

static vg_frame *media_frame(void) {
    return vg_frame_new(VG_FRAME_MEDIA, 0, 1, 0, 4);
}

static int take_and_free(vg_inbox *in) {
    int n = 0;
    for (vg_event *ev = vg_inbox_take_all(in), *next; ev; ev = next, n++) {
        next = ev->next;
        vg_event_free(ev);
    }
    return n;
}

START_TEST(one_wake_per_batch) {
    vg_inbox in;
    wakes = 0;
    ck_assert_int_eq(vg_inbox_init(&in, 16, count_wake, NULL), 0);
    ck_assert_int_eq(vg_inbox_post_frame(&in, NULL, 1, VG_RELAY_MSE, 1, media_frame()), 0);
    ck_assert_int_eq(vg_inbox_post_frame(&in, NULL, 1, VG_RELAY_MSE, 2, media_frame()), 0);
    ck_assert_int_eq(vg_inbox_post(&in, VG_EVENT_EOS, NULL, 1, NULL, NULL), 0);
    ck_assert_int_eq(wakes, 1);
    ck_assert_int_eq(take_and_free(&in), 3);
    /* After a take, the next post wakes again. */
    ck_assert_int_eq(vg_inbox_post_frame(&in, NULL, 1, VG_RELAY_MSE, 3, media_frame()), 0);
    ck_assert_int_eq(wakes, 2);
    vg_inbox_destroy(&in); /* frees the queued frame: valgrind checks */
}
END_TEST

START_TEST(quiet_post_waits_for_the_next_waking_post) {
    vg_inbox in;
    wakes = 0;
    ck_assert_int_eq(vg_inbox_init(&in, 16, count_wake, NULL), 0);
    ck_assert_int_eq(vg_inbox_post_frame_quiet(&in, NULL, 1, VG_RELAY_MSE, 1, media_frame()), 0);
    ck_assert_int_eq(wakes, 0);
    /* The list is not empty, yet no wake-up is on its way: this one wakes. */
    ck_assert_int_eq(vg_inbox_post_frame(&in, NULL, 1, VG_RELAY_MSE, 2, media_frame()), 0);
    ck_assert_int_eq(wakes, 1);
    vg_event *ev = vg_inbox_take_all(&in);
    ck_assert_ptr_nonnull(ev);
    ck_assert_uint_eq(ev->seq, 1); /* oldest first */
    ck_assert_ptr_nonnull(ev->next);
    ck_assert_uint_eq(ev->next->seq, 2);
    ck_assert_ptr_null(ev->next->next);
    vg_event_free(ev->next);
    vg_event_free(ev);
    /* A quiet post after a waking one in the same batch changes nothing. */
    ck_assert_int_eq(vg_inbox_post_frame(&in, NULL, 1, VG_RELAY_MSE, 3, media_frame()), 0);
    ck_assert_int_eq(vg_inbox_post_frame_quiet(&in, NULL, 1, VG_RELAY_MSE, 4, media_frame()), 0);
    ck_assert_int_eq(wakes, 2);
    /* Nothing woke for a lone quiet post, but a take still gets it. */
    ck_assert_int_eq(take_and_free(&in), 2);
    ck_assert_int_eq(vg_inbox_post_frame_quiet(&in, NULL, 1, VG_RELAY_MSE, 5, media_frame()), 0);
    ck_assert_int_eq(take_and_free(&in), 1);
    ck_assert_int_eq(wakes, 2);
    vg_inbox_destroy(&in);
}
END_TEST

START_TEST(full_inbox_drops_media_but_not_state) {
    vg_inbox in;
    wakes = 0;
    ck_assert_int_eq(vg_inbox_init(&in, 2, count_wake, NULL), 0);
    ck_assert_int_eq(vg_inbox_post_frame(&in, NULL, 1, VG_RELAY_MSE, 1, media_frame()), 0);
    ck_assert_int_eq(vg_inbox_post_frame_quiet(&in, NULL, 1, VG_RELAY_MSE, 2, media_frame()), 0);
    ck_assert_int_eq(vg_inbox_post_frame(&in, NULL, 1, VG_RELAY_MSE, 3, media_frame()), -1);
    ck_assert_int_eq(vg_inbox_post_frame_quiet(&in, NULL, 1, VG_RELAY_MSE, 4, media_frame()), -1);
    ck_assert_uint_eq(vg_inbox_dropped(&in), 2);
    ck_assert_int_eq(vg_inbox_post(&in, VG_EVENT_ERROR, NULL, 1, NULL, strdup("boom")), 0);
    ck_assert_int_eq(take_and_free(&in), 3);
    ck_assert_int_eq(wakes, 1);
    vg_inbox_destroy(&in);
}
END_TEST

static Suite *inbox_suite(void) {
    Suite *s = suite_create("inbox");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, one_wake_per_batch);
    tcase_add_test(tc, quiet_post_waits_for_the_next_waking_post);
    tcase_add_test(tc, full_inbox_drops_media_but_not_state);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(inbox_suite)

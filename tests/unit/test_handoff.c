/* test_handoff.c -- the common hand-off to the service thread
 * (common/handoff.h): order kept, droppable items refused past the bound and
 * counted while the others always get through, one wake-up per batch, and no
 * item lost or doubled with producers on several threads. */
#include <pthread.h>
#include <stdlib.h>

#include "check_main.h"
#include "common/handoff.h"

typedef struct item {
    vg_handoff_node node; /* first: the hand-off links items through it */
    int value;
} item;

static int wakes;
static void count_wake(void *ctx) {
    (void)ctx;
    __atomic_add_fetch(&wakes, 1, __ATOMIC_RELAXED);
}

static item *item_new(int value) {
    item *it = calloc(1, sizeof(*it));
    it->value = value;
    return it;
}

/* Frees a taken list; returns how many items it held and checks that their
 * values rise by one from `first`. */
static int take_in_order(vg_handoff *h, int first) {
    int n = 0;
    for (vg_handoff_node *node = vg_handoff_take_all(h), *next; node; node = next, n++) {
        next = node->next;
        ck_assert_int_eq(((item *)node)->value, first + n);
        free(node);
    }
    return n;
}

START_TEST(past_the_bound_only_droppable_items_are_refused) {
    vg_handoff h;
    ck_assert_int_eq(vg_handoff_init(&h, 2, NULL, NULL), 0);
    ck_assert_int_eq(vg_handoff_post(&h, &item_new(0)->node, true, true), VG_HANDOFF_QUEUED);
    ck_assert_int_eq(vg_handoff_post(&h, &item_new(1)->node, true, true), VG_HANDOFF_QUEUED);
    item *extra = item_new(99);
    ck_assert_int_eq(vg_handoff_post(&h, &extra->node, true, true), VG_HANDOFF_DROPPED);
    free(extra); /* a dropped item stays the caller's */
    /* A state change must never be lost, full or not. */
    ck_assert_int_eq(vg_handoff_post(&h, &item_new(2)->node, false, true), VG_HANDOFF_QUEUED);
    ck_assert_uint_eq(vg_handoff_dropped(&h), 1);
    ck_assert_int_eq(take_in_order(&h, 0), 3);
    ck_assert_int_eq(vg_handoff_post(&h, &item_new(0)->node, true, true), VG_HANDOFF_QUEUED);
    ck_assert_int_eq(take_in_order(&h, 0), 1); /* room again after the take */
    vg_handoff_destroy(&h);
}
END_TEST

START_TEST(one_wake_per_batch_and_quiet_posts_ride_along) {
    vg_handoff h;
    wakes = 0;
    ck_assert_int_eq(vg_handoff_init(&h, 16, count_wake, NULL), 0);
    vg_handoff_post(&h, &item_new(0)->node, false, false); /* quiet: no wake */
    ck_assert_int_eq(wakes, 0);
    vg_handoff_post(&h, &item_new(1)->node, false, true);
    vg_handoff_post(&h, &item_new(2)->node, false, true);
    ck_assert_int_eq(wakes, 1); /* the second found a wake-up on its way */
    ck_assert_int_eq(take_in_order(&h, 0), 3);
    vg_handoff_post(&h, &item_new(0)->node, false, true);
    ck_assert_int_eq(wakes, 2); /* the take cleared it */
    vg_handoff_wake(&h);
    ck_assert_int_eq(wakes, 3);
    ck_assert_int_eq(take_in_order(&h, 0), 1);
    vg_handoff_destroy(&h);
}
END_TEST

#define PRODUCERS 4
#define PER_PRODUCER 20000

static void *produce(void *arg) {
    vg_handoff *h = arg;
    for (int i = 0; i < PER_PRODUCER; i++)
        vg_handoff_post(h, &item_new(i)->node, false, true);
    return NULL;
}

START_TEST(producers_on_several_threads_lose_nothing) {
    vg_handoff h;
    wakes = 0;
    ck_assert_int_eq(vg_handoff_init(&h, 8, count_wake, NULL), 0);
    pthread_t t[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, produce, &h);
    int taken = 0;
    while (taken < PRODUCERS * PER_PRODUCER) {
        for (vg_handoff_node *node = vg_handoff_take_all(&h), *nx; node; node = nx) {
            nx = node->next;
            free(node);
            taken++;
        }
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    ck_assert_ptr_null(vg_handoff_take_all(&h));
    ck_assert_int_eq(taken, PRODUCERS * PER_PRODUCER);
    ck_assert_uint_eq(vg_handoff_dropped(&h), 0); /* nothing droppable was posted */
    ck_assert_int_le(wakes, taken);
    vg_handoff_destroy(&h);
}
END_TEST

static Suite *handoff_suite(void) {
    Suite *s = suite_create("handoff");
    TCase *tc = tcase_create("handoff");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, past_the_bound_only_droppable_items_are_refused);
    tcase_add_test(tc, one_wake_per_batch_and_quiet_posts_ride_along);
    tcase_add_test(tc, producers_on_several_threads_lose_nothing);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(handoff_suite)

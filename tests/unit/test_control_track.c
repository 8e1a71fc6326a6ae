/* test_control_track.c -- command life transitions and the bounded
 * per-device history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "control/control_internal.h"

START_TEST(statuses_only_move_forward) {
    ck_assert_str_eq(control_status_name(CONTROL_QUEUED), "queued");
    ck_assert_str_eq(control_status_name(CONTROL_TIMEOUT), "timeout");
    ck_assert_ptr_null(control_status_name((control_status)42));
    ck_assert(control_status_can_move(CONTROL_QUEUED, CONTROL_SENT));
    ck_assert(control_status_can_move(CONTROL_SENT, CONTROL_ACKNOWLEDGED)); /* skip delivered */
    ck_assert(control_status_can_move(CONTROL_DELIVERED, CONTROL_TIMEOUT));
    ck_assert(!control_status_can_move(CONTROL_DELIVERED, CONTROL_SENT));
    ck_assert(!control_status_can_move(CONTROL_SENT, CONTROL_SENT));
    for (int t = CONTROL_ACKNOWLEDGED; t <= CONTROL_TIMEOUT; t++) {
        ck_assert(control_status_is_terminal((control_status)t));
        for (int to = 0; to <= CONTROL_TIMEOUT; to++)
            ck_assert(!control_status_can_move((control_status)t, (control_status)to));
    }
    ck_assert(!control_status_is_terminal(CONTROL_DELIVERED));
}
END_TEST

START_TEST(command_life_is_recorded) {
    json_t *params = json_pack("{s:b}", "on", 1);
    control_command *c = control_command_new("id-1", "cam1", "light", params, NULL, 1000, 500);
    json_decref(params);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->status, CONTROL_QUEUED);
    ck_assert_int_eq(c->deadline_ms, 1500);
    ck_assert_int_eq(control_command_move(c, CONTROL_SENT, 0, NULL, NULL, 1010), 1);
    ck_assert_int_eq(control_command_move(c, CONTROL_DELIVERED, 0, NULL, NULL, 1020), 1);
    ck_assert_int_eq(control_command_move(c, CONTROL_SENT, 0, NULL, NULL, 1030), 0); /* late */
    ck_assert_int_eq(control_command_move(c, CONTROL_ACKNOWLEDGED, 204, NULL,
                                          json_pack("{s:b}", "light", 1), 1040),
                     1);
    /* a duplicate answer is ignored and its result freed */
    ck_assert_int_eq(control_command_move(c, CONTROL_REJECTED, 403, "no", json_object(), 1050), 0);
    json_t *j = control_command_to_json(c);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "acknowledged");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "code")), 204);
    ck_assert(json_is_true(json_object_get(json_object_get(j, "result"), "light")));
    json_t *tl = json_object_get(j, "timeline");
    ck_assert_int_eq(json_array_size(tl), 4);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tl, 3), "status")),
                     "acknowledged");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(tl, 3), "at_ms")), 40);
    json_decref(j);
    control_command_free(c);
}
END_TEST

static control_command *mk(int i) {
    char id[32];
    snprintf(id, sizeof id, "c%d", i);
    return control_command_new(id, "cam1", "reboot", NULL, NULL, 0, 1000);
}

START_TEST(history_keeps_the_last_n) {
    control_history h;
    ck_assert_int_eq(control_history_init(&h, 3), 0);
    for (int i = 0; i < 3; i++) {
        control_command *c = mk(i);
        ck_assert_int_eq(control_history_push(&h, c), 0);
        control_command_move(c, CONTROL_ACKNOWLEDGED, 0, NULL, NULL, 1);
    }
    for (int i = 3; i < 10; i++) {
        control_command *c = mk(i);
        ck_assert_int_eq(control_history_push(&h, c), 0);
        control_command_move(c, CONTROL_FAILED, 0, "x", NULL, 1);
        ck_assert_uint_eq(h.len, 3);
    }
    ck_assert_ptr_null(control_history_find(&h, "c6"));
    ck_assert_ptr_nonnull(control_history_find(&h, "c7"));
    ck_assert_str_eq(h.v[0]->id, "c7");
    ck_assert_str_eq(h.v[2]->id, "c9");
    control_history_clear(&h);
}
END_TEST

START_TEST(history_never_drops_commands_in_flight) {
    control_history h;
    ck_assert_int_eq(control_history_init(&h, 2), 0);
    control_command *a = mk(1), *b = mk(2), *c = mk(3);
    ck_assert_int_eq(control_history_push(&h, a), 0);
    ck_assert_int_eq(control_history_push(&h, b), 0);
    ck_assert_int_eq(control_history_push(&h, c), -1); /* both in flight: refused */
    control_command_move(b, CONTROL_TIMEOUT, 0, NULL, NULL, 5);
    ck_assert_int_eq(control_history_push(&h, c), 0); /* evicts b, keeps a */
    ck_assert_ptr_nonnull(control_history_find(&h, "c1"));
    ck_assert_ptr_null(control_history_find(&h, "c2"));
    control_history_clear(&h);
}
END_TEST

/* Outcomes (GET /metrics): a terminal status counted with its latency in
 * the first bucket that holds it; a command not yet final is not counted. */
START_TEST(outcomes_count_final_statuses_and_latency) {
    control_outcomes o = {0};
    control_command *a = control_command_new("a", "d", "x", NULL, NULL, 1000, 0);
    control_command *b = control_command_new("b", "d", "x", NULL, NULL, 1000, 0);
    control_command *c = control_command_new("c", "d", "x", NULL, NULL, 1000, 0);
    control_command_move(a, CONTROL_SENT, 0, NULL, NULL, 1005);
    control_outcomes_add(&o, a); /* sent: not final */
    ck_assert_uint_eq(o.latency_count, 0);
    control_command_move(a, CONTROL_ACKNOWLEDGED, 0, NULL, NULL, 1010); /* 10 ms: le 0.01 */
    control_outcomes_add(&o, a);
    control_command_move(b, CONTROL_REJECTED, 0, NULL, NULL, 1060); /* 60 ms: le 0.1 */
    control_outcomes_add(&o, b);
    control_command_move(c, CONTROL_TIMEOUT, 0, NULL, NULL, 21000); /* 20 s: +Inf only */
    control_outcomes_add(&o, c);
    ck_assert_uint_eq(o.by_status[CONTROL_ACKNOWLEDGED], 1);
    ck_assert_uint_eq(o.by_status[CONTROL_REJECTED], 1);
    ck_assert_uint_eq(o.by_status[CONTROL_TIMEOUT], 1);
    ck_assert_uint_eq(o.by_status[CONTROL_FAILED], 0);
    ck_assert_uint_eq(o.by_status[CONTROL_SENT], 0);
    ck_assert_uint_eq(o.latency_count, 3);
    ck_assert_double_eq_tol(o.latency_sum_s, 20.07, 1e-9);
    ck_assert_double_eq(control_latency_bounds_s[0], 0.01);
    ck_assert_uint_eq(o.latency_in[0], 1);
    ck_assert_double_eq(control_latency_bounds_s[2], 0.1);
    ck_assert_uint_eq(o.latency_in[1], 0);
    ck_assert_uint_eq(o.latency_in[2], 1);
    uint64_t in_buckets = 0;
    for (int i = 0; i < CONTROL_LATENCY_BUCKETS; i++)
        in_buckets += o.latency_in[i];
    ck_assert_uint_eq(in_buckets, 2);
    control_command_free(a);
    control_command_free(b);
    control_command_free(c);
}
END_TEST

START_TEST(ids_are_checked) {
    ck_assert(control_id_is_valid("cam-1_a.b"));
    ck_assert(!control_id_is_valid(""));
    ck_assert(!control_id_is_valid("a/b"));
    ck_assert(!control_id_is_valid("a+"));
    ck_assert(!control_id_is_valid("#"));
    char long_id[80];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    ck_assert(!control_id_is_valid(long_id));
}
END_TEST

static Suite *control_track_suite(void) {
    Suite *s = suite_create("control_track");
    TCase *tc = tcase_create("track");
    tcase_add_test(tc, statuses_only_move_forward);
    tcase_add_test(tc, command_life_is_recorded);
    tcase_add_test(tc, history_keeps_the_last_n);
    tcase_add_test(tc, history_never_drops_commands_in_flight);
    tcase_add_test(tc, outcomes_count_final_statuses_and_latency);
    tcase_add_test(tc, ids_are_checked);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(control_track_suite)

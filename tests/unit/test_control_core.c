/* test_control_core.c -- the core through its public API, with a transport
 * plugin defined right here (which is also the proof that a new transport
 * needs no change to the core): registration and API version, command life
 * through the handover queue, timeouts and cancel, stale/foreign/unknown
 * reports, malformed counting, history bound, events and queries. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "control/control_internal.h"

/* ---- the "loop" transport: remembers what it was asked to send -------- */

static const control_callbacks *g_cb;
static control_core *g_core;
static char g_sent[16][CONTROL_ID_MAX];
static int g_nsent, g_ncancel, g_fail_next, g_wakes;

static void *loop_init(const control_callbacks *cb, control_core *core, const json_t *sec,
                       const json_t *devices, char *err, size_t errlen) {
    (void)sec;
    (void)err;
    (void)errlen;
    g_cb = cb;
    g_core = core;
    ck_assert_int_eq(json_array_size(devices), 2);
    return &g_nsent;
}

static int loop_send(void *state, const control_send *cmd, char *err, size_t errlen) {
    ck_assert_ptr_eq(state, &g_nsent);
    if (g_fail_next) {
        g_fail_next = 0;
        snprintf(err, errlen, "link down");
        return -1;
    }
    ck_assert(json_is_object(cmd->params));
    control_strlcpy(g_sent[g_nsent++ % 16], cmd->command_id, CONTROL_ID_MAX);
    return 0;
}

static void loop_cancel(void *state, const char *id) {
    (void)state;
    (void)id;
    g_ncancel++;
}
static void loop_shutdown(void *state) {
    (void)state;
}

static const control_plugin loop_plugin = {
    .api_version = CONTROL_API_VERSION,
    .name = "loop",
    .init = loop_init,
    .send = loop_send,
    .cancel = loop_cancel,
    .shutdown = loop_shutdown,
};

/* ---- events ------------------------------------------------------------ */

static json_t *g_events;
static void sink(void *user, const json_t *ev) {
    (void)user;
    json_array_append(g_events, (json_t *)ev);
}
static void wake(void *user) {
    (void)user;
    g_wakes++;
}

static const char *CONFIG =
    "{\"control\":{\"history\":3,\"timeout_ms\":60000},\"devices\":["
    "{\"id\":\"cam1\",\"transport\":\"loop\",\"commands\":{\"light\":{\"on\":{\"type\":\"bool\"}},"
    "\"reboot\":{}}},"
    "{\"id\":\"cam2\",\"transport\":\"loop\",\"timeout_ms\":1,\"commands\":{\"reboot\":{}}}]}";

static control_t *start(void) {
    g_nsent = g_ncancel = g_fail_next = g_wakes = 0;
    g_events = json_array();
    control_t *c = control_create(wake, NULL, sink, NULL);
    char err[CONTROL_ERR_MAX];
    ck_assert_int_eq(control_register_plugin(c, &loop_plugin, err, sizeof err), 0);
    json_t *cfg = json_loads(CONFIG, 0, NULL);
    ck_assert_msg(control_start(c, cfg, err, sizeof err) == 0, "%s", err);
    json_decref(cfg);
    return c;
}

static void stop(control_t *c) {
    control_destroy(c);
    json_decref(g_events);
}

/* status names of the command.status events for id, in order */
static void statuses(const char *id, char *out, size_t n) {
    out[0] = '\0';
    size_t i;
    json_t *ev;
    json_array_foreach(g_events, i, ev) {
        if (strcmp(json_string_value(json_object_get(ev, "type")), "command.status") ||
            strcmp(json_string_value(json_object_get(ev, "id")), id))
            continue;
        if (out[0]) strncat(out, ",", n - strlen(out) - 1);
        strncat(out, json_string_value(json_object_get(ev, "status")), n - strlen(out) - 1);
    }
}

START_TEST(registration_checks_api_version_and_names) {
    control_t *c = control_create(NULL, NULL, NULL, NULL);
    char err[CONTROL_ERR_MAX];
    control_plugin old = loop_plugin;
    old.api_version = CONTROL_API_VERSION + 1;
    ck_assert_int_eq(control_register_plugin(c, &old, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "API"));
    control_plugin partial = loop_plugin;
    partial.send = NULL;
    ck_assert_int_eq(control_register_plugin(c, &partial, err, sizeof err), -1);
    ck_assert_int_eq(control_register_builtin_plugins(c, err, sizeof err), 0);
    ck_assert_int_eq(control_register_plugin(c, &loop_plugin, err, sizeof err), 0);
    ck_assert_int_eq(control_register_plugin(c, &loop_plugin, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "twice"));
    control_destroy(c);
}
END_TEST

START_TEST(command_life_through_the_handover) {
    control_t *c = start();
    char id[CONTROL_ID_MAX], err[CONTROL_ERR_MAX], st[256];
    json_t *p = json_pack("{s:b}", "on", 1);
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "light", p, NULL, id, sizeof id, err, sizeof err), 0);
    json_decref(p);
    ck_assert_int_eq(g_nsent, 1);
    ck_assert_str_eq(g_sent[0], id);
    ck_assert_int_ge(g_wakes, 1);
    /* the plugin reports from "its thread" */
    g_cb->command_status(g_core, "cam1", id, CONTROL_SENT, 0, NULL, NULL);
    g_cb->command_status(g_core, "cam1", id, CONTROL_DELIVERED, 0, NULL, NULL);
    g_cb->command_status(g_core, "cam1", id, CONTROL_ACKNOWLEDGED, 0, NULL,
                         json_pack("{s:b}", "light", 1));
    g_cb->command_status(g_core, "cam1", id, CONTROL_ACKNOWLEDGED, 0, NULL,
                         json_object()); /* duplicate */
    ck_assert_int_ge(control_poll(c), 4);
    statuses(id, st, sizeof st);
    ck_assert_str_eq(st, "queued,sent,delivered,acknowledged");
    json_t *cmd = control_command_json(c, id);
    ck_assert_str_eq(json_string_value(json_object_get(cmd, "status")), "acknowledged");
    ck_assert(json_is_true(json_object_get(json_object_get(cmd, "result"), "light")));
    json_decref(cmd);
    json_t *stats = control_stats_json(c);
    ck_assert_int_eq(json_integer_value(json_object_get(stats, "stale_reports")), 1);
    json_decref(stats);
    stop(c);
}
END_TEST

START_TEST(bad_requests_and_send_failures) {
    control_t *c = start();
    char id[CONTROL_ID_MAX], err[CONTROL_ERR_MAX], st[256];
    ck_assert_int_eq(
        control_command_issue(c, "nope", "reboot", NULL, NULL, id, sizeof id, err, sizeof err),
        CONTROL_ISSUE_UNKNOWN_DEVICE);
    ck_assert_str_eq(err, "unknown device 'nope'");
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "light", NULL, NULL, id, sizeof id, err, sizeof err),
        CONTROL_ISSUE_BAD_PARAMS);
    ck_assert_str_eq(err, "device 'cam1': light: missing parameter 'on'");
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "dance", NULL, NULL, id, sizeof id, err, sizeof err),
        CONTROL_ISSUE_UNKNOWN_COMMAND);
    ck_assert_str_eq(err, "device 'cam1': unknown command 'dance'");
    json_t *opt = json_pack("{s:i}", "qos", 3);
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "reboot", NULL, opt, id, sizeof id, err, sizeof err),
        CONTROL_ISSUE_BAD_OPTION);
    json_decref(opt);
    ck_assert_int_eq(g_nsent, 0);
    g_fail_next = 1;
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "reboot", NULL, NULL, id, sizeof id, err, sizeof err), 0);
    control_poll(c);
    statuses(id, st, sizeof st);
    ck_assert_str_eq(st, "queued,failed");
    json_t *cmd = control_command_json(c, id);
    ck_assert_str_eq(json_string_value(json_object_get(cmd, "error")), "link down");
    json_decref(cmd);
    stop(c);
}
END_TEST

START_TEST(timeouts_cancel_the_command) {
    control_t *c = start();
    char id[CONTROL_ID_MAX], err[CONTROL_ERR_MAX], st[256];
    ck_assert_int_eq(
        control_command_issue(c, "cam2", "reboot", NULL, NULL, id, sizeof id, err, sizeof err), 0);
    usleep(5000);
    control_poll(c);
    statuses(id, st, sizeof st);
    ck_assert_str_eq(st, "queued,timeout");
    ck_assert_int_eq(g_ncancel, 1);
    /* a late answer changes nothing */
    g_cb->command_status(g_core, "cam2", id, CONTROL_ACKNOWLEDGED, 0, NULL, NULL);
    control_poll(c);
    statuses(id, st, sizeof st);
    ck_assert_str_eq(st, "queued,timeout");
    /* per-command timeout option */
    json_t *o = json_pack("{s:i}", "timeout_ms", 1);
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "reboot", NULL, o, id, sizeof id, err, sizeof err), 0);
    json_decref(o);
    usleep(5000);
    control_poll(c);
    statuses(id, st, sizeof st);
    ck_assert_str_eq(st, "queued,timeout");
    stop(c);
}
END_TEST

START_TEST(foreign_unknown_and_malformed_reports_are_counted) {
    control_t *c = start();
    char id[CONTROL_ID_MAX], err[CONTROL_ERR_MAX], st[256];
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "reboot", NULL, NULL, id, sizeof id, err, sizeof err), 0);
    g_cb->command_status(g_core, "cam2", id, CONTROL_ACKNOWLEDGED, 0, NULL,
                         NULL); /* wrong device */
    g_cb->command_status(g_core, "cam1", "no-such-id", CONTROL_ACKNOWLEDGED, 0, NULL, NULL);
    g_cb->malformed(g_core, "cam1", "ack: invalid JSON");
    g_cb->malformed(g_core, "ghost", "telemetry: invalid JSON");
    g_cb->telemetry(g_core, "ghost", json_object());
    g_cb->telemetry(g_core, "cam1", json_pack("{s:i}", "seq", 7));
    g_cb->device_state(g_core, "cam1", json_pack("{s:b}", "online", 0));
    g_cb->transport_state(g_core, "loop", 1, NULL);
    control_poll(c);
    statuses(id, st, sizeof st);
    ck_assert_str_eq(st, "queued");
    json_t *s = control_stats_json(c);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "foreign_reports")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "unknown_reports")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "malformed_unknown_device")), 1);
    json_t *d1 = json_object_get(json_object_get(s, "devices"), "cam1");
    ck_assert_int_eq(json_integer_value(json_object_get(d1, "malformed")), 1);
    json_t *d2 = json_object_get(json_object_get(s, "devices"), "cam2");
    ck_assert_int_eq(json_integer_value(json_object_get(d2, "malformed")), 1);
    json_decref(s);
    json_t *d = control_device_json(c, "cam1");
    ck_assert(json_is_false(json_object_get(d, "online")));
    ck_assert(json_is_true(json_object_get(d, "transport_connected")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "telemetry"), "seq")),
                     7);
    json_decref(d);
    stop(c);
}
END_TEST

START_TEST(history_is_bounded_per_device) {
    control_t *c = start();
    char id[CONTROL_ID_MAX], err[CONTROL_ERR_MAX], first[CONTROL_ID_MAX] = "";
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(
            control_command_issue(c, "cam1", "reboot", NULL, NULL, id, sizeof id, err, sizeof err),
            0);
        if (!first[0]) control_strlcpy(first, id, sizeof first);
    }
    /* three in flight, history 3: the fourth is refused */
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "reboot", NULL, NULL, id, sizeof id, err, sizeof err),
        CONTROL_ISSUE_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err, "in flight"));
    g_cb->command_status(g_core, "cam1", first, CONTROL_REJECTED, 403, "no", NULL);
    control_poll(c);
    ck_assert_int_eq(
        control_command_issue(c, "cam1", "reboot", NULL, NULL, id, sizeof id, err, sizeof err), 0);
    json_t *cmd = control_command_json(c, first);
    ck_assert_ptr_null(cmd); /* evicted */
    json_t *d = control_device_json(c, "cam1");
    json_t *recent = json_object_get(d, "recent");
    ck_assert_int_eq(json_array_size(recent), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recent, 0), "id")),
                     id); /* newest first */
    json_decref(d);
    json_t *all = control_devices_json(c);
    ck_assert_int_eq(json_array_size(all), 2);
    json_decref(all);
    stop(c);
}
END_TEST

static Suite *control_core_suite(void) {
    Suite *s = suite_create("control_core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, registration_checks_api_version_and_names);
    tcase_add_test(tc, command_life_through_the_handover);
    tcase_add_test(tc, bad_requests_and_send_failures);
    tcase_add_test(tc, timeouts_cancel_the_command);
    tcase_add_test(tc, foreign_unknown_and_malformed_reports_are_counted);
    tcase_add_test(tc, history_is_bounded_per_device);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(control_core_suite)

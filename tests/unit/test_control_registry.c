/* test_control_registry.c -- device registry config errors name the device
 * and the field; transport settings are checked by the real plugins. */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "control/control_internal.h"

static const control_plugin *const plugins[] = {&control_plugin_mqtt, &control_plugin_coap};

static int load(const char *text, control_registry *r, char *err, size_t errlen) {
    json_error_t je;
    json_t *cfg = json_loads(text, 0, &je);
    ck_assert_msg(cfg != NULL, "test JSON: %s", je.text);
    int rc = control_registry_load(r, cfg, plugins, 2, 5, 1000, err, errlen);
    json_decref(cfg);
    return rc;
}

#define CMDS "\"commands\":{\"light\":{\"on\":{\"type\":\"bool\"}}}"

START_TEST(valid_devices_load) {
    control_registry r;
    char err[CONTROL_ERR_MAX] = "";
    ck_assert_int_eq(load("{\"devices\":["
                          "{\"id\":\"cam1\",\"name\":\"Door\",\"transport\":\"mqtt\",\"stream\":"
                          "\"s1\",\"mqtt\":{\"qos\":2}," CMDS "},"
                          "{\"id\":\"lamp\",\"transport\":\"coap\",\"timeout_ms\":300,\"coap\":{"
                          "\"uri\":\"coap://127.0.0.1:5683/cmd\"}," CMDS "}"
                          "]}",
                          &r, err, sizeof err),
                     0);
    ck_assert_uint_eq(r.n, 2);
    control_device *d = control_registry_find(&r, "cam1");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->name, "Door");
    ck_assert_str_eq(d->stream, "s1");
    ck_assert_int_eq(d->plugin, 0);
    ck_assert_int_eq(d->timeout_ms, 1000);
    ck_assert_uint_eq(d->history.cap, 5);
    d = control_registry_find(&r, "lamp");
    ck_assert_str_eq(d->name, "lamp");
    ck_assert_int_eq(d->plugin, 1);
    ck_assert_int_eq(d->timeout_ms, 300);
    ck_assert_ptr_null(control_registry_find(&r, "nope"));
    control_registry_free(&r);
    ck_assert_int_eq(load("{}", &r, err, sizeof err), 0);
    ck_assert_uint_eq(r.n, 0);
}
END_TEST

START_TEST(config_errors_name_device_and_field) {
    const char *bad[][2] = {
        {"{\"devices\":{}}", "\"devices\" must be an array"},
        {"{\"devices\":[3]}", "devices[0]: must be an object"},
        {"{\"devices\":[{\"transport\":\"mqtt\"," CMDS "}]}", "devices[0]: missing \"id\""},
        {"{\"devices\":[{\"id\":\"a/b\",\"transport\":\"mqtt\"," CMDS "}]}", "\"id\" 'a/b'"},
        {"{\"devices\":[{\"id\":\"a\"," CMDS "}]}", "device 'a': missing \"transport\""},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"zigbee\"," CMDS "}]}",
         "device 'a': unknown transport 'zigbee'"},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"mqtt\"}]}",
         "device 'a': \"commands\" must be a non-empty object"},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"mqtt\",\"colour\":1," CMDS "}]}",
         "device 'a': unknown field \"colour\""},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"mqtt\",\"name\":7," CMDS "}]}",
         "device 'a': \"name\" must be a string"},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"mqtt\",\"timeout_ms\":0," CMDS "}]}",
         "device 'a': \"timeout_ms\""},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"mqtt\",\"mqtt\":{\"qos\":3}," CMDS "}]}",
         "device 'a': mqtt: \"qos\" must be an integer between 0 and 2"},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"coap\"," CMDS "}]}",
         "device 'a': coap: missing \"coap\" settings"},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"coap\",\"coap\":{\"uri\":\"http://x/"
         "y\"}," CMDS "}]}",
         "device 'a': coap: \"uri\" must be a coap://"},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"coap\",\"coap\":{\"uri\":\"coaps://127.0.0.1/"
         "c\"}," CMDS "}]}",
         "coaps:// needs either \"psk\""},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"coap\",\"coap\":{\"uri\":\"coap://127.0.0.1/"
         "c\",\"ack_timeout\":0.5}," CMDS "}]}",
         "\"ack_timeout\" must be a number between 1 and 60"},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"coap\",\"coap\":{\"uri\":\"coap://127.0.0.1/"
         "c\",\"max_retransmit\":11}," CMDS "}]}",
         "\"max_retransmit\""},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"mqtt\"," CMDS
         "},{\"id\":\"a\",\"transport\":\"mqtt\"," CMDS "}]}",
         "devices[1]: duplicate id 'a'"},
        {"{\"devices\":[{\"id\":\"a\",\"transport\":\"mqtt\",\"commands\":{\"ptz\":{\"pan\":{"
         "\"type\":\"number\",\"min\":2,\"max\":1}}}}]}",
         "device 'a': command 'ptz': parameter 'pan': min is greater than max"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        control_registry r;
        char err[CONTROL_ERR_MAX] = "";
        ck_assert_msg(load(bad[i][0], &r, err, sizeof err) == -1, "accepted: %s", bad[i][0]);
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "'%s' lacks '%s'", err, bad[i][1]);
        ck_assert_uint_eq(r.n, 0);
        ck_assert_ptr_null(r.dev);
    }
}
END_TEST

static Suite *control_registry_suite(void) {
    Suite *s = suite_create("control_registry");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, valid_devices_load);
    tcase_add_test(tc, config_errors_name_device_and_field);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(control_registry_suite)

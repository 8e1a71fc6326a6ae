/* test_control_validate.c -- parameter schemas: every bad command is
 * refused with an error naming the command or the parameter. */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "control/control_internal.h"

static json_t *commands(void) {
    return json_loads(
        "{"
        "\"ptz\": {\"pan\": {\"type\":\"number\",\"min\":-1,\"max\":1},"
        "          \"tilt\": {\"type\":\"number\",\"min\":-1,\"max\":1},"
        "          \"zoom\": {\"type\":\"number\",\"min\":0,\"max\":1,\"optional\":true}},"
        "\"light\": {\"on\": {\"type\":\"bool\"}},"
        "\"reboot\": {},"
        "\"set_interval\": {\"seconds\": {\"type\":\"integer\",\"min\":1,\"max\":3600}},"
        "\"mode\": {\"name\": {\"type\":\"string\",\"values\":[\"day\",\"night\"]}}"
        "}",
        0, NULL);
}

static void expect_error(const char *name, const char *params, const char *needle) {
    json_t *c = commands();
    json_t *p = params ? json_loads(params, JSON_DECODE_ANY, NULL) : NULL;
    char err[CONTROL_ERR_MAX] = "";
    ck_assert_int_eq(control_command_validate(c, name, p, err, sizeof err), -1);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s' does not contain '%s'", err, needle);
    json_decref(p);
    json_decref(c);
}

static void expect_ok(const char *name, const char *params) {
    json_t *c = commands();
    json_t *p = params ? json_loads(params, 0, NULL) : NULL;
    char err[CONTROL_ERR_MAX] = "";
    ck_assert_msg(control_command_validate(c, name, p, err, sizeof err) == 0, "%s %s: %s", name,
                  params, err);
    json_decref(p);
    json_decref(c);
}

START_TEST(good_commands_pass) {
    expect_ok("ptz", "{\"pan\":-1,\"tilt\":1}");
    expect_ok("ptz", "{\"pan\":0.5,\"tilt\":0,\"zoom\":1}");
    expect_ok("light", "{\"on\":false}");
    expect_ok("reboot", NULL);
    expect_ok("reboot", "{}");
    expect_ok("set_interval", "{\"seconds\":3600}");
    expect_ok("set_interval", "{\"seconds\":1.0}");
    expect_ok("mode", "{\"name\":\"night\"}");
}
END_TEST

START_TEST(bad_commands_name_the_parameter) {
    expect_error("dance", "{}", "unknown command 'dance'");
    expect_error("", "{}", "missing command name");
    expect_error("ptz", "{\"pan\":1.5,\"tilt\":0}", "parameter 'pan' must be between -1 and 1");
    expect_error("ptz", "{\"pan\":0,\"tilt\":-2}", "parameter 'tilt' must be between -1 and 1");
    expect_error("ptz", "{\"pan\":0,\"tilt\":0,\"zoom\":-0.1}",
                 "parameter 'zoom' must be between 0 and 1");
    expect_error("ptz", "{\"pan\":0}", "missing parameter 'tilt'");
    expect_error("ptz", "{\"pan\":\"left\",\"tilt\":0}", "parameter 'pan' must be a number");
    expect_error("ptz", "{\"pan\":0,\"tilt\":0,\"roll\":1}", "unknown parameter 'roll'");
    expect_error("light", "{\"on\":1}", "parameter 'on' must be true or false");
    expect_error("light", "{}", "missing parameter 'on'");
    expect_error("light", "[true]", "parameters must be an object");
    expect_error("set_interval", "{\"seconds\":0}",
                 "parameter 'seconds' must be between 1 and 3600");
    expect_error("set_interval", "{\"seconds\":2.5}", "parameter 'seconds' must be an integer");
    expect_error("set_interval", "{\"seconds\":null}", "parameter 'seconds' must be an integer");
    expect_error("mode", "{\"name\":\"dusk\"}",
                 "parameter 'name' is not one of the allowed values");
    expect_error("mode", "{\"name\":3}", "parameter 'name' must be a string");
    expect_error("reboot", "{\"now\":true}", "unknown parameter 'now'");
}
END_TEST

START_TEST(options_are_checked) {
    char err[CONTROL_ERR_MAX];
    json_t *o = json_loads("{\"qos\":2,\"confirmable\":false,\"timeout_ms\":500}", 0, NULL);
    ck_assert_int_eq(control_options_validate(o, err, sizeof err), 0);
    json_decref(o);
    ck_assert_int_eq(control_options_validate(NULL, err, sizeof err), 0);
    const char *bad[][2] = {
        {"{\"qos\":3}", "option 'qos'"},
        {"{\"qos\":\"1\"}", "option 'qos'"},
        {"{\"confirmable\":1}", "option 'confirmable'"},
        {"{\"timeout_ms\":0}", "option 'timeout_ms'"},
        {"{\"retries\":1}", "unknown option 'retries'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = json_loads(bad[i][0], 0, NULL);
        ck_assert_int_eq(control_options_validate(o, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i][1]), "'%s' lacks '%s'", err, bad[i][1]);
        json_decref(o);
    }
}
END_TEST

START_TEST(schemas_are_checked_at_load) {
    const char *bad[][2] = {
        {"{}", "non-empty object"},
        {"{\"ptz\": []}", "command 'ptz': parameters must be an object"},
        {"{\"ptz\": {\"pan\": {\"type\":\"float\"}}}", "parameter 'pan' needs a \"type\""},
        {"{\"ptz\": {\"pan\": {\"type\":\"number\",\"min\":1,\"max\":0}}}",
         "parameter 'pan': min is greater than max"},
        {"{\"ptz\": {\"pan\": {\"type\":\"number\",\"min\":\"a\"}}}",
         "parameter 'pan': \"min\" must be a number"},
        {"{\"ptz\": {\"pan\": {\"type\":\"number\",\"maxx\":1}}}",
         "parameter 'pan': unknown spec key \"maxx\""},
        {"{\"bad/name\": {}}", "command name 'bad/name'"},
    };
    char err[CONTROL_ERR_MAX];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *c = json_loads(bad[i][0], 0, NULL);
        ck_assert_int_eq(control_schema_check(c, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i][1]), "'%s' lacks '%s'", err, bad[i][1]);
        json_decref(c);
    }
    json_t *c = commands();
    ck_assert_int_eq(control_schema_check(c, err, sizeof err), 0);
    json_decref(c);
}
END_TEST

static Suite *control_validate_suite(void) {
    Suite *s = suite_create("control_validate");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, good_commands_pass);
    tcase_add_test(tc, bad_commands_name_the_parameter);
    tcase_add_test(tc, options_are_checked);
    tcase_add_test(tc, schemas_are_checked_at_load);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(control_validate_suite)

/* test_log.c -- common/log.c: --log-format json writes one valid JSON object
 * per line whatever the message holds (quotes, backslashes, newlines,
 * control characters, bytes that are not UTF-8), with ts, level and msg;
 * the level filter applies to both formats. stderr is sent to a temporary
 * file and read back. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/log.h"

static FILE *capture;
static int saved_stderr = -1;

static void capture_start(void) {
    capture = tmpfile();
    ck_assert_ptr_nonnull(capture);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
}

/* Everything logged since capture_start(); free() it. */
static char *capture_end(void) {
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    long n = ftell(capture);
    ck_assert_int_ge(n, 0);
    char *text = calloc(1, (size_t)n + 1);
    rewind(capture);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, capture), (size_t)n);
    fclose(capture);
    return text;
}

/* Splits text into lines; each must be a JSON object {"ts","level","msg"}.
 * Returns them as an array (new ref). */
static json_t *parse_lines(char *text) {
    json_t *all = json_array();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        ck_assert_msg(json_is_object(o), "not a JSON object: '%s' (%s)", line, je.text);
        ck_assert_int_eq(json_object_size(o), 3);
        const char *ts = json_string_value(json_object_get(o, "ts"));
        ck_assert_msg(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z', "ts '%s'", ts);
        ck_assert_ptr_nonnull(json_string_value(json_object_get(o, "level")));
        ck_assert_ptr_nonnull(json_string_value(json_object_get(o, "msg")));
        json_array_append_new(all, o);
    }
    return all;
}

START_TEST(json_lines_are_valid_for_any_message) {
    vg_log_set_level(VG_LOG_INFO);
    vg_log_set_format(VG_LOG_JSON);
    capture_start();
    vg_log(VG_LOG_INFO, "plain");
    vg_log(VG_LOG_WARN, "say \"hi\" \\ back");
    vg_log(VG_LOG_ERROR, "two\nlines\tand\r\x01\x1f control");
    vg_log(VG_LOG_INFO, "bad utf-8: \xff\xfe \xc3( \xed\xa0\x80 \xf4\x90\x80\x80 end \xe2\x82");
    vg_log(VG_LOG_INFO, "good utf-8: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa5");
    vg_log(VG_LOG_DEBUG, "filtered out");
    char *text = capture_end();
    json_t *lines = parse_lines(text);
    free(text);
    ck_assert_uint_eq(json_array_size(lines), 5);
    const char *want[][2] = {
        {"info", "plain"},
        {"warn", "say \"hi\" \\ back"},
        {"error", "two\nlines\tand\r\x01\x1f control"},
        /* every byte of an ill-formed sequence is one U+FFFD */
        {"info", "bad utf-8: \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd( \xef\xbf\xbd\xef\xbf\xbd"
                 "\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end "
                 "\xef\xbf\xbd\xef\xbf\xbd"},
        {"info", "good utf-8: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa5"},
    };
    for (size_t i = 0; i < 5; i++) {
        json_t *o = json_array_get(lines, i);
        ck_assert_str_eq(json_string_value(json_object_get(o, "level")), want[i][0]);
        ck_assert_str_eq(json_string_value(json_object_get(o, "msg")), want[i][1]);
    }
    json_decref(lines);
}
END_TEST

START_TEST(text_stays_one_line_per_message) {
    vg_log_set_level(VG_LOG_WARN);
    vg_log_set_format(VG_LOG_TEXT);
    capture_start();
    vg_log(VG_LOG_WARN, "careful");
    vg_log(VG_LOG_INFO, "filtered out");
    char *text = capture_end();
    ck_assert_msg(strstr(text, "Z warn  careful\n") != NULL, "got '%s'", text);
    ck_assert_ptr_null(strstr(text, "filtered"));
    free(text);
}
END_TEST

START_TEST(formats_parse) {
    ck_assert_int_eq(vg_log_format_parse("text"), VG_LOG_TEXT);
    ck_assert_int_eq(vg_log_format_parse("json"), VG_LOG_JSON);
    ck_assert_int_eq(vg_log_format_parse("JSON"), -1);
    ck_assert_int_eq(vg_log_format_parse(""), -1);
}
END_TEST

static Suite *log_suite(void) {
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, json_lines_are_valid_for_any_message);
    tcase_add_test(tc, text_stays_one_line_per_message);
    tcase_add_test(tc, formats_parse);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(log_suite)

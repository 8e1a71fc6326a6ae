/* test_config_record.c -- a stream's "record" section: defaults, the
 * server-wide path, and every bad field refused by name. */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "config_load.h"
#include "server/config.h"

static char err[512];

static int load(const char *text, vg_config *c) {
    return config_load_text(text, c, err, sizeof(err));
}

/* A config of one stream with this "record" (JSON text) and server section. */
static int load_record(const char *server, const char *record, vg_config *c) {
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"server\":{%s},\"streams\":[{\"id\":\"cam\",\"source\":\"test://\",\"record\":%s}]}",
             server, record);
    return load(text, c);
}

static void assert_refused(const char *server, const char *record, const char *field) {
    vg_config c;
    ck_assert_int_eq(load_record(server, record, &c), -1);
    ck_assert_msg(strstr(err, field) != NULL, "error '%s' does not name '%s'", err, field);
}

START_TEST(defaults_and_every_field) {
    vg_config c;
    ck_assert_int_eq(load_record("", "{\"mode\":\"continuous\",\"path\":\"/rec\"}", &c), 0);
    const vg_record_config *r = &c.streams[0].record;
    ck_assert_int_eq(r->mode, VG_RECORD_CONTINUOUS);
    ck_assert_str_eq(r->path, "/rec");
    ck_assert_uint_eq(r->segment_s, 60);
    ck_assert(r->retain_days == 7);
    ck_assert(r->max_gb == 0);
    ck_assert(r->preroll_s == 10);
    ck_assert(r->preroll_mb == 16);
    vg_config_free(&c);

    ck_assert_int_eq(load_record("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"segment_s\":10,"
                                     "\"retain_days\":0.5,\"max_gb\":50,\"preroll_s\":2.5,"
                                     "\"preroll_mb\":4}",
                                 &c),
                     0);
    r = &c.streams[0].record;
    ck_assert_uint_eq(r->segment_s, 10);
    ck_assert(r->retain_days == 0.5);
    ck_assert(r->max_gb == 50);
    ck_assert(r->preroll_s == 2.5);
    ck_assert(r->preroll_mb == 4);
    vg_config_free(&c);
}
END_TEST

START_TEST(server_path_is_the_default) {
    vg_config c;
    ck_assert_int_eq(load_record("\"record_path\":\"/srv/rec\"", "{\"mode\":\"continuous\"}", &c),
                     0);
    ck_assert_str_eq(c.record_path, "/srv/rec");
    ck_assert_str_eq(c.streams[0].record.path, "/srv/rec");
    vg_config_free(&c);
    /* the stream's own path wins */
    ck_assert_int_eq(load_record("\"record_path\":\"/srv/rec\"",
                                 "{\"mode\":\"continuous\",\"path\":\"/mine\"}", &c),
                     0);
    ck_assert_str_eq(c.streams[0].record.path, "/mine");
    vg_config_free(&c);
}
END_TEST

START_TEST(events_mode_needs_a_path_and_absent_is_off) {
    vg_config c;
    /* clips are files too */
    assert_refused("", "{\"mode\":\"events\"}", "streams[0].record.path: missing");
    ck_assert_int_eq(load_record("\"record_path\":\"/srv/rec\"", "{\"mode\":\"events\"}", &c), 0);
    ck_assert_int_eq(c.streams[0].record.mode, VG_RECORD_EVENTS);
    ck_assert_str_eq(c.streams[0].record.path, "/srv/rec");
    vg_config_free(&c);
    ck_assert_int_eq(load("{\"streams\":[{\"id\":\"cam\",\"source\":\"test://\"}]}", &c), 0);
    ck_assert_int_eq(c.streams[0].record.mode, VG_RECORD_OFF);
    ck_assert_ptr_null(c.streams[0].record.path);
    vg_config_free(&c);
}
END_TEST

START_TEST(bad_fields_are_refused_by_name) {
    assert_refused("", "\"continuous\"", "streams[0].record: must be an object");
    assert_refused("", "{\"path\":\"/r\"}", "streams[0].record.mode: missing");
    assert_refused("", "{\"mode\":\"always\",\"path\":\"/r\"}", "streams[0].record.mode");
    assert_refused("", "{\"mode\":\"continuous\"}", "streams[0].record.path: missing");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"\"}", "streams[0].record.path");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":7}", "streams[0].record.path");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"segment_s\":0}",
                   "streams[0].record.segment_s");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"segment_s\":1.5}",
                   "streams[0].record.segment_s");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"segment_s\":86401}",
                   "streams[0].record.segment_s");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"retain_days\":-1}",
                   "streams[0].record.retain_days");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"retain_days\":\"7\"}",
                   "streams[0].record.retain_days");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"max_gb\":-0.5}",
                   "streams[0].record.max_gb");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"max_gb\":null}",
                   "streams[0].record.max_gb");
    assert_refused("", "{\"mode\":\"events\",\"path\":\"/r\",\"preroll_s\":301}",
                   "streams[0].record.preroll_s");
    assert_refused("", "{\"mode\":\"events\",\"path\":\"/r\",\"preroll_mb\":0.5}",
                   "streams[0].record.preroll_mb");
    assert_refused("", "{\"mode\":\"continuous\",\"path\":\"/r\",\"segments\":5}",
                   "streams[0].record.segments: unknown field");
    assert_refused("\"record_path\":\"\"", "{\"mode\":\"continuous\"}", "server.record_path");
    assert_refused("\"record_path\":3", "{\"mode\":\"continuous\"}", "server.record_path");
}
END_TEST

START_TEST(equal_configs_compare_equal) {
    vg_record_config a = {.mode = VG_RECORD_CONTINUOUS, .path = "/r", .segment_s = 60,
                          .retain_days = 7, .max_gb = 1};
    vg_record_config b = a;
    ck_assert(vg_record_config_equal(&a, &b));
    b.path = "/s";
    ck_assert(!vg_record_config_equal(&a, &b));
    b = a;
    b.max_gb = 2;
    ck_assert(!vg_record_config_equal(&a, &b));
    b = a;
    b.preroll_s = 5;
    ck_assert(!vg_record_config_equal(&a, &b));
    b = a;
    b.mode = VG_RECORD_EVENTS;
    ck_assert(!vg_record_config_equal(&a, &b));
    vg_record_config off1 = {0}, off2 = {0};
    ck_assert(vg_record_config_equal(&off1, &off2));
}
END_TEST

static Suite *config_record_suite(void) {
    Suite *s = suite_create("config_record");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, defaults_and_every_field);
    tcase_add_test(tc, server_path_is_the_default);
    tcase_add_test(tc, events_mode_needs_a_path_and_absent_is_off);
    tcase_add_test(tc, bad_fields_are_refused_by_name);
    tcase_add_test(tc, equal_configs_compare_equal);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(config_record_suite)

/* test_agent_config.c -- the agent's configuration file (agent/config.h):
 * a good file is read whole (URL parts, token trimmed, handlers, defaults),
 * and each bad one is refused with a message naming the field. */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "check_main.h"
#include "temp_dir.h"

static char dir[64], token[128], path[128];

static void setup(void) {
    temp_dir_make(dir, sizeof dir, "agent-config");
    snprintf(token, sizeof token, "%s/token", dir);
    snprintf(path, sizeof path, "%s/agent.json", dir);
    FILE *f = fopen(token, "w");
    ck_assert_ptr_nonnull(f);
    fputs("  v1.abc.def\n\n", f);
    fclose(f);
}

static void teardown(void) {
    temp_dir_remove(dir);
}

/* Writes the config with "@TOKEN@" replaced by the token file's path, loads
 * it; returns ag_config_load's result, the error in err. */
static int load(ag_config *c, const char *json, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (const char *p = json; *p; p++) {
        if (!strncmp(p, "@TOKEN@", 7)) {
            fputs(token, f);
            p += 6;
        } else {
            fputc(*p, f);
        }
    }
    fclose(f);
    err[0] = 0;
    return ag_config_load(c, path, err, errlen);
}

static void refused(const char *json, const char *want) {
    ag_config c;
    char err[512];
    ck_assert_int_eq(load(&c, json, err, sizeof err), -1);
    ck_assert_msg(strstr(err, want), "error '%s' should say '%s'", err, want);
}

START_TEST(a_good_file) {
    ag_config c;
    char err[512];
    int r = load(&c,
                 "{\"server\":\"wss://vigil.example:8443/ws\",\"token_file\":\"@TOKEN@\","
                 "\"ca_file\":\"/etc/ca.pem\","
                 "\"stream\":{\"id\":\"yard\",\"source\":\"test://\",\"fps\":15,\"latency_mark\":true},"
                 "\"device\":{\"id\":\"yard\",\"commands\":{\"light\":{\"exec\":[\"/bin/light\",\"--on\"],"
                 "\"timeout_ms\":2000}},\"telemetry\":{\"exec\":[\"/bin/t\"],\"interval_s\":5}},"
                 "\"reconnect\":{\"min_s\":2,\"max_s\":20}}",
                 err, sizeof err);
    ck_assert_msg(r == 0, "%s", err);
    ck_assert_str_eq(c.host, "vigil.example");
    ck_assert_int_eq(c.port, 8443);
    ck_assert_str_eq(c.path, "/ws");
    ck_assert_int_eq(c.tls, 1);
    ck_assert_str_eq(c.token, "v1.abc.def");
    ck_assert_str_eq(c.stream_id, "yard");
    ck_assert_int_eq(c.media.fps, 15);
    ck_assert(c.media.latency_mark);
    const ag_handler_config *h = ag_config_command(&c, "light");
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(h->argv[0], "/bin/light");
    ck_assert_str_eq(h->argv[1], "--on");
    ck_assert_ptr_null(h->argv[2]);
    ck_assert_uint_eq(h->timeout_ms, 2000);
    ck_assert_ptr_null(ag_config_command(&c, "dark"));
    ck_assert_uint_eq(c.telemetry_interval_s, 5);
    ck_assert_uint_eq(c.reconnect_min_s, 2);
    ck_assert_uint_eq(c.reconnect_max_s, 20);
    ck_assert_uint_eq(c.refused_s, 60);
    ag_config_free(&c);
}
END_TEST

START_TEST(bad_files_name_the_field) {
    refused("{", "agent.json:");
    refused("[]", "must hold a JSON object");
    refused("{\"token_file\":\"@TOKEN@\",\"device\":{\"id\":\"d\"}}", "\"server\" is required");
    refused("{\"server\":\"http://x/ws\",\"token_file\":\"@TOKEN@\",\"device\":{\"id\":\"d\"}}",
            "wss://");
    refused("{\"server\":\"wss://x:99999/ws\",\"token_file\":\"@TOKEN@\",\"device\":{\"id\":\"d\"}}",
            "bad port");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"/nonexistent/token\",\"device\":{\"id\":\"d\"}}",
            "\"token_file\": cannot read");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\"}", "nothing to do");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\",\"colour\":1,\"device\":{\"id\":\"d\"}}",
            "unknown field \"colour\"");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\",\"stream\":{\"id\":\"s\"}}",
            "stream: \"source\" is required");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\",\"stream\":{\"id\":\"s\",\"source\":\"test://\",\"fps\":0}}",
            "stream: \"fps\" must be an integer from 1 to 120");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\",\"stream\":{\"id\":\"s\",\"source\":\"rtsp://c/x\",\"latency_mark\":true}}",
            "test:// source only");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\",\"device\":{\"id\":\"d\",\"commands\":{\"x\":{\"exec\":[\"light\"]}}}}",
            "device: commands.x: \"exec\"[0] must be an absolute path");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\",\"device\":{\"id\":\"d\",\"commands\":{\"x\":{\"exec\":[]}}}}",
            "device: commands.x: \"exec\" must be an array");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\",\"device\":{\"id\":\"d\",\"commands\":{\"x\":{\"exec\":[\"/x\"],\"timeout_ms\":0}}}}",
            "\"timeout_ms\" must be an integer from 1");
    refused("{\"server\":\"wss://x/ws\",\"token_file\":\"@TOKEN@\",\"device\":{\"id\":\"d\"},\"reconnect\":{\"min_s\":9,\"max_s\":3}}",
            "\"max_s\" must not be below \"min_s\"");
}
END_TEST

static Suite *agent_config_suite(void) {
    Suite *s = suite_create("agent_config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_good_file);
    tcase_add_test(tc, bad_files_name_the_field);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(agent_config_suite)

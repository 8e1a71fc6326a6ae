/* test_config_cluster.c -- the "cluster" section: absent means alone, the
 * defaults, and every bad field refused by name. */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "config_load.h"
#include "server/config.h"

static char err[512];

/* A config of one stream and this "cluster" section (JSON text). */
static int load_cluster(const char *cluster, vg_config *c) {
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"streams\":[{\"id\":\"cam\",\"source\":\"test://\"}],\"cluster\":%s}", cluster);
    return config_load_text(text, c, err, sizeof(err));
}

static void assert_refused(const char *cluster, const char *field) {
    vg_config c;
    ck_assert_int_eq(load_cluster(cluster, &c), -1);
    ck_assert_msg(strstr(err, field) != NULL, "error '%s' does not name '%s'", err, field);
}

START_TEST(absent_means_alone) {
    vg_config c;
    ck_assert_int_eq(config_load_text("{\"streams\":[{\"id\":\"cam\",\"source\":\"test://\"}]}", &c,
                                      err, sizeof(err)),
                     0);
    ck_assert_ptr_null(c.cluster);
    vg_config_free(&c);
}
END_TEST

START_TEST(defaults_and_every_field) {
    vg_config c;
    ck_assert_int_eq(
        load_cluster("{\"node_id\":\"n1\",\"nats\":[\"nats://127.0.0.1:4222\"]}", &c), 0);
    const vg_cluster_config *cc = c.cluster;
    ck_assert_ptr_nonnull(cc);
    ck_assert_str_eq(cc->node_id, "n1");
    ck_assert_uint_eq(cc->nnats, 1);
    ck_assert_str_eq(cc->name, "main");
    ck_assert_int_eq(cc->lease_ms, 3000);
    ck_assert_int_eq(cc->linger_ms, 10000);
    ck_assert_int_eq(cc->replicas, 1); /* no more replicas than servers named */
    ck_assert_ptr_null(cc->user);
    ck_assert_ptr_null(cc->advertise_url);
    vg_config_free(&c);

    ck_assert_int_eq(
        load_cluster("{\"node_id\":\"edge-2\",\"nats\":[\"nats://a:1\",\"nats://b:2\","
                     "\"tls://c:3\",\"nats://d:4\"],\"name\":\"site_a\",\"user\":\"vigil\","
                     "\"password\":\"pw\",\"ca_file\":\"/ca.pem\",\"cert_file\":\"/c.pem\","
                     "\"key_file\":\"/k.pem\",\"advertise_url\":\"https://edge2/\","
                     "\"lease_ms\":2000,\"replicas\":5,\"linger_ms\":0}",
                     &c),
        0);
    cc = c.cluster;
    ck_assert_uint_eq(cc->nnats, 4);
    ck_assert_str_eq(cc->nats[2], "tls://c:3");
    ck_assert_str_eq(cc->name, "site_a");
    ck_assert_str_eq(cc->user, "vigil");
    ck_assert_str_eq(cc->password, "pw");
    ck_assert_str_eq(cc->ca_file, "/ca.pem");
    ck_assert_str_eq(cc->advertise_url, "https://edge2/");
    ck_assert_int_eq(cc->lease_ms, 2000);
    ck_assert_int_eq(cc->replicas, 5);
    ck_assert_int_eq(cc->linger_ms, 0);
    vg_config_free(&c);

    ck_assert_int_eq(load_cluster("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\",\"nats://b:2\","
                                  "\"nats://c:3\",\"nats://d:4\"],\"token\":\"s3cret\"}",
                                  &c),
                     0);
    ck_assert_int_eq(c.cluster->replicas, 3);
    ck_assert_str_eq(c.cluster->token, "s3cret");
    vg_config_free(&c);
}
END_TEST

START_TEST(bad_fields_are_refused_by_name) {
    assert_refused("[]", "cluster");
    assert_refused("{\"nats\":[\"nats://a:1\"]}", "cluster.node_id");
    assert_refused("{\"node_id\":\"a.b\",\"nats\":[\"nats://a:1\"]}", "cluster.node_id");
    assert_refused("{\"node_id\":\"\",\"nats\":[\"nats://a:1\"]}", "cluster.node_id");
    assert_refused("{\"node_id\":\"n1\"}", "cluster.nats");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[]}", "cluster.nats");
    assert_refused("{\"node_id\":\"n1\",\"nats\":\"nats://a:1\"}", "cluster.nats");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"http://a:1\"]}", "cluster.nats[0]");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\", 7]}", "cluster.nats[1]");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"name\":\"a b\"}",
                   "cluster.name");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"user\":\"u\"}",
                   "cluster.password");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"password\":\"p\"}",
                   "cluster.user");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"user\":\"u\","
                   "\"password\":\"p\",\"token\":\"t\"}",
                   "cluster.token");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"cert_file\":\"/c\"}",
                   "cluster.key_file");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"lease_ms\":500}",
                   "cluster.lease_ms");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"replicas\":0}",
                   "cluster.replicas");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"linger_ms\":-1}",
                   "cluster.linger_ms");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"advertise_url\":\"\"}",
                   "cluster.advertise_url");
    assert_refused("{\"node_id\":\"n1\",\"nats\":[\"nats://a:1\"],\"nodes\":3}",
                   "cluster.nodes");
}
END_TEST

static Suite *config_cluster_suite(void) {
    Suite *s = suite_create("config_cluster");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, absent_means_alone);
    tcase_add_test(tc, defaults_and_every_field);
    tcase_add_test(tc, bad_fields_are_refused_by_name);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(config_cluster_suite)

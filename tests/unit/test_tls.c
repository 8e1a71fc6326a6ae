/* test_tls.c -- the TLS settings (server/tls.c): which combinations start,
 * and that every bad file stops start-up with a message naming the setting;
 * and the Location the plain-HTTP redirect answers with
 * (server/http_redirect.c). The certificates are made here with OpenSSL. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "server/tls.h"

static char dir[64], cert[128], key[128], other_key[128], junk[128], missing[128];
static char err[512];

static void write_key(EVP_PKEY *k, const char *path) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* A self-signed certificate for localhost and its key, a second key, and a
 * file that is no PEM at all, in a fresh directory. */
static void setup(void) {
    snprintf(dir, sizeof(dir), "/tmp/vigil-tls-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    snprintf(other_key, sizeof(other_key), "%s/other.key", dir);
    snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
    snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
    EVP_PKEY *k = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_nonnull(k2);
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    FILE *f = fopen(cert, "w");
    ck_assert_ptr_nonnull(f);
    PEM_write_X509(f, x);
    fclose(f);
    write_key(k, key);
    write_key(k2, other_key);
    f = fopen(junk, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a certificate\n", f);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
}

static void teardown(void) {
    unlink(cert);
    unlink(key);
    unlink(other_key);
    unlink(junk);
    rmdir(dir);
}

static vg_config config(const char *c, const char *k, int redirect) {
    vg_config cfg = {0};
    cfg.port = 8443;
    cfg.tls_cert = (char *)c;
    cfg.tls_key = (char *)k;
    cfg.http_redirect_port = redirect;
    return cfg;
}

static void assert_refused(vg_config cfg, const char *must_contain) {
    err[0] = 0;
    ck_assert_int_eq(vg_tls_check(&cfg, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, must_contain) != NULL, "error '%s' does not contain '%s'", err,
                  must_contain);
}

START_TEST(plain_http_and_valid_tls_start) {
    vg_config cfg = config(NULL, NULL, 0);
    ck_assert_int_eq(vg_tls_check(&cfg, err, sizeof(err)), 0);
    ck_assert(!vg_tls_enabled(&cfg));
    cfg = config(cert, key, 8080);
    ck_assert_msg(vg_tls_check(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert(vg_tls_enabled(&cfg));
}
END_TEST

START_TEST(bad_settings_name_what_is_wrong) {
    assert_refused(config(cert, NULL, 0), "server.tls_key: TLS needs both");
    assert_refused(config(NULL, key, 0), "server.tls_cert: TLS needs both");
    assert_refused(config(NULL, NULL, 8080), "server.http_redirect_port");
    assert_refused(config(cert, key, 8443), "server.http_redirect_port: 8443 is the TLS port");
    assert_refused(config(missing, key, 0), "server.tls_cert: cannot read");
    assert_refused(config(missing, key, 0), "No such file");
    assert_refused(config(cert, missing, 0), "server.tls_key: cannot read");
    assert_refused(config(junk, key, 0), "server.tls_cert: '");
    assert_refused(config(junk, key, 0), "holds no PEM certificate");
    assert_refused(config(cert, junk, 0), "holds no PEM private key");
    assert_refused(config(cert, cert, 0), "server.tls_key");
    assert_refused(config(cert, other_key, 0), "is not the key of the certificate");
}
END_TEST

static const char *location(const char *host, const char *path, const char *const *args,
                            size_t nargs, int port) {
    static char out[512];
    if (vg_http_redirect_location(host, path, args, nargs, port, out, sizeof(out)) < 0) return NULL;
    return out;
}

START_TEST(redirect_location_keeps_host_path_and_query) {
    ck_assert_str_eq(location("example.com:8080", "/", NULL, 0, 8443), "https://example.com:8443/");
    ck_assert_str_eq(location("example.com", "/api/health", NULL, 0, 443),
                     "https://example.com/api/health");
    ck_assert_str_eq(location("127.0.0.1:80", "/a b", NULL, 0, 8443),
                     "https://127.0.0.1:8443/a%20b");
    ck_assert_str_eq(location("[::1]:8080", "/x", NULL, 0, 8443), "https://[::1]:8443/x");
    const char *args[] = {"a=1", "b=c&d e+f", "z"};
    ck_assert_str_eq(location("h", "/p", args, 3, 8443), "https://h:8443/p?a=1&b=c%26d%20e%2Bf&z");
    ck_assert_str_eq(location("h", "", NULL, 0, 8443), "https://h:8443/");
}
END_TEST

START_TEST(redirect_refuses_bad_hosts) {
    ck_assert_ptr_null(location(NULL, "/", NULL, 0, 8443));
    ck_assert_ptr_null(location("", "/", NULL, 0, 8443));
    ck_assert_ptr_null(location("evil.com/x", "/", NULL, 0, 8443));
    ck_assert_ptr_null(location("a@b", "/", NULL, 0, 8443));
    ck_assert_ptr_null(location("h:80x", "/", NULL, 0, 8443));
    ck_assert_ptr_null(location("h:", "/", NULL, 0, 8443));
    ck_assert_ptr_null(location("[::1", "/", NULL, 0, 8443));
    ck_assert_ptr_null(location("[]", "/", NULL, 0, 8443));
    ck_assert_ptr_null(location("h\r\nSet-Cookie: x", "/", NULL, 0, 8443));
}
END_TEST

/* The server section's TLS block as the loader reads it. */
START_TEST(config_reads_the_tls_settings) {
    json_error_t je;
    json_t *root = json_loads("{\"server\": {\"tls_cert\": \"/c.pem\", \"tls_key\": \"/k.pem\", "
                              "\"http_redirect_port\": 8080, \"port\": 8443},"
                              " \"streams\": [{\"id\": \"a\", \"source\": \"test://\"}]}",
                              0, &je);
    ck_assert_ptr_nonnull(root);
    vg_config c;
    ck_assert_msg(vg_config_load_json(&c, root, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.tls_cert, "/c.pem");
    ck_assert_str_eq(c.tls_key, "/k.pem");
    ck_assert_int_eq(c.http_redirect_port, 8080);
    vg_config_free(&c);
    json_decref(root);

    const char *bad[] = {
        "{\"server\": {\"tls_cert\": 5}, \"streams\": [{\"id\": \"a\", \"source\": \"test://\"}]}",
        "{\"server\": {\"tls_key\": \"\"}, \"streams\": [{\"id\": \"a\", \"source\": "
        "\"test://\"}]}",
        "{\"server\": {\"http_redirect_port\": 0}, \"streams\": [{\"id\": \"a\", \"source\": "
        "\"test://\"}]}",
    };
    const char *field[] = {"server.tls_cert", "server.tls_key", "server.http_redirect_port"};
    for (size_t i = 0; i < 3; i++) {
        root = json_loads(bad[i], 0, &je);
        ck_assert_ptr_nonnull(root);
        ck_assert_int_eq(vg_config_load_json(&c, root, err, sizeof(err)), -1);
        ck_assert_msg(strstr(err, field[i]) != NULL, "'%s' does not name %s", err, field[i]);
        json_decref(root);
    }
}
END_TEST

static Suite *tls_suite(void) {
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plain_http_and_valid_tls_start);
    tcase_add_test(tc, bad_settings_name_what_is_wrong);
    tcase_add_test(tc, redirect_location_keeps_host_path_and_query);
    tcase_add_test(tc, redirect_refuses_bad_hosts);
    tcase_add_test(tc, config_reads_the_tls_settings);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(tls_suite)

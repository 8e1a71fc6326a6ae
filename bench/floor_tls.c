/* floor_tls.c -- TLS for the floor (see floor_tls.h). */
#include "bench/floor_tls.h"

#include <openssl/err.h>
#include <stdio.h>
#include <unistd.h>

SSL_CTX *floor_tls_context(const char *cert, const char *key, bool ktls) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) goto fail;
    /* As vigil's listener (server/tls.c): nothing before TLS 1.2. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (ktls) SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    return ctx;
fail:
    fprintf(stderr, "vigil-floor: TLS with %s and %s:\n", cert, key);
    ERR_print_errors_fp(stderr);
    SSL_CTX_free(ctx);
    return NULL;
}

SSL *floor_tls_accept(SSL_CTX *ctx, int fd) {
    SSL *ssl = SSL_new(ctx);
    if (!ssl) return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

/* The code for a call that returned r <= 0. */
static int want(SSL *ssl, int r) {
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ: return FLOOR_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return FLOOR_TLS_WANT_WRITE;
    default: ERR_clear_error(); return FLOOR_TLS_FAIL;
    }
}

/* Once: what the first client negotiated, and whether the kernel sends. */
static void report_first(SSL *ssl) {
    static bool done;
    if (done) return;
    done = true;
    const char *ktls = "off (no --ktls)";
    if (SSL_get_options(ssl) & SSL_OP_ENABLE_KTLS)
        ktls = BIO_get_ktls_send(SSL_get_wbio(ssl)) ? "in use"
               : access("/sys/module/tls", F_OK)
                   ? "not in use (no kernel tls module: /sys/module/tls absent)"
                   : "not in use";
    fprintf(stderr, "vigil-floor: first TLS handshake: %s %s, ktls send: %s\n",
            SSL_get_version(ssl), SSL_get_cipher_name(ssl), ktls);
}

int floor_tls_handshake(SSL *ssl) {
    int r = SSL_do_handshake(ssl);
    if (r != 1) return want(ssl, r);
    report_first(ssl);
    return 1;
}

int floor_tls_read(SSL *ssl, void *buf, int n) {
    int r = SSL_read(ssl, buf, n);
    return r > 0 ? r : want(ssl, r);
}

int floor_tls_write(SSL *ssl, const void *p, int n) {
    int r = SSL_write(ssl, p, n);
    return r > 0 ? r : want(ssl, r);
}

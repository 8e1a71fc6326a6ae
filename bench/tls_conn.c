/* tls_conn.c -- wss for the load client (see tls_conn.h). */
#include "bench/tls_conn.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#define READ_BUFFER (64 * 1024)

SSL_CTX *tls_conn_context(const char *ciphersuites) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, ciphersuites) != 1) {
        fprintf(stderr, "vigil-load: TLS 1.3 with suites '%s':\n", ciphersuites);
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* A peer gone without close_notify reads as end of file, as TCP's does. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, READ_BUFFER);
    return ctx;
}

SSL *tls_conn_new(SSL_CTX *ctx, int fd) {
    SSL *ssl = SSL_new(ctx);
    if (ssl && SSL_set_fd(ssl, fd) == 1) {
        SSL_set_connect_state(ssl);
        return ssl;
    }
    SSL_free(ssl);
    ERR_clear_error();
    return NULL;
}

void tls_conn_free(SSL *ssl) {
    SSL_free(ssl);
}

/* errno for a call that returned r <= 0: EAGAIN, or EIO (queue cleared). */
static int error_of(SSL *ssl, int r, bool *want_write) {
    int e = SSL_get_error(ssl, r);
    if (want_write) *want_write = e == SSL_ERROR_WANT_WRITE;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return EAGAIN;
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN ? 0 : EIO;
}

int tls_conn_handshake(SSL *ssl, bool *want_write, tls_summary *sum) {
    int r = SSL_do_handshake(ssl);
    if (r != 1) return error_of(ssl, r, want_write) == EAGAIN ? 0 : -1;
    const char *v = SSL_get_version(ssl), *c = SSL_get_cipher_name(ssl);
    if (!sum->handshakes++) {
        snprintf(sum->version, sizeof(sum->version), "%s", v);
        snprintf(sum->cipher, sizeof(sum->cipher), "%s", c ? c : "");
    } else if (strcmp(sum->version, v) || !c || strcmp(sum->cipher, c)) {
        sum->differing++;
    }
    return 1;
}

ssize_t tls_conn_recv(SSL *ssl, void *buf, size_t n) {
    int r = SSL_read(ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (r > 0) return r;
    int e = error_of(ssl, r, NULL);
    if (!e) return 0; /* close_notify */
    errno = e;
    return -1;
}

ssize_t tls_conn_send(SSL *ssl, const void *p, size_t n) {
    int r = SSL_write(ssl, p, n > INT_MAX ? INT_MAX : (int)n);
    if (r > 0) return r;
    int e = error_of(ssl, r, NULL);
    errno = e ? e : EIO;
    return -1;
}

bool tls_conn_pending(const SSL *ssl) {
    return SSL_has_pending(ssl);
}

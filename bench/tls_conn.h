/* tls_conn.h -- wss for the load client (--tls): the client context and one
 * viewer's non-blocking handshake, reads and writes, in the terms of recv()
 * and send() so that load_conn.c reads TLS as it reads TCP.
 *
 * The client picks what is negotiated: TLS 1.3 only, with the suites of
 * --tls-ciphersuites (default TLS_AES_128_GCM_SHA256), so that vigil (lws
 * over OpenSSL) and the floor (bench/floor_tls.h) run the very same cipher.
 * No certificate is verified: it is a benchmark on 127.0.0.1. To keep the
 * client's own CPU low, OpenSSL reads ahead (one recv() for many records)
 * into a 64 KiB buffer; the bytes it holds are not reported by epoll again,
 * so a reader must call tls_conn_recv() while tls_conn_pending() (or until
 * it says EAGAIN).
 *
 * Thread: the load client's single thread. */
#ifndef VIGIL_BENCH_TLS_CONN_H
#define VIGIL_BENCH_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_st;
struct ssl_ctx_st;

/* What the handshakes negotiated, for the report. */
typedef struct tls_summary {
    size_t handshakes; /* completed */
    size_t differing;  /* of those, with another version or suite than the first */
    char version[16], cipher[64];
} tls_summary;

/* The client context; NULL, with the reason on stderr, when the suite list
 * is not one OpenSSL knows. */
struct ssl_ctx_st *tls_conn_context(const char *ciphersuites);

/* A client SSL over a connected, non-blocking socket; NULL on failure. */
struct ssl_st *tls_conn_new(struct ssl_ctx_st *ctx, int fd);
void tls_conn_free(struct ssl_st *ssl);

/* One handshake step: 1 done (and counted into sum), 0 not yet (*want_write:
 * wait for writability rather than readability), -1 failed. */
int tls_conn_handshake(struct ssl_st *ssl, bool *want_write, tls_summary *sum);

/* As recv() and send(): bytes, 0 when the peer closed (recv), -1 with errno
 * EAGAIN (wait for the socket) or EIO. */
ssize_t tls_conn_recv(struct ssl_st *ssl, void *buf, size_t n);
ssize_t tls_conn_send(struct ssl_st *ssl, const void *p, size_t n);

/* Decrypted or received bytes held inside the SSL, which epoll cannot see. */
bool tls_conn_pending(const struct ssl_st *ssl);

#endif

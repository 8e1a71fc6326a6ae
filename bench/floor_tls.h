/* floor_tls.h -- TLS for the floor (--tls-cert/--tls-key): the server
 * context and one client's non-blocking handshake, reads and writes, so that
 * the floor measures what wss costs on this machine as vigil (lws over
 * OpenSSL) pays it.
 *
 * The context takes TLS 1.2 and 1.3 like vigil's (the load client picks the
 * version and suite, so both servers negotiate the same), partial writes with
 * a moving write buffer (a frame blocked half-way is retried from the
 * backlog with the same bytes, SSL_write's rule), and with --ktls
 * SSL_OP_ENABLE_KTLS. When the first client's handshake completes the floor
 * says on stderr what was negotiated and whether the kernel does the sending
 * (kernel TLS), in one line the runner reads:
 *
 *   vigil-floor: first TLS handshake: TLSv1.3 TLS_AES_128_GCM_SHA256, ktls send: not in use (...)
 *
 * Thread: the floor's single thread. */
#ifndef VIGIL_BENCH_FLOOR_TLS_H
#define VIGIL_BENCH_FLOOR_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>

/* What the calls below return instead of a byte count when they cannot go on. */
#define FLOOR_TLS_WANT_READ  (-1) /* wait for the socket to be readable */
#define FLOOR_TLS_WANT_WRITE (-2) /* wait for it to be writable */
#define FLOOR_TLS_FAIL       (-3) /* closed (close_notify or EOF) or broken */

/* The server context with the certificate and key (PEM files); with ktls,
 * kernel TLS is asked for. NULL, with the reason on stderr, on failure. */
SSL_CTX *floor_tls_context(const char *cert, const char *key, bool ktls);

/* A server-side SSL for an accepted, non-blocking socket; NULL on failure. */
SSL *floor_tls_accept(SSL_CTX *ctx, int fd);

/* One handshake step: 1 when done, or one of the FLOOR_TLS_* codes. */
int floor_tls_handshake(SSL *ssl);

/* Decrypted bytes into buf (> 0), or a FLOOR_TLS_* code. Bytes may stay
 * buffered inside the SSL: call again until FLOOR_TLS_WANT_READ. */
int floor_tls_read(SSL *ssl, void *buf, int n);

/* Writes from p (> 0: bytes taken, at most one TLS record's worth), or a
 * FLOOR_TLS_* code; after a WANT code the next write must start at the same
 * bytes. */
int floor_tls_write(SSL *ssl, const void *p, int n);

#endif

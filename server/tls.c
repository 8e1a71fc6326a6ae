/* tls.c -- checking the TLS settings and adding them to the listener's lws
 * vhost (see tls.h). OpenSSL reads the files here the way lws will, so a bad
 * file stops start-up with a message instead of an lws error deep inside
 * vhost creation. Main thread only. */
#include "server/tls.h"

#include <errno.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

bool vg_tls_enabled(const vg_config *c) {
    return c->tls_cert && c->tls_key;
}

/* Never prompts: a key with a passphrase fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static BIO *open_pem(const char *setting, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "server.%s: cannot read '%s': %s", setting, path, strerror(errno));
        return NULL;
    }
    BIO *b = BIO_new_fp(f, BIO_CLOSE);
    if (!b) {
        fclose(f);
        snprintf(err, errlen, "server.%s: out of memory", setting);
    }
    return b;
}

static X509 *load_cert(const char *path, char *err, size_t errlen) {
    BIO *b = open_pem("tls_cert", path, err, errlen);
    if (!b) return NULL;
    X509 *x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (!x) snprintf(err, errlen, "server.tls_cert: '%s' holds no PEM certificate", path);
    return x;
}

static EVP_PKEY *load_key(const char *path, char *err, size_t errlen) {
    BIO *b = open_pem("tls_key", path, err, errlen);
    if (!b) return NULL;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (!k)
        snprintf(err, errlen,
                 "server.tls_key: '%s' holds no PEM private key (or one protected by a "
                 "passphrase, which vigil cannot ask for)",
                 path);
    return k;
}

int vg_tls_check(const vg_config *c, char *err, size_t errlen) {
    if (!c->tls_cert && !c->tls_key && c->tls_ktls) {
        snprintf(err, errlen, "server.tls_ktls: kernel TLS needs tls_cert and tls_key");
        return -1;
    }
    if (!c->tls_cert && !c->tls_key) {
        if (c->http_redirect_port) {
            snprintf(err, errlen,
                     "server.http_redirect_port: redirects to https, which needs tls_cert and "
                     "tls_key");
            return -1;
        }
        return 0;
    }
    if (!c->tls_cert || !c->tls_key) {
        snprintf(err, errlen, "server.%s: TLS needs both tls_cert and tls_key",
                 c->tls_cert ? "tls_key" : "tls_cert");
        return -1;
    }
    if (c->http_redirect_port && c->http_redirect_port == c->port) {
        snprintf(err, errlen, "server.http_redirect_port: %d is the TLS port itself",
                 c->http_redirect_port);
        return -1;
    }
    X509 *cert = load_cert(c->tls_cert, err, errlen);
    EVP_PKEY *key = cert ? load_key(c->tls_key, err, errlen) : NULL;
    int r = -1;
    if (cert && key) {
        if (X509_check_private_key(cert, key) != 1) {
            snprintf(err, errlen, "server.tls_key: '%s' is not the key of the certificate '%s'",
                     c->tls_key, c->tls_cert);
        } else {
            r = 0;
            if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
                vg_log(VG_LOG_WARN, "server.tls_cert: '%s' has expired; browsers will refuse it",
                       c->tls_cert);
        }
    }
    ERR_clear_error(); /* what OpenSSL queued while failing is told in err */
    EVP_PKEY_free(key);
    X509_free(cert);
    return r;
}

/* lws adds these to every HTTP response of the vhost (the REST API's and the
 * file mount's alike). Static: the vhost keeps the pointer. */
static const struct lws_protocol_vhost_options hsts_header = {
    .name = "Strict-Transport-Security:",
    .value = VG_TLS_HSTS,
};

void vg_tls_vhost_info(const vg_config *c, struct lws_context_creation_info *info) {
    if (!vg_tls_enabled(c)) return;
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info->ssl_cert_filepath = c->tls_cert;
    info->ssl_private_key_filepath = c->tls_key;
    /* HTTP/2 would carry the path in :path, which the REST handlers do not
     * read, and WebSockets over h2 are another code path: offer HTTP/1.1. */
    info->alpn = "http/1.1";
    info->ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    /* OpenSSL hands the record layer to the kernel after the handshake when
     * the kernel can (a tls module, a suite it knows): SSL_write becomes a
     * plain send of the clear text. */
    if (c->tls_ktls) info->ssl_options_set |= SSL_OP_ENABLE_KTLS;
    info->headers = &hsts_header;
}

void vg_tls_say_ktls(const vg_config *c, struct lws *wsi, bool *said) {
    if (*said || !c->tls_ktls || !lws_is_ssl(wsi)) return;
    *said = true;
    SSL *ssl = lws_get_ssl(wsi);
    if (ssl && BIO_get_ktls_send(SSL_get_wbio(ssl)))
        vg_log(VG_LOG_INFO, "server.tls_ktls: the kernel encrypts what vigil sends (%s)",
               SSL_get_cipher_name(ssl));
    else
        vg_log(VG_LOG_WARN, "server.tls_ktls: kernel TLS is not in use (%s); OpenSSL encrypts",
               access("/sys/module/tls", F_OK) ? "this kernel has no tls module"
                                               : "OpenSSL did not hand this connection over");
}

/* secrets.c -- token verification against the secrets in force (see
 * secrets.h). */
#include "server/secrets.h"

#include <openssl/crypto.h>
#include <string.h>
#include <time.h>

#include "server/server.h"
#include "server/token.h"

json_t *vg_server_verify_token(vg_server *srv, const char *token, char *err, size_t errlen) {
    const vg_auth_config *auth = &srv->config->auth;
    int64_t now_us = vg_server_now_us();
    json_t *claims =
        vg_token_verify(auth->secret, auth->secret_len, token, now_us / 1000000, err, errlen);
    const vg_previous_secret *p = &srv->previous_secret;
    if (claims || !p->len || now_us >= p->until_us) return claims;
    /* Only a token the current secret does not sign is tried again: an
     * expired or malformed one keeps its first reason. */
    if (strcmp(err, "bad signature")) return NULL;
    char err2[128];
    claims = vg_token_verify(p->key, p->len, token, now_us / 1000000, err2, sizeof(err2));
    if (!claims) snprintf(err, errlen, "%s", err2);
    return claims;
}

void vg_previous_secret_keep(vg_previous_secret *p, const unsigned char *old, size_t len,
                             uint32_t grace_s, int64_t now_us) {
    OPENSSL_cleanse(p, sizeof(*p));
    if (!grace_s || len > sizeof(p->key)) return;
    memcpy(p->key, old, len);
    p->len = len;
    p->until_us = now_us + (int64_t)grace_s * 1000000;
}

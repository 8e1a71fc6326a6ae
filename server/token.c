/* token.c -- signing and checking vigil access tokens (see token.h), with
 * OpenSSL's HMAC and base64. */
#include "server/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "v1."

static const char *const roles[] = {"viewer", "operator", "publisher", "admin", "device"};

/* base64url without padding, from OpenSSL's standard base64. out must hold
 * 4 * ((n + 2) / 3) + 1 bytes. Returns the length. */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out) {
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[len] = 0;
    return (size_t)len;
}

/* base64url (unpadded) to bytes; out must hold 3 * (n + 3) / 4 bytes.
 * Returns the length, or -1 if it is not base64url. */
static long b64url_decode(const char *in, size_t n, unsigned char *out) {
    if (n % 4 == 1) return -1;
    size_t padded = n + (4 - n % 4) % 4;
    char *tmp = malloc(padded + 1);
    if (!tmp) return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch == '+' || ch == '/' || ch == '=') { /* only the url alphabet */
            free(tmp);
            return -1;
        }
        tmp[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    }
    for (size_t i = n; i < padded; i++)
        tmp[i] = '=';
    int len = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded);
    free(tmp);
    if (len < 0) return -1;
    return len - (long)(padded - n); /* EVP_DecodeBlock counts the padding */
}

static int mac(const unsigned char *secret, size_t secret_len, const char *data, size_t len,
               unsigned char out[32]) {
    unsigned int outlen = 0;
    return HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)data, len, out,
                &outlen) &&
                   outlen == 32
               ? 0
               : -1;
}

char *vg_token_sign(const unsigned char *secret, size_t secret_len, const json_t *claims) {
    char *json = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    if (!json) return NULL;
    size_t jl = strlen(json);
    size_t cap = strlen(PREFIX) + 4 * ((jl + 2) / 3) + 1 + 44 + 1;
    char *tok = malloc(cap);
    if (!tok) {
        free(json);
        return NULL;
    }
    strcpy(tok, PREFIX);
    size_t n = strlen(PREFIX);
    n += b64url_encode((const unsigned char *)json, jl, tok + n);
    free(json);
    unsigned char sig[32];
    if (mac(secret, secret_len, tok, n, sig) < 0) {
        free(tok);
        return NULL;
    }
    tok[n++] = '.';
    b64url_encode(sig, sizeof(sig), tok + n);
    return tok;
}

static int string_array(const json_t *a) {
    if (!json_is_array(a)) return 0;
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) if (!json_is_string(v)) return 0;
    return 1;
}

static int claims_ok(const json_t *c, char *err, size_t errlen) {
    const char *role = json_string_value(json_object_get(c, "role"));
    int known = 0;
    for (size_t i = 0; role && i < sizeof(roles) / sizeof(roles[0]); i++)
        known |= !strcmp(role, roles[i]);
    if (!json_is_string(json_object_get(c, "sub")) || !known ||
        !json_is_integer(json_object_get(c, "exp"))) {
        snprintf(err, errlen, "token claims need sub, a known role and exp");
        return 0;
    }
    const json_t *st = json_object_get(c, "streams"), *dv = json_object_get(c, "devices");
    if ((st && !string_array(st)) || (dv && !string_array(dv))) {
        snprintf(err, errlen, "token claims: streams and devices must be arrays of patterns");
        return 0;
    }
    return 1;
}

json_t *vg_token_verify(const unsigned char *secret, size_t secret_len, const char *token,
                        int64_t now_s, char *err, size_t errlen) {
    size_t len = token ? strnlen(token, VG_TOKEN_MAX_LEN + 1) : 0;
    /* Shorter than the prefix: nothing to search (len - 3 would wrap around). */
    const char *dot =
        len > strlen(PREFIX) ? memchr(token + strlen(PREFIX), '.', len - strlen(PREFIX)) : NULL;
    if (len == 0 || len > VG_TOKEN_MAX_LEN || strncmp(token, PREFIX, strlen(PREFIX)) || !dot) {
        snprintf(err, errlen, "malformed token");
        return NULL;
    }
    size_t signed_len = (size_t)(dot - token);
    unsigned char want[32], got[48];
    if (mac(secret, secret_len, token, signed_len, want) < 0 || len - signed_len - 1 != 43 ||
        b64url_decode(dot + 1, 43, got) != 32 || CRYPTO_memcmp(want, got, 32) != 0) {
        snprintf(err, errlen, "bad signature");
        return NULL;
    }
    const char *body = token + strlen(PREFIX);
    size_t blen = signed_len - strlen(PREFIX);
    unsigned char *json = malloc(3 * (blen + 3) / 4 + 1);
    long jl = json ? b64url_decode(body, blen, json) : -1;
    json_t *claims = jl > 0 ? json_loadb((const char *)json, (size_t)jl, 0, NULL) : NULL;
    free(json);
    if (!json_is_object(claims)) {
        json_decref(claims);
        snprintf(err, errlen, "malformed token");
        return NULL;
    }
    if (!claims_ok(claims, err, errlen)) {
        json_decref(claims);
        return NULL;
    }
    if (json_integer_value(json_object_get(claims, "exp")) <= now_s) {
        json_decref(claims);
        snprintf(err, errlen, "token expired");
        return NULL;
    }
    return claims;
}

/* fuzz_token.c -- libFuzzer target: strings into vg_token_verify()
 * (server/token.h), with the fixed secret of fuzz_common.h and a fixed
 * "now". Three tokens per input, since a fuzzer cannot forge HMACs:
 *   1. the input itself (as a NUL-terminated string);
 *   2. the input up to its last '.', signed here: whatever the fuzzer makes
 *      of the base64url claims part reaches the decoder and the claims check;
 *   3. "v1." + base64url(input), signed: the input as the claims JSON.
 * A token that verifies must give claims the way token.h promises them (an
 * object with a string sub, a known role, exp in the future). */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "server/token.h"

#define NOW 1750000000 /* seconds; fuzz/seedgen.c's valid tokens expire later */

static const unsigned char *secret = (const unsigned char *)FUZZ_SECRET;
#define SECRET_LEN (sizeof(FUZZ_SECRET) - 1)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    return 0;
}

static void check(const char *token) {
    char err[128] = "";
    json_t *claims = vg_token_verify(secret, SECRET_LEN, token, NOW, err, sizeof(err));
    if (!claims) {
        if (!err[0]) fuzz_fail("refused token", "without a reason");
        return;
    }
    const char *role = json_string_value(json_object_get(claims, "role"));
    if (!json_is_object(claims) || !json_is_string(json_object_get(claims, "sub")) || !role ||
        (strcmp(role, "viewer") && strcmp(role, "operator") && strcmp(role, "publisher") &&
         strcmp(role, "admin")) ||
        json_integer_value(json_object_get(claims, "exp")) <= NOW)
        fuzz_fail("accepted token", token);
    json_decref(claims);
}

/* base64url without padding; out holds 4 * ((n + 2) / 3) + 1. */
static void b64url(const unsigned char *in, size_t n, char *out) {
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[len] = 0;
}

/* prefix + body, then "." and its signature. New malloc'd string. */
static char *signed_token(const char *prefix, const char *body, size_t blen) {
    size_t plen = strlen(prefix);
    char *t = malloc(plen + blen + 1 + 44 + 1);
    if (!t) return NULL;
    memcpy(t, prefix, plen);
    memcpy(t + plen, body, blen);
    unsigned char sig[32];
    unsigned int siglen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)SECRET_LEN, (unsigned char *)t, plen + blen, sig,
              &siglen)) {
        free(t);
        return NULL;
    }
    t[plen + blen] = '.';
    b64url(sig, siglen, t + plen + blen + 1);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 3 * VG_TOKEN_MAX_LEN) return -1;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    check(s);

    const char *dot = strrchr(s, '.');
    char *t = signed_token("", s, dot ? (size_t)(dot - s) : strlen(s));
    if (t) check(t);
    free(t);

    char *body = malloc(4 * ((size + 2) / 3) + 1);
    if (body) {
        b64url(data, size, body);
        t = signed_token("v1.", body, strlen(body));
        if (t) check(t);
        free(t);
    }
    free(body);
    free(s);
    return 0;
}

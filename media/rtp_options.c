/* rtp_options.c -- parsing a push source's URI and options (see
 * rtp_options.h). */
#include "media/rtp_options.h"

#include <arpa/inet.h>
#include <glib.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PAYLOAD_TYPE 96
#define DEFAULT_CLOCK_RATE   90000
#define DEFAULT_LATENCY_MS   50
#define DEFAULT_SILENCE_S    3

bool vg_rtp_is_push_uri(const char *uri) {
    return !strncmp(uri, "srtp://", 7) || !strncmp(uri, "rtp://", 6);
}

size_t vg_srtp_profile_key_len(vg_srtp_profile p) {
    return p == VG_SRTP_AEAD_AES_128_GCM ? 28 : 30;
}

const char *vg_srtp_profile_name(vg_srtp_profile p) {
    return p == VG_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80";
}

uint16_t vg_rtp_listen_port(const vg_rtp_options *o) {
    if (o->listen.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&o->listen)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&o->listen)->sin_port);
}

bool vg_rtp_listen_overlaps(const vg_rtp_options *a, const vg_rtp_options *b) {
    if (a->listen.ss_family != b->listen.ss_family ||
        vg_rtp_listen_port(a) != vg_rtp_listen_port(b))
        return false;
    if (a->listen.ss_family == AF_INET6) {
        const struct in6_addr *x = &((const struct sockaddr_in6 *)&a->listen)->sin6_addr;
        const struct in6_addr *y = &((const struct sockaddr_in6 *)&b->listen)->sin6_addr;
        return IN6_IS_ADDR_UNSPECIFIED(x) || IN6_IS_ADDR_UNSPECIFIED(y) ||
               !memcmp(x, y, sizeof(*x));
    }
    in_addr_t x = ((const struct sockaddr_in *)&a->listen)->sin_addr.s_addr;
    in_addr_t y = ((const struct sockaddr_in *)&b->listen)->sin_addr.s_addr;
    return x == INADDR_ANY || y == INADDR_ANY || x == y;
}

void vg_rtp_options_wipe(vg_rtp_options *o) {
    volatile uint8_t *k = o->key;
    for (size_t i = 0; i < sizeof(o->key); i++)
        k[i] = 0;
    o->key_len = 0;
}

/* "HOST:PORT" or "[V6]:PORT", a numeric address (it is where vigil listens). */
static int parse_listen(const char *uri, vg_rtp_options *out, char *err, size_t errlen) {
    const char *scheme = out->secure ? "srtp://" : "rtp://";
    const char *hp = uri + strlen(scheme);
    char host[64];
    const char *port;
    if (*hp == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close[1] != ':' || (size_t)(close - hp - 1) >= sizeof(host)) goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(close - hp - 1), hp + 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(hp, ':');
        if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof(host)) goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
        port = colon + 1;
    }
    if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        atoi(port) < 1 || atoi(port) > 65535)
        goto bad;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_DGRAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) || !ai) {
        snprintf(err, errlen,
                 "source: '%.64s' is not a numeric IP address to listen on (e.g. 0.0.0.0)", host);
        return -1;
    }
    memcpy(&out->listen, ai->ai_addr, ai->ai_addrlen);
    out->listen_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
bad:
    snprintf(err, errlen, "source: %s takes the address and port to listen on, e.g. %s0.0.0.0:5004",
             scheme, scheme);
    return -1;
}

/* Strict base64 (RFC 4648 alphabet, padded): GLib's decoder skips junk. */
static int decode_key(const char *b64, vg_rtp_options *out, char *err, size_t errlen) {
    size_t n = strlen(b64), pad = 0;
    while (pad < 2 && n > pad && b64[n - 1 - pad] == '=')
        pad++;
    size_t want = vg_srtp_profile_key_len(out->profile);
    bool ok = n > 0 && n % 4 == 0;
    for (size_t i = 0; ok && i < n - pad; i++)
        ok = g_ascii_isalnum(b64[i]) || b64[i] == '+' || b64[i] == '/';
    if (ok) {
        gsize len = 0;
        guchar *raw = g_base64_decode(b64, &len);
        ok = raw && len == want;
        if (ok) memcpy(out->key, raw, len);
        if (raw) {
            memset(raw, 0, len);
            g_free(raw);
        }
        if (!ok) {
            snprintf(err, errlen,
                     "options.key: %s needs %zu bytes of master key and salt, this is %zu "
                     "(generate one with: openssl rand -base64 %zu)",
                     vg_srtp_profile_name(out->profile), want, (size_t)len, want);
            return -1;
        }
        out->key_len = want;
        return 0;
    }
    snprintf(err, errlen,
             "options.key: must be base64 (generate one with: openssl rand -base64 %zu)", want);
    return -1;
}

static uint32_t opt_uint(const json_t *options, const char *name, uint32_t def) {
    json_t *v = options ? json_object_get(options, name) : NULL;
    return v && json_is_integer(v) ? (uint32_t)json_integer_value(v) : def;
}

/* Sound on the port, if asked for: its payload type, encoding and clock. */
static int parse_audio(const json_t *options, vg_rtp_options *out, char *err, size_t errlen) {
    json_t *pt = options ? json_object_get(options, "audio_payload_type") : NULL;
    json_t *enc = options ? json_object_get(options, "audio_encoding") : NULL;
    if (!pt) {
        if (enc || (options && json_object_get(options, "audio_clock_rate"))) {
            snprintf(err, errlen,
                     "options.audio_payload_type: missing; it says which packets "
                     "on the port are the sound");
            return -1;
        }
        return 0;
    }
    out->audio = true;
    out->audio_payload_type = (uint8_t)json_integer_value(pt);
    if (out->audio_payload_type == out->payload_type) {
        snprintf(err, errlen, "options.audio_payload_type: %u is the video's payload_type",
                 (unsigned)out->audio_payload_type);
        return -1;
    }
    const char *name = enc ? json_string_value(enc) : NULL;
    if (!name && out->audio_payload_type == 0) name = "PCMU"; /* RFC 3551's static types */
    if (!name && out->audio_payload_type == 8) name = "PCMA";
    if (!name || (g_ascii_strcasecmp(name, "OPUS") && g_ascii_strcasecmp(name, "PCMU") &&
                  g_ascii_strcasecmp(name, "PCMA"))) {
        snprintf(err, errlen, "options.audio_encoding: must be \"OPUS\", \"PCMU\" or \"PCMA\"");
        return -1;
    }
    snprintf(out->audio_encoding, sizeof(out->audio_encoding), "%s", name);
    for (char *c = out->audio_encoding; *c; c++)
        *c = g_ascii_toupper(*c);
    bool opus = !strcmp(out->audio_encoding, "OPUS");
    out->audio_clock_rate = opt_uint(options, "audio_clock_rate", opus ? 48000 : 8000);
    return 0;
}

int vg_rtp_options_parse(const char *uri, const json_t *options, vg_rtp_options *out, char *err,
                         size_t errlen) {
    memset(out, 0, sizeof(*out));
    if (!vg_rtp_is_push_uri(uri)) {
        snprintf(err, errlen, "source: not an srtp:// or rtp:// source");
        return -1;
    }
    out->secure = !strncmp(uri, "srtp://", 7);
    if (parse_listen(uri, out, err, errlen)) return -1;
    out->payload_type = (uint8_t)opt_uint(options, "payload_type", DEFAULT_PAYLOAD_TYPE);
    json_t *enc = options ? json_object_get(options, "encoding") : NULL;
    out->codec = enc ? vg_video_codec_by_rtp(json_string_value(enc)) : &vg_codec_h264;
    if (!out->codec) {
        snprintf(err, errlen, "options.encoding: must be \"H264\" or \"H265\"");
        return -1;
    }
    out->clock_rate = opt_uint(options, "clock_rate", DEFAULT_CLOCK_RATE);
    out->latency_ms = opt_uint(options, "latency_ms", DEFAULT_LATENCY_MS);
    out->silence_timeout_s = opt_uint(options, "silence_timeout_s", DEFAULT_SILENCE_S);
    if (parse_audio(options, out, err, errlen)) return -1;
    if (!out->secure) return 0;

    json_t *profile = options ? json_object_get(options, "profile") : NULL;
    const char *pname = profile ? json_string_value(profile) : NULL;
    if (!pname || !strcmp(pname, "AES_CM_128_HMAC_SHA1_80")) {
        out->profile = VG_SRTP_AES_CM_128_HMAC_SHA1_80;
    } else if (!strcmp(pname, "AEAD_AES_128_GCM")) {
        out->profile = VG_SRTP_AEAD_AES_128_GCM;
    } else {
        snprintf(err, errlen,
                 "options.profile: must be \"AES_CM_128_HMAC_SHA1_80\" or \"AEAD_AES_128_GCM\"");
        return -1;
    }
    json_t *key = options ? json_object_get(options, "key") : NULL;
    if (!key || !json_is_string(key)) {
        snprintf(err, errlen,
                 "options.key: missing; srtp:// needs the base64 master key and salt "
                 "(generate one with: openssl rand -base64 %zu)",
                 vg_srtp_profile_key_len(out->profile));
        return -1;
    }
    if (decode_key(json_string_value(key), out, err, errlen)) {
        vg_rtp_options_wipe(out);
        return -1;
    }
    return 0;
}

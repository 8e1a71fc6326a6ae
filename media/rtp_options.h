/* rtp_options.h -- what a push source (srtp://, rtp://) is configured with:
 * its listen address from the URI and its per-stream options, parsed and
 * checked in one place so that config validation (media/source.c), the
 * pipeline's caps and the UDP receiver (media/rtp_ingest.c) agree.
 *
 *   srtp://127.0.0.1:5004   options: key (base64 master key + salt, as in
 *                           SDES "inline:"), profile, payload_type,
 *                           encoding ("H264" or "H265"), clock_rate,
 *                           latency_ms, silence_timeout_s,
 *                           audio_payload_type, audio_encoding,
 *                           audio_clock_rate
 *   rtp://0.0.0.0:5004      the same without key and profile
 *
 * Sound comes on the same port as the video, told apart by its payload type
 * (as WebRTC bundles them): audio_payload_type turns it on, audio_encoding
 * says what it is ("OPUS", "PCMU", "PCMA"; the static types 0 and 8 need not
 * say it), audio_clock_rate defaults to 48000 for Opus and 8000 for G.711.
 *
 * Thread: pure functions; a vg_rtp_options is a plain value (it holds key
 * material: wipe it with vg_rtp_options_wipe() when done). */
#ifndef VIGIL_MEDIA_RTP_OPTIONS_H
#define VIGIL_MEDIA_RTP_OPTIONS_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media/video_codec.h"

typedef enum vg_srtp_profile {
    VG_SRTP_AES_CM_128_HMAC_SHA1_80, /* 16-byte key + 14-byte salt = 30 bytes */
    VG_SRTP_AEAD_AES_128_GCM,        /* 16-byte key + 12-byte salt = 28 bytes */
} vg_srtp_profile;

#define VG_SRTP_MAX_KEY_LEN 46

typedef struct vg_rtp_options {
    bool secure; /* srtp:// */
    struct sockaddr_storage listen;
    socklen_t listen_len;
    vg_srtp_profile profile;
    uint8_t key[VG_SRTP_MAX_KEY_LEN]; /* master key then salt (secure only) */
    size_t key_len;
    uint8_t payload_type;
    const vg_video_codec *codec; /* `encoding`: "H264" (default) or "H265" */
    uint32_t clock_rate;
    uint32_t latency_ms;        /* rtpjitterbuffer */
    uint32_t silence_timeout_s; /* UDP silence this long: the source is lost */
    bool audio;                 /* sound on the same port (the fields below) */
    uint8_t audio_payload_type;
    char audio_encoding[8]; /* "OPUS", "PCMU", "PCMA": RTP encoding names */
    uint32_t audio_clock_rate;
} vg_rtp_options;

/* True for the URI schemes handled here. */
bool vg_rtp_is_push_uri(const char *uri);

/* Parses the URI and options (may be NULL) into *out, with defaults for
 * what is not given. The option names and types are checked by source.c's
 * table first; this checks the values. On error writes a message naming
 * the field ("source: ..." or "options.key: ...") and returns -1. */
int vg_rtp_options_parse(const char *uri, const json_t *options, vg_rtp_options *out, char *err,
                         size_t errlen);

/* True when two push sources would listen on the same UDP port of the same
 * address family with overlapping addresses (equal, or either a wildcard). */
bool vg_rtp_listen_overlaps(const vg_rtp_options *a, const vg_rtp_options *b);
/* The listen port. */
uint16_t vg_rtp_listen_port(const vg_rtp_options *o);

/* The SRTP master key + salt length a profile needs. */
size_t vg_srtp_profile_key_len(vg_srtp_profile p);
const char *vg_srtp_profile_name(vg_srtp_profile p);

/* Zeroes the key material. */
void vg_rtp_options_wipe(vg_rtp_options *o);

#endif

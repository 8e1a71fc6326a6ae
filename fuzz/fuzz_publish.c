/* fuzz_publish.c -- libFuzzer target: the WebSocket publish framing. A
 * session on the network-less server of fuzz_server.h signs in as admin and
 * publishes the stream "porch" (publish://, H.264 and Opus), then the input
 * arrives as its binary messages: vg_publisher_on_binary() (reassembly up to
 * server.max_publish_frame_bytes, the 16-byte header, the channel, the
 * kinds) and the stream's feed (media/publish.c), as ws_session.c calls them.
 *
 * Input: byte 0 picks the publish request (bit 0: with an avcC description,
 * so AVCC access units, else Annex-B; bit 1: with Opus audio), then records
 *   [len: 2 bytes big-endian][flags: 1 byte, bit 0: not the last fragment][len bytes]
 * A last record shorter than its len is sent as it is. Frames of this
 * stream carry channel 4 (porch is the config's fourth stream). Replies
 * (e.g. bad_frame) must be JSON messages; everything is freed per input. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "fuzz/fuzz_server.h"
#include "server/publisher.h"
#include "signaling/signaling.h"

static const char *const requests[4] = {
    "{\"type\":\"publish\",\"id\":1,\"stream\":\"porch\",\"video\":{\"codec\":\"avc1.42C015\"}}",
    "{\"type\":\"publish\",\"id\":1,\"stream\":\"porch\",\"video\":{\"codec\":\"avc1.42C015\","
    "\"description\":\"AULAFf/hABtnQsAV2gUH7AWoMDA1KAAAAwAIAAADAeR4sXUBAARozjyA\"}}",
    "{\"type\":\"publish\",\"id\":1,\"stream\":\"porch\",\"video\":{\"codec\":\"avc1.42C015\"},"
    "\"audio\":{\"codec\":\"opus\",\"sample_rate\":48000,\"channels\":2}}",
    "{\"type\":\"publish\",\"id\":1,\"stream\":\"porch\",\"video\":{\"codec\":\"avc1.42C015\","
    "\"description\":\"AULAFf/hABtnQsAV2gUH7AWoMDA1KAAAAwAIAAADAeR4sXUBAARozjyA\"},"
    "\"audio\":{\"codec\":\"opus\",\"sample_rate\":48000,\"channels\":2}}",
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    gst_init(NULL, NULL);
    fuzz_server_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return -1;
    vg_server srv;
    vg_session sess;
    fuzz_server_up(&srv, &sess);
    json_t *claims =
        json_pack("{s:s, s:s, s:I}", "sub", "pub", "role", "admin", "exp", (json_int_t)4102444800);
    vg_access_from_claims(&sess.access, claims);
    json_decref(claims);
    const char *req = requests[data[0] & 3];
    vg_signaling_handle(&sess, req, strlen(req));
    if (!sess.pub) fuzz_fail("publish refused", req);
    bool open = fuzz_server_write_out(&sess);

    size_t off = 1;
    uint32_t max = fuzz_server_config.max_publish_frame_bytes;
    while (open && off + 3 <= size) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        bool final = !(data[off + 2] & 1);
        off += 3;
        if (len > size - off) len = size - off;
        /* a copy of exactly the fragment, as lws hands it over */
        uint8_t *frag = malloc(len ? len : 1);
        if (!frag) break;
        memcpy(frag, data + off, len);
        int r = vg_publisher_on_binary(&sess, frag, len, final, max);
        free(frag);
        if (r < 0) break; /* too large: the server closes with 1009 */
        open = fuzz_server_write_out(&sess);
        off += len;
    }
    fuzz_server_down(&srv, &sess);
    return 0;
}

/* test_config.c -- configuration loading: the embedded default, a valid file,
 * and every invalid case stopping with a message that names the field. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "config_load.h"
#include "server/config.h"

static char err[512];

/* Loads JSON text; returns the loader's result and leaves the message in err. */
static int load(const char *text, vg_config *c) {
    return config_load_text(text, c, err, sizeof(err));
}

static void assert_rejected(const char *text, const char *must_contain) {
    vg_config c;
    ck_assert_int_eq(load(text, &c), -1);
    ck_assert_msg(strstr(err, must_contain) != NULL, "error '%s' does not name '%s'", err,
                  must_contain);
    ck_assert_uint_eq(c.nstreams, 0);
}

START_TEST(default_is_the_demo_stream) {
    vg_config c;
    ck_assert_int_eq(vg_config_default(&c), 0);
    ck_assert_int_eq(c.port, 8080);
    ck_assert_uint_eq(c.nstreams, 1);
    ck_assert_str_eq(c.streams[0].id, "demo");
    ck_assert_str_eq(c.streams[0].source, "test://");
    ck_assert_int_eq(json_integer_value(json_object_get(c.streams[0].options, "width")), 1280);
    ck_assert_int_eq(json_integer_value(json_object_get(c.streams[0].options, "fps")), 30);
    vg_config_free(&c);
}
END_TEST

START_TEST(valid_config_loads_every_field) {
    vg_config c;
    ck_assert_int_eq(
        load("{\"server\":{\"port\":9000,\"bind\":\"127.0.0.1\",\"web_root\":\"/srv/web\","
             "\"log_level\":\"debug\",\"max_text_bytes\":1024,\"max_subscriptions\":4,"
             "\"viewer_queue_frames\":64,\"viewer_queue_ms\":250,\"slow_viewer_skips\":5,"
             "\"slow_viewer_window_s\":20,\"direct_writes\":false},"
             "\"streams\":[{\"id\":\"a\",\"source\":\"test://\",\"options\":{\"fps\":15}},"
             "{\"id\":\"door-1\",\"source\":\"rtsp://u:p@cam/"
             "x\",\"options\":{\"latency_ms\":100}}]}",
             &c),
        0);
    ck_assert_int_eq(c.port, 9000);
    ck_assert_str_eq(c.bind, "127.0.0.1");
    ck_assert_str_eq(c.web_root, "/srv/web");
    ck_assert_int_eq(c.log_level, 3);
    ck_assert_uint_eq(c.max_text_bytes, 1024);
    ck_assert_uint_eq(c.max_subscriptions, 4);
    ck_assert_uint_eq(c.viewer_queue_frames, 64);
    ck_assert_uint_eq(c.viewer_queue_ms, 250);
    ck_assert_uint_eq(c.slow_viewer_skips, 5);
    ck_assert_uint_eq(c.slow_viewer_window_s, 20);
    ck_assert_int_eq(c.direct_writes, 0);
    ck_assert_uint_eq(c.nstreams, 2);
    ck_assert_str_eq(c.streams[1].source, "rtsp://u:p@cam/x");
    vg_config_free(&c);
}
END_TEST

START_TEST(invalid_configs_name_the_field) {
    assert_rejected("[]", "config");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}],\"extra\":1}", "extra");
    assert_rejected("{}", "streams");
    assert_rejected("{\"streams\":[]}", "streams");
    assert_rejected("{\"streams\":{}}", "streams");
    assert_rejected("{\"streams\":[1]}", "streams[0]");
    assert_rejected("{\"streams\":[{\"source\":\"test://\"}]}", "streams[0].id");
    assert_rejected("{\"streams\":[{\"id\":\"has space\",\"source\":\"test://\"}]}",
                    "streams[0].id");
    assert_rejected("{\"streams\":[{\"id\":7,\"source\":\"test://\"}]}", "streams[0].id");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"test://"
                    "\"},{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "streams[1].id: duplicate");
    assert_rejected("{\"streams\":[{\"id\":\"a\"}]}", "streams[0].source: missing");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":5}]}", "streams[0].source");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"http://x\"}]}",
                    "streams[0].source: unsupported");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"file:///no/such.mp4\"}]}",
                    "streams[0].source: cannot read");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"rtsp://\"}]}", "streams[0].source");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"test://\",\"options\":{\"fps\":0}}]}",
                    "streams[0].options.fps");
    assert_rejected(
        "{\"streams\":[{\"id\":\"a\",\"source\":\"test://\",\"options\":{\"fsp\":30}}]}",
        "streams[0].options.fsp: unknown");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"test://\",\"options\":[]}]}",
                    "streams[0].options");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"rtsp://"
                    "cam\",\"options\":{\"transport\":\"sctp\"}}]}",
                    "options.transport");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"test://\",\"colour\":1}]}",
                    "streams[0].colour");
    assert_rejected(
        "{\"streams\":[{\"id\":\"a\",\"source\":\"test://\",\"options\":{\"pattern\":\"plaid\"}}]}",
        "streams[0].options.pattern");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"test://x\"}]}", "streams[0].source");
    assert_rejected("{\"server\":[],\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "server");
    assert_rejected(
        "{\"server\":{\"port\":70000},\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
        "server.port");
    assert_rejected(
        "{\"server\":{\"port\":\"80\"},\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
        "server.port");
    assert_rejected(
        "{\"server\":{\"log_level\":\"loud\"},\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
        "server.log_level");
    assert_rejected("{\"server\":{\"prot\":1},\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "server.prot: unknown");
    assert_rejected(
        "{\"server\":{\"web_root\":\"\"},\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
        "server.web_root");
    assert_rejected("{\"server\":{\"viewer_queue_frames\":2},\"streams\":[{\"id\":\"a\",\"source\":"
                    "\"test://\"}]}",
                    "server.viewer_queue_frames");
    assert_rejected("{\"server\":{\"viewer_queue_ms\":60001},\"streams\":[{\"id\":\"a\",\"source\":"
                    "\"test://\"}]}",
                    "server.viewer_queue_ms");
    assert_rejected("{\"server\":{\"viewer_queue_ms\":\"fast\"},\"streams\":[{\"id\":\"a\","
                    "\"source\":\"test://\"}]}",
                    "server.viewer_queue_ms");
    assert_rejected("{\"server\":{\"direct_writes\":1},\"streams\":[{\"id\":\"a\","
                    "\"source\":\"test://\"}]}",
                    "server.direct_writes: must be true or false");
}
END_TEST

/* server.shutdown_timeout_s: the SIGTERM drain's bound (server/drain.h). */
START_TEST(shutdown_timeout_has_a_default_and_bounds) {
    vg_config c;
    ck_assert_int_eq(load("{\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}", &c), 0);
    ck_assert_uint_eq(c.shutdown_timeout_s, 10);
    vg_config_free(&c);
    ck_assert_int_eq(load("{\"server\":{\"shutdown_timeout_s\":30},"
                          "\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                          &c),
                     0);
    ck_assert_uint_eq(c.shutdown_timeout_s, 30);
    vg_config_free(&c);
    ck_assert_int_eq(vg_config_default(&c), 0);
    ck_assert_uint_eq(c.shutdown_timeout_s, 10);
    vg_config_free(&c);
    assert_rejected("{\"server\":{\"shutdown_timeout_s\":0},"
                    "\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "server.shutdown_timeout_s: must be an integer from 1 to 600");
    assert_rejected("{\"server\":{\"shutdown_timeout_s\":601},"
                    "\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "server.shutdown_timeout_s");
    assert_rejected("{\"server\":{\"shutdown_timeout_s\":\"10\"},"
                    "\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "server.shutdown_timeout_s");
}
END_TEST

/* auth.rotation_grace_s: the previous secret's life after a reload
 * (server/reload.h). */
START_TEST(rotation_grace_has_a_default_and_bounds) {
    vg_config c;
    ck_assert_int_eq(load("{\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}", &c), 0);
    ck_assert_uint_eq(c.auth.rotation_grace_s, VG_ROTATION_GRACE_DEFAULT_S);
    vg_config_free(&c);
    ck_assert_int_eq(load("{\"auth\":{\"rotation_grace_s\":0},"
                          "\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                          &c),
                     0);
    ck_assert_uint_eq(c.auth.rotation_grace_s, 0);
    vg_config_free(&c);
    assert_rejected("{\"auth\":{\"rotation_grace_s\":-1},"
                    "\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "auth.rotation_grace_s: must be an integer from 0 to 604800");
    assert_rejected("{\"auth\":{\"rotation_grace_s\":604801},"
                    "\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "auth.rotation_grace_s");
    assert_rejected("{\"auth\":{\"rotation_grace_s\":\"600\"},"
                    "\"streams\":[{\"id\":\"a\",\"source\":\"test://\"}]}",
                    "auth.rotation_grace_s");
}
END_TEST

START_TEST(push_sources_check_address_key_and_profile) {
#define K30 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd" /* 30 bytes */
#define K28 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==" /* 28 bytes */
#define STREAM(src, opts)                                                                          \
    "{\"streams\":[{\"id\":\"cam\",\"source\":\"" src "\",\"options\":" opts "}]}"
    vg_config c;
    ck_assert_int_eq(load(STREAM("srtp://127.0.0.1:5004", "{\"key\":\"" K30 "\"}"), &c), 0);
    vg_config_free(&c);
    ck_assert_int_eq(
        load(STREAM("srtp://[::1]:5004", "{\"key\":\"" K28 "\",\"profile\":\"AEAD_AES_128_GCM\","
                                         "\"payload_type\":102,\"clock_rate\":90000,"
                                         "\"latency_ms\":20,\"silence_timeout_s\":2}"),
             &c),
        0);
    vg_config_free(&c);
    ck_assert_int_eq(load(STREAM("rtp://0.0.0.0:5006", "{\"payload_type\":96}"), &c), 0);
    vg_config_free(&c);
    /* Sound on the same port: a payload type, an encoding (implied for 0 and 8). */
    ck_assert_int_eq(load(STREAM("rtp://0.0.0.0:5006", "{\"audio_payload_type\":111,"
                                                       "\"audio_encoding\":\"opus\"}"),
                          &c),
                     0);
    vg_config_free(&c);
    ck_assert_int_eq(
        load(STREAM("srtp://127.0.0.1:5004", "{\"key\":\"" K30 "\",\"audio_payload_type\":0}"), &c),
        0);
    vg_config_free(&c);
    assert_rejected(STREAM("rtp://0.0.0.0:5006", "{\"audio_encoding\":\"OPUS\"}"),
                    "streams[0].options.audio_payload_type: missing");
    assert_rejected(STREAM("rtp://0.0.0.0:5006", "{\"audio_payload_type\":96}"),
                    "streams[0].options.audio_payload_type: 96 is the video's payload_type");
    assert_rejected(STREAM("rtp://0.0.0.0:5006", "{\"audio_payload_type\":97}"),
                    "streams[0].options.audio_encoding: must be");
    assert_rejected(
        STREAM("rtp://0.0.0.0:5006", "{\"audio_payload_type\":97,\"audio_encoding\":\"G722\"}"),
        "streams[0].options.audio_encoding: must be");
    assert_rejected(STREAM("rtp://0.0.0.0:5006", "{\"audio_payload_type\":200}"),
                    "streams[0].options.audio_payload_type");
    /* The video's codec: H.264 (default) or H.265, any case. */
    ck_assert_int_eq(load(STREAM("rtp://0.0.0.0:5006", "{\"encoding\":\"h265\"}"), &c), 0);
    vg_config_free(&c);
    assert_rejected(STREAM("rtp://0.0.0.0:5006", "{\"encoding\":\"VP8\"}"),
                    "streams[0].options.encoding: must be \"H264\" or \"H265\"");
    assert_rejected(STREAM("rtp://0.0.0.0:5006", "{\"encoding\":5}"), "streams[0].options.encoding");
    ck_assert_int_eq(load(STREAM("publish://", "{\"codec\":\"h265\"}"), &c), 0);
    vg_config_free(&c);

    assert_rejected(STREAM("srtp://127.0.0.1:5004", "{}"), "streams[0].options.key: missing");
    assert_rejected(STREAM("srtp://127.0.0.1:5004", "{\"key\":\"not base64!\"}"),
                    "streams[0].options.key: must be base64");
    assert_rejected(STREAM("srtp://127.0.0.1:5004", "{\"key\":\"AAECAwQFBgcICQoLDA0ODw==\"}"),
                    "options.key: AES_CM_128_HMAC_SHA1_80 needs 30 bytes");
    /* A 30-byte key is the wrong size for GCM (16-byte key + 12-byte salt). */
    assert_rejected(
        STREAM("srtp://127.0.0.1:5004", "{\"key\":\"" K30 "\",\"profile\":\"AEAD_AES_128_GCM\"}"),
        "options.key: AEAD_AES_128_GCM needs 28 bytes");
    assert_rejected(STREAM("srtp://127.0.0.1:5004", "{\"key\":\"" K30 "\",\"profile\":\"NULL\"}"),
                    "streams[0].options.profile");
    assert_rejected(STREAM("srtp://127.0.0.1:5004", "{\"key\":\"" K30 "\",\"payload_type\":128}"),
                    "streams[0].options.payload_type");
    assert_rejected(
        STREAM("srtp://127.0.0.1:5004", "{\"key\":\"" K30 "\",\"silence_timeout_s\":0}"),
        "streams[0].options.silence_timeout_s");
    assert_rejected(STREAM("rtp://127.0.0.1:5004", "{\"key\":\"" K30 "\"}"),
                    "streams[0].options.key: unknown option");
    assert_rejected(STREAM("srtp://127.0.0.1", "{\"key\":\"" K30 "\"}"), "streams[0].source");
    assert_rejected(STREAM("srtp://127.0.0.1:0", "{\"key\":\"" K30 "\"}"), "streams[0].source");
    assert_rejected(STREAM("srtp://127.0.0.1:70000", "{\"key\":\"" K30 "\"}"), "streams[0].source");
    assert_rejected(STREAM("rtp://camera.local:5004", "{}"), "not a numeric IP address");
    assert_rejected(STREAM("rtp://127.0.0.1:5004/path", "{}"), "streams[0].source");
    /* One UDP port, one stream; other ports or addresses are fine. */
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"rtp://0.0.0.0:5004\"},"
                    "{\"id\":\"b\",\"source\":\"rtp://127.0.0.1:5004\"}]}",
                    "streams[1].source: UDP port 5004 is already the port of stream 'a'");
    assert_rejected("{\"streams\":[{\"id\":\"a\",\"source\":\"rtp://127.0.0.1:5004\"},"
                    "{\"id\":\"b\",\"source\":\"srtp://127.0.0.1:5004\",\"options\":{"
                    "\"key\":\"" K30 "\"}}]}",
                    "streams[1].source: UDP port 5004");
    ck_assert_int_eq(load("{\"streams\":[{\"id\":\"a\",\"source\":\"rtp://127.0.0.1:5004\"},"
                          "{\"id\":\"b\",\"source\":\"rtp://127.0.0.2:5004\"},"
                          "{\"id\":\"c\",\"source\":\"rtp://127.0.0.1:5006\"}]}",
                          &c),
                     0);
    ck_assert_uint_eq(c.nstreams, 3);
    vg_config_free(&c);
#undef STREAM
#undef K28
#undef K30
}
END_TEST

START_TEST(publish_sources_check_codec_and_audio) {
#define STREAM(src, opts)                                                                          \
    "{\"streams\":[{\"id\":\"door\",\"source\":\"" src "\",\"options\":" opts "}]}"
    vg_config c;
    ck_assert_int_eq(load(STREAM("publish://", "{\"codec\":\"h264\",\"audio\":\"opus\"}"), &c), 0);
    ck_assert_uint_eq(c.nstreams, 1);
    ck_assert_uint_eq(c.max_publish_frame_bytes, 2 * 1024 * 1024);
    vg_config_free(&c);
    ck_assert_int_eq(load(STREAM("publish://", "{}"), &c), 0);
    vg_config_free(&c);
    assert_rejected(STREAM("publish://door", "{}"), "streams[0].source");
    assert_rejected(STREAM("publish://", "{\"codec\":\"vp8\"}"), "streams[0].options.codec");
    assert_rejected(STREAM("publish://", "{\"audio\":\"pcmu\"}"), "streams[0].options.audio");
    assert_rejected(STREAM("publish://", "{\"key\":\"x\"}"), "streams[0].options.key");
    assert_rejected("{\"server\":{\"max_publish_frame_bytes\":10},\"streams\":[{\"id\":\"a\","
                    "\"source\":\"publish://\"}]}",
                    "server.max_publish_frame_bytes");
#undef STREAM
}
END_TEST

#define WITH(extra) "{\"streams\":[{\"id\":\"door\",\"source\":\"rtsp://cam/main\"," extra "}]}"

START_TEST(variants_and_transcode_are_checked) {
    vg_config c;
    ck_assert_int_eq(load(WITH("\"variants\":{\"sub\":\"rtsp://cam/sub\","
                               "\"tiny\":{\"source\":\"test://\",\"options\":{\"width\":160}}},"
                               "\"transcode\":{\"max_height\":481}"),
                          &c),
                     0);
    ck_assert_uint_eq(c.streams[0].nvariants, 2);
    /* config order: the dashboard takes the first as the lightest */
    ck_assert_str_eq(c.streams[0].variants[0].name, "sub");
    ck_assert_str_eq(c.streams[0].variants[1].source, "test://");
    ck_assert_int_eq(json_integer_value(json_object_get(c.streams[0].variants[1].options, "width")),
                     160);
    ck_assert(c.streams[0].transcode.enabled);
    ck_assert_str_eq(c.streams[0].transcode.codec, "h264");
    ck_assert_uint_eq(c.streams[0].transcode.max_height, 480); /* even */
    ck_assert_uint_eq(c.streams[0].transcode.bitrate_kbps, 1500);
    ck_assert_uint_ge(c.max_transcodes, 1); /* the cores */
    vg_config_free(&c);
    ck_assert_int_eq(load(WITH("\"variants\":{\"sub\":\"rtsp://cam/sub\"}"), &c), 0);
    ck_assert(!c.streams[0].transcode.enabled);
    vg_config_free(&c);

    assert_rejected(WITH("\"variants\":[\"rtsp://cam/sub\"]"), "streams[0].variants: must be an object");
    assert_rejected(WITH("\"variants\":{}"), "streams[0].variants: must be an object");
    assert_rejected(WITH("\"variants\":{\"main\":\"rtsp://cam/sub\"}"),
                    "streams[0].variants.main: a variant's name");
    assert_rejected(WITH("\"variants\":{\"a b\":\"rtsp://cam/sub\"}"),
                    "streams[0].variants.a b: a variant's name");
    assert_rejected(WITH("\"variants\":{\"sub\":5}"), "streams[0].variants.sub: must be a source URI");
    assert_rejected(WITH("\"variants\":{\"sub\":{\"url\":\"rtsp://x\"}}"),
                    "streams[0].variants.sub.url: unknown field");
    assert_rejected(WITH("\"variants\":{\"sub\":\"srtp://0.0.0.0:5004\"}"),
                    "streams[0].variants.sub: a substream is opened when watched");
    assert_rejected(WITH("\"variants\":{\"sub\":\"publish://\"}"),
                    "streams[0].variants.sub: a substream is opened when watched");
    assert_rejected(WITH("\"variants\":{\"sub\":{\"source\":\"rtsp://cam/s\",\"options\":{\"fps\":1}}}"),
                    "streams[0].variants.sub.options.fps: unknown option");
    assert_rejected(WITH("\"transcode\":true"), "streams[0].transcode: must be an object");
    assert_rejected(WITH("\"transcode\":{\"codec\":\"vp8\"}"),
                    "streams[0].transcode.codec: must be \"h264\"");
    assert_rejected(WITH("\"transcode\":{\"max_height\":10}"),
                    "streams[0].transcode.max_height: must be an integer from 64 to 2160");
    assert_rejected(WITH("\"transcode\":{\"bitrate_kbps\":\"fast\"}"),
                    "streams[0].transcode.bitrate_kbps: must be an integer");
    assert_rejected(WITH("\"transcode\":{\"preset\":\"fast\"}"),
                    "streams[0].transcode.preset: unknown field");
    assert_rejected(WITH("\"trancode\":{}"), "streams[0].trancode: unknown field");
    assert_rejected("{\"streams\":[{\"id\":\"t\",\"source\":\"transcode://\"}]}",
                    "streams[0].source: transcode:// is made by vigil");
    assert_rejected("{\"server\":{\"metrics_token\":\"short\"},\"streams\":[{\"id\":\"t\",\"source\":\"test://\"}]}",
                    "server.metrics_token: must be 16 to 200 characters");
    assert_rejected("{\"server\":{\"max_transcodes\":-1},\"streams\":[{\"id\":\"t\",\"source\":\"test://\"}]}",
                    "server.max_transcodes: must be an integer from 0 to 256");
}
END_TEST

/* server.metrics_bind: "host:port" of the token-less /metrics listener. */
#define METRICS_BIND(v)                                                                            \
    "{\"server\":{\"port\":8080,\"http_redirect_port\":8081,\"metrics_bind\":" v "},"            \
    "\"streams\":[{\"id\":\"t\",\"source\":\"test://\"}]}"
START_TEST(metrics_bind_is_checked) {
    vg_config c;
    ck_assert_int_eq(load(METRICS_BIND("\"127.0.0.1:9464\""), &c), 0);
    ck_assert_str_eq(c.metrics_host, "127.0.0.1");
    ck_assert_int_eq(c.metrics_port, 9464);
    vg_config_free(&c);
    ck_assert_int_eq(load(METRICS_BIND("\"localhost:1\""), &c), 0);
    ck_assert_str_eq(c.metrics_host, "127.0.0.1");
    ck_assert_int_eq(c.metrics_port, 1);
    vg_config_free(&c);
    ck_assert_int_eq(load(METRICS_BIND("\"0.0.0.0:65535\""), &c), 0);
    ck_assert_str_eq(c.metrics_host, "0.0.0.0");
    vg_config_free(&c);
    ck_assert_int_eq(load(METRICS_BIND("null"), &c), 0);
    ck_assert_int_eq(c.metrics_port, 0);
    vg_config_free(&c);

    assert_rejected(METRICS_BIND("\"9464\""), "server.metrics_bind: must be \"host:port\"");
    assert_rejected(METRICS_BIND("\":9464\""), "server.metrics_bind: bad host ''");
    assert_rejected(METRICS_BIND("\"example.com:9464\""), "server.metrics_bind: bad host 'example.com'");
    assert_rejected(METRICS_BIND("\"300.1.1.1:9464\""), "server.metrics_bind: bad host '300.1.1.1'");
    assert_rejected(METRICS_BIND("\"[::1]:9464\""), "server.metrics_bind: bad host '[::1]'");
    assert_rejected(METRICS_BIND("\"127.0.0.1:\""), "server.metrics_bind: bad port ''");
    assert_rejected(METRICS_BIND("\"127.0.0.1:0\""), "server.metrics_bind: bad port '0'");
    assert_rejected(METRICS_BIND("\"127.0.0.1:65536\""), "server.metrics_bind: bad port '65536'");
    assert_rejected(METRICS_BIND("\"127.0.0.1:94x\""), "server.metrics_bind: bad port '94x'");
    assert_rejected(METRICS_BIND("\"127.0.0.1:+80\""), "server.metrics_bind: bad port '+80'");
    assert_rejected(METRICS_BIND("\"127.0.0.1:8080\""), "server.metrics_bind: port 8080 is server.port");
    assert_rejected(METRICS_BIND("\"127.0.0.1:8081\""),
                    "server.metrics_bind: port 8081 is server.http_redirect_port");
    assert_rejected(METRICS_BIND("9464"), "server.metrics_bind: must be a non-empty string");

    /* --port changes the port after loading: checked again against it. */
    ck_assert_int_eq(load(METRICS_BIND("\"127.0.0.1:9464\""), &c), 0);
    c.port = 9464;
    ck_assert_int_eq(vg_config_check_metrics_bind(&c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "port 9464 is server.port") != NULL, "%s", err);
    vg_config_free(&c);
}
END_TEST

START_TEST(file_errors_give_line_and_column) {
    char path[] = "/tmp/vigil-config-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "{\n  \"streams\": [\n    {\"id\": \"a\", }\n  ]\n}\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    vg_config c;
    ck_assert_int_eq(vg_config_load_file(&c, path, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, ":3:") != NULL, "no line number in '%s'", err);
    unlink(path);
    ck_assert_int_eq(vg_config_load_file(&c, "/no/such/config.json", err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "/no/such/config.json") != NULL, "no path in '%s'", err);
}
END_TEST

static Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, default_is_the_demo_stream);
    tcase_add_test(tc, valid_config_loads_every_field);
    tcase_add_test(tc, invalid_configs_name_the_field);
    tcase_add_test(tc, shutdown_timeout_has_a_default_and_bounds);
    tcase_add_test(tc, rotation_grace_has_a_default_and_bounds);
    tcase_add_test(tc, push_sources_check_address_key_and_profile);
    tcase_add_test(tc, publish_sources_check_codec_and_audio);
    tcase_add_test(tc, variants_and_transcode_are_checked);
    tcase_add_test(tc, metrics_bind_is_checked);
    tcase_add_test(tc, file_errors_give_line_and_column);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(config_suite)

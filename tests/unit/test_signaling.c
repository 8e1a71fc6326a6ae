/* test_signaling.c -- the vigil.v1 text protocol: every request, and every
 * bad input getting its error code while the session stays usable.
 *
 * Links the real signaling, session, stream and fan-out code; the only stubs
 * are the two lws calls a session makes to ask for a writable callback or a
 * close timeout (no socket exists here). Replies are read from the session's
 * outgoing queue, exactly what would be written to the socket. */
#include <string.h>

#include <time.h>

#include "check_main.h"
#include "server/server.h"
#include "server/token.h"
#include "signaling/signaling.h"

/* ---- stubs for lws (there is no connection in a unit test) ---- */
static int writable_requests;
int lws_callback_on_writable(struct lws *wsi) {
    (void)wsi;
    writable_requests++;
    return 1;
}
void lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs) {
    (void)wsi;
    (void)reason;
    (void)secs;
}

static void hook_ready(vg_viewer *v) {
    (void)v;
}
static void hook_slow(vg_viewer *v) {
    (void)v;
}
static void hook_state(vg_stream *s, const char *r) {
    (void)s;
    (void)r;
}
static const vg_stream_hooks hooks = {{hook_ready, hook_slow}, hook_state, NULL};

static vg_config config;
static vg_server srv;
static vg_session sess;

static void setup(void) {
    vg_config_default(&config);
    config.max_subscriptions = 2;
    memset(&srv, 0, sizeof(srv));
    srv.config = &config;
    srv.protocol = &vg_signaling_protocol;
    vg_stream_limits lim = {.queue_frames = 16,
                            .slow_skips = 3,
                            .slow_window_us = 10000000,
                            .max_frame_bytes = 1 << 20,
                            .stall_timeout_us = 5000000};
    srv.streams = calloc(3, sizeof(*srv.streams));
    const char *ids[] = {"demo", "door", "yard"};
    for (int i = 0; i < 3; i++)
        srv.streams[i] =
            vg_stream_new(ids[i], "test://", NULL, (uint32_t)i + 1, &lim, &hooks, NULL, NULL);
    srv.nstreams = 3;
    ck_assert_int_eq(vg_session_init(&sess, &srv, NULL, config.max_subscriptions), 0);
    vg_rate_limit_init(&sess.msg_rate, 1000, 2000, vg_server_now_us());
    vg_rate_limit_init(&sess.cmd_rate, 1000, 2000, vg_server_now_us());
    writable_requests = 0;
}

/* A token signed with the test server's secret (caller frees). */
static char *token(const char *role, const char *streams, long long exp_in) {
    json_t *claims = json_pack("{s:s, s:s, s:[s], s:[s], s:I}", "sub", "t", "role", role, "streams",
                               streams, "devices", "*", "exp", (json_int_t)(time(NULL) + exp_in));
    char *t = vg_token_sign(config.auth.secret, config.auth.secret_len, claims);
    json_decref(claims);
    return t;
}

/* The session as an admin, as after a successful hello. */
static void sign_in_admin(void) {
    json_t *claims = json_pack("{s:s, s:s, s:[s], s:[s], s:I}", "sub", "t", "role", "admin",
                               "streams", "*", "devices", "*", "exp", (json_int_t)0);
    vg_access_from_claims(&sess.access, claims);
    json_decref(claims);
}

static void teardown(void) {
    vg_session_destroy(&sess);
    for (size_t i = 0; i < srv.nstreams; i++)
        vg_stream_free(srv.streams[i]);
    free(srv.streams);
    vg_config_free(&config);
}

/* Sends text and returns the next reply as parsed JSON (caller decrefs). */
static json_t *roundtrip(const char *text) {
    vg_signaling_handle(&sess, text, strlen(text));
    vg_outmsg *m = sess.out_head;
    ck_assert_msg(m != NULL, "no reply to %s", text);
    sess.out_head = m->next;
    if (!sess.out_head) sess.out_tail = NULL;
    sess.out_count--;
    sess.out_bytes -= m->len;
    json_error_t je;
    json_t *r = json_loadb((const char *)m->buf + LWS_PRE, m->len, 0, &je);
    free(m);
    ck_assert_msg(r != NULL, "reply is not JSON: %s", je.text);
    return r;
}

static const char *str(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* Asserts an error reply with this code (and field, if given). */
static void expect_error(const char *text, const char *code, const char *field) {
    json_t *r = roundtrip(text);
    ck_assert_str_eq(str(r, "type"), "error");
    ck_assert_str_eq(str(r, "code"), code);
    ck_assert_ptr_nonnull(str(r, "message"));
    if (field) ck_assert_str_eq(str(r, "field"), field);
    json_decref(r);
}

START_TEST(hello_reports_server_and_limits) {
    char *tok = token("viewer", "d*", 60), text[4200];
    snprintf(text, sizeof(text), "{\"type\":\"hello\",\"id\":1,\"token\":\"%s\"}", tok);
    free(tok);
    json_t *r = roundtrip(text);
    ck_assert_str_eq(str(r, "type"), "hello");
    ck_assert_str_eq(str(json_object_get(r, "access"), "role"), "viewer");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 1);
    ck_assert_str_eq(str(r, "protocol"), "vigil.v1");
    json_t *lim = json_object_get(r, "limits");
    ck_assert_int_eq(json_integer_value(json_object_get(lim, "max_text_bytes")), 65536);
    ck_assert_int_eq(json_integer_value(json_object_get(lim, "max_subscriptions")), 2);
    json_decref(r);
    ck_assert_int_ge(writable_requests, 1);
}
END_TEST

START_TEST(nothing_before_hello_and_bad_tokens_close) {
    expect_error("{\"type\":\"list\"}", "hello_required", NULL);
    expect_error("{\"type\":\"subscribe\",\"stream\":\"demo\"}", "hello_required", NULL);
    ck_assert(!sess.closing);
    /* No anonymous access configured: a hello without a token is refused. */
    expect_error("{\"type\":\"hello\"}", "unauthorized", "token");
    ck_assert(sess.closing);
    ck_assert_int_eq(sess.close_code, 4003);
}
END_TEST

START_TEST(expired_tokens_are_unauthorized) {
    char *tok = token("admin", "*", -1), text[4200];
    snprintf(text, sizeof(text), "{\"type\":\"hello\",\"token\":\"%s\"}", tok);
    free(tok);
    json_t *r = roundtrip(text);
    ck_assert_str_eq(str(r, "code"), "unauthorized");
    ck_assert_str_eq(str(r, "message"), "token expired");
    json_decref(r);
    ck_assert_int_eq(sess.access.role, VG_ROLE_NONE);
}
END_TEST

START_TEST(a_viewer_lists_only_its_streams_and_anonymous_needs_config) {
    char *tok = token("viewer", "d*", 60), text[4200];
    snprintf(text, sizeof(text), "{\"type\":\"hello\",\"token\":\"%s\"}", tok);
    free(tok);
    json_decref(roundtrip(text));
    json_t *r = roundtrip("{\"type\":\"list\"}");
    json_t *streams = json_object_get(r, "streams");
    ck_assert_uint_eq(json_array_size(streams), 2); /* demo, door: not yard */
    json_decref(r);
    expect_error("{\"type\":\"subscribe\",\"stream\":\"yard\"}", "unknown_stream", "stream");
    vg_access_clear(&sess.access);
    config.auth.anonymous_streams = json_pack("[s]", "yard");
    r = roundtrip("{\"type\":\"hello\"}");
    ck_assert(json_is_true(json_object_get(json_object_get(r, "access"), "anonymous")));
    json_decref(r);
    r = roundtrip("{\"type\":\"list\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "streams")), 1);
    json_decref(r);
}
END_TEST

START_TEST(over_the_rate_is_refused_then_flooding_closes) {
    sign_in_admin();
    vg_rate_limit_init(&sess.msg_rate, 2, 2, vg_server_now_us());
    config.messages_per_s = 2;
    json_decref(roundtrip("{\"type\":\"stats\"}"));
    json_decref(roundtrip("{\"type\":\"stats\"}"));
    expect_error("{\"type\":\"stats\"}", "rate_limited", NULL);
    expect_error("{\"type\":\"stats\"}", "rate_limited", NULL);
    ck_assert(!sess.closing);
    vg_signaling_handle(&sess, "{\"type\":\"stats\"}", 16); /* a third in the second */
    ck_assert(sess.closing);
    ck_assert_int_eq(sess.close_code, 1008);
}
END_TEST

START_TEST(list_shows_every_stream) {
    sign_in_admin();
    json_t *r = roundtrip("{\"type\":\"list\",\"id\":\"abc\"}");
    ck_assert_str_eq(str(r, "id"), "abc");
    json_t *streams = json_object_get(r, "streams");
    ck_assert_uint_eq(json_array_size(streams), 3);
    ck_assert_str_eq(str(json_array_get(streams, 1), "id"), "door");
    ck_assert_str_eq(str(json_array_get(streams, 1), "state"), "stopped");
    json_decref(r);
}
END_TEST

START_TEST(subscribe_unsubscribe_and_stats) {
    sign_in_admin();
    json_t *r = roundtrip("{\"type\":\"subscribe\",\"id\":2,\"stream\":\"door\",\"mode\":\"mse\"}");
    ck_assert_str_eq(str(r, "type"), "subscribe");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "channel")), 2);
    ck_assert(json_is_null(json_object_get(r, "codecs"))); /* not live yet */
    json_decref(r);
    ck_assert_uint_eq(vg_stream_viewer_count(srv.streams[1]), 1);

    r = roundtrip("{\"type\":\"stats\"}");
    json_t *ch = json_array_get(json_object_get(r, "channels"), 0);
    ck_assert_str_eq(str(ch, "stream"), "door");
    ck_assert_int_eq(json_integer_value(json_object_get(ch, "frames_sent")), 0);
    json_decref(r);

    r = roundtrip("{\"type\":\"unsubscribe\",\"id\":3,\"channel\":2}");
    ck_assert_str_eq(str(r, "type"), "unsubscribe");
    json_decref(r);
    ck_assert_uint_eq(vg_stream_viewer_count(srv.streams[1]), 0);
}
END_TEST

START_TEST(subscribe_reply_carries_codecs_when_live) {
    sign_in_admin();
    free(srv.streams[0]->codecs);
    srv.streams[0]->codecs = strdup("avc1.64001f");
    json_t *r = roundtrip("{\"type\":\"subscribe\",\"stream\":\"demo\"}");
    ck_assert_str_eq(str(r, "codecs"), "avc1.64001f");
    ck_assert_str_eq(str(r, "mime"), "video/mp4; codecs=\"avc1.64001f\"");
    ck_assert_str_eq(str(r, "mode"), "mse");
    json_decref(r);
}
END_TEST

/* `accept`: the codec families a client can decode. A stream it cannot
 * decode is refused with unsupported_codec naming the stream's codecs; one
 * whose codecs are not known yet is subscribed (stream.state says them). */
START_TEST(subscribe_with_accept_refuses_what_the_client_cannot_decode) {
    sign_in_admin();
    free(srv.streams[0]->codecs);
    srv.streams[0]->codecs = strdup("hev1.1.6.L120.90,opus");
    json_t *r = roundtrip("{\"type\":\"subscribe\",\"id\":1,\"stream\":\"demo\","
                          "\"accept\":[\"avc1\",\"vp09\"]}");
    ck_assert_str_eq(str(r, "type"), "error");
    ck_assert_str_eq(str(r, "code"), "unsupported_codec");
    ck_assert_str_eq(str(r, "field"), "accept");
    ck_assert_msg(strstr(str(r, "message"), "hev1.1.6.L120.90") != NULL, "%s", str(r, "message"));
    json_decref(r);
    ck_assert_uint_eq(vg_stream_viewer_count(srv.streams[0]), 0);
    /* hvc1 covers hev1; the family is what counts, not the profile. */
    r = roundtrip("{\"type\":\"subscribe\",\"id\":2,\"stream\":\"demo\",\"accept\":[\"hvc1\"]}");
    ck_assert_str_eq(str(r, "type"), "subscribe");
    json_decref(r);
    /* Not live yet: no codecs to refuse. */
    r = roundtrip("{\"type\":\"subscribe\",\"id\":3,\"stream\":\"door\",\"accept\":[\"hvc1\"]}");
    ck_assert_str_eq(str(r, "type"), "subscribe");
    json_decref(r);
    expect_error("{\"type\":\"subscribe\",\"stream\":\"yard\",\"accept\":\"avc1\"}", "bad_field",
                 "accept");
    expect_error("{\"type\":\"subscribe\",\"stream\":\"yard\",\"accept\":[]}", "bad_field", "accept");
    expect_error("{\"type\":\"subscribe\",\"stream\":\"yard\",\"accept\":[7]}", "bad_field",
                 "accept");
}
END_TEST

START_TEST(bad_input_gets_error_codes_and_session_stays_usable) {
    sign_in_admin();
    expect_error("{not json", "bad_json", NULL);
    expect_error("", "bad_json", NULL);
    expect_error("[1,2]", "bad_message", NULL);
    expect_error("42", "bad_message", NULL);
    expect_error("\"hello\"", "bad_message", NULL);
    expect_error("{}", "bad_message", "type");
    expect_error("{\"type\":7}", "bad_message", "type");
    expect_error("{\"type\":\"launch_missiles\"}", "unknown_type", "type");
    expect_error("{\"type\":\"list\",\"id\":{}}", "bad_field", "id");
    expect_error("{\"type\":\"list\",\"id\":"
                 "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
                 "bad_field", "id");
    expect_error("{\"type\":\"list\",\"type\":\"hello\"}", "bad_json", NULL); /* duplicate key */
    expect_error("{\"type\":\"subscribe\"}", "bad_field", "stream");
    expect_error("{\"type\":\"subscribe\",\"stream\":5}", "bad_field", "stream");
    expect_error("{\"type\":\"subscribe\",\"stream\":\"\"}", "bad_field", "stream");
    expect_error("{\"type\":\"subscribe\",\"stream\":\"nope\"}", "unknown_stream", "stream");
    expect_error("{\"type\":\"subscribe\",\"stream\":\"demo\",\"mode\":\"webrtc\"}",
                 "unsupported_mode", "mode");
    expect_error("{\"type\":\"subscribe\",\"stream\":\"demo\",\"mode\":1}", "bad_field", "mode");
    expect_error("{\"type\":\"unsubscribe\"}", "bad_field", "channel");
    expect_error("{\"type\":\"unsubscribe\",\"channel\":\"1\"}", "bad_field", "channel");
    expect_error("{\"type\":\"unsubscribe\",\"channel\":0}", "bad_field", "channel");
    expect_error("{\"type\":\"unsubscribe\",\"channel\":-3}", "bad_field", "channel");
    expect_error("{\"type\":\"unsubscribe\",\"channel\":99}", "unknown_channel", "channel");
    expect_error("{\"type\":\"hello\",\"token\":[]}", "bad_field", "token");

    json_t *r = roundtrip("{\"type\":\"subscribe\",\"id\":9,\"stream\":\"demo\"}");
    json_decref(r);
    json_t *e = roundtrip("{\"type\":\"subscribe\",\"id\":10,\"stream\":\"demo\"}");
    ck_assert_str_eq(str(e, "code"), "already_subscribed");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "id")), 10); /* id echoed */
    json_decref(e);
    json_decref(roundtrip("{\"type\":\"subscribe\",\"stream\":\"door\"}"));
    expect_error("{\"type\":\"subscribe\",\"stream\":\"yard\"}", "too_many_subscriptions", NULL);

    /* still usable, and every error was counted */
    r = roundtrip("{\"type\":\"stats\"}");
    ck_assert_str_eq(str(r, "type"), "stats");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "channels")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "errors")), 25);
    json_decref(r);
    ck_assert(!sess.closing);
}
END_TEST

START_TEST(reply_queue_is_bounded) {
    sign_in_admin();
    /* A client that sends requests and never reads: the queue stops growing
     * and the session is closed with 1008. */
    for (int i = 0; i < VG_SESSION_MAX_OUT_MSGS + 10; i++)
        vg_signaling_handle(&sess, "{\"type\":\"list\"}", 15);
    ck_assert_uint_le(sess.out_count, VG_SESSION_MAX_OUT_MSGS);
    ck_assert(sess.closing);
    ck_assert_uint_eq(sess.close_code, 1008);
}
END_TEST

START_TEST(text_reassembly_is_bounded) {
    sign_in_admin();
    char chunk[1000];
    memset(chunk, ' ', sizeof(chunk));
    int r = 0;
    int chunks = 0;
    while (r == 0 && chunks < 1000) {
        r = vg_session_on_text(&sess, chunk, sizeof(chunk), false, 65536);
        chunks++;
    }
    ck_assert_int_eq(r, -1);      /* refused: the caller closes with 1009 */
    ck_assert_int_eq(chunks, 66); /* at the 66th kilobyte, not later */
    ck_assert_uint_le(sess.rx_cap, 65536);
}
END_TEST

START_TEST(fragmented_text_is_reassembled_then_released) {
    sign_in_admin();
    const char *msg = "{\"type\":\"hello\",\"id\":\"frag\"}";
    size_t n = strlen(msg);
    ck_assert_int_eq(vg_session_on_text(&sess, msg, 5, false, 65536), 0);
    ck_assert_int_eq(vg_session_on_text(&sess, msg + 5, 7, false, 65536), 0);
    ck_assert_ptr_null(sess.out_head); /* nothing handled yet */
    ck_assert_int_eq(vg_session_on_text(&sess, msg + 12, n - 12, true, 65536), 0);
    ck_assert_ptr_null(sess.rx); /* the buffer is given back */
    vg_outmsg *m = sess.out_head;
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr((const char *)m->buf + LWS_PRE, "\"id\":\"frag\""));
    /* a message in one piece is handled without buffering */
    ck_assert_int_eq(vg_session_on_text(&sess, msg, n, true, 65536), 0);
    ck_assert_ptr_null(sess.rx);
    ck_assert_uint_eq(sess.out_count, 2);
}
END_TEST

/* Found by fuzzing (fuzz/regressions/signaling, fuzz/regressions/token): an
 * empty first fragment was copied into the still NULL buffer, and a token
 * shorter than "v1." was searched for its '.' far past its end. */
START_TEST(empty_first_fragment_and_one_character_token) {
    sign_in_admin();
    ck_assert_int_eq(vg_session_on_text(&sess, "", 0, false, 65536), 0);
    ck_assert_int_eq(vg_session_on_text(&sess, "{\"type\":\"stats\"}", 16, true, 65536), 0);
    /* roundtrip returns the oldest reply: first the fragmented stats, then
     * the answer to the hello */
    json_t *r = roundtrip("{\"type\":\"hello\",\"token\":\"x\"}");
    ck_assert_str_eq(str(r, "type"), "stats");
    json_decref(r);
    vg_outmsg *m = sess.out_head;
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr((const char *)m->buf + LWS_PRE, "\"malformed token\""));
    ck_assert(sess.closing);
}
END_TEST

static Suite *signaling_suite(void) {
    Suite *s = suite_create("signaling");
    TCase *tc = tcase_create("requests");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hello_reports_server_and_limits);
    tcase_add_test(tc, subscribe_with_accept_refuses_what_the_client_cannot_decode);
    tcase_add_test(tc, nothing_before_hello_and_bad_tokens_close);
    tcase_add_test(tc, expired_tokens_are_unauthorized);
    tcase_add_test(tc, a_viewer_lists_only_its_streams_and_anonymous_needs_config);
    tcase_add_test(tc, over_the_rate_is_refused_then_flooding_closes);
    tcase_add_test(tc, list_shows_every_stream);
    tcase_add_test(tc, subscribe_unsubscribe_and_stats);
    tcase_add_test(tc, subscribe_reply_carries_codecs_when_live);
    tcase_add_test(tc, bad_input_gets_error_codes_and_session_stays_usable);
    tcase_add_test(tc, reply_queue_is_bounded);
    tcase_add_test(tc, text_reassembly_is_bounded);
    tcase_add_test(tc, fragmented_text_is_reassembled_then_released);
    tcase_add_test(tc, empty_first_fragment_and_one_character_token);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(signaling_suite)

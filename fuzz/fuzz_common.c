/* fuzz_common.c -- shared pieces of the fuzz targets (see fuzz_common.h). */
#include "fuzz/fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

const char fuzz_config_text[] =
    "{\"server\": {\"max_subscriptions\": 2, \"max_text_bytes\": 4096, \"log_level\": \"error\"},"
    " \"streams\": ["
    "  {\"id\": \"demo\", \"source\": \"test://\", \"options\": {\"width\": 320, \"height\": 240}},"
    "  {\"id\": \"door\", \"source\": \"test://\"},"
    "  {\"id\": \"yard\", \"source\": \"rtp://127.0.0.1:5006\", \"options\": {\"payload_type\": "
    "96}},"
    "  {\"id\": \"porch\", \"source\": \"publish://\", \"options\": {\"codec\": \"h264\", "
    "\"audio\": \"opus\"}}],"
    " \"auth\": {\"secret\": \"" FUZZ_SECRET "\", \"anonymous\": {\"streams\": [\"demo\"]}},"
    " \"mqtt\": {\"host\": \"127.0.0.1\"},"
    " \"coap\": {},"
    " \"control\": {\"history\": 4, \"timeout_ms\": 5000},"
    " \"devices\": ["
    "  {\"id\": \"cam1\", \"name\": \"Camera head\", \"transport\": \"mqtt\", \"stream\": \"demo\","
    "   \"commands\": {"
    "    \"ptz\": {\"pan\": {\"type\": \"number\", \"min\": -1, \"max\": 1},"
    "            \"tilt\": {\"type\": \"number\", \"min\": -1, \"max\": 1},"
    "            \"zoom\": {\"type\": \"number\", \"min\": 0, \"max\": 1, \"optional\": true}},"
    "    \"light\": {\"on\": {\"type\": \"bool\"}},"
    "    \"mode\": {\"name\": {\"type\": \"string\", \"values\": [\"day\", \"night\"]},"
    "             \"label\": {\"type\": \"string\", \"max_length\": 8, \"optional\": true}},"
    "    \"reboot\": {},"
    "    \"set_interval\": {\"seconds\": {\"type\": \"integer\", \"min\": 1, \"max\": 3600}}}},"
    "  {\"id\": \"lamp1\", \"name\": \"Yard lamp\", \"transport\": \"coap\","
    "   \"commands\": {\"light\": {\"on\": {\"type\": \"bool\"}}, \"reboot\": {}}}]}";

const control_callbacks *fuzz_transport_cb;
control_core *fuzz_transport_core;

int fuzz_fake_ack = 1;
static int fake_state; /* a non-NULL plugin state */

static void *fake_init(const control_callbacks *cb, control_core *core, const json_t *section,
                       const json_t *devices, char *err, size_t errlen) {
    (void)section, (void)devices, (void)err, (void)errlen;
    fuzz_transport_cb = cb;
    fuzz_transport_core = core;
    return &fake_state;
}

static int fake_mqtt_send(void *state, const control_send *cmd, char *err, size_t errlen) {
    (void)state, (void)err, (void)errlen;
    fuzz_transport_cb->command_status(fuzz_transport_core, cmd->device_id, cmd->command_id,
                                      CONTROL_SENT, 0, NULL, NULL);
    if (!fuzz_fake_ack) return 0;
    fuzz_transport_cb->command_status(fuzz_transport_core, cmd->device_id, cmd->command_id,
                                      CONTROL_ACKNOWLEDGED, 0, NULL,
                                      json_pack("{s:O}", "echo", cmd->params));
    return 0;
}

static int fake_coap_send(void *state, const control_send *cmd, char *err, size_t errlen) {
    (void)state;
    if (!strcmp(cmd->name, "reboot")) {
        snprintf(err, errlen, "device unreachable");
        return -1;
    }
    fuzz_transport_cb->command_status(fuzz_transport_core, cmd->device_id, cmd->command_id,
                                      CONTROL_SENT, 0, NULL, NULL);
    return 0;
}

static void fake_cancel(void *state, const char *id) {
    (void)state, (void)id;
}

static json_t *fake_status(void *state) {
    (void)state;
    return json_pack("{s:b}", "connected", 1);
}

static void fake_shutdown(void *state) {
    (void)state;
    fuzz_transport_cb = NULL;
    fuzz_transport_core = NULL;
}

const control_plugin fuzz_fake_mqtt = {
    .api_version = CONTROL_API_VERSION,
    .name = "mqtt",
    .init = fake_init,
    .send = fake_mqtt_send,
    .cancel = fake_cancel,
    .status = fake_status,
    .shutdown = fake_shutdown,
};

const control_plugin fuzz_fake_coap = {
    .api_version = CONTROL_API_VERSION,
    .name = "coap",
    .init = fake_init,
    .send = fake_coap_send,
    .cancel = fake_cancel,
    .status = fake_status,
    .shutdown = fake_shutdown,
};

control_t *fuzz_control_new(control_event_fn sink, void *sink_user) {
    static json_t *root;
    if (!root) root = json_loads(fuzz_config_text, JSON_REJECT_DUPLICATES, NULL);
    control_t *c = root ? control_create(NULL, NULL, sink, sink_user) : NULL;
    char err[CONTROL_ERR_MAX];
    if (c && control_register_plugin(c, &fuzz_fake_mqtt, err, sizeof(err)) == 0 &&
        control_register_plugin(c, &fuzz_fake_coap, err, sizeof(err)) == 0 &&
        control_start(c, root, err, sizeof(err)) == 0)
        return c;
    control_destroy(c);
    return NULL;
}

void fuzz_srtp_key(uint8_t *key, size_t len) {
    for (size_t i = 0; i < len; i++)
        key[i] = (uint8_t)(i * 7 + 1);
}

void fuzz_quiet(void) {
    vg_log_set_level(VG_LOG_ERROR);
}

void fuzz_fail(const char *what, const char *detail) {
    fprintf(stdout, "fuzz check failed: %s: %s\n", what, detail ? detail : "");
    fflush(stdout);
    abort();
}

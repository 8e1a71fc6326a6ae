/* config.h -- the agent's configuration file (JSON), checked as a whole at
 * start; each error names the field.
 *
 *   {"server":     "wss://vigil.example:8443/ws",       required
 *    "token_file": "/etc/vigil-agent/token",             required: a device token
 *    "ca_file":    "/etc/vigil-agent/ca.pem",            optional: CAs to trust
 *                                                        (default: the system's)
 *    "stream": {"id":"door", "source":"v4l2:///dev/video0",   optional
 *               "audio":null|"test"|"alsa:hw:1,0", "width":1280, "height":720,
 *               "fps":30, "bitrate_kbps":2000, "keyframe_s":1,
 *               "encoder":null, "max_latency_ms":500, "latency_mark":false},
 *    "device": {"id":"door",                                  optional
 *               "commands": {"<name>": {"exec":["/path","arg"...], "timeout_ms":5000}},
 *               "telemetry": {"exec":["/path"...], "interval_s":10, "timeout_ms":5000}
 *                         or {"fifo":"/run/vigil-agent/telemetry"} (JSON lines),
 *               "max_running":4},
 *    "reconnect": {"min_s":1, "max_s":30, "refused_s":60}}
 * At least one of "stream" and "device". Handler paths must be absolute.
 *
 * Thread: loaded on the main thread before anything starts; read-only after. */
#ifndef VIGIL_AGENT_CONFIG_H
#define VIGIL_AGENT_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "agent/media.h"

typedef struct ag_handler_config {
    char *name;          /* the command's name (NULL for telemetry) */
    char **argv;         /* NULL-terminated */
    unsigned timeout_ms;
} ag_handler_config;

typedef struct ag_config {
    char *server_url;   /* as given */
    char *host, *path;  /* parsed from it */
    int port;
    int tls;            /* wss:// */
    char *token;        /* read from token_file, whitespace trimmed */
    char *ca_file;      /* NULL: the system's CAs */
    /* stream */
    char *stream_id;    /* NULL: no video */
    ag_media_config media; /* its strings point into this struct's copies */
    char *source, *audio, *encoder;
    /* device */
    char *device_id;    /* NULL: no device */
    ag_handler_config *commands;
    size_t ncommands;
    ag_handler_config telemetry; /* argv NULL: none */
    char *telemetry_fifo;        /* a named pipe of JSON lines, or NULL */
    unsigned telemetry_interval_s;
    unsigned max_running;
    /* reconnecting */
    unsigned reconnect_min_s, reconnect_max_s, refused_s;
} ag_config;

/* Loads and checks the file; 0, or -1 with err naming the field. */
int ag_config_load(ag_config *c, const char *path, char *err, size_t errlen);
/* The handler of command `name`, or NULL. */
const ag_handler_config *ag_config_command(const ag_config *c, const char *name);
void ag_config_free(ag_config *c);

#endif

/* log.h -- leveled logging to stderr, as text or as JSON lines. Safe from
 * any thread (one write per line). */
#ifndef VIGIL_COMMON_LOG_H
#define VIGIL_COMMON_LOG_H

typedef enum vg_log_level {
    VG_LOG_ERROR = 0,
    VG_LOG_WARN = 1,
    VG_LOG_INFO = 2,
    VG_LOG_DEBUG = 3,
} vg_log_level;

/* text: "2026-12-05T01:02:03.456Z info  message"
 * json: {"ts":"2026-12-05T01:02:03.456Z","level":"info","msg":"message"}, one
 *       object per line, valid JSON whatever the message holds (bytes that
 *       are not UTF-8 become U+FFFD). */
typedef enum vg_log_format {
    VG_LOG_TEXT = 0,
    VG_LOG_JSON = 1,
} vg_log_format;

/* The level: any thread, any time (a reload changes it). */
void vg_log_set_level(vg_log_level level);
vg_log_level vg_log_get_level(void);
/* The format: once at start-up, before threads start. */
void vg_log_set_format(vg_log_format format);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int vg_log_level_parse(const char *name);
/* "text", "json" -> format; -1 if unknown. */
int vg_log_format_parse(const char *name);

void vg_log(vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

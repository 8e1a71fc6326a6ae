/* log.h -- leveled logging to stderr. Safe from any thread (one fprintf per line). */
#ifndef VIGIL_COMMON_LOG_H
#define VIGIL_COMMON_LOG_H

typedef enum vg_log_level {
    VG_LOG_ERROR = 0,
    VG_LOG_WARN = 1,
    VG_LOG_INFO = 2,
    VG_LOG_DEBUG = 3,
} vg_log_level;

/* Set once at start-up, before threads start. */
void vg_log_set_level(vg_log_level level);
vg_log_level vg_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int vg_log_level_parse(const char *name);

void vg_log(vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/* log.c -- leveled logging to stderr (see log.h). */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static vg_log_level current = VG_LOG_INFO;
static const char *names[] = {"error", "warn", "info", "debug"};

void vg_log_set_level(vg_log_level level) {
    current = level;
}
vg_log_level vg_log_get_level(void) {
    return current;
}

int vg_log_level_parse(const char *name) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

void vg_log(vg_log_level level, const char *fmt, ...) {
    if (level > current) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[level], msg);
}

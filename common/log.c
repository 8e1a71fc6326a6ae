/* log.c -- leveled logging to stderr, text or JSON lines (see log.h).
 *
 * Threads: the format is set before any thread starts and only read after;
 * the level may change later (a reload, server/reload.h) while any thread
 * logs, so it is atomic (relaxed: a line more or less at the switch is
 * fine). Each line is formatted into one buffer and written with one
 * write(2), so lines from different threads never interleave. */
#include "common/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current = VG_LOG_INFO;
static vg_log_format format = VG_LOG_TEXT;
static const char *names[] = {"error", "warn", "info", "debug"};

void vg_log_set_level(vg_log_level level) {
    atomic_store_explicit(&current, (int)level, memory_order_relaxed);
}
vg_log_level vg_log_get_level(void) {
    return (vg_log_level)atomic_load_explicit(&current, memory_order_relaxed);
}
void vg_log_set_format(vg_log_format f) {
    format = f;
}

int vg_log_level_parse(const char *name) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

int vg_log_format_parse(const char *name) {
    if (!strcmp(name, "text")) return VG_LOG_TEXT;
    if (!strcmp(name, "json")) return VG_LOG_JSON;
    return -1;
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

/* msg as valid UTF-8 (each bad byte replaced by U+FFFD) in out (room for
 * 3 * strlen(msg) + 1); returns its length. */
static size_t utf8_clean(const char *msg, char *out) {
    const unsigned char *s = (const unsigned char *)msg;
    size_t n = strlen(msg), o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(s + i, n - i);
        if (len) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = 0;
    return o;
}

/* The JSON line for one message; jansson escapes quotes and control
 * characters. NULL on OOM. */
static char *json_line(const char *ts, vg_log_level level, const char *msg) {
    char clean[3 * 1024 + 1];
    size_t n = utf8_clean(msg, clean);
    json_t *o = json_pack("{s:s, s:s, s:s%}", "ts", ts, "level", names[level], "msg", clean, n);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}

static void write_all(const char *p, size_t n) {
    while (n) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0) return; /* nowhere to report a failing stderr */
        p += w;
        n -= (size_t)w;
    }
}

void vg_log(vg_log_level level, const char *fmt, ...) {
    if ((int)level > atomic_load_explicit(&current, memory_order_relaxed)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[80];
    snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    char line[1200]; /* stamp, level and the 1024-byte message */
    if (format == VG_LOG_JSON) {
        char *text = json_line(stamp, level, msg);
        if (text) {
            size_t n = strlen(text);
            text[n] = '\n'; /* over the NUL: written by length */
            write_all(text, n + 1);
            free(text);
            return;
        }
        /* out of memory: a plain line with nothing from the message */
        int n = snprintf(line, sizeof(line),
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"(out of memory)\"}\n", stamp,
                         names[level]);
        write_all(line, (size_t)n);
        return;
    }
    int n = snprintf(line, sizeof(line), "%s %-5s %s\n", stamp, names[level], msg);
    if (n >= (int)sizeof(line)) n = (int)sizeof(line) - 1, line[n - 1] = '\n';
    write_all(line, (size_t)n);
}

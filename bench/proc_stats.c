/* proc_stats.c -- /proc readers for the bench (see proc_stats.h). */
#include "bench/proc_stats.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* /proc/PID/stat counts in clock ticks (10 ms): a lean server serving a few
 * seconds may show none at all. The process CPU clock counts nanoseconds,
 * exited threads included; the ticks are the fallback where it is refused. */
static double stat_cpu_seconds(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces: fields are counted after its ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long utime, stime;
    /* fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double proc_cpu_seconds(pid_t pid) {
    clockid_t clock;
    struct timespec ts;
    if (clock_getcpuclockid(pid, &clock) == 0 && clock_gettime(clock, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return stat_cpu_seconds(pid);
}

long proc_status_kb(pid_t pid, const char *name) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    size_t nl = strlen(name);
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, name, nl) && line[nl] == ':') {
            sscanf(line + nl + 1, "%ld", &kb);
            break;
        }
    }
    fclose(f);
    return kb;
}

bool proc_reset_peak_rss(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
    FILE *f = fopen(path, "w");
    if (!f) return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

int proc_cpu_jiffies(unsigned long long *busy, unsigned long long *total, int max) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    char line[512];
    int n = 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        unsigned long long v[8] = {0};
        int cpu;
        if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9') continue;
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) < 5)
            continue;
        unsigned long long all = 0;
        for (int i = 0; i < 8; i++)
            all += v[i];
        total[n] = all;
        busy[n] = all - v[3] - v[4]; /* idle, iowait */
        n++;
    }
    fclose(f);
    return n;
}

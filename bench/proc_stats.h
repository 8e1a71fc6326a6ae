/* proc_stats.h -- another process's CPU time and memory, read from /proc.
 *
 * CPU is utime+stime of the whole process (all threads), from
 * /proc/PID/stat. Peak RSS is VmHWM from /proc/PID/status, which the bench
 * resets at the start of its window by writing "5" to /proc/PID/clear_refs;
 * where that is not allowed, the peak is the largest VmRSS sampled. */
#ifndef VIGIL_BENCH_PROC_STATS_H
#define VIGIL_BENCH_PROC_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* CPU seconds (user + system, all threads, exited ones too) used so far, to the
 * nanosecond where the kernel allows; -1 on error. */
double proc_cpu_seconds(pid_t pid);
/* The field `name` ("VmRSS", "VmHWM") of /proc/PID/status in KiB; -1 on error. */
long proc_status_kb(pid_t pid, const char *name);
/* Resets the peak RSS (VmHWM) to the current RSS; false if not permitted. */
bool proc_reset_peak_rss(pid_t pid);

/* Busy and total jiffies of each CPU (from /proc/stat) into busy[] and
 * total[]; returns how many CPUs were read (at most max). Busy is everything
 * but idle and iowait: what any process, ours or not, ran there. */
int proc_cpu_jiffies(unsigned long long *busy, unsigned long long *total, int max);

#endif

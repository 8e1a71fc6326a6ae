/* load_report.c -- turns the load client's counters into its JSON report (see
 * load_report.h). */
#include "bench/load_report.h"

#include <stdio.h>
#include <string.h>

typedef struct group_sum {
    size_t viewers, failed;
    unsigned long long bytes, frames, gaps, tail, skips;
} group_sum;

/* Counts of distinct values (close codes, failure reasons). */
typedef struct tally {
    char key[48];
    size_t count;
} tally;

static void tally_add(tally *t, size_t cap, const char *key) {
    for (size_t i = 0; i < cap; i++) {
        if (!t[i].count) {
            snprintf(t[i].key, sizeof(t[i].key), "%s", key);
            t[i].count = 1;
            return;
        }
        if (!strcmp(t[i].key, key)) {
            t[i].count++;
            return;
        }
    }
}

static void print_tally(FILE *f, const tally *t, size_t cap) {
    fputc('{', f);
    for (size_t i = 0; i < cap && t[i].count; i++)
        fprintf(f, "%s\"%s\":%zu", i ? "," : "", t[i].key, t[i].count);
    fputc('}', f);
}

static double ms(int64_t us) {
    return us < 0 ? -1 : (double)us / 1000.0;
}

static void print_group(FILE *f, const char *name, const group_sum *g, load_ctx *ctx, int gi,
                        const load_opts *o, const load_result *r) {
    unsigned long long missing = g->gaps + g->tail;
    double delivered = g->frames + missing ? (double)g->frames / (double)(g->frames + missing) : 0;
    double expected = (double)g->viewers * r->window_s * o->fps;
    fprintf(f,
            "\"%s\":{\"viewers\":%zu,\"failed\":%zu,\"bytes\":%llu,\"frames\":%llu,"
            "\"frames_missing\":%llu,\"skips_flagged\":%llu,\"delivered_ratio\":%.5f,"
            "\"frames_vs_expected\":%.5f,"
            "\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"samples\":%zu},"
            "\"first_keyframe_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"samples\":%zu}}",
            name, g->viewers, g->failed, g->bytes, g->frames, missing, g->skips, delivered,
            expected > 0 ? (double)g->frames / expected : 0,
            ms(samples_quantile(&ctx->latency_us[gi], 0.5)),
            ms(samples_quantile(&ctx->latency_us[gi], 0.99)),
            ms(samples_quantile(&ctx->latency_us[gi], 1.0)), ctx->latency_us[gi].n,
            ms(samples_quantile(&ctx->first_key_us[gi], 0.5)),
            ms(samples_quantile(&ctx->first_key_us[gi], 0.99)),
            ms(samples_quantile(&ctx->first_key_us[gi], 1.0)), ctx->first_key_us[gi].n);
}

static void write_report(FILE *f, const load_opts *o, const load_result *r, load_ctx *ctx,
                         const load_conn *conns) {
    group_sum g[GROUP_COUNT] = {0};
    tally closes[16] = {0}, reasons[16] = {0};
    size_t connected = 0, subscribed = 0, got_key = 0;
    for (size_t i = 0; i < o->viewers; i++) {
        const load_conn *c = &conns[i];
        group_sum *s = &g[c->group];
        s->viewers++;
        connected += c->t_subscribe > 0;
        subscribed += c->subscribed;
        got_key += c->got_key;
        if (c->state != C_OPEN || !c->got_key) {
            s->failed++;
            if (c->state == C_CLOSED && c->close_code >= 0) {
                char code[16];
                snprintf(code, sizeof(code), "%d", c->close_code);
                tally_add(closes, 16, code);
            } else {
                tally_add(reasons, 16, c->state == C_OPEN ? "no keyframe" : c->fail_reason);
            }
        }
        s->bytes += c->bytes_win;
        s->frames += c->frames_win;
        s->gaps += c->gaps_win;
        s->skips += c->skips_flag_win;
        uint32_t end_seq = ctx->stream_max_seq[c->stream_idx];
        /* Frames still in flight at the window's end are not missing: one frame of grace. */
        if (c->state == C_OPEN && c->have_seq && c->last_seq + 1 < end_seq)
            s->tail += end_seq - 1 - c->last_seq;
    }
    unsigned long long bytes = g[0].bytes + g[1].bytes;
    double gb = (double)bytes / 1e9;
    long rss_peak = r->rss_reset ? r->rss_hwm_kb : r->rss_sampled_max_kb;
    if (r->rss_sampled_max_kb > rss_peak) rss_peak = r->rss_sampled_max_kb;

    fprintf(f, "{\"label\":\"%s\",\"viewers\":%zu,\"streams\":%zu,\"window_s\":%.3f,", o->label,
            o->viewers, o->nstreams, r->window_s);
    fprintf(f, "\"connected\":%zu,\"subscribed\":%zu,\"got_keyframe\":%zu,\"failed\":%zu,",
            connected, subscribed, got_key, g[0].failed + g[1].failed);
    fprintf(f, "\"closes\":");
    print_tally(f, closes, 16);
    fprintf(f, ",\"fail_reasons\":");
    print_tally(f, reasons, 16);
    fprintf(f, ",\"bytes\":%llu,\"gbit_per_s\":%.4f,", bytes,
            r->window_s > 0 ? gb * 8 / r->window_s : 0);
    fprintf(f,
            "\"server\":{\"pid\":%d,\"cpu_s\":%.3f,\"cpu_util\":%.4f,\"cpu_s_per_gb\":%.4f,"
            "\"rss_peak_kb\":%ld,\"rss_start_kb\":%ld,\"rss_peak_method\":\"%s\"},",
            (int)o->pid, r->cpu_window, r->window_s > 0 ? r->cpu_window / r->window_s : 0,
            gb > 0 ? r->cpu_window / gb : -1, rss_peak, r->rss_start_kb,
            r->rss_reset ? "VmHWM reset at window start" : "VmRSS sampled every 100 ms");
    fprintf(f,
            "\"connect_phase\":{\"seconds\":%.3f,\"server_cpu_s\":%.3f,\"not_ready\":%zu,"
            "\"ramp_s\":%.3f},",
            r->connect_s, r->cpu_connect, r->not_ready, o->ramp_s);
    if (ctx->tls)
        fprintf(f,
                "\"tls\":{\"version\":\"%s\",\"cipher\":\"%s\",\"handshakes\":%zu,"
                "\"differing\":%zu},",
                ctx->tls_sum.version, ctx->tls_sum.cipher, ctx->tls_sum.handshakes,
                ctx->tls_sum.differing);
    else
        fprintf(f, "\"tls\":null,");
    fprintf(f, "\"client_cpu_util\":%.4f,\"cpu_busy\":[",
            r->window_s > 0 ? r->client_cpu / r->window_s : 0);
    for (int k = 0; k < r->ncpus; k++)
        fprintf(f, "%s%.4f", k ? "," : "", r->cpu_busy[k]);
    fprintf(f, "],");
    fprintf(f, "\"groups\":{");
    print_group(f, "normal", &g[GROUP_NORMAL], ctx, GROUP_NORMAL, o, r);
    if (g[GROUP_THROTTLED].viewers) {
        fputc(',', f);
        print_group(f, "throttled", &g[GROUP_THROTTLED], ctx, GROUP_THROTTLED, o, r);
    }
    fprintf(f, "}}\n");
}

void load_report(const load_opts *o, const load_result *r, load_ctx *ctx, const load_conn *conns) {
    write_report(stdout, o, r, ctx, conns);
    fflush(stdout);
    if (o->json_path) {
        FILE *f = fopen(o->json_path, "w");
        if (!f) {
            perror(o->json_path);
            return;
        }
        write_report(f, o, r, ctx, conns);
        fclose(f);
    }
}

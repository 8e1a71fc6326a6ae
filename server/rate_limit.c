/* rate_limit.c -- token bucket (see rate_limit.h). */
#include "server/rate_limit.h"

void vg_rate_limit_init(vg_rate_limit *r, double rate, double burst, int64_t now_us) {
    r->rate = rate;
    r->burst = burst;
    r->tokens = burst;
    r->last_us = now_us;
}

bool vg_rate_limit_take(vg_rate_limit *r, int64_t now_us) {
    if (now_us > r->last_us) {
        r->tokens += (double)(now_us - r->last_us) * r->rate / 1e6;
        if (r->tokens > r->burst) r->tokens = r->burst;
        r->last_us = now_us;
    }
    if (r->tokens < 1.0) return false;
    r->tokens -= 1.0;
    return true;
}

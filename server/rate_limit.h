/* rate_limit.h -- a token bucket: `rate` events per second on average, at
 * most `burst` at once. Used per connection for signalling messages and for
 * device commands.
 *
 * Thread: whoever owns the struct (here the lws service thread). */
#ifndef VIGIL_SERVER_RATE_LIMIT_H
#define VIGIL_SERVER_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct vg_rate_limit {
    double tokens, rate, burst;
    int64_t last_us;
} vg_rate_limit;

void vg_rate_limit_init(vg_rate_limit *r, double rate, double burst, int64_t now_us);
/* Takes one token; false when the bucket is empty (the event is over the limit). */
bool vg_rate_limit_take(vg_rate_limit *r, int64_t now_us);

#endif

/* Wall-clock timing. */
#ifndef SHARDNET_TIMER_H
#define SHARDNET_TIMER_H

/* Seconds on a monotonic clock. */
double sn_now(void);

#endif

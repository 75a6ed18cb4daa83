/*
 * clock.h: the monotonic clock, and the wall clock to the millisecond.
 */
#ifndef LB_CLOCK_H
#define LB_CLOCK_H

#include <stdint.h>

/* Seconds on the monotonic clock: for durations and rates, never dates. */
double lb_mono_now(void);

/* Unix milliseconds on the wall clock: for records of when. */
int64_t lb_wall_ms(void);

#endif

/*
 * clock.h: the monotonic clock.
 */
#ifndef LB_CLOCK_H
#define LB_CLOCK_H

/* Seconds on the monotonic clock: for durations and rates, never dates. */
double lb_mono_now(void);

#endif

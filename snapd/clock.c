/*
 * clock.c: the daemon's clock (state.h): the wall clock, or for tests one
 * that runs LIFEBOAT_SNAPD_TIMESCALE times faster (daemon.h).
 */
#include "snapd/state.h"

#include <math.h>
#include <stdlib.h>

#include "common/log.h"

double
snapd_real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double
snapd_dnow_f(const struct daemon *d)
{
	return d->anchor + (snapd_real_now() - d->anchor) * d->scale;
}

time_t
snapd_dnow(const struct daemon *d)
{
	return (time_t)floor(snapd_dnow_f(d));
}

void
snapd_clock_setup(struct daemon *d)
{
	const char *v = getenv("LIFEBOAT_SNAPD_TIMESCALE");
	char *end;
	double now = snapd_real_now();

	d->scale = 1;
	d->anchor = floor(now / 3600) * 3600;
	if (v == NULL || *v == '\0')
		return;
	d->scale = strtod(v, &end);
	if (*end == '@')
		d->anchor = strtod(end + 1, NULL);
	if (d->scale < 1 || d->scale > 10000)
		d->scale = 1;
	log_warn("test clock: LIFEBOAT_SNAPD_TIMESCALE=%s, schedules run %.0fx fast", v,
	    d->scale);
}

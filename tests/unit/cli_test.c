/*
 * cli_test.c: the formatting helpers people read (sizes, moments).
 */
#include "common/fmt.h"
#include "harness.h"

static void
moments_read_as_dates_and_ages(void)
{
	/* 2026-11-30 10:04:00 UTC */
	const int64_t t = 1796033040;
	char buf[64];

	lb_fmt_when(t, t + 2 * 3600 + 5, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-30 10:04 UTC, 2 h ago");
	lb_fmt_when(t, t + 42, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-30 10:04 UTC, 42 s ago");
	lb_fmt_when(t, t + 25 * 60, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-30 10:04 UTC, 25 min ago");
	lb_fmt_when(t, t + 3 * 86400, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-30 10:04 UTC, 3 d ago");
	lb_fmt_when(t, t - 300, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-30 10:04 UTC, in 5 min");
}

static void
sizes_read_with_units(void)
{
	char buf[32];

	lb_fmt_size(512, buf, sizeof(buf));
	CHECK_STR(buf, "512 B");
	lb_fmt_size(3 * 1024 * 1024 / 2, buf, sizeof(buf));
	CHECK_STR(buf, "1.5 MiB");
}

int
main(void)
{
	RUN(moments_read_as_dates_and_ages);
	RUN(sizes_read_with_units);
	return TH_DONE();
}

/*
 * fmt.c: sizes, moments and bytes written for people (fmt.h).
 */
#include "common/fmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void
lb_fmt_size(uint64_t bytes, char *out, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}

void
lb_fmt_when(int64_t t, int64_t now, char *out, size_t cap)
{
	int64_t d = now >= t ? now - t : t - now;
	char date[32] = "?", ago[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) != NULL)
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
	if (d < 120)
		snprintf(ago, sizeof(ago), "%lld s", (long long)d);
	else if (d < 2 * 3600)
		snprintf(ago, sizeof(ago), "%lld min", (long long)(d / 60));
	else if (d < 2 * 86400)
		snprintf(ago, sizeof(ago), "%lld h", (long long)(d / 3600));
	else
		snprintf(ago, sizeof(ago), "%lld d", (long long)(d / 86400));
	snprintf(out, cap, "%s, %s%s", date, now >= t ? "" : "in ", ago);
	if (now >= t)
		snprintf(out + strlen(out), cap - strlen(out), " ago");
}

void
lb_hex(const uint8_t *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

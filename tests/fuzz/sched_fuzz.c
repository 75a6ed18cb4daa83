/*
 * sched_fuzz.c: libFuzzer harness for schedule expressions
 * (scheduler/cron.h).  Any input must parse or fail with a message; what
 * parses must give next runs that only move forward, in UTC and in a zone
 * with DST.  Seeds: tests/fuzz/corpus/sched/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const zones[] = { "UTC", "Europe/Berlin" };
	static int prepared;
	struct sched *s = NULL;
	struct lb_err err;
	char *expr;
	time_t t, next;
	size_t z;
	int i;

	if (!prepared) {
		sched_tz_prepare();
		prepared = 1;
	}
	if (size > SCHED_EXPR_MAX + 8 || (expr = malloc(size + 1)) == NULL)
		return 0;
	memcpy(expr, data, size);
	expr[size] = '\0';
	if (sched_parse(expr, &s, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
		free(expr);
		return 0;
	}
	for (z = 0; z < 2; z++) {
		/* 2026-03-29 00:00 UTC: the night Berlin springs forward. */
		t = 1774742400;
		for (i = 0; i < 3; i++) {
			if (sched_next(s, t, zones[z], &next, &err) < 0)
				break;
			if (next <= t)
				abort();
			t = next;
		}
	}
	sched_free(s);
	free(expr);
	return 0;
}

/*
 * schednext.c: prints the next runs of schedules, for the croniter
 * comparison (tests/tools/cron_oracle.py).  Reads lines
 *     EXPR|TZ|AFTER|N
 * from stdin (AFTER in Unix seconds) and prints for each
 *     t1 t2 ... tN        or        ERR message
 * where t1 = sched_next(AFTER), t2 = sched_next(t1), ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/cron.h"

int
main(void)
{
	char line[1024];

	sched_tz_prepare();
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *expr = line, *tz, *after, *count;
		struct sched *s = NULL;
		struct lb_err err;
		time_t t;
		long n, i;

		line[strcspn(line, "\n")] = '\0';
		if ((tz = strchr(expr, '|')) == NULL || (after = strchr(tz + 1, '|')) == NULL ||
		    (count = strchr(after + 1, '|')) == NULL) {
			printf("ERR bad input line\n");
			continue;
		}
		*tz++ = '\0';
		*after++ = '\0';
		*count++ = '\0';
		t = (time_t)strtoll(after, NULL, 10);
		n = strtol(count, NULL, 10);
		if (sched_parse(expr, &s, &err) < 0) {
			printf("ERR %s\n", err.msg);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (sched_next(s, t, tz, &t, &err) < 0) {
				printf("%sERR %s", i > 0 ? " " : "", err.msg);
				break;
			}
			printf("%s%lld", i > 0 ? " " : "", (long long)t);
		}
		printf("\n");
		fflush(stdout);
		sched_free(s);
	}
	return 0;
}

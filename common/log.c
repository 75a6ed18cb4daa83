/*
 * log.c: formats and writes the lines of log.h.  One write(2) per line so
 * lines from concurrent threads do not interleave.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;
static enum log_style log_style_cur = LOG_STYLE_HUMAN;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_setup(enum log_level level, enum log_style style)
{
	log_threshold = level;
	log_style_cur = style;
}

int
log_level_parse(const char *name)
{
	int i;

	for (i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/* Quotes msg for a key=value line: backslash and double quote escaped,
 * control characters dropped so one event stays one line. */
static size_t
kv_quote(char *dst, size_t cap, const char *msg)
{
	size_t n = 0;

	for (; *msg != '\0' && n + 3 < cap; msg++) {
		unsigned char c = (unsigned char)*msg;
		if (c == '"' || c == '\\')
			dst[n++] = '\\';
		else if (c < 0x20)
			c = ' ';
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return n;
}

void
log_write(enum log_level level, const char *fmt, ...)
{
	char msg[1024], line[2200], ts[32];
	struct tm tm;
	time_t now;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log_style_cur == LOG_STYLE_KV) {
		char quoted[2048];
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		kv_quote(quoted, sizeof(quoted), msg);
		n = snprintf(line, sizeof(line), "ts=%s level=%s msg=\"%s\"\n",
		    ts, level_names[level], quoted);
	} else if (level == LOG_INFO) {
		n = snprintf(line, sizeof(line), "lifeboat: %s\n", msg);
	} else {
		n = snprintf(line, sizeof(line), "lifeboat: %s: %s\n",
		    level_names[level], msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

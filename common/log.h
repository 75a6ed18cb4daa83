/*
 * log.h: leveled logging to stderr.
 *
 * The CLI writes lines for people ("lifeboat: warning: ..."); the daemon
 * writes key=value lines (ts=... level=... msg="...") that journald keeps.
 * The level is checked before the arguments are formatted (Redis
 * serverLog), so a debug line costs nothing when debug is off.  Never pass
 * a secret to these functions.
 */
#ifndef LB_LOG_H
#define LB_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_style { LOG_STYLE_HUMAN = 0, LOG_STYLE_KV = 1 };

extern enum log_level log_threshold;

/* Sets the level below which lines are dropped and the line style. */
void log_setup(enum log_level level, enum log_style style);

/* Parses "error", "warn", "info" or "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);

void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...) \
	do { if ((lvl) <= log_threshold) log_write((lvl), __VA_ARGS__); } while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

#endif

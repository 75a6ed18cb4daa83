/*
 * fmt.h: sizes, moments and bytes as text for people and logs.
 */
#ifndef LB_FMT_H
#define LB_FMT_H

#include <stddef.h>
#include <stdint.h>

/* "1.5 GiB", "512 B": sizes for people (JSON output keeps bytes). */
void lb_fmt_size(uint64_t bytes, char *out, size_t cap);

/* "2026-11-30 10:04 UTC, 2 h ago": a moment for people, against now
 * ("in 5 min" when it is ahead). */
void lb_fmt_when(int64_t t, int64_t now, char *out, size_t cap);

/* Lower-case hex of len bytes; out holds 2 * len + 1. */
void lb_hex(const uint8_t *bytes, size_t len, char *out);

#endif

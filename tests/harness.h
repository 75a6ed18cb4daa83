/*
 * harness.h: a deliberately small unit-test harness.
 *
 * A test is a void function; CHECK* macros record a failure with file and
 * line and return from the test.  Each binary prints "ok NAME" or
 * "FAIL NAME: where: what" per test and a closing "N passed, N failed";
 * tests/run.sh adds up the lines of every binary and script.
 */
#ifndef LB_HARNESS_H
#define LB_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int th_passed, th_failed, th_cur_failed;
static const char *th_cur_name;

#define TH_FAIL(...) do { \
	fprintf(stdout, "FAIL %s: %s:%d: ", th_cur_name, __FILE__, __LINE__); \
	fprintf(stdout, __VA_ARGS__); \
	fputc('\n', stdout); \
	th_cur_failed = 1; \
	return; \
} while (0)

#define CHECK(cond) do { if (!(cond)) TH_FAIL("%s", #cond); } while (0)

#define CHECK_INT(a, op, b) do { \
	long long th_a = (long long)(a), th_b = (long long)(b); \
	if (!(th_a op th_b)) \
		TH_FAIL("%s %s %s (%lld vs %lld)", #a, #op, #b, th_a, th_b); \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *th_a = (a), *th_b = (b); \
	if (th_a == NULL || th_b == NULL || strcmp(th_a, th_b) != 0) \
		TH_FAIL("%s == %s (\"%s\" vs \"%s\")", #a, #b, \
		    th_a ? th_a : "(null)", th_b ? th_b : "(null)"); \
} while (0)

#define CHECK_CONTAINS(hay, needle) do { \
	const char *th_h = (hay), *th_n = (needle); \
	if (th_h == NULL || strstr(th_h, th_n) == NULL) \
		TH_FAIL("\"%s\" does not contain \"%s\"", th_h ? th_h : "(null)", th_n); \
} while (0)

/* Checks that an lb_err-returning call succeeded; prints the message. */
#define CHECK_OK(call, errp) do { \
	int th_r = (call); \
	if (th_r != 0) TH_FAIL("%s returned %d: %s", #call, th_r, (errp)->msg); \
} while (0)

#define RUN(fn) do { \
	th_cur_name = #fn; \
	th_cur_failed = 0; \
	fn(); \
	if (th_cur_failed) th_failed++; \
	else { th_passed++; fprintf(stdout, "ok %s\n", #fn); } \
	fflush(stdout); \
} while (0)

#define TH_DONE() (printf("%d passed, %d failed\n", th_passed, th_failed), \
	th_failed ? 1 : 0)

#endif

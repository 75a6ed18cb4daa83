/*
 * cancel.c: the cancel flag set by SIGINT and SIGTERM (cancel.h).
 */
#include "common/cancel.h"

#include <string.h>

volatile sig_atomic_t lb_cancel;

static void
on_cancel_signal(int sig)
{
	(void)sig;
	lb_cancel = 1;
}

void
lb_cancel_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

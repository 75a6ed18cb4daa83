/*
 * cancel.h: a flag that asks long transfers to stop.
 */
#ifndef LB_CANCEL_H
#define LB_CANCEL_H

#include <signal.h>

/* Set by SIGINT/SIGTERM once lb_cancel_on_signals() ran; long transfers
 * poll it and stop cleanly (temp files removed, uploads aborted). */
extern volatile sig_atomic_t lb_cancel;
void lb_cancel_on_signals(void);

#endif

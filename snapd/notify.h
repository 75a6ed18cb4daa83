/*
 * notify.h: systemd's service notification protocol, without libsystemd.
 *
 * With Type=notify, systemd passes $NOTIFY_SOCKET (a path, or an abstract
 * socket name starting with '@'); the service sends datagrams of
 * newline-separated assignments: READY=1, RELOADING=1, STOPPING=1,
 * STATUS=..., WATCHDOG=1.  With WatchdogSec=, $WATCHDOG_USEC says how
 * often WATCHDOG=1 must arrive (and $WATCHDOG_PID, if set, must be us).
 */
#ifndef LB_SNAPD_NOTIFY_H
#define LB_SNAPD_NOTIFY_H

/* Sends state (e.g. "READY=1\nSTATUS=running") to $NOTIFY_SOCKET.
 * Returns 1 if sent, 0 when there is no socket, -1 on a send error. */
int notify_send(const char *state);

/* The watchdog interval in microseconds, 0 when the watchdog is off. */
unsigned long long notify_watchdog_usec(void);

#endif

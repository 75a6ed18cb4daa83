/*
 * notify_test.c: systemd's notification datagrams (snapd/notify.h),
 * received on real AF_UNIX sockets (a path and an abstract name).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "snapd/notify.h"

/* A datagram socket bound to name (a path, or '@' for abstract). */
static int
listen_dgram(const char *name)
{
	struct sockaddr_un sa;
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void
check_roundtrip(const char *name)
{
	char buf[256];
	ssize_t n;
	int fd = listen_dgram(name);

	CHECK(fd >= 0);
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK_INT(notify_send("READY=1\nSTATUS=running"), ==, 1);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	close(fd);
	CHECK_INT(n, ==, 22);
	buf[n] = '\0';
	CHECK_STR(buf, "READY=1\nSTATUS=running");
}

static void
test_path_socket(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/lifeboat-notify-%ld.sock", (long)getpid());
	unlink(path);
	check_roundtrip(path);
	unlink(path);
}

static void
test_abstract_socket(void)
{
	char name[64];

	snprintf(name, sizeof(name), "@lifeboat-notify-%ld", (long)getpid());
	check_roundtrip(name);
}

static void
test_no_socket(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(notify_send("READY=1"), ==, 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_INT(notify_send("READY=1"), ==, 0);
	/* Nobody listens there: an error, not a crash or a hang. */
	setenv("NOTIFY_SOCKET", "/tmp/lifeboat-notify-nobody.sock", 1);
	CHECK_INT(notify_send("READY=1"), ==, -1);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_watchdog(void)
{
	char pid[32];

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	CHECK_INT(notify_watchdog_usec(), ==, 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	CHECK_INT(notify_watchdog_usec(), ==, 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_INT(notify_watchdog_usec(), ==, 30000000);
	/* Meant for another process (our parent, say). */
	setenv("WATCHDOG_PID", "1", 1);
	CHECK_INT(notify_watchdog_usec(), ==, 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "12x", 1);
	CHECK_INT(notify_watchdog_usec(), ==, 0);
	unsetenv("WATCHDOG_USEC");
}

int
main(void)
{
	RUN(test_path_socket);
	RUN(test_abstract_socket);
	RUN(test_no_socket);
	RUN(test_watchdog);
	return TH_DONE();
}

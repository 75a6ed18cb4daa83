/*
 * cmd.c: what the commands of cmd/ share.
 */
#include "cmd/cmd.h"

#include "common/log.h"

int
cmd_fail(const struct lb_err *err)
{
	log_error("%s", err->msg);
	return lb_err_exit_status(err->code);
}

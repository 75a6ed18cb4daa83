/*
 * grpc_fuzz.c: arbitrary bytes as a gRPC response body: the framing, then
 * every message through the protobuf reader and etcd's decoders.
 */
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "etcd/grpc.h"

static int
on_msg(void *arg, const uint8_t *msg, size_t len, struct lb_err *err)
{
	struct etcd_status st;
	struct etcd_members *ms = NULL;

	(void)arg;
	(void)err;
	etcd_decode_status(msg, len, &st);
	if (etcd_decode_members(msg, len, &ms) == 0)
		etcd_members_free(ms);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grpc_deframer d = { 0 };
	struct lb_err err;
	size_t half = size / 2;

	/* Two feeds, so split messages take the copying path too. */
	if (grpc_deframe(&d, data, half, on_msg, NULL, &err) == 0)
		grpc_deframe(&d, data + half, size - half, on_msg, NULL, &err);
	grpc_deframer_release(&d);
	return 0;
}

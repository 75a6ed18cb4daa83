/*
 * watch_fuzz.c: arbitrary bytes as a Watch response stream: the gRPC
 * framing, then every message through etcd_watch's decoder (fragments
 * joined, events grouped by revision, progress, cancels).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "etcd/etcd_watch.h"
#include "etcd/grpc.h"

static int
on_revision(void *arg, int64_t rev, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	volatile uint8_t sum = 0;

	(void)arg;
	(void)rev;
	(void)err;
	/* touch every byte delivered, so a pointer past the message shows */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ev[i].key_len; j++)
			sum ^= ev[i].key[j];
		for (size_t j = 0; j < ev[i].value_len; j++)
			sum ^= ev[i].value[j];
	}
	return 0;
}

static int
on_msg(void *arg, const uint8_t *msg, size_t len, struct lb_err *err)
{
	return etcd_watch_dec_feed(arg, msg, len, err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_watch_cb cb = { on_revision, NULL, NULL, NULL, NULL };
	struct grpc_deframer d;
	struct etcd_watch_dec *w = NULL;
	struct lb_err err;
	size_t half = size / 2;

	memset(&d, 0, sizeof(d));
	if (etcd_watch_dec_new(2, &cb, &w, &err) < 0)
		return 0;
	if (grpc_deframe(&d, data, half, on_msg, w, &err) == 0)
		grpc_deframe(&d, data + half, size - half, on_msg, w, &err);
	grpc_deframer_release(&d);
	etcd_watch_dec_free(w);
	return 0;
}

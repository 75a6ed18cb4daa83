/*
 * evlog_fuzz.c: arbitrary bytes as the plaintext of an event-log segment
 * (evlog/evlog.h), fed to the push parser whole and again split at a
 * point the input chooses, with callbacks that touch every byte they are
 * given; and as a segment manifest (evlog/segment.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evlog/evlog.h"
#include "evlog/segment.h"

static volatile uint8_t sink;

static int
on_header(void *arg, const struct evl_header *h, struct lb_err *err)
{
	(void)arg;
	(void)err;
	sink ^= (uint8_t)(strlen(h->cluster) + strlen(h->lifeboat_version));
	return 0;
}

static int
on_revision(void *arg, int64_t rev, int64_t wall, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	(void)arg;
	(void)rev;
	(void)wall;
	(void)err;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ev[i].key_len; j++)
			sink ^= ev[i].key[j];
		for (size_t j = 0; j < ev[i].value_len; j++)
			sink ^= ev[i].value[j];
	}
	return 0;
}

static int
on_lease(void *arg, int64_t id, int64_t ttl, struct lb_err *err)
{
	(void)arg;
	(void)err;
	sink ^= (uint8_t)(id ^ ttl);
	return 0;
}

static void
parse(const uint8_t *data, size_t size, size_t cut)
{
	const struct evl_parse_cb cb = { on_header, on_revision, on_lease, NULL, NULL };
	struct evl_footer f;
	struct evl_header h;
	struct flt *p = NULL;
	struct lb_err err;

	if (evl_parse_new(&cb, &p, &err) != 0)
		return;
	if (flt_write(p, data, cut, &err) == 0 &&
	    flt_write(p, data + cut, size - cut, &err) == 0 &&
	    flt_finish(p, &err) == 0) {
		evl_parse_footer(p, &f);
		if (evl_parse_header(p, &h) == 0)
			sink ^= (uint8_t)strlen(h.cluster);
	}
	flt_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evl_meta *m = NULL;
	struct lb_err err;
	char *json = NULL;

	parse(data, size, size);
	if (size > 0)
		parse(data, size, data[0] % size);
	if (evl_meta_parse((const char *)data, size, &m, &err) == 0) {
		if (evl_meta_to_json(m, &json, &err) == 0)
			free(json);
		evl_meta_check_key(m, "x/wal/1970/01/01/a.evlog.json", &err);
	}
	evl_meta_free(m);
	return 0;
}

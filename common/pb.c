/*
 * pb.c: protobuf field reader and writer (pb.h).  Every length is checked
 * against the end of the message before it is used.
 */
#include "common/pb.h"

#include <string.h>

void
pb_reader_init(struct pb_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
}

static int
read_varint(struct pb_reader *r, uint64_t *v)
{
	uint64_t x = 0;
	int shift;

	for (shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		x |= (uint64_t)(*r->p & 0x7f) << shift;
		if ((*r->p++ & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int
pb_next(struct pb_reader *r, struct pb_field *f)
{
	uint64_t key, len;

	if (r->p >= r->end)
		return 0;
	if (read_varint(r, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
		return -1;
	memset(f, 0, sizeof(*f));
	f->num = (uint32_t)(key >> 3);
	f->wire = (int)(key & 7);
	switch (f->wire) {
	case PB_VARINT:
		return read_varint(r, &f->u64) < 0 ? -1 : 1;
	case PB_FIXED64:
		if (r->end - r->p < 8)
			return -1;
		for (int i = 7; i >= 0; i--)
			f->u64 = (f->u64 << 8) | r->p[i];
		r->p += 8;
		return 1;
	case PB_FIXED32:
		if (r->end - r->p < 4)
			return -1;
		for (int i = 3; i >= 0; i--)
			f->u64 = (f->u64 << 8) | r->p[i];
		r->p += 4;
		return 1;
	case PB_BYTES:
		if (read_varint(r, &len) < 0 || len > (uint64_t)(r->end - r->p))
			return -1;
		f->data = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 1;
	default:
		return -1;
	}
}

void
pb_writer_init(struct pb_writer *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = 0;
}

static void
put_varint(struct pb_writer *w, uint64_t v)
{
	do {
		if (w->len >= w->cap) {
			w->overflow = 1;
			return;
		}
		w->buf[w->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
}

void
pb_put_varint_field(struct pb_writer *w, uint32_t num, uint64_t v)
{
	put_varint(w, (uint64_t)num << 3 | PB_VARINT);
	put_varint(w, v);
}

void
pb_put_bytes_field(struct pb_writer *w, uint32_t num, const void *data, size_t len)
{
	put_varint(w, (uint64_t)num << 3 | PB_BYTES);
	put_varint(w, len);
	if (w->overflow || len > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
}

void
pb_put_string_field(struct pb_writer *w, uint32_t num, const char *s)
{
	pb_put_bytes_field(w, num, s, strlen(s));
}

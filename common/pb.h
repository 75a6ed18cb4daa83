/*
 * pb.h: the few protocol-buffer wire-format primitives lifeboat needs
 * (etcd's gRPC messages, the mvccpb.KeyValue values in a snapshot).
 *
 * Not a general protobuf library: a bounds-checked reader that walks the
 * fields of one message, and a writer into a fixed caller buffer.  Unknown
 * fields are skipped, so newer etcd versions that add fields still decode.
 * It knows the wire format only, no message: callers name their fields.
 */
#ifndef LB_PB_H
#define LB_PB_H

#include <stddef.h>
#include <stdint.h>

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_BYTES = 2, PB_FIXED32 = 5 };

struct pb_reader {
	const uint8_t *p;
	const uint8_t *end;
};

struct pb_field {
	uint32_t num;
	int wire;
	uint64_t u64;            /* varint and fixed values */
	const uint8_t *data;     /* PB_BYTES: points into the message */
	size_t len;
};

/* Starts reading the message in buf[0..len). */
void pb_reader_init(struct pb_reader *r, const void *buf, size_t len);

/* Reads the next field: 1 if one was read, 0 at the end of the message,
 * -1 if the message is malformed (truncated varint, length past the end,
 * unsupported wire type). */
int pb_next(struct pb_reader *r, struct pb_field *f);

struct pb_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int overflow;            /* set when a put did not fit */
};

void pb_writer_init(struct pb_writer *w, void *buf, size_t cap);
void pb_put_varint_field(struct pb_writer *w, uint32_t num, uint64_t v);
void pb_put_bytes_field(struct pb_writer *w, uint32_t num, const void *data,
    size_t len);
void pb_put_string_field(struct pb_writer *w, uint32_t num, const char *s);

#endif

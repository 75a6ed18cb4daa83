/*
 * s3xml_fuzz.c: libFuzzer harness for the expat parsers of S3 answers in
 * repo/s3_xml.c (list pages, multipart upload lists, errors, initiate and
 * complete results).  The first byte picks the parser; the rest is the
 * body.  Checks that a parsed list is consistent, then frees it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repo/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_xml_list l;
	struct lb_err err;
	char code[64], msg[256], *id = NULL;
	const char *xml;
	size_t i, len;

	if (size < 1)
		return 0;
	xml = (const char *)data + 1;
	len = size - 1;
	switch (data[0] % 4) {
	case 0:
		if (s3_xml_parse_list(xml, len, &l, &err) == 0) {
			for (i = 0; i < l.n; i++)
				if (l.items[i].key == NULL)
					abort();
			if (l.truncated && l.next_token == NULL &&
			    l.next_key_marker == NULL)
				abort();
			s3_xml_list_clear(&l);
		} else if (l.items != NULL || l.n != 0) {
			abort();
		}
		break;
	case 1:
		if (s3_xml_parse_error(xml, len, code, sizeof(code), msg,
		    sizeof(msg)) == 0 && (strlen(code) >= sizeof(code) ||
		    strchr(msg, '\n') != NULL))
			abort();
		break;
	case 2:
		if (s3_xml_parse_upload_id(xml, len, &id, &err) == 0 &&
		    (id == NULL || id[0] == '\0'))
			abort();
		free(id);
		break;
	default:
		s3_xml_parse_complete(xml, len, &err);
		break;
	}
	return 0;
}

/*
 * config_fuzz.c: libFuzzer harness for the configuration parser
 * (cfg_parse_string).  Any input must either parse or fail with a message;
 * what parses must answer every getter and print without reading out of
 * bounds.  Seeds: tests/fuzz/corpus/config/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const gkeys[] = { "repo", "s3-region", "compress-level",
		"connect-timeout", "s3-part-size", "s3-uri-style" };
	static FILE *sink;
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	const char *const *list;
	char *text;
	size_t i, k;

	if (size > CFG_FILE_MAX)
		return 0;
	if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
		abort();
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cfg_parse_string(text, "fuzz.conf", &c, &err) == 0) {
		for (i = 0; i < sizeof(gkeys) / sizeof(gkeys[0]); i++)
			(void)cfg_get_str(c, NULL, gkeys[i]);
		(void)cfg_get_int(c, NULL, "stall-timeout");
		(void)cfg_get_list(c, NULL, "recipients", &list);
		for (k = 0; k < cfg_cluster_count(c); k++) {
			const char *name = cfg_cluster_name(c, k);

			if (!cfg_has_cluster(c, name) ||
			    cfg_get_list(c, name, "endpoints", &list) == 0 || list[0] == NULL)
				abort();
			(void)cfg_get_int(c, name, "enabled");
			(void)cfg_get_str(c, name, "retention");
		}
		cfg_print(c, sink);
		cfg_free(c);
	} else if (err.msg[0] == '\0' || c != NULL) {
		abort();   /* a failure must say why and return nothing */
	}
	free(text);
	return 0;
}

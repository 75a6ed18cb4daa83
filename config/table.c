/*
 * table.c: the table of options, generated from options.def (one
 * designated initializer per option, at the index of its id), and the
 * look-up of an option by name.
 */
#include "config/table.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/zstd_filter.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const struct opt cfg_opts[CFG_N_OPTS] = {
#define CFG_OPT(id, ...) [CFG_##id] = { __VA_ARGS__ },
#include "config/options.def"
#undef CFG_OPT
};

void
cfg_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("lifeboat: internal error: config: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

int
cfg_opt_find(const char *name)
{
	size_t i;

	for (i = 0; i < CFG_N_OPTS; i++)
		if (strcmp(cfg_opts[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
cfg_opt_name(enum cfg_opt id)
{
	if ((unsigned)id >= CFG_N_OPTS)
		cfg_bug("option id %d", (int)id);
	return cfg_opts[id].name;
}

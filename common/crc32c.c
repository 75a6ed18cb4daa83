/*
 * crc32c.c: CRC-32C sliced by 8 (crc32c.h).  The eight tables (8 KiB) are
 * built once, at the first call of any thread.
 */
#include "common/crc32c.h"

#include <pthread.h>

#include "common/bytes.h"

static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void
tab_init(void)
{
	uint32_t c, i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			tab[k][i] = (tab[k - 1][i] >> 8) ^ tab[0][tab[k - 1][i] & 0xff];
}

uint32_t
lb_crc32c_update(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t c = crc, hi;

	pthread_once(&tab_once, tab_init);
	while (n >= 8) {
		c ^= le32(p);
		hi = le32(p + 4);
		c = tab[7][c & 0xff] ^ tab[6][(c >> 8) & 0xff] ^
		    tab[5][(c >> 16) & 0xff] ^ tab[4][c >> 24] ^
		    tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
		    tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

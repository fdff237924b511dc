/* ws_mask.c — a pool of RAND_bytes output for frame masking keys (ws_mask.h). */
#include "ws_mask.h"

#include <openssl/rand.h>
#include <string.h>

int lt_ws_masks_take(lt_ws_masks *m, uint8_t *buf, size_t len)
{
	if (len > sizeof m->pool)
		return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
	if (m->left < len) {
		if (RAND_bytes(m->pool, (int)sizeof m->pool) != 1) {
			m->left = 0;
			return -1;
		}
		m->left = sizeof m->pool;
	}
	uint8_t *p = m->pool + sizeof m->pool - m->left;
	memcpy(buf, p, len);
	m->left -= len;
	return 0;
}

/* ws_mask.h — masking keys for the frames a client sends (RFC 6455 5.3: a fresh key per frame
 * from a strong source of entropy), drawn from a small pool that OpenSSL's RAND_bytes refills.
 *
 * Why a pool: RAND_bytes costs about 1.8 µs on this project's 2-core VMs whatever the size up
 * to 1 KiB (OpenSSL 3 checks getpid() on every call for fork safety, and a system call is
 * dear there), while a frame's key is 4 bytes. One refill of LT_WS_MASK_POOL bytes serves 64
 * frames. Each key is still RAND_bytes output, used once: the pool is consumed, never reread.
 *
 * Example:
 *     lt_ws_masks m = {0};                      // empty: the first take refills it
 *     uint8_t key[4];
 *     if (lt_ws_masks_take(&m, key, sizeof key)) return -1;
 *
 * Errors: -1 when RAND_bytes fails (nothing is written to buf then); a take larger than the
 * pool is served by RAND_bytes directly. No rate limit applies.
 */
#ifndef LT_WS_MASK_H
#define LT_WS_MASK_H

#include <stddef.h>
#include <stdint.h>

#define LT_WS_MASK_POOL 256

typedef struct lt_ws_masks {
	uint8_t pool[LT_WS_MASK_POOL];
	size_t left; /* unused bytes, at the pool's end */
} lt_ws_masks;

/* Fill buf with len fresh random bytes; 0, or -1 if RAND_bytes failed. */
int lt_ws_masks_take(lt_ws_masks *m, uint8_t *buf, size_t len);

#endif

/* utf8.c — the one UTF-8 check (utf8.h): of every text message the venue sends (ws.c), and of
 * every string and key the JSON decoder meets (yajl's own check is off), and of log text. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* Every string and key must be well-formed UTF-8 with no overlong forms (C0 AF for '/'), no
 * truncated sequence and no code point above U+10FFFF. Encoded surrogates are accepted,
 * because yajl itself produces them when it unescapes a lone "\udc00". ASCII text costs one
 * word-wise scan. */
bool lt_utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & UINT64_C(0x8080808080808080))
			break;
	}
	while (i < len) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c < 0xc2 || c > 0xf4)
			return false;
		size_t n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (len - i < n)
			return false;
		unsigned c1 = s[i + 1];
		if ((c1 & 0xc0) != 0x80 || (c == 0xe0 && c1 < 0xa0) || (c == 0xf0 && c1 < 0x90) ||
		    (c == 0xf4 && c1 > 0x8f))
			return false;
		for (size_t k = 2; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += n;
	}
	return true;
}

/* buf.c — the growable output buffer and the JSON token writers declared in codec.h.
 * Everything that writes JSON (request encoders, the built-in venue) goes through these, so
 * string escaping and number formatting exist once. */
#include "codec.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lt_buf_init(lt_buf *b, size_t pre)
{
	memset(b, 0, sizeof *b);
	b->pre = pre;
}

void lt_buf_free(lt_buf *b)
{
	if (!b)
		return;
	if (b->sensitive && b->data)
		OPENSSL_cleanse(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

void lt_buf_reset(lt_buf *b)
{
	b->len = 0;
	b->oom = false;
}

static bool buf_reserve(lt_buf *b, size_t n)
{
	if (b->oom)
		return false;
	if (n > SIZE_MAX - b->pre - b->len - 1) {
		b->oom = true;
		return false;
	}
	size_t need = b->pre + b->len + n + 1; /* +1 keeps the text NUL-terminated */
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = b->sensitive ? malloc(cap) : realloc(b->data, cap);
	if (p && b->sensitive && b->data) { /* never leave a credential behind in freed memory */
		memcpy(p, b->data, b->pre + b->len + 1);
		OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	if (!p) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void lt_buf_add(lt_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->data + b->pre + b->len, s, n);
	b->len += n;
	b->data[b->pre + b->len] = '\0';
}

void lt_jw_string(lt_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	lt_buf_add(b, "\"", 1);
	size_t run = 0; /* bytes copied verbatim in one go */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[6];
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20) {
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
		} else
			continue;
		lt_buf_add(b, s + run, i - run);
		if (esc)
			lt_buf_add(b, esc, strlen(esc));
		else
			lt_buf_add(b, u, 6);
		run = i + 1;
	}
	lt_buf_add(b, s + run, n - run);
	lt_buf_add(b, "\"", 1);
}

void lt_jw_double(lt_buf *b, double v)
{
	char tmp[32];
	size_t n = lt_fmt_double(tmp, v);
	lt_buf_add(b, tmp, n);
}

void lt_jw_int(lt_buf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
	lt_buf_add(b, tmp, (size_t)n);
}

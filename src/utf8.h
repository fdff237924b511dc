/* utf8.h — is this well-formed UTF-8? One word-wise scan for ASCII text, which is what the
 * venue sends; the few multi-byte sequences are checked one by one.
 *
 *     if (!lt_utf8_ok(msg, len)) close with 1007;
 *
 * Well-formed: no overlong forms (C0 AF for '/'), no truncated sequence, no code point above
 * U+10FFFF. Encoded surrogates are accepted, because yajl itself produces them when it
 * unescapes a lone "\udc00". No errors, no allocation, no rate limit (pure). */
#ifndef LT_UTF8_H
#define LT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool lt_utf8_ok(const unsigned char *s, size_t len);

#endif

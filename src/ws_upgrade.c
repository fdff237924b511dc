/* ws_upgrade.c — the WebSocket opening handshake of ws.c, done by hand (RFC 6455 §4.1): the
 * HTTP/1.1 Upgrade request and the check of the venue's answer, Sec-WebSocket-Accept included
 * (SHA-1 and base64 from OpenSSL). Pure functions, no I/O; see ws_rules.h. Frames are wslay's.
 */
#include "ws_rules.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 §1.3 */

int lt_ws_make_key(char out[LT_WS_KEY_LEN + 1])
{
	unsigned char raw[16];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return LT_EIO;
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw); /* 24 chars + NUL */
	return 0;
}

void lt_ws_accept_for(const char *key, char out[LT_WS_ACCEPT_LEN + 1])
{
	char kg[LT_WS_KEY_LEN + sizeof WS_GUID];
	int kl = snprintf(kg, sizeof kg, "%.*s%s", LT_WS_KEY_LEN, key, WS_GUID);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	out[0] = '\0';
	if (kl > 0 && EVP_Digest(kg, (size_t)kl, md, &mdlen, EVP_sha1(), NULL) && mdlen == 20)
		EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen); /* 28 chars + NUL */
}

size_t lt_ws_upgrade_request(const lt_ws_url *u, const char *key, char *out, size_t cap)
{
	bool v6 = strchr(u->host, ':') != NULL, dflt = u->port == (u->tls ? 443 : 80);
	char port[8] = "";
	if (!dflt)
		snprintf(port, sizeof port, ":%d", u->port);
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\n"
			 "Host: %s%s%s%s\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "User-Agent: luatrade\r\n"
			 "\r\n",
			 u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", port, key);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t lt_ws_head_end(const char *buf, size_t len)
{
	const char *e = memmem(buf, len, "\r\n\r\n", 4);
	return e ? (size_t)(e - buf) + 4 : 0;
}

/* The value of header name in head (the lines after the status line), trimmed, as a view. */
static bool header(const char *head, size_t len, const char *name, const char **v, size_t *vl)
{
	size_t nl = strlen(name);
	const char *p = memmem(head, len, "\r\n", 2), *end = head + len;
	while (p && p + 2 < end) {
		const char *line = p + 2, *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!eol || eol == line)
			return false;
		if ((size_t)(eol - line) > nl && line[nl] == ':' &&
		    strncasecmp(line, name, nl) == 0) {
			const char *s = line + nl + 1, *t = eol;
			while (s < t && (*s == ' ' || *s == '\t'))
				s++;
			while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
				t--;
			*v = s;
			*vl = (size_t)(t - s);
			return true;
		}
		p = eol;
	}
	return false;
}

/* Does the comma-separated list v hold token tok (any case)? */
static bool has_token(const char *v, size_t vl, const char *tok)
{
	size_t tl = strlen(tok);
	for (size_t i = 0; i < vl;) {
		while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t j = i;
		while (j < vl && v[j] != ',' && v[j] != ' ' && v[j] != '\t')
			j++;
		if (j - i == tl && strncasecmp(v + i, tok, tl) == 0)
			return true;
		i = j;
	}
	return false;
}

/* The status line as printable ASCII, at most 80 bytes. */
static void status_words(const char *head, size_t len, char *why, size_t cap)
{
	const char *eol = memmem(head, len, "\r\n", 2);
	size_t n = eol ? (size_t)(eol - head) : len, k = 0;
	for (size_t i = 0; i < n && i < 80 && k + 1 < cap; i++)
		why[k++] = head[i] >= 0x20 && head[i] < 0x7f ? head[i] : '?';
	if (cap)
		why[k] = '\0';
}

int lt_ws_upgrade_check(const char *head, size_t len, const char *key, unsigned *http, char *why,
			size_t cap)
{
	*http = 0;
	unsigned code = 0;
	if (len < 12 || strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
	    !isdigit((unsigned char)head[9]) || !isdigit((unsigned char)head[10]) ||
	    !isdigit((unsigned char)head[11])) {
		snprintf(why, cap, "the answer to the upgrade is not HTTP/1.x");
		return LT_EIO;
	}
	code = (unsigned)(head[9] - '0') * 100 + (unsigned)(head[10] - '0') * 10 +
	       (unsigned)(head[11] - '0');
	*http = code;
	if (code != 101) {
		status_words(head, len, why, cap);
		return LT_EIO;
	}
	const char *v;
	size_t vl;
	char want[LT_WS_ACCEPT_LEN + 1];
	if (!header(head, len, "Upgrade", &v, &vl) || !has_token(v, vl, "websocket"))
		snprintf(why, cap, "101 without Upgrade: websocket");
	else if (!header(head, len, "Connection", &v, &vl) || !has_token(v, vl, "upgrade"))
		snprintf(why, cap, "101 without Connection: Upgrade");
	else if (!header(head, len, "Sec-WebSocket-Accept", &v, &vl))
		snprintf(why, cap, "101 without Sec-WebSocket-Accept");
	else if (lt_ws_accept_for(key, want), vl != LT_WS_ACCEPT_LEN || memcmp(v, want, vl) != 0)
		snprintf(why, cap,
			 "Sec-WebSocket-Accept does not match the key sent (RFC 6455 "
			 "4.1): not a WebSocket server, or a proxy in the way");
	else if (header(head, len, "Sec-WebSocket-Extensions", &v, &vl) && vl)
		snprintf(why, cap, "the venue chose an extension that was not offered");
	else if (header(head, len, "Sec-WebSocket-Protocol", &v, &vl) && vl)
		snprintf(why, cap, "the venue chose a subprotocol that was not offered");
	else
		return 0;
	return LT_EIO;
}

/* ws_rules.c — URL rule, backoff delay, failure and close wording for ws.c; see ws_rules.h. */
#include "ws_rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- URLs -------------------------------------------------------------------------------- */

bool lt_ws_host_is_loopback(const char *host)
{
	unsigned char a[16];
	char tmp[64];
	size_t n = host ? strlen(host) : 0;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		host = tmp;
	}
	if (!host)
		return false;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	return strcmp(host, "::1") == 0 || strcasecmp(host, "localhost") == 0;
}

static bool host_chars_ok(const char *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && !strchr("-._", h[i]))
			return false;
	return n > 0;
}

/* Host and port of the authority a..a+n (no user info). */
static int parse_authority(const char *a, size_t n, lt_ws_url *u, lt_err *err)
{
	const char *colon;
	size_t hl;
	if (memchr(a, '@', n))
		return lt_err_set(err, LT_EINVAL, "url: user info (user@host) is not allowed");
	if (n && a[0] == '[') {
		const char *rb = memchr(a, ']', n);
		if (!rb || rb - a - 1 >= (long)sizeof u->host)
			return lt_err_set(err, LT_EINVAL, "url: bad IPv6 literal");
		hl = (size_t)(rb - a - 1);
		memcpy(u->host, a + 1, hl);
		u->host[hl] = '\0';
		unsigned char tmp[16];
		if (inet_pton(AF_INET6, u->host, tmp) != 1)
			return lt_err_set(err, LT_EINVAL, "url: bad IPv6 literal");
		colon = rb + 1 < a + n ? rb + 1 : NULL;
		if (colon && *colon != ':')
			return lt_err_set(err, LT_EINVAL, "url: junk after the IPv6 literal");
	} else {
		colon = memchr(a, ':', n);
		hl = colon ? (size_t)(colon - a) : n;
		if (!host_chars_ok(a, hl) || hl >= sizeof u->host)
			return lt_err_set(err, LT_EINVAL, "url: missing or bad host");
		memcpy(u->host, a, hl);
		u->host[hl] = '\0';
	}
	if (colon) {
		size_t pl = (size_t)(a + n - colon - 1);
		long port = 0;
		for (size_t i = 0; i < pl && port <= 65535; i++)
			port = isdigit((unsigned char)colon[1 + i])
				       ? port * 10 + (colon[1 + i] - '0')
				       : 99999;
		if (pl == 0 || port < 1 || port > 65535)
			return lt_err_set(err, LT_EINVAL, "url: bad port");
		u->port = (int)port;
	}
	return 0;
}

int lt_ws_url_parse(const char *url, bool insecure_loopback, lt_ws_url *u, lt_err *err)
{
	memset(u, 0, sizeof *u);
	if (!url || strlen(url) > 1023)
		return lt_err_set(err, LT_EINVAL, "url: missing or longer than 1023 bytes");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return lt_err_set(err, LT_EINVAL, "url: spaces or control characters");
	const char *sep = strstr(url, "://");
	if (!sep)
		return lt_err_set(err, LT_EINVAL, "url: cannot parse '%s'", url);
	size_t sl = (size_t)(sep - url);
	if (sl == 3 && strncmp(url, "wss", 3) == 0)
		u->tls = true;
	else if (!(sl == 2 && strncmp(url, "ws", 2) == 0))
		return lt_err_set(err, LT_EINVAL, "url: scheme must be wss://, got '%.*s://'",
				  (int)(sl < 16 ? sl : 16), url);
	u->port = u->tls ? 443 : 80;
	const char *a = sep + 3, *rest = a + strcspn(a, "/?#");
	int rc = parse_authority(a, (size_t)(rest - a), u, err);
	if (rc)
		return rc;
	if (!u->tls && (!insecure_loopback || !lt_ws_host_is_loopback(u->host)))
		return lt_err_set(
			err, LT_EINVAL,
			"url: plain ws:// is refused (use wss://; ws:// only to a loopback "
			"address with insecure_loopback = true)");
	size_t pl = strcspn(rest, "#"); /* a fragment is never sent */
	if (pl + 2 > sizeof u->path)
		return lt_err_set(err, LT_EINVAL, "url: path too long");
	snprintf(u->path, sizeof u->path, "%s%.*s", rest[0] == '/' ? "" : "/", (int)pl, rest);
	return 0;
}

/* ---- backoff ----------------------------------------------------------------------------- */

int lt_ws_backoff_ms(int n, int base_ms, int cap_ms, uint64_t *rng)
{
	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	int64_t hi = cap_ms;
	if (n >= 0 && n < 32 && ((int64_t)base_ms << n) < hi) /* base < 2^31: no overflow */
		hi = (int64_t)base_ms << n;
	uint64_t x = *rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	return (int)(x % (uint64_t)(hi + 1));
}

/* ---- failures in words ------------------------------------------------------------------- */

/* Copy at most max bytes of s (n bytes, trailing NULs dropped) as printable ASCII. */
static void printable(char *out, size_t cap, const char *s, size_t n, size_t max)
{
	while (n && s[n - 1] == '\0')
		n--;
	size_t k = 0;
	for (size_t i = 0; i < n && i < max && k + 1 < cap; i++)
		out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : (char)'?';
	if (n > max && k + 4 < cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	if (cap)
		out[k] = '\0';
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static lt_ws_fail tls_words(long verify, const char *lws, char *out, size_t cap)
{
	const char *what = X509_verify_cert_error_string(verify);
	if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
		snprintf(out, cap, "certificate does not name this host (%s)", what);
	else if (verify == X509_V_ERR_CERT_HAS_EXPIRED)
		snprintf(out, cap, "certificate expired (%s)", what);
	else if (verify > 0)
		snprintf(out, cap,
			 "certificate not trusted (%s; pass ca_file for a self-signed "
			 "venue)",
			 what);
	else
		snprintf(out, cap, "TLS handshake failed (%s)", *lws ? lws : "no detail");
	return LT_WS_FAIL_TLS;
}

static lt_ws_fail handshake_words(unsigned http, const char *lws, char *out, size_t cap)
{
	if (http == 429)
		snprintf(out, cap,
			 "handshake failed: HTTP 429, too many connections from this "
			 "address (%s)",
			 lws);
	else if (http && http != 101)
		snprintf(out, cap, "handshake failed: HTTP %u instead of 101 (%s)", http, lws);
	else if (strcmp(lws, "Peer hung up") == 0)
		snprintf(out, cap,
			 "handshake failed: the venue closed the connection before "
			 "answering the upgrade");
	else
		snprintf(out, cap, "handshake failed (%s)", lws);
	return LT_WS_FAIL_HANDSHAKE;
}

lt_ws_fail lt_ws_describe_fail(const char *lws_text, size_t len, long verify, unsigned http,
			       int64_t elapsed_ms, char *out, size_t cap)
{
	char t[100];
	printable(t, sizeof t, lws_text ? lws_text : "", lws_text ? len : 0, 90);
	bool slow = elapsed_ms >= 3000;
	if (verify > 0 || starts(t, "connect SSL") || starts(t, "connect SYSCALL") ||
	    starts(t, "connect unk") || starts(t, "server's cert") || starts(t, "lws_ssl_client") ||
	    starts(t, "bio_create") || starts(t, "tls "))
		return tls_words(verify, t, out, cap);
	if (starts(t, "HS:") || strcmp(t, "Peer hung up") == 0 || strcmp(t, "read failed") == 0 ||
	    strcmp(t, "problems parsing header") == 0)
		return handshake_words(http, t, out, cap);
	if (strstr(t, "getaddrinfo")) {
		snprintf(out, cap, "host not found (%s)", t);
		return LT_WS_FAIL_DNS;
	}
	if (strcmp(t, "Unable to connect") == 0 && !slow) {
		snprintf(out, cap, "connection refused (%s)", t);
		return LT_WS_FAIL_REFUSED;
	}
	if (strcmp(t, "Unable to connect") == 0 || starts(t, "Timed out") ||
	    (slow && (strcmp(t, "closed before established") == 0 ||
		      strcmp(t, "Closed before conn") == 0))) {
		snprintf(out, cap, "timed out: no answer from the venue after %lld ms (%s)",
			 (long long)elapsed_ms, t);
		return LT_WS_FAIL_TIMEOUT;
	}
	snprintf(out, cap, "connect failed (%s)", *t ? t : "no detail from libwebsockets");
	return LT_WS_FAIL_OTHER;
}

void lt_ws_close_reason(const unsigned char *in, size_t len, char *out, size_t cap)
{
	if (len < 2) {
		snprintf(out, cap, "closed by the venue (no close code)");
		return;
	}
	char text[100];
	printable(text, sizeof text, (const char *)in + 2, len - 2, 80);
	unsigned code = (unsigned)in[0] << 8 | in[1];
	if (*text)
		snprintf(out, cap, "closed by the venue (code %u: %s)", code, text);
	else
		snprintf(out, cap, "closed by the venue (code %u)", code);
}

bool lt_ws_close_code_ok(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

void lt_ws_fail_reason(unsigned code_sent, char *out, size_t cap)
{
	const char *what = code_sent == 1007   ? "sent a text message that is not valid UTF-8"
			   : code_sent == 1009 ? "sent a frame too large to take"
					       : "broke the WebSocket protocol";
	snprintf(out, cap, "the venue %s (closed with %u)", what, code_sent);
}

void lt_ws_upgrade_reason(unsigned http, const char *why, char *out, size_t cap)
{
	handshake_words(http, why, out, cap);
}

/* auth.c — public/auth request building and signing; see auth.h. */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define ADD(b, lit) lt_buf_add((b), (lit), sizeof(lit) - 1)

void lt_auth_sign(const lt_secret *secret, int64_t ts_ms, const char *nonce, const char *data,
		  char out[65])
{
	static const char hex[] = "0123456789abcdef";
	char msg[512];
	int n = snprintf(msg, sizeof msg, "%lld\n%s\n%s", (long long)ts_ms, nonce,
			 data ? data : "");
	size_t klen;
	const char *key = lt_secret_expose(secret, &klen);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
	     (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1), mac, &maclen);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
	OPENSSL_cleanse(mac, sizeof mac);
}

int lt_auth_nonce(char out[9])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[8];
	if (RAND_bytes(r, sizeof r) != 1)
		return LT_EIO;
	for (int i = 0; i < 8; i++)
		out[i] = alphabet[r[i] % 36];
	out[8] = '\0';
	return 0;
}

static void field(lt_buf *b, const char *name, const char *value, size_t len)
{
	ADD(b, ",\"");
	lt_buf_add(b, name, strlen(name));
	ADD(b, "\":");
	lt_jw_string(b, value, len);
}

int lt_auth_request(lt_buf *b, int64_t id, lt_grant grant, const char *client_id,
		    const lt_secret *secret, const char *scope, int64_t ts_ms)
{
	static const char *const grants[] = {"client_signature", "client_credentials",
					     "refresh_token"};
	size_t slen;
	const char *s = lt_secret_expose(secret, &slen);
	ADD(b, "{\"jsonrpc\":\"2.0\",\"id\":");
	lt_jw_int(b, id);
	ADD(b, ",\"method\":\"public/auth\",\"params\":{\"grant_type\":");
	lt_jw_string(b, grants[grant], strlen(grants[grant]));
	if (grant == LT_GRANT_REFRESH) {
		field(b, "refresh_token", s, slen);
	} else {
		field(b, "client_id", client_id, strlen(client_id));
		if (grant == LT_GRANT_CREDENTIALS) {
			field(b, "client_secret", s, slen);
		} else {
			char nonce[9], sig[65];
			if (lt_auth_nonce(nonce))
				return LT_EIO;
			lt_auth_sign(secret, ts_ms, nonce, "", sig);
			ADD(b, ",\"timestamp\":");
			lt_jw_int(b, ts_ms);
			field(b, "nonce", nonce, 8);
			field(b, "data", "", 0);
			field(b, "signature", sig, 64);
		}
	}
	if (scope && *scope)
		field(b, "scope", scope, strlen(scope));
	ADD(b, "}}");
	return 0;
}

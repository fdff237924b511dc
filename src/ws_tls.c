/* ws_tls.c — TLS for ws.c's raw transport, OpenSSL over memory BIOs; see ws_tls.h. */
#include "ws_tls.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdbool.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lt_ws_tls {
	SSL *ssl;
	BIO *rbio, *wbio; /* peer -> us (ciphertext fed), us -> peer (ciphertext to take) */
};

SSL_CTX *lt_ws_tls_ctx_new(const char *ca_file, lt_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		lt_err_set(err, LT_ENOMEM, "TLS: cannot create a client context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	static const unsigned char alpn[] = "\x08http/1.1";
	int ok = SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1) == 0;
	ok = ok && (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(ctx)) == 1;
	ERR_clear_error();
	if (!ok) {
		SSL_CTX_free(ctx);
		lt_err_set(err, LT_ETLS, "TLS: cannot load the CA certificates from %s",
			   ca_file ? ca_file : "the system store");
		return NULL;
	}
	return ctx;
}

lt_ws_tls *lt_ws_tls_new(SSL_CTX *ctx, const char *host)
{
	lt_ws_tls *t = calloc(1, sizeof *t);
	if (!t || !(t->ssl = SSL_new(ctx)))
		goto fail;
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->rbio || !t->wbio)
		goto fail;
	BIO_set_mem_eof_return(t->rbio, -1); /* empty = "try again", not EOF */
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	t->rbio = t->wbio = NULL; /* owned by ssl now */
	unsigned char ip[16];
	bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	if (literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) != 1
		    : SSL_set1_host(t->ssl, host) != 1 ||
			      SSL_set_tlsext_host_name(t->ssl, host) != 1)
		goto fail;
	SSL_set_connect_state(t->ssl);
	return t;
fail:
	ERR_clear_error();
	if (t) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		SSL_free(t->ssl);
		free(t);
	}
	return NULL;
}

void lt_ws_tls_free(lt_ws_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t);
}

int lt_ws_tls_feed(lt_ws_tls *t, const void *in, size_t len)
{
	BIO *r = SSL_get_rbio(t->ssl);
	while (len) {
		int n = BIO_write(r, in, len > INT_MAX ? INT_MAX : (int)len);
		if (n <= 0)
			return LT_ENOMEM;
		in = (const char *)in + n;
		len -= (size_t)n;
	}
	return 0;
}

/* OpenSSL's error queue in words (printable), then cleared. */
static void openssl_words(int ssl_err, char *why, size_t cap)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, why, cap);
	else if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN)
		snprintf(why, cap, "the venue closed the connection during the TLS handshake");
	else
		snprintf(why, cap, "SSL error %d", ssl_err);
	ERR_clear_error();
}

int lt_ws_tls_handshake(lt_ws_tls *t, long *verify, char *why, size_t cap)
{
	*verify = X509_V_OK;
	int rc = SSL_do_handshake(t->ssl);
	if (rc == 1)
		return 1;
	int e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	*verify = SSL_get_verify_result(t->ssl);
	openssl_words(e, why, cap);
	return LT_ETLS;
}

int lt_ws_tls_read(lt_ws_tls *t, void *buf, size_t cap)
{
	int n = SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	if (n > 0)
		return n;
	int e = SSL_get_error(t->ssl, n);
	ERR_clear_error();
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : LT_EIO;
}

int lt_ws_tls_write(lt_ws_tls *t, const void *buf, size_t len)
{
	while (len) {
		int n = SSL_write(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
		if (n <= 0) { /* memory BIOs never push back: this is a failure */
			ERR_clear_error();
			return LT_EIO;
		}
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

size_t lt_ws_tls_pending(const lt_ws_tls *t) { return BIO_ctrl_pending(SSL_get_wbio(t->ssl)); }

size_t lt_ws_tls_take(lt_ws_tls *t, void *out, size_t cap)
{
	int n = BIO_read(SSL_get_wbio(t->ssl), out, cap > INT_MAX ? INT_MAX : (int)cap);
	return n > 0 ? (size_t)n : 0;
}

/* cert.c — generate the built-in venue's CA and server certificate with OpenSSL (the same
 * shape as scripts/gen-cert: RSA 2048, SHA-256, ten years, SAN IP:127.0.0.1 and DNS:localhost).
 * Used by paths.c when no certificate exists yet; peer verification is never turned off. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"

#define CERT_DAYS 3650L

static int cert_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A random positive 63-bit serial number. */
static int cert_set_serial(X509 *x)
{
	unsigned char b[8];
	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	b[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
	int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

/* A certificate for key named cn, signed by issuer_key (self-signed when issuer is NULL): a CA
 * when issuer is NULL, else a TLS server certificate for loopback. Returns NULL on failure. */
static X509 *cert_make(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
	X509V3_CTX ctx;
	bool ca = issuer == NULL;
	if (!x || !X509_set_version(x, 2) || cert_set_serial(x) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), CERT_DAYS * 86400) ||
	    !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, ca ? name : X509_get_subject_name(issuer)))
		goto error;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, ca ? x : issuer, x, NULL, NULL, 0);
	if (cert_add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    cert_add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE"))
		goto error;
	if (ca ? cert_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")
	       : cert_add_ext(x, &ctx, NID_authority_key_identifier, "keyid") ||
			    cert_add_ext(x, &ctx, NID_subject_alt_name,
					 "IP:127.0.0.1,DNS:localhost") ||
			    cert_add_ext(x, &ctx, NID_ext_key_usage, "serverAuth"))
		goto error;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		goto error;
	return x;
error:
	X509_free(x);
	return NULL;
}

/* Write dir/name exclusively with the given mode: the certificate x, or the private key. */
static int cert_write(const char *dir, const char *name, int mode, X509 *x, EVP_PKEY *key,
		      lt_err *err)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return lt_err_set(err, LT_EIO, "cert: path too long: %s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return lt_err_set(err, LT_EIO, "cert: cannot create %s", path);
	}
	int ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : lt_err_set(err, LT_EIO, "cert: cannot write %s", path);
}

int lt_cert_generate(const char *dir, lt_err *err)
{
	EVP_PKEY *ca_key = EVP_RSA_gen(2048), *key = EVP_RSA_gen(2048);
	X509 *ca = ca_key ? cert_make(ca_key, "luatrade sim CA", NULL, ca_key) : NULL;
	X509 *srv = ca && key ? cert_make(key, "localhost", ca, ca_key) : NULL;
	int rc;
	if (!srv)
		rc = lt_err_set(err, LT_ETLS, "cert: cannot generate the venue's certificate");
	else if ((rc = cert_write(dir, "server.key", 0600, NULL, key, err)) == 0 &&
		 (rc = cert_write(dir, "server.pem", 0644, srv, NULL, err)) == 0)
		rc = cert_write(dir, "ca.pem", 0644, ca, NULL, err);
	X509_free(srv);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return rc;
}

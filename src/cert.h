/* cert.h — make the built-in venue's TLS material in C (OpenSSL's EVP/X509 API): what
 * scripts/gen-cert makes at build time, for an installed luatrade that has no build tree. */
#ifndef LT_CERT_H
#define LT_CERT_H

#include "lt.h"

/* lt_cert_generate: write into the existing directory dir a private CA (ca.pem, its key is
 * discarded) and a server certificate for 127.0.0.1 / localhost signed by it (server.pem, and
 * server.key with mode 600). Files already there are an error (they are created exclusively).
 * Returns 0, or LT_ETLS / LT_EIO with err naming the step that failed. */
int lt_cert_generate(const char *dir, lt_err *err);

#endif

/* errors.h — venue error codes to names, kinds and retry advice (deribit-api.md §8), and the
 * runtime's own transport/timeout/validation kinds. */
#ifndef LT_ERRORS_H
#define LT_ERRORS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lt_errinfo {
	int64_t code;
	const char *name; /* "too_many_requests" */
	const char *kind; /* venue, transport, timeout, rate_limit, auth, validation */
	bool retryable;
} lt_errinfo;

/* Look a venue code up; unknown codes get name "unknown_error", kind "venue", not retryable. */
lt_errinfo lt_error_info(int64_t code);

/* The runtime's own errors (negative codes outside the JSON-RPC range). */
enum {
	LT_CODE_TIMEOUT = -1001,         /* no answer within the call's timeout */
	LT_CODE_CONNECTION_LOST = -1002, /* connection dropped while waiting; outcome unknown */
	LT_CODE_NOT_CONNECTED = -1003,   /* client closed */
	LT_CODE_RATE_LIMIT = -1004,      /* local limiter refused (policy "error" or timeout) */
	LT_CODE_NOT_SENT = -1005,        /* never sent: not connected, certificate, refused */
	LT_CODE_SUB_REJECTED = -1006,    /* the venue accepted none of the channels */
	LT_CODE_TOO_LARGE = -1007,       /* request over the venue's 32 kB: refused locally */
	LT_CODE_OVERFLOW = -1008         /* a subscription's queue overflowed: it was failed */
};

#endif

/* req_rec.h — recording done callbacks for client.c / private.c tests: how each request ended,
 * how often, and whether it ended while lt_cl_submit was still running; plus a submit helper
 * that writes a labelled request text (id 0) so the fake wire can be searched by label.
 *
 * Example:
 *     lt_test_rec r = {0};
 *     lt_test_submit(cl, &r, "private/buy", "o1", LT_POOL_ME, LT_REQ_GATED, 5000, &q, &err);
 *     ... assert_int_equal(r.calls, 1); assert_int_equal(r.how, LT_DONE_RESULT);
 *     lt_fake_count(&tp, lt_test_label("o1"));   // how often o1 was written
 * Include <cmocka.h> (and its usual headers) before this header.
 */
#ifndef LT_TEST_REQ_REC_H
#define LT_TEST_REQ_REC_H

#include "client.h"

typedef struct lt_test_rec {
	int calls;
	int in_submit; /* calls made while lt_test_submit was inside lt_cl_submit */
	int seq;       /* order in which requests ended (lt_test_seq) */
	lt_done how;
	bool sent;
	int64_t code;
	double retry_after;
	char msg[300];
	lt_req_state state; /* lt_req_get_state at done */
	int64_t id;         /* lt_req_id at done */
	int64_t err_code;   /* ERROR: error.code read from the table */
	char tag[64];       /* RESULT: result.tag, if a string */
	int anomalies;      /* a value on L when there must be none, or the reverse */
} lt_test_rec;

extern int lt_test_in_submit, lt_test_seq;

/* lt_req_done_fn: ud is an lt_test_rec. Pops the answer; never asserts (it runs inside the
 * library), anomalies are counted instead. */
void lt_test_on_done(void *ud, lt_req *req, const lt_req_end *e);

/* Submit {"jsonrpc":"2.0","id":0,"method":method,"params":{"label":label}} on pool (cost 1 on
 * the matching-engine pool, 500 elsewhere; schema ANY) with lt_test_on_done. Asserts that the
 * text was taken. Returns lt_cl_submit's result. */
int lt_test_submit(lt_cl *cl, lt_test_rec *r, const char *method, const char *label, lt_pool pool,
		   unsigned flags, int64_t timeout_ms, lt_req **out, lt_err *err);

/* The text that marks label on the wire: "label":"<label>"} (so r1 does not match r10). */
const char *lt_test_label(const char *label);

#endif

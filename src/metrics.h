/* metrics.h — the runtime's metrics registry and its Prometheus text exposition (format
 * 0.0.4): counters, gauges and histograms in families declared up front, with a fixed cap on
 * series, served by metrics_http.c at /metrics (`luatrade run --metrics-port N`).
 *
 * Bounds: at most max_series series (label sets) in all; an update that would need one more is
 * dropped and counted in luatrade_metrics_series_dropped_total. Label values are kept to
 * LT_METRICS_VALUE_MAX - 1 bytes of printable ASCII (other bytes become '_'); the core's
 * labels come from known sets (client "public" | "private", method names of the codec table
 * else "other", error names of errors.c, pool names), only Lua may give others
 * (core._metric_inc), and the series cap holds them. Rendering escapes \, " and newline.
 *
 * Single-threaded, like the loop. The hooks (lt_mx_*) take a scope (a registry plus the client
 * label) and do nothing when it is NULL, so a test's client without metrics costs nothing.
 *
 * Example:
 *     lt_metrics *m = lt_metrics_new_runtime();               // the families listed below
 *     const lt_mx *pub = lt_metrics_scope(m, "public");
 *     lt_mx_inc(pub, LT_M_RECONNECTS, NULL, 1);               // reconnects{client="public"}
 *     lt_mx_request(pub, "public/ticker", 0, 0.004, -1, -1);  // one request answered in 4 ms
 *     lt_buf b; lt_buf_init(&b, 0); lt_metrics_render(m, &b); // the text of /metrics
 *     lt_metrics_free(m);
 * Errors: lt_metrics_new returns NULL when out of memory (the runtime then runs without
 * metrics); updates never fail (dropped past the cap); lt_metrics_render returns LT_ENOMEM
 * when the buffer cannot grow. No rate limit applies.
 */
#ifndef LT_METRICS_H
#define LT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#define LT_METRICS_MAX_LABELS 4
#define LT_METRICS_MAX_BUCKETS 16
#define LT_METRICS_VALUE_MAX 48    /* bytes of a label value, with its NUL */
#define LT_METRICS_MAX_SERIES 1024 /* the runtime's registry */

typedef enum { LT_MX_COUNTER = 0, LT_MX_GAUGE, LT_MX_HISTOGRAM } lt_mx_type;

/* A family: name (with its _total suffix for counters), help text, label names (NULL after
 * the last), histogram bucket bounds (increasing, +Inf implied), whether core._metric_inc
 * may increment it, and for a family labelled {client, x}, the values of x whose series
 * lt_metrics_scope makes at 0 (NULL after the last). */
typedef struct lt_mx_family {
	const char *name, *help;
	lt_mx_type type;
	const char *labels[LT_METRICS_MAX_LABELS + 1];
	const double *buckets;
	size_t nbuckets;
	bool lua;
	const char *const *preset;
} lt_mx_family;

/* The runtime's families (lt_metrics_new_runtime), by index. README "Metrics" lists them. */
enum {
	LT_M_CONNECTION_STATE = 0, /* gauge {client, state}: clients in each connection state */
	LT_M_AUTHENTICATED,        /* gauge {client}: private clients authenticated */
	LT_M_RECONNECTS,           /* counter {client}: reconnects scheduled after a drop */
	LT_M_REQUESTS,             /* counter {client, method}: requests ended, any outcome */
	LT_M_REQUEST_ERRORS,       /* counter {client, method, kind, error} */
	LT_M_ROUND_TRIP,           /* histogram {client}: written -> answered, seconds */
	LT_M_LIMITER_WAITS,        /* counter {client, pool}: requests the limiter held back */
	LT_M_LIMITER_WAIT_SECONDS, /* counter {client}: time they were held */
	LT_M_VENUE_RATE_LIMITED,   /* counter {client}: 10028 too_many_requests answers */
	LT_M_SEND_QUEUE_BYTES,     /* gauge {client}: text queued and not yet written */
	LT_M_REQUESTS_PENDING,     /* gauge {client, state}: waiting (not sent) / sent */
	LT_M_SUB_QUEUE,            /* gauge {client}: notifications queued for handlers */
	LT_M_SUB_DROPPED,          /* counter {client, reason}: notifications dropped */
	LT_M_MSG_DROPPED,          /* counter {client, reason}: venue messages dropped */
	LT_M_ORDERS_PLACED,        /* counter {method}: successful buy/sell/edit (Lua) */
	LT_M_ORDERS_FILLED,        /* counter {direction}: orders seen filled (Lua) */
	LT_M_SERIES_DROPPED,       /* counter: updates dropped past the series cap */
	LT_M_COUNT
};

typedef struct lt_metrics lt_metrics;

/* The hooks' handle: a registry and the value of the client label (lt_metrics_scope). */
typedef struct lt_mx {
	lt_metrics *m;
	const char *client;
} lt_mx;

/* A registry of these families (copied by reference: fams must outlive it), at most
 * max_series series. The family named "luatrade_metrics_series_dropped_total", if any, counts
 * the dropped updates. NULL when out of memory or max_series is 0. */
lt_metrics *lt_metrics_new(const lt_mx_family *fams, size_t nfams, size_t max_series);
/* The runtime's registry: the families of the enum above, LT_METRICS_MAX_SERIES series. */
lt_metrics *lt_metrics_new_runtime(void);
/* Accepts NULL. Scopes handed out are invalid afterwards. */
void lt_metrics_free(lt_metrics *m);

/* The scope for client label value "public" or "private" (NULL for another value or m NULL).
 * The first call makes the client's counter and histogram series labelled by client alone,
 * and those of the families' preset values, at 0, so that they are exposed before anything
 * happened. lt_metrics_scoped: was that scope handed out? */
const lt_mx *lt_metrics_scope(lt_metrics *m, const char *client);
bool lt_metrics_scoped(const lt_metrics *m, const char *client);

/* Family index by name; -1 if unknown. */
int lt_metrics_family(const lt_metrics *m, const char *name);
const lt_mx_family *lt_metrics_family_info(const lt_metrics *m, int fam);

/* Update the series of family fam with these label values (one per label name, in order; a
 * NULL value is ""). Counters: v >= 0 is added (others ignored); gauges: add or set;
 * histograms: observe. Returns 0, LT_EINVAL (wrong type, bad family), LT_EFULL (past the
 * series cap: counted as dropped). */
int lt_metrics_add(lt_metrics *m, int fam, const char *const *values, double v);
int lt_metrics_set(lt_metrics *m, int fam, const char *const *values, double v);
int lt_metrics_observe(lt_metrics *m, int fam, const char *const *values, double v);
/* Every gauge series back to 0 (before a scrape collects them again). */
void lt_metrics_zero_gauges(lt_metrics *m);
/* The value of a counter or gauge series (0 when it does not exist); tests and core._metrics. */
double lt_metrics_value(const lt_metrics *m, int fam, const char *const *values);
size_t lt_metrics_series_count(const lt_metrics *m);

/* Append the exposition (text/plain; version=0.0.4) to out: families in declaration order,
 * each with # HELP and # TYPE, series in creation order. 0 or LT_ENOMEM. */
int lt_metrics_render(const lt_metrics *m, lt_buf *out);

/* ---- the core's hooks (each a no-op when x is NULL) ------------------------------------- */

/* Counter or gauge fam labelled {client} or {client, l1}: add v. */
void lt_mx_inc(const lt_mx *x, int fam, const char *l1, double v);
/* A request ended: requests{method} + 1 (method outside the codec table: "other"); code != 0
 * (a venue code or LT_CODE_*): request_errors{method, kind, error} + 1, 10028 also
 * venue_rate_limited; rtt_s >= 0 (it was written and answered): round_trip observes it;
 * pool >= 0 (the limiter held it): limiter_waits{pool} + 1 and waited_s seconds. */
void lt_mx_request(const lt_mx *x, const char *method, int64_t code, double rtt_s, int pool,
		   double waited_s);

#endif

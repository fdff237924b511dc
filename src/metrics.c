/* metrics.c — the metrics registry (a fixed cap on series, found through a hash of family and
 * label values), the runtime's families, the core's hooks and the Prometheus text exposition
 * (format 0.0.4); see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "lt.h"

typedef struct series {
	int fam;
	int next; /* the family's next series (creation order), -1 = last */
	char v[LT_METRICS_MAX_LABELS][LT_METRICS_VALUE_MAX];
	double value, sum;        /* counter/gauge value; histogram sum */
	unsigned long long count; /* histogram observations */
	unsigned long long *b;    /* histogram: per-bucket counts (not cumulative) */
} series;

struct lt_metrics {
	const lt_mx_family *fams;
	size_t nfams;
	int *first, *last; /* per family: its series list */
	int *nlabels;
	series *s;
	size_t ns, max;
	int *slots;      /* open addressing: series index + 1, 0 = empty */
	size_t nslots;   /* a power of two >= 2 * max */
	int dropped_fam; /* the series-dropped counter, or -1 */
	lt_mx scopes[2]; /* "public", "private" */
	bool scoped[2];
};

/* ---- the runtime's families --------------------------------------------------------------- */

static const char *const pools[] = {"non_matching_engine", "matching_engine", "subscribe",
				    "get_instruments", NULL};
static const char *const sub_reasons[] = {"newest", "resync", "failed", NULL};
static const char *const msg_reasons[] = {"oversize", "binary", NULL};

static const double rtt_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				     0.25,  0.5,    1,     2.5,  5,     10};

static const lt_mx_family runtime_fams[LT_M_COUNT] = {
	[LT_M_CONNECTION_STATE] = {"luatrade_connection_state",
				   "Clients in each connection "
				   "state (connecting, open, reconnecting, closed).",
				   LT_MX_GAUGE,
				   {"client", "state"},
				   NULL,
				   0,
				   false,
				   NULL},
	[LT_M_AUTHENTICATED] = {"luatrade_authenticated",
				"Private clients whose session is "
				"authenticated.",
				LT_MX_GAUGE,
				{"client"},
				NULL,
				0,
				false,
				NULL},
	[LT_M_RECONNECTS] = {"luatrade_reconnects_total",
			     "Reconnects scheduled after the "
			     "connection dropped or an attempt failed.",
			     LT_MX_COUNTER,
			     {"client"},
			     NULL,
			     0,
			     false,
			     NULL},
	[LT_M_REQUESTS] = {"luatrade_requests_total",
			   "Requests ended (answered, failed, timed "
			   "out or refused), by JSON-RPC method.",
			   LT_MX_COUNTER,
			   {"client", "method"},
			   NULL,
			   0,
			   false,
			   NULL},
	[LT_M_REQUEST_ERRORS] = {"luatrade_request_errors_total",
				 "Requests that did not get a "
				 "result, by method, error kind and error name.",
				 LT_MX_COUNTER,
				 {"client", "method", "kind", "error"},
				 NULL,
				 0,
				 false,
				 NULL},
	[LT_M_ROUND_TRIP] = {"luatrade_request_duration_seconds",
			     "Round trip of answered "
			     "requests: written to the connection until the answer arrived.",
			     LT_MX_HISTOGRAM,
			     {"client"},
			     rtt_buckets,
			     sizeof rtt_buckets / sizeof rtt_buckets[0],
			     false,
			     NULL},
	[LT_M_LIMITER_WAITS] = {"luatrade_limiter_waits_total",
				"Requests the local rate limiter "
				"held back, by credit pool.",
				LT_MX_COUNTER,
				{"client", "pool"},
				NULL,
				0,
				false,
				pools},
	[LT_M_LIMITER_WAIT_SECONDS] = {"luatrade_limiter_wait_seconds_total",
				       "Seconds requests "
				       "waited for the local rate limiter.",
				       LT_MX_COUNTER,
				       {"client"},
				       NULL,
				       0,
				       false,
				       NULL},
	[LT_M_VENUE_RATE_LIMITED] = {"luatrade_venue_rate_limited_total",
				     "Answers 10028 "
				     "too_many_requests from the venue.",
				     LT_MX_COUNTER,
				     {"client"},
				     NULL,
				     0,
				     false,
				     NULL},
	[LT_M_SEND_QUEUE_BYTES] = {"luatrade_send_queue_bytes",
				   "Bytes queued for the connection "
				   "and not yet written.",
				   LT_MX_GAUGE,
				   {"client"},
				   NULL,
				   0,
				   false,
				   NULL},
	[LT_M_REQUESTS_PENDING] = {"luatrade_requests_pending",
				   "Requests not ended: waiting "
				   "(for the connection, authentication or the limiter) or sent.",
				   LT_MX_GAUGE,
				   {"client", "state"},
				   NULL,
				   0,
				   false,
				   NULL},
	[LT_M_SUB_QUEUE] = {"luatrade_subscription_queue_messages",
			    "Notifications queued for "
			    "subscription handlers.",
			    LT_MX_GAUGE,
			    {"client"},
			    NULL,
			    0,
			    false,
			    NULL},
	[LT_M_SUB_DROPPED] = {"luatrade_subscription_dropped_total",
			      "Notifications dropped by a "
			      "subscription's overflow policy (newest: older ones replaced; "
			      "resync: an incremental "
			      "book's backlog; failed: the subscription was failed).",
			      LT_MX_COUNTER,
			      {"client", "reason"},
			      NULL,
			      0,
			      false,
			      sub_reasons},
	[LT_M_MSG_DROPPED] = {"luatrade_messages_dropped_total",
			      "Messages from the venue dropped "
			      "unread (oversize: over max_message; binary).",
			      LT_MX_COUNTER,
			      {"client", "reason"},
			      NULL,
			      0,
			      false,
			      msg_reasons},
	[LT_M_ORDERS_PLACED] = {"luatrade_orders_placed_total",
				"Successful buy, sell and edit "
				"calls of the strategy.",
				LT_MX_COUNTER,
				{"method"},
				NULL,
				0,
				true,
				NULL},
	[LT_M_ORDERS_FILLED] = {"luatrade_orders_filled_total",
				"Orders of this run seen filled "
				"(call results and user.orders updates).",
				LT_MX_COUNTER,
				{"direction"},
				NULL,
				0,
				true,
				NULL},
	[LT_M_SERIES_DROPPED] = {"luatrade_metrics_series_dropped_total",
				 "Metric updates "
				 "dropped because the registry's series cap was reached.",
				 LT_MX_COUNTER,
				 {NULL},
				 NULL,
				 0,
				 false,
				 NULL},
};

/* ---- the registry ------------------------------------------------------------------------ */

static series *lookup(lt_metrics *m, int fam, const char *const *values, bool create);

lt_metrics *lt_metrics_new(const lt_mx_family *fams, size_t nfams, size_t max_series)
{
	if (!max_series || max_series > (size_t)1 << 24 || nfams > 4096)
		return NULL;
	lt_metrics *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->fams = fams;
	m->nfams = nfams;
	m->max = max_series;
	m->nslots = 16;
	while (m->nslots < 2 * max_series)
		m->nslots *= 2;
	m->first = malloc((nfams + 1) * sizeof *m->first);
	m->last = malloc((nfams + 1) * sizeof *m->last);
	m->nlabels = calloc(nfams + 1, sizeof *m->nlabels);
	m->s = calloc(max_series, sizeof *m->s);
	m->slots = calloc(m->nslots, sizeof *m->slots);
	if (!m->first || !m->last || !m->nlabels || !m->s || !m->slots) {
		lt_metrics_free(m);
		return NULL;
	}
	m->dropped_fam = -1;
	for (size_t f = 0; f < nfams; f++) {
		m->first[f] = m->last[f] = -1;
		while (m->nlabels[f] < LT_METRICS_MAX_LABELS && fams[f].labels[m->nlabels[f]])
			m->nlabels[f]++;
		if (strcmp(fams[f].name, "luatrade_metrics_series_dropped_total") == 0)
			m->dropped_fam = (int)f;
	}
	if (m->dropped_fam >= 0) /* made first: it exists whatever fills the cap */
		lookup(m, m->dropped_fam, NULL, true);
	m->scopes[0] = (lt_mx){m, "public"};
	m->scopes[1] = (lt_mx){m, "private"};
	return m;
}

lt_metrics *lt_metrics_new_runtime(void)
{
	return lt_metrics_new(runtime_fams, LT_M_COUNT, LT_METRICS_MAX_SERIES);
}

void lt_metrics_free(lt_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ns; i++)
		free(m->s[i].b);
	free(m->first);
	free(m->last);
	free(m->nlabels);
	free(m->s);
	free(m->slots);
	free(m);
}

int lt_metrics_family(const lt_metrics *m, const char *name)
{
	for (size_t f = 0; m && name && f < m->nfams; f++)
		if (strcmp(m->fams[f].name, name) == 0)
			return (int)f;
	return -1;
}

const lt_mx_family *lt_metrics_family_info(const lt_metrics *m, int fam)
{
	return m && fam >= 0 && (size_t)fam < m->nfams ? &m->fams[fam] : NULL;
}

size_t lt_metrics_series_count(const lt_metrics *m) { return m ? m->ns : 0; }

/* A label value as stored: at most LT_METRICS_VALUE_MAX - 1 bytes, printable ASCII. */
static void clean_value(char out[LT_METRICS_VALUE_MAX], const char *v)
{
	size_t i = 0;
	for (; v && v[i] && i < LT_METRICS_VALUE_MAX - 1; i++) {
		unsigned char c = (unsigned char)v[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : (c == '\n' ? '\n' : '_');
	}
	out[i] = '\0';
}

static uint64_t hash_of(int fam, char v[][LT_METRICS_VALUE_MAX], int n)
{
	uint64_t h = UINT64_C(1469598103934665603) ^ (uint64_t)fam;
	for (int i = 0; i < n; i++) {
		for (const char *p = v[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
		h = (h ^ 0xff) *
		    UINT64_C(1099511628211); /* separator: {"ab",""} differs from {"a","b"} */
	}
	return h;
}

static bool same(const series *s, int fam, char v[][LT_METRICS_VALUE_MAX], int n)
{
	if (s->fam != fam)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(s->v[i], v[i]) != 0)
			return false;
	return true;
}

/* Count an update dropped past the cap (lt_metrics_new made that counter's series). */
static void count_dropped(lt_metrics *m);

/* The series of fam with these values: found, or made while under the cap; NULL else. */
static series *lookup(lt_metrics *m, int fam, const char *const *values, bool create)
{
	int n = m->nlabels[fam];
	char v[LT_METRICS_MAX_LABELS][LT_METRICS_VALUE_MAX];
	for (int i = 0; i < n; i++)
		clean_value(v[i], values ? values[i] : NULL);
	size_t mask = m->nslots - 1, at = (size_t)hash_of(fam, v, n) & mask;
	for (; m->slots[at]; at = (at + 1) & mask) {
		series *s = &m->s[m->slots[at] - 1];
		if (same(s, fam, v, n))
			return s;
	}
	if (!create)
		return NULL;
	const lt_mx_family *f = &m->fams[fam];
	unsigned long long *b = NULL;
	if (m->ns >= m->max ||
	    (f->type == LT_MX_HISTOGRAM && !(b = calloc(f->nbuckets + 1, sizeof *b)))) {
		if (fam != m->dropped_fam)
			count_dropped(m);
		return NULL;
	}
	size_t idx = m->ns++;
	series *s = &m->s[idx];
	memset(s, 0, sizeof *s);
	s->fam = fam;
	s->next = -1;
	s->b = b;
	memcpy(s->v, v, sizeof v[0] * (size_t)n);
	m->slots[at] = (int)idx + 1;
	if (m->last[fam] >= 0)
		m->s[m->last[fam]].next = (int)idx;
	else
		m->first[fam] = (int)idx;
	m->last[fam] = (int)idx;
	return s;
}

static void count_dropped(lt_metrics *m)
{
	series *s = m->dropped_fam >= 0 ? lookup(m, m->dropped_fam, NULL, false) : NULL;
	if (s)
		s->value += 1;
}

static bool fam_ok(const lt_metrics *m, int fam, lt_mx_type t)
{
	return m && fam >= 0 && (size_t)fam < m->nfams && m->fams[fam].type == t;
}

int lt_metrics_add(lt_metrics *m, int fam, const char *const *values, double v)
{
	if (!m || fam < 0 || (size_t)fam >= m->nfams || m->fams[fam].type == LT_MX_HISTOGRAM)
		return LT_EINVAL;
	if (m->fams[fam].type == LT_MX_COUNTER && !(v >= 0))
		return LT_EINVAL;
	series *s = lookup(m, fam, values, true);
	if (!s)
		return LT_EFULL;
	s->value += v;
	return 0;
}

int lt_metrics_set(lt_metrics *m, int fam, const char *const *values, double v)
{
	if (!fam_ok(m, fam, LT_MX_GAUGE))
		return LT_EINVAL;
	series *s = lookup(m, fam, values, true);
	if (!s)
		return LT_EFULL;
	s->value = v;
	return 0;
}

int lt_metrics_observe(lt_metrics *m, int fam, const char *const *values, double v)
{
	if (!fam_ok(m, fam, LT_MX_HISTOGRAM) || isnan(v))
		return LT_EINVAL;
	series *s = lookup(m, fam, values, true);
	if (!s)
		return LT_EFULL;
	const lt_mx_family *f = &m->fams[fam];
	size_t i = 0;
	while (i < f->nbuckets && v > f->buckets[i])
		i++;
	s->b[i]++; /* i == nbuckets: only +Inf holds it */
	s->count++;
	s->sum += v;
	return 0;
}

void lt_metrics_zero_gauges(lt_metrics *m)
{
	for (size_t i = 0; m && i < m->ns; i++)
		if (m->fams[m->s[i].fam].type == LT_MX_GAUGE)
			m->s[i].value = 0;
}

double lt_metrics_value(const lt_metrics *m, int fam, const char *const *values)
{
	if (!m || fam < 0 || (size_t)fam >= m->nfams)
		return 0;
	series *s = lookup((lt_metrics *)m, fam, values, false);
	if (!s)
		return 0;
	return m->fams[fam].type == LT_MX_HISTOGRAM ? (double)s->count : s->value;
}

const lt_mx *lt_metrics_scope(lt_metrics *m, const char *client)
{
	if (!m || !client)
		return NULL;
	int k = strcmp(client, "public") == 0 ? 0 : strcmp(client, "private") == 0 ? 1 : -1;
	if (k < 0)
		return NULL;
	if (!m->scoped[k]) {
		m->scoped[k] = true;
		for (size_t f = 0; f < m->nfams; f++) {
			const lt_mx_family *fam = &m->fams[f];
			if (!m->nlabels[f] || strcmp(fam->labels[0], "client") != 0)
				continue;
			const char *v[2] = {client, NULL};
			if (m->nlabels[f] == 1 && fam->type != LT_MX_GAUGE)
				lookup(m, (int)f, v, true);
			for (size_t i = 0; m->nlabels[f] == 2 && fam->preset && fam->preset[i];
			     i++) {
				v[1] = fam->preset[i];
				lookup(m, (int)f, v, true);
			}
		}
	}
	return &m->scopes[k];
}

bool lt_metrics_scoped(const lt_metrics *m, const char *client)
{
	return m && client && m->scoped[strcmp(client, "private") == 0] &&
	       (strcmp(client, "public") == 0 || strcmp(client, "private") == 0);
}

/* ---- hooks ------------------------------------------------------------------------------- */

void lt_mx_inc(const lt_mx *x, int fam, const char *l1, double v)
{
	if (!x)
		return;
	const char *vals[2] = {x->client, l1};
	lt_metrics_add(x->m, fam, vals, v);
}

static const char *pool_name(int pool) { return pool >= 0 && pool < 4 ? pools[pool] : "other"; }

void lt_mx_request(const lt_mx *x, const char *method, int64_t code, double rtt_s, int pool,
		   double waited_s)
{
	if (!x || (size_t)LT_M_COUNT > x->m->nfams)
		return;
	const char *meth = method && lt_method_find(method) ? method : "other";
	const char *v[4] = {x->client, meth, NULL, NULL};
	lt_metrics_add(x->m, LT_M_REQUESTS, v, 1);
	if (code) {
		lt_errinfo e = lt_error_info(code);
		v[2] = e.kind;
		v[3] = e.name;
		lt_metrics_add(x->m, LT_M_REQUEST_ERRORS, v, 1);
		if (code == 10028)
			lt_mx_inc(x, LT_M_VENUE_RATE_LIMITED, NULL, 1);
	}
	if (rtt_s >= 0)
		lt_metrics_observe(x->m, LT_M_ROUND_TRIP, v, rtt_s);
	if (pool >= 0) {
		lt_mx_inc(x, LT_M_LIMITER_WAITS, pool_name(pool), 1);
		lt_mx_inc(x, LT_M_LIMITER_WAIT_SECONDS, NULL, waited_s > 0 ? waited_s : 0);
	}
}

/* ---- exposition -------------------------------------------------------------------------- */

static void add_str(lt_buf *b, const char *s) { lt_buf_add(b, s, strlen(s)); }

/* A label value or help text, escaped: \ and newline always, " in label values. */
static void add_escaped(lt_buf *b, const char *s, bool quote)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\')
			lt_buf_add(b, "\\\\", 2);
		else if (*p == '\n')
			lt_buf_add(b, "\\n", 2);
		else if (*p == '"' && quote)
			lt_buf_add(b, "\\\"", 2);
		else
			lt_buf_add(b, p, 1);
	}
}

static void add_number(lt_buf *b, double v)
{
	char num[40];
	if (isnan(v))
		snprintf(num, sizeof num, "NaN");
	else if (isinf(v))
		snprintf(num, sizeof num, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(num, sizeof num, "%.0f", v);
	else
		snprintf(num, sizeof num, "%.9g", v);
	add_str(b, num);
}

/* name{l1="v1",...[,le="x"]} */
static void add_name(lt_buf *b, const lt_metrics *m, const series *s, const char *suffix,
		     const char *le)
{
	const lt_mx_family *f = &m->fams[s->fam];
	add_str(b, f->name);
	add_str(b, suffix);
	int n = m->nlabels[s->fam];
	if (!n && !le)
		return;
	lt_buf_add(b, "{", 1);
	for (int i = 0; i < n; i++) {
		if (i)
			lt_buf_add(b, ",", 1);
		add_str(b, f->labels[i]);
		lt_buf_add(b, "=\"", 2);
		add_escaped(b, s->v[i], true);
		lt_buf_add(b, "\"", 1);
	}
	if (le) {
		add_str(b, n ? ",le=\"" : "le=\"");
		add_str(b, le);
		lt_buf_add(b, "\"", 1);
	}
	lt_buf_add(b, "}", 1);
}

static void render_histogram(lt_buf *b, const lt_metrics *m, const series *s)
{
	const lt_mx_family *f = &m->fams[s->fam];
	unsigned long long cum = 0;
	char le[40];
	for (size_t i = 0; i <= f->nbuckets; i++) {
		cum += s->b[i];
		if (i < f->nbuckets)
			snprintf(le, sizeof le, "%g", f->buckets[i]);
		add_name(b, m, s, "_bucket", i < f->nbuckets ? le : "+Inf");
		lt_buf_add(b, " ", 1);
		add_number(b, (double)cum);
		lt_buf_add(b, "\n", 1);
	}
	add_name(b, m, s, "_sum", NULL);
	lt_buf_add(b, " ", 1);
	add_number(b, s->sum);
	lt_buf_add(b, "\n", 1);
	add_name(b, m, s, "_count", NULL);
	lt_buf_add(b, " ", 1);
	add_number(b, (double)s->count);
	lt_buf_add(b, "\n", 1);
}

int lt_metrics_render(const lt_metrics *m, lt_buf *out)
{
	static const char *const tname[] = {"counter", "gauge", "histogram"};
	for (size_t f = 0; m && f < m->nfams; f++) {
		const lt_mx_family *fam = &m->fams[f];
		add_str(out, "# HELP ");
		add_str(out, fam->name);
		lt_buf_add(out, " ", 1);
		add_escaped(out, fam->help, false);
		add_str(out, "\n# TYPE ");
		add_str(out, fam->name);
		lt_buf_add(out, " ", 1);
		add_str(out, tname[fam->type]);
		lt_buf_add(out, "\n", 1);
		for (int i = m->first[f]; i >= 0; i = m->s[i].next) {
			if (fam->type == LT_MX_HISTOGRAM) {
				render_histogram(out, m, &m->s[i]);
				continue;
			}
			add_name(out, m, &m->s[i], "", NULL);
			lt_buf_add(out, " ", 1);
			add_number(out, m->s[i].value);
			lt_buf_add(out, "\n", 1);
		}
	}
	return out->oom ? LT_ENOMEM : 0;
}

/* stats.c — venue-side inspection for integration tests: what the venue received, counted as it
 * arrived (before rate limits, faults, the auth gate or parameter checks could refuse it), so a
 * spec can prove on the venue side that an order went out once, that subscriptions and cancel on
 * disconnect were restored after a reconnect, or how often a client authenticated.
 *
 *   sim/stats {"account": ID?, "reset": bool?}                  -> object (no auth needed)
 *
 * With "account": the counters of that account; without: those of unauthenticated traffic.
 * A message counts for the account it acts for: the account of a valid params.access_token,
 * else the account its connection last authenticated as (even if that token has since expired
 * or been revoked), else unauthenticated. "sim/" requests are not counted. Result members:
 *   account              ID, or null
 *   connections          open connections of the account (without "account": all of the
 *                        venue's open connections, flapped and closing ones excepted)
 *   connections_total    connections that ever authenticated as the account (without
 *                        "account": every connection the venue accepted, flapped ones too)
 *   flapped, flap_pending  (without "account" only) connections closed by sim/fault flap so
 *                        far, and how many more it will close
 *   unauthenticated      (without "account" only) open connections not authenticated yet
 *   auths                successful public/auth by client_signature or client_credentials
 *   refreshes            successful public/auth by refresh_token (not counted in auths)
 *   rate_limited         10028 answers sent
 *   discarded            messages dropped unanswered by a blackhole (sim/fault blackhole)
 *   malformed            messages that were not a JSON object with a string method (parse
 *                        errors, batches, messages over 32 kB)
 *   requests             {method: n} every request (whatever its fate: rejected, stalled,
 *                        blackholed, rate-limited, unknown method)
 *   subscribes           {channel: n} how many times each channel was named in a
 *                        public/subscribe or private/subscribe request
 *   unsubscribes         {channel: n} the same for public/unsubscribe, private/unsubscribe
 *   labels               {label: n} private/buy, private/sell and private/edit requests that
 *                        carried params.label (a string), per label
 *   overflow             {"requests": n, "subscribes": n, "unsubscribes": n, "labels": n}:
 *                        counts not kept by key because the map already held 10,000 keys or
 *                        the key was longer than 255 bytes
 *   connection_ids, authenticated, cancel_on_disconnect, subscriptions
 *                        one element per open connection of the account (without "account":
 *                        per open unauthenticated connection), oldest first: the venue's
 *                        connection number, whether its token is valid now, whether cancel on
 *                        disconnect (connection scope, or the account default) is on, and the
 *                        array of channels it is subscribed to (market channels, then user.*)
 * "reset": true answers with the counters, then zeroes them (connections stay as they are).
 * Errors: -32602 with data.param "account" (not a string, unknown account) or "reset".
 */
#include "internal.h"
#include "trading.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

#define TALLY_MAX 10000 /* distinct keys per map; beyond that counts go to overflow */
#define KEY_MAX 255     /* longer keys go to overflow */

typedef struct tally_ent {
	char *key; /* NULL = empty slot */
	uint64_t n;
	uint32_t hash;
} tally_ent;

/* An open-addressing map from string to count; cap is 0 or a power of two. */
typedef struct tally {
	tally_ent *slot;
	size_t cap, len;
	uint64_t overflow;
} tally;

enum { T_REQUESTS, T_SUBSCRIBES, T_UNSUBSCRIBES, T_LABELS, NTALLY };
static const char *const tally_names[NTALLY] = {"requests", "subscribes", "unsubscribes", "labels"};

typedef struct stats {
	uint64_t connections_total, auths, refreshes, rate_limited, discarded, malformed;
	tally t[NTALLY];
} stats;

/* ---- the map ----------------------------------------------------------------------------- */

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void tally_put(tally_ent *slot, size_t cap, tally_ent e)
{
	size_t j = e.hash & (cap - 1);
	while (slot[j].key)
		j = (j + 1) & (cap - 1);
	slot[j] = e;
}

static bool tally_grow(tally *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	tally_ent *s = calloc(cap, sizeof *s);
	if (!s)
		return false;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slot[i].key)
			tally_put(s, cap, t->slot[i]);
	free(t->slot);
	t->slot = s;
	t->cap = cap;
	return true;
}

static void tally_add(tally *t, const char *key)
{
	size_t n = strlen(key);
	if (n > KEY_MAX) {
		t->overflow++;
		return;
	}
	uint32_t h = fnv1a(key, n);
	for (size_t j = h & (t->cap - 1); t->cap && t->slot[j].key; j = (j + 1) & (t->cap - 1))
		if (t->slot[j].hash == h && strcmp(t->slot[j].key, key) == 0) {
			t->slot[j].n++;
			return;
		}
	char *k = NULL;
	if (t->len >= TALLY_MAX || ((t->len + 1) * 4 > t->cap * 3 && !tally_grow(t)) ||
	    !(k = malloc(n + 1))) {
		t->overflow++;
		return;
	}
	memcpy(k, key, n + 1);
	tally_put(t->slot, t->cap, (tally_ent){k, 1, h});
	t->len++;
}

static void tally_clear(tally *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slot[i].key);
	free(t->slot);
	memset(t, 0, sizeof *t);
}

static void tally_write(const tally *t, lt_buf *b)
{
	lt_buf_add(b, "{", 1);
	size_t n = 0;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slot[i].key)
			continue;
		if (n++)
			lt_buf_add(b, ",", 1);
		lt_jw_string(b, t->slot[i].key, strlen(t->slot[i].key));
		lt_buf_add(b, ":", 1);
		lt_jw_int(b, (int64_t)t->slot[i].n);
	}
	lt_buf_add(b, "}", 1);
}

/* ---- counting ---------------------------------------------------------------------------- */

/* The counters of acc (NULL: unauthenticated traffic), made on first use; NULL on ENOMEM. */
static stats *stats_of(lt_sim *sim, lt_sim_account *acc)
{
	void **p = acc ? &acc->stats : &sim->stats_anon;
	if (!*p)
		*p = calloc(1, sizeof(stats));
	return *p;
}

void lt_sim_stats_free(void *p)
{
	stats *s = p;
	if (!s)
		return;
	for (int i = 0; i < NTALLY; i++)
		tally_clear(&s->t[i]);
	free(s);
}

/* The account a request acts for, as auth.c would resolve it, without adopting anything;
 * falling back to the connection's account even when its token is no longer valid. */
static lt_sim_account *acting_for(lt_sim_conn *c, yajl_val params)
{
	yajl_val v = lt_sim_json_get(params, "access_token");
	if (v && YAJL_IS_STRING(v)) {
		lt_sim_token *t =
			lt_sim_token_find(c->sim, v->u.string, false, c->id, lt_sim_now_ms());
		if (t)
			return t->acc;
	}
	return c->acc;
}

static void count_channels(tally *t, yajl_val params)
{
	yajl_val ch = lt_sim_json_get(params, "channels");
	if (!ch || !YAJL_IS_ARRAY(ch))
		return;
	for (size_t i = 0; i < ch->u.array.len; i++)
		if (YAJL_IS_STRING(ch->u.array.values[i]))
			tally_add(t, ch->u.array.values[i]->u.string);
}

static bool is_one_of(const char *m, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(m, *names) == 0)
			return true;
	return false;
}

void lt_sim_stats_arrived(lt_sim_conn *c, yajl_val root)
{
	static const char *const subs[] = {"public/subscribe", "private/subscribe", NULL};
	static const char *const unsubs[] = {"public/unsubscribe", "private/unsubscribe", NULL};
	static const char *const orders[] = {"private/buy", "private/sell", "private/edit", NULL};
	if (!c->sim)
		return;
	yajl_val method = YAJL_IS_OBJECT(root) ? lt_sim_json_get(root, "method") : NULL;
	yajl_val params = method ? lt_sim_json_get(root, "params") : NULL;
	stats *s = stats_of(c->sim, acting_for(c, params));
	if (!s)
		return;
	if (c->blackhole)
		s->discarded++;
	if (!method || !YAJL_IS_STRING(method)) {
		s->malformed++;
		return;
	}
	const char *m = method->u.string;
	if (strncmp(m, "sim/", 4) == 0)
		return;
	tally_add(&s->t[T_REQUESTS], m);
	if (is_one_of(m, subs))
		count_channels(&s->t[T_SUBSCRIBES], params);
	else if (is_one_of(m, unsubs))
		count_channels(&s->t[T_UNSUBSCRIBES], params);
	yajl_val label = is_one_of(m, orders) ? lt_sim_json_get(params, "label") : NULL;
	if (label && YAJL_IS_STRING(label))
		tally_add(&s->t[T_LABELS], label->u.string);
}

void lt_sim_stats_auth(lt_sim_conn *c, lt_sim_account *acc, bool refresh)
{
	stats *s = c->sim ? stats_of(c->sim, acc) : NULL;
	lt_sim_ev_auth(c, acc, refresh); /* eventlog.c */
	if (s && refresh)
		s->refreshes++;
	else if (s)
		s->auths++;
}

void lt_sim_stats_adopted(lt_sim_conn *c, lt_sim_account *acc)
{
	stats *s = c->sim ? stats_of(c->sim, acc) : NULL;
	if (s)
		s->connections_total++;
}

void lt_sim_stats_rate_limited(lt_sim_conn *c, lt_sim_account *acc)
{
	stats *s = c->sim ? stats_of(c->sim, acc ? acc : c->acc) : NULL;
	if (s)
		s->rate_limited++;
}

/* ---- sim/stats --------------------------------------------------------------------------- */

/* Open connections of acc (NULL: unauthenticated ones; all = every open connection). */
static bool conn_selected(const lt_sim_conn *c, const lt_sim_account *acc, bool all)
{
	return lt_sim_conn_live(c) && (all || c->acc == acc);
}

static int64_t count_conns(lt_sim *sim, const lt_sim_account *acc, bool all)
{
	int64_t n = 0;
	for (lt_sim_conn *c = sim->conns; c; c = c->next)
		n += conn_selected(c, acc, all);
	return n;
}

enum { A_IDS, A_AUTHENTICATED, A_COD, A_SUBS };

static void write_conn_elem(lt_sim_conn *c, int what, lt_buf *b)
{
	size_t n = 0;
	switch (what) {
	case A_IDS:
		lt_jw_int(b, c->id);
		break;
	case A_AUTHENTICATED:
	case A_COD:
		if (what == A_AUTHENTICATED ? lt_sim_auth_valid(c) : c->acc && c->cod)
			LT_SIM_LIT(b, "true");
		else
			LT_SIM_LIT(b, "false");
		break;
	default:
		lt_buf_add(b, "[", 1);
		for (size_t i = 0; i < c->nsubs; i++, n++) {
			if (n)
				lt_buf_add(b, ",", 1);
			lt_jw_string(b, c->subs[i].name, strlen(c->subs[i].name));
		}
		lt_sim_user_names(c, b, n);
		lt_buf_add(b, "]", 1);
	}
}

/* One array with an element per selected connection, oldest first (the list is newest first). */
static void write_conn_array(lt_sim_jo *o, const char *key, int what, lt_sim *sim,
			     const lt_sim_account *acc)
{
	lt_sim_conn *last = sim->conns;
	while (last && last->next)
		last = last->next;
	lt_sim_jo_key(o, key);
	lt_buf_add(o->b, "[", 1);
	size_t n = 0;
	for (lt_sim_conn *c = last; c; c = c->prev) {
		if (!conn_selected(c, acc, false))
			continue;
		if (n++)
			lt_buf_add(o->b, ",", 1);
		write_conn_elem(c, what, o->b);
	}
	lt_buf_add(o->b, "]", 1);
}

static void write_counters(lt_sim_jo *o, const stats *s)
{
	lt_sim_jo_int(o, "auths", (int64_t)s->auths);
	lt_sim_jo_int(o, "refreshes", (int64_t)s->refreshes);
	lt_sim_jo_int(o, "rate_limited", (int64_t)s->rate_limited);
	lt_sim_jo_int(o, "discarded", (int64_t)s->discarded);
	lt_sim_jo_int(o, "malformed", (int64_t)s->malformed);
	for (int i = 0; i < NTALLY; i++) {
		lt_sim_jo_key(o, tally_names[i]);
		tally_write(&s->t[i], o->b);
	}
	lt_sim_jo ov;
	lt_sim_jo_key(o, "overflow");
	lt_sim_jo_begin(&ov, o->b);
	for (int i = 0; i < NTALLY; i++)
		lt_sim_jo_int(&ov, tally_names[i], (int64_t)s->t[i].overflow);
	lt_sim_jo_end(&ov);
}

static void write_stats(lt_sim_req *rq, lt_sim_account *acc, const stats *s)
{
	lt_sim *sim = rq->sim;
	lt_sim_jo o;
	lt_sim_jo_begin(&o, lt_sim_reply_begin(rq));
	if (acc)
		lt_sim_jo_str(&o, "account", acc->client_id);
	else
		lt_sim_jo_null(&o, "account");
	lt_sim_jo_int(&o, "connections", count_conns(sim, acc, !acc));
	lt_sim_jo_int(&o, "connections_total",
		      acc ? (int64_t)s->connections_total : (int64_t)sim->next_conn_id);
	if (!acc) {
		lt_sim_jo_int(&o, "flapped", (int64_t)sim->flapped);
		lt_sim_jo_int(&o, "flap_pending", sim->flap_left);
		lt_sim_jo_int(&o, "unauthenticated", count_conns(sim, NULL, false));
	}
	write_counters(&o, s);
	write_conn_array(&o, "connection_ids", A_IDS, sim, acc);
	write_conn_array(&o, "authenticated", A_AUTHENTICATED, sim, acc);
	write_conn_array(&o, "cancel_on_disconnect", A_COD, sim, acc);
	write_conn_array(&o, "subscriptions", A_SUBS, sim, acc);
	lt_sim_jo_end(&o);
	lt_sim_reply_end(rq);
}

static void m_stats(lt_sim_req *rq)
{
	const char *id = NULL;
	bool reset = false;
	if (lt_sim_param_str(rq, "account", false, &id) < 0 ||
	    lt_sim_param_bool(rq, "reset", false, &reset) < 0)
		return;
	lt_sim_account *acc = id ? lt_sim_account_find(rq->sim, id) : NULL;
	if (id && !acc) {
		lt_sim_reply_invalid(rq, "account", "unknown account");
		return;
	}
	stats *s = stats_of(rq->sim, acc);
	if (!s) {
		lt_sim_reply_error(rq, 11094, "internal_server_error");
		return;
	}
	write_stats(rq, acc, s);
	if (reset) {
		for (int i = 0; i < NTALLY; i++)
			tally_clear(&s->t[i]);
		memset(s, 0, sizeof *s);
	}
}

const lt_sim_method lt_sim_stats_methods[] = {
	{"sim/stats", m_stats},
	{NULL, NULL},
};

/* accounts.h — the simulated venue's accounts and what authentication attaches to a connection.
 *
 * Split of the trading side between files (each file one concern):
 *   accounts.c  the account table: demo account, --account options, lookups, token issue/lookup
 *   auth.c      public/auth (client_signature, client_credentials, refresh_token), private/logout,
 *               the 13009 gate for private methods, cancel-on-disconnect settings
 *   limits.c    server-side rate limits per account (deribit-api.md §7), 10028, close on 10028
 *   engine.c    per-instrument matching with price-time priority against the synthetic book
 *   orders.c    the order table, order/trade objects, private order methods
 *   portfolio.c positions, balances, equity/margin, get_positions/get_position/account summary
 *   user_channels.c  user.orders / user.trades / user.portfolio / user.changes notifications
 */
#ifndef LT_SIM_ACCOUNTS_H
#define LT_SIM_ACCOUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "market.h"

typedef struct lt_sim_account lt_sim_account;
typedef struct lt_sim_token lt_sim_token;

#define LT_SIM_DEMO_CLIENT_ID "luatrade-demo"
#define LT_SIM_TOKEN_EXPIRES_S 900 /* default access token lifetime (opts.token_expires_s) */

/* Rate-limit buckets (limits.c, deribit-api.md §7). Levels are in millionths of a credit so
 * that a refill of `rate` credits per second is exactly `rate` units per microsecond. */
enum {
	LT_SIM_POOL_NON_ME,
	LT_SIM_POOL_SUBSCRIBE,
	LT_SIM_POOL_INSTRUMENTS,
	LT_SIM_POOL_ME,
	LT_SIM_NPOOLS
};
typedef struct lt_sim_bucket {
	int64_t level, cap; /* units (credits x 1e6) */
	int64_t cost;       /* units one request takes */
	int64_t rate;       /* credits per second = units per microsecond */
	int64_t last_us;    /* time of the last refill */
} lt_sim_bucket;
typedef struct lt_sim_limits {
	lt_sim_bucket pool[LT_SIM_NPOOLS];
	int tier;         /* matching-engine tier 1..4 */
	int64_t grace_us; /* a request may come this early, on credit (limits.c) */
} lt_sim_limits;

/* One account. Owned by the venue (accounts.c); lives until lt_sim_free. */
struct lt_sim_account {
	lt_sim_account *next;
	int64_t user_id;
	char client_id[64];
	char client_secret[128];
	char username[64];
	/* rate limits (limits.c): matching-engine tier 1..4 */
	int tier;
	/* portfolio (portfolio.c): balance per currency index (LT_SIM_IDX_*) */
	double balance[LT_SIM_NIDX];
	void *portfolio; /* portfolio.c's per-account state (positions, PnL) */
	void *limits;    /* limits.c's per-account buckets */
	/* recently used signature nonces (auth.c): hex of a hash of each nonce */
	char nonces[64][32];
	unsigned nonce_next;
	/* auth.c: cancel on disconnect default for new connections (scope "account") */
	bool cod_default;
	/* auth.c: sim/configure token_expires_s on a connection of this account; 0 = opts */
	int64_t token_expires_s;
	/* limits.c: sim/configure close_on_10028 for this account: 0 = opts, 1 close, 2 do not */
	int close_on_10028;
	/* stats.c: what arrived for this account (sim/stats), made on first use */
	void *stats;
};

/* An issued token pair (accounts.c), valid until expires_ms. Tokens are opaque random text. */
struct lt_sim_token {
	lt_sim_token *next;
	lt_sim_account *acc;
	char access[64], refresh[64];
	int64_t expires_ms;
	char scope[128];
	unsigned conn_id; /* scope "connection": only valid on this connection; 0 = session scope */
	/* accounts.c */
	int64_t refresh_expires_ms; /* the refresh token outlives the access token */
	char session[64];           /* session:NAME scope: NAME ("" for connection scope) */
	int64_t expires_s;          /* the lifetime it was issued with (refresh keeps it) */
};

#endif

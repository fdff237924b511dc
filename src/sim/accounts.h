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
	void *portfolio;   /* portfolio.c's per-account state (positions, PnL) */
	void *limits;      /* limits.c's per-account buckets */
	/* recently used signature nonces (auth.c) */
	char nonces[64][32];
	unsigned nonce_next;
};

/* An issued token pair (accounts.c), valid until expires_ms. Tokens are opaque random text. */
struct lt_sim_token {
	lt_sim_token *next;
	lt_sim_account *acc;
	char access[64], refresh[64];
	int64_t expires_ms;
	char scope[128];
	unsigned conn_id;   /* scope "connection": only valid on this connection; 0 = session scope */
};

#endif

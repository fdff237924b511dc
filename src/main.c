/* main.c — the luatrade command: `run` a strategy, start the `sim` venue, print `version`.
 * The Lua side of `run` lives in lua/luatrade/runner.lua; this file only parses the command
 * line, builds the Lua state and hands over. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "paths.h"

int luaopen_luatrade_core(lua_State *L);
int lt_sim_main(int argc, char **argv);

static void usage(FILE *f)
{
	fputs("usage: luatrade <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run [options] STRATEGY.lua   run a strategy (see `luatrade run --help`)\n"
	      "  sim [options]                run the built-in venue as a server (`luatrade sim "
	      "--help`)\n"
	      "  version                      print the version\n"
	      "\n"
	      "Environment: LUATRADE_LOG=error|warn|info|debug sets the log level;\n"
	      "LUATRADE_LOG_FORMAT=text|json the log format (json: one object per line);\n"
	      "LUATRADE_LUA_DIR the directory of luatrade's Lua modules (default: found beside\n"
	      "the command); LUATRADE_CERT_DIR the built-in venue's certificate directory\n"
	      "(default: the checkout's build/sim, else ~/.local/state/luatrade/sim, made at\n"
	      "first use).\n",
	      f);
}

static void run_usage(FILE *f)
{
	fputs("usage: luatrade run [options] STRATEGY.lua\n"
	      "\n"
	      "Runs the strategy module (a file returning {start = function(ctx, state), stop = "
	      "...})\n"
	      "until it and its tasks end or Ctrl-C. ctx.public is a public client, ctx.private "
	      "an\n"
	      "authenticated one, created on first use or when the module sets private = true "
	      "(the\n"
	      "demo account on the built-in venue; DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET\n"
	      "elsewhere), ctx.config the --set values (and the config file's config table),\n"
	      "ctx.risk_config the config file's risk table, ctx.log(level, fmt, ...) logs.\n"
	      "\n"
	      "Hot reload: saving the strategy file (or a module it loaded from its directory), "
	      "or\n"
	      "SIGHUP, loads the new version in a fresh environment; if it compiles and loads, the "
	      "old\n"
	      "version's tasks end (their awaits raise err.kind \"reloaded\"), its stop(ctx, "
	      "\"reload\")\n"
	      "returns a state and the new version's start(ctx, state) gets it. Connections, the\n"
	      "channels both versions subscribe and the open orders (ctx.orders) carry over; if "
	      "the\n"
	      "new start() fails, the old version starts again with that state.\n"
	      "\n"
	      "Ctrl-C or SIGTERM: stop(ctx, \"shutdown\") runs inside the loop (it may await) for "
	      "at\n"
	      "most --stop-timeout seconds; then the open orders this run placed are cancelled "
	      "and\n"
	      "their answers awaited (at most --cancel-timeout seconds), the connections close and "
	      "the\n"
	      "exit status is 0. A second Ctrl-C exits at once with status 130.\n"
	      "\n"
	      "Exit status: 0 the run ended (the strategy finished, or Ctrl-C/SIGTERM); 1 a "
	      "runtime\n"
	      "failure: the strategy could not be loaded, its first start() failed, or a client "
	      "could\n"
	      "never connect (certificate not trusted, host not found, connection refused three\n"
	      "times, authentication refused, or no connection within --connect-timeout); 2 bad\n"
	      "input (an option, a value, a missing file, DERIBIT_CLIENT_ID without a secret or "
	      "the\n"
	      "reverse); 130 a second Ctrl-C. Each failure prints one line \"luatrade: ...\" on "
	      "stderr.\n"
	      "A venue that was connected once and drops later is reconnected, never a failure.\n"
	      "\n"
	      "options:\n"
	      "  --venue NAME      sim (default: the built-in venue, started in this process),\n"
	      "                    testnet or mainnet\n"
	      "  --url URL         connect to this wss:// URL instead of a named venue\n"
	      "  --ca-file FILE    PEM CA file to verify the venue's certificate (for --url)\n"
	      "  --insecure-loopback  allow a plain ws:// --url to a loopback host (127.0.0.0/8,\n"
	      "                    ::1, localhost), e.g. `luatrade sim --plain`\n"
	      "  --config FILE     options from a Lua file (venue, url, ca_file, client = {...},\n"
	      "                    config = {...}, risk = {...}, stop_timeout, ...; see README\n"
	      "                    \"Config file\"); options on the command line override it\n"
	      "  --seed N          seed of the built-in venue's market (default 1)\n"
	      "  --secret-file F   client secret for a real venue (mode 600), instead of the\n"
	      "                    DERIBIT_CLIENT_SECRET variable; DERIBIT_CLIENT_ID names the "
	      "key\n"
	      "  --set KEY=VALUE   strategy configuration, repeatable (ctx.config.KEY = VALUE)\n"
	      "  --stop-timeout S  seconds stop(ctx, \"shutdown\") may take (default 10)\n"
	      "  --cancel-timeout S  seconds for cancelling this run's orders at exit (default "
	      "10)\n"
	      "  --keep-orders     leave this run's open orders on the venue at exit\n"
	      "  --kill-file F     the kill switch fires when F appears (default: KILL in the\n"
	      "                    working directory): this run's orders are cancelled, no new\n"
	      "                    ones are sent, market data goes on\n"
	      "  --start-timeout S seconds start(ctx, state) may take (default 10)\n"
	      "  --connect-timeout S  seconds the first connection may take (default 10)\n"
	      "  --no-watch        do not reload when the files change (SIGHUP still reloads)\n"
	      "  --log-level L     error, warn, info (default) or debug\n"
	      "  --log-format F    text (default) or json (one object per line: time, level,\n"
	      "                    component, message, fields)\n"
	      "  --metrics-port N  serve Prometheus metrics at http://ADDR:N/metrics and a health\n"
	      "                    check at /healthz (200 \"ok\" while every client is connected\n"
	      "                    and, if private, authenticated; else 503 and the reason); 0 = "
	      "a\n"
	      "                    free port, logged as \"metrics on http://...\"\n"
	      "  --metrics-addr A  the numeric address to serve them on (default 127.0.0.1)\n"
	      "  -h, --help        this help\n",
	      f);
}

#define RUN_HINT "usage: luatrade run [options] STRATEGY.lua (`luatrade run --help` lists them)\n"

/* Push a table of the run options parsed from argv; returns the strategy path or NULL (then
 * *bad says whether the command line was wrong; without a path the runner may take the
 * strategy from --config). */
static const char *parse_run(lua_State *L, int argc, char **argv, int *bad)
{
	const char *path = NULL;
	lua_newtable(L);
	lua_newtable(L);
	lua_setfield(L, -2, "config");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char *key = strcmp(a, "--venue") == 0             ? "venue"
				  : strcmp(a, "--url") == 0             ? "url"
				  : strcmp(a, "--ca-file") == 0         ? "ca_file"
				  : strcmp(a, "--seed") == 0            ? "seed"
				  : strcmp(a, "--log-level") == 0       ? "log_level"
				  : strcmp(a, "--secret-file") == 0     ? "secret_file"
				  : strcmp(a, "--stop-timeout") == 0    ? "stop_timeout"
				  : strcmp(a, "--cancel-timeout") == 0  ? "cancel_timeout"
				  : strcmp(a, "--start-timeout") == 0   ? "start_timeout"
				  : strcmp(a, "--kill-file") == 0       ? "kill_file"
				  : strcmp(a, "--connect-timeout") == 0 ? "connect_timeout"
				  : strcmp(a, "--config") == 0          ? "config_file"
				  : strcmp(a, "--log-format") == 0      ? "log_format"
				  : strcmp(a, "--metrics-port") == 0    ? "metrics_port"
				  : strcmp(a, "--metrics-addr") == 0    ? "metrics_addr"
									: NULL;
		const char *flag = strcmp(a, "--keep-orders") == 0         ? "keep_orders"
				   : strcmp(a, "--no-watch") == 0          ? "no_watch"
				   : strcmp(a, "--insecure-loopback") == 0 ? "insecure_loopback"
									   : NULL;
		if (flag) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, flag);
			continue;
		}
		if (key || strcmp(a, "--set") == 0) {
			if (!v) {
				fprintf(stderr, "luatrade run: %s needs a value\n" RUN_HINT, a);
				*bad = 1;
				return NULL;
			}
			i++;
			if (key) {
				lua_pushstring(L, v);
				lua_setfield(L, -2, key);
				continue;
			}
			const char *eq = strchr(v, '=');
			if (!eq || eq == v) {
				fprintf(stderr,
					"luatrade run: --set takes KEY=VALUE, got '%s'\n" RUN_HINT,
					v);
				*bad = 1;
				return NULL;
			}
			lua_getfield(L, -1, "config");
			lua_pushlstring(L, v, (size_t)(eq - v));
			lua_pushstring(L, eq + 1);
			lua_settable(L, -3);
			lua_pop(L, 1);
		} else if (a[0] == '-') {
			fprintf(stderr, "luatrade run: unknown option %s\n" RUN_HINT, a);
			*bad = 1;
			return NULL;
		} else if (path) {
			fprintf(stderr, "luatrade run: one strategy file only\n" RUN_HINT);
			*bad = 1;
			return NULL;
		} else
			path = a;
	}
	return path;
}

/* Put luatrade's own Lua directory (paths.h: LUATRADE_LUA_DIR, the installed share/lua/5.4
 * beside the command, or the checkout's lua/) before package.path; when there is none, Lua's
 * default package.path has to find luatrade.runner. */
static void add_lua_dir(lua_State *L)
{
	char dir[LT_PATHS_MAX];
	if (lt_paths_lua_dir(dir, sizeof dir) != 0)
		return;
	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
	lua_getfield(L, -2, "path");
	lua_concat(L, 2);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

static int cmd_run(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			run_usage(stdout);
			return 0;
		}
	lua_State *L = luaL_newstate();
	if (!L)
		return 1;
	luaL_openlibs(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_luatrade_core);
	lua_setfield(L, -2, "luatrade.core");
	lua_pop(L, 1);
	add_lua_dir(L);
	int bad = 0, rc = 0;
	lua_getglobal(L, "require");
	lua_pushliteral(L, "luatrade.runner");
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		fprintf(stderr, "luatrade: %s\n", lua_tostring(L, -1));
		lua_close(L);
		return 1;
	}
	lua_getfield(L, -1, "main");
	const char *path = parse_run(L, argc, argv, &bad);
	if (bad || argc < 2) {
		if (!bad)
			run_usage(stderr);
		lua_close(L);
		return 2;
	}
	if (path) {
		lua_pushstring(L, path);
		lua_setfield(L, -2, "path");
	}
	/* runner.main(opts) -> status, one-line message (status 2: a usage error) */
	if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
		fprintf(stderr, "luatrade: %s\n", lua_tostring(L, -1));
		rc = 1;
	} else {
		rc = (int)lua_tointeger(L, -2);
		const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
		if (rc != 0 && msg && lt_log_get_format() == LT_LOG_JSON) {
			/* a log shipper reads stderr: the failure is one JSON object like every line */
			lt_log_field f[] = {LT_LF_N("exit_status", rc)};
			lt_logf(LT_LOG_ERROR, "cli", f, 1, "luatrade: %s%s", msg,
				rc == 2 ? " (`luatrade run --help` lists the options)" : "");
		} else if (rc != 0 && msg) {
			fprintf(stderr, "luatrade: %s\n", msg);
			if (rc == 2)
				fputs(RUN_HINT, stderr);
		}
	}
	lua_close(L);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "sim"))
		return lt_sim_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version")) {
		puts("luatrade 0.1.0");
		return 0;
	}
	fprintf(stderr, "luatrade: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

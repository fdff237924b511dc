#!/usr/bin/env bash
# install_check.sh BUILD — what an installed luatrade needs, checked the way a user gets it,
# with TAP lines ("ok N - ..." / "not ok N - ...") that scripts/run-tests counts:
#   1. `make install DESTDIR=...` from the existing BUILD puts every file where Lua looks;
#   2. neither the command nor the module holds a path of the checkout;
#   3-5. from an unrelated directory, with a fresh per-user state dir and none of LUATRADE_*,
#      the installed `luatrade run` runs a strategy against its in-process venue (generating
#      the certificate), `luatrade sim --port 0` starts, and lua5.4 with the tree's paths
#      requires luatrade and runs lt.run against lt.sim;
#   6. `make uninstall` removes every file it installed;
#   7-9. `luarocks --tree T make` in a copy of the sources (tracked and new files, no build
#      outputs), which is then deleted: the tree's command and `require "luatrade"` still work.
# Runs once from scripts/run-tests (not per build directory); ~1 minute, most of it the
# luarocks build (set INSTALL_CHECK_NO_ROCKS=1 to skip 7-9 while iterating).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
root=$PWD
tmp=$(mktemp -d /tmp/luatrade-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
check() { # description command...: one TAP line; the command's output goes to $tmp/out.N
	local desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$tmp/out.$n" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/#   /' "$tmp/out.$n" | tail -20
		fails=$((fails + 1))
	fi
}
# The environment of a user of the installed files: no LUATRADE_* and no LUA_* variables, a
# state directory of its own, an unrelated working directory.
clean_env=(env -u LUATRADE_LUA_DIR -u LUATRADE_CERT_DIR -u LUATRADE_BUILD -u LUA_PATH -u LUA_CPATH
	-u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LD_PRELOAD XDG_STATE_HOME="$tmp/state" HOME="$tmp/home")
mkdir -p "$tmp/home" "$tmp/work"
cat >"$tmp/work/once.lua" <<'LUA'
-- logs one ticker of the built-in venue, then ends (the run ends when its tasks have)
local M = {}
function M.start(ctx)
  local t = assert(ctx.public:ticker{ instrument_name = "BTC-PERPETUAL" })
  ctx.log("info", "ticker BTC-PERPETUAL bid %s ask %s", t.best_bid_price, t.best_ask_price)
end
return M
LUA
cat >"$tmp/work/lib.lua" <<'LUA'
-- the library from plain lua5.4: lt.run against the in-process venue
local lt = require "luatrade"
lt.run(function()
  local pub = lt.public{ venue = "sim" }
  local t = assert(pub:ticker{ instrument_name = "BTC-PERPETUAL" })
  print("ticker", t.best_bid_price ~= nil)
  pub:close()
end)
LUA

install_into() { # $1: DESTDIR; lists what was installed
	make --no-print-directory BUILD="$build" DESTDIR="$1" PREFIX=/usr/local install >/dev/null || return 1
	local p=$1/usr/local
	test -x "$p/bin/luatrade" && test -f "$p/lib/lua/5.4/luatrade/core.so" &&
		test -f "$p/share/lua/5.4/luatrade/init.lua" && test -f "$p/share/lua/5.4/luatrade/runner.lua" &&
		test -f "$p/share/doc/luatrade/README.md" && test -f "$p/share/doc/luatrade/strategies/ticker.lua" &&
		find "$1" -type f | sed "s|^$1||" | sort
}
no_checkout_path() { # the checkout's absolute path is in none of the installed binaries
	local f bad=0
	for f in "$@"; do
		if strings -a "$f" | grep -F "$root"; then echo "$f holds $root"; bad=1; fi
	done
	[ "$bad" -eq 0 ]
}
run_once() { # $1: the luatrade command; the run ends by itself, exit 0, the ticker logged
	(cd "$tmp/work" && "${clean_env[@]}" timeout 60 "$1" run --no-watch once.lua) || return 1
}
run_logged_ticker() {
	run_once "$1" >"$tmp/run.log" 2>&1
	local rc=$?
	cat "$tmp/run.log"
	[ "$rc" -eq 0 ] && grep -q "ticker BTC-PERPETUAL bid" "$tmp/run.log" &&
		[ "$(stat -c %a "$tmp/state/luatrade")" = 700 ] && test -s "$tmp/state/luatrade/sim/ca.pem"
}
sim_starts() { # luatrade sim --port 0 prints its port, then is killed
	(cd "$tmp/work" && exec "${clean_env[@]}" "$1" sim --port 0 >"$tmp/sim.log" 2>&1) &
	local pid=$! ok=1
	for _ in $(seq 100); do
		grep -qE 'listening on wss://127\.0\.0\.1:[0-9]+/' "$tmp/sim.log" && { ok=0; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	cat "$tmp/sim.log"
	grep -q "ca_file: $tmp/state/luatrade/sim/ca.pem" "$tmp/sim.log" && return $ok
	return 1
}
lua_requires() { # $1: tree root (a prefix), put first on lua5.4's paths
	(cd "$tmp/work" && "${clean_env[@]}" LUA_PATH="$1/share/lua/5.4/?.lua;$1/share/lua/5.4/?/init.lua;;" \
		LUA_CPATH="$1/lib/lua/5.4/?.so;;" timeout 60 lua5.4 lib.lua) >"$tmp/lua.log" 2>&1
	cat "$tmp/lua.log"
	grep -qx "ticker	true" "$tmp/lua.log"
}
rocks_make() { # $1: sources, $2: tree
	(cd "$1" && MAKEFLAGS=-j2 luarocks --lua-version 5.4 --tree "$2" make) >"$tmp/rocks.log" 2>&1 ||
		{ tail -30 "$tmp/rocks.log"; return 1; }
}
rocks_requires() { # $1: tree; lua5.4 with `luarocks path` of it
	(cd "$tmp/work" && eval "$(luarocks --lua-version 5.4 --tree "$1" path)" &&
		env -u LUATRADE_LUA_DIR -u LUATRADE_CERT_DIR -u LD_PRELOAD XDG_STATE_HOME="$tmp/state" \
		timeout 60 lua5.4 lib.lua) >"$tmp/lua.log" 2>&1
	cat "$tmp/lua.log"
	grep -qx "ticker	true" "$tmp/lua.log"
}
uninstalled() {
	make --no-print-directory BUILD="$build" DESTDIR="$tmp/dest" uninstall >/dev/null &&
		[ -z "$(find "$tmp/dest" -type f)" ] && find "$tmp/dest" -type f
}

check "make install DESTDIR puts the command, luatrade/core.so, the Lua modules and the docs in place" \
	install_into "$tmp/dest"
dest=$tmp/dest/usr/local
check "the installed command and module hold no path of the checkout" \
	no_checkout_path "$dest/bin/luatrade" "$dest/lib/lua/5.4/luatrade/core.so"
check "the installed luatrade run, from another directory, logs a ticker of its in-process venue and exits 0" \
	run_logged_ticker "$dest/bin/luatrade"
check "the installed luatrade sim --port 0 starts with the per-user certificate and prints its port" \
	sim_starts "$dest/bin/luatrade"
check "lua5.4 with the installed tree's paths requires luatrade and runs lt.run against lt.sim" \
	lua_requires "$dest"
check "make uninstall DESTDIR removes every installed file" uninstalled

if [ "${INSTALL_CHECK_NO_ROCKS:-}" != 1 ]; then
	src=$tmp/src
	rocks=$tmp/rocks
	rm -rf "$tmp/state"
	mkdir -p "$src"
	# the sources as a clean clone of this tree has them (plus new files not yet committed)
	git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents -- {} "$src/" 2>/dev/null
	start=$(date +%s)
	check "luarocks --tree T make in a copy of the sources builds and installs luatrade" \
		rocks_make "$src" "$rocks"
	echo "# luarocks make took $(($(date +%s) - start)) s"
	rm -rf "$src"
	check "with the sources deleted, the luarocks tree's luatrade run logs a ticker and exits 0" \
		run_logged_ticker "$rocks/bin/luatrade"
	check "with the luarocks tree's paths (luarocks path), lua5.4 requires luatrade and runs lt.run" \
		rocks_requires "$rocks"
fi
echo "# install check: $n checks, $fails failed"
[ "$fails" -eq 0 ]

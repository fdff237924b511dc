-- luatrade-dev-1.rockspec — `luarocks --lua-version 5.4 --tree TREE make` in a checkout builds
-- the command and the C module and installs them with the Lua modules into TREE.
--
-- Build type "make", not "builtin": the module is ~90 C files with pkg-config dependencies
-- (libwebsockets, wslay, yajl, OpenSSL, Lua 5.4) and the project's own flags (warnings as
-- errors, -fvisibility=hidden, no checkout path compiled in). The Makefile already knows all of that;
-- a builtin module list would be a second copy of it to keep in step. The Makefile installs by
-- Lua's conventions into the directories luarocks gives it (BINDIR, LUA_LIBDIR, LUA_DIR), and
-- its `deps` step installs the Debian packages it needs (scripts/install-deps, silent when all
-- is there), which is why no external_dependencies are declared here.
rockspec_format = "3.0"
package = "luatrade"
version = "dev-1"
source = {
   -- `luarocks make` builds the checkout it runs in; this is where a clone comes from.
   url = "git+file://./",
}
description = {
   summary = "Lua-scriptable trading runtime for Deribit on a C core",
   detailed = [[
      Write Deribit trading strategies in Lua 5.4 on a C core that owns the connections, the
      JSON-RPC protocol, rate limiting and per-method codecs, with a built-in simulated venue.
   ]],
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "make",
   build_target = "programs",
   build_variables = {
      BUILD = "build/rock", -- not build/: a developer's checkout keeps its own build
   },
   install_target = "install",
   install_variables = {
      BUILD = "build/rock",
      PREFIX = "$(PREFIX)",
      BINDIR = "$(BINDIR)",
      LUA_LIBDIR = "$(LIBDIR)",
      LUA_DIR = "$(LUADIR)",
      DOCDIR = "$(PREFIX)/doc",
   },
}

/* paths.h — where luatrade finds its files at run time. Nothing here is compiled in: the
 * places are found from the environment, from where the running file (the command, or the
 * luatrade/core.so module) lies, and from Lua's conventions, so a build tree, an installed
 * prefix and a luarocks tree all work, and moving or deleting the checkout breaks nothing.
 *
 * Every function writes a NUL-terminated absolute (or, for the LUATRADE_* variables, as given)
 * path into out[n] and returns 0, or a negative LT_E* (out is then the empty string). */
#ifndef LT_PATHS_H
#define LT_PATHS_H

#include <stddef.h>

#include "lt.h"

#define LT_PATHS_MAX 4096

/* The directory of the file this code runs from: /proc/self/exe for the command, the shared
 * object for the module. LT_ENOTFOUND when it cannot be told. */
int lt_paths_self_dir(char *out, size_t n);

/* The Lua directory of luatrade's own modules (luatrade/runner.lua, ...): LUATRADE_LUA_DIR if
 * set; else <self>/../share/lua/5.4 when that holds them (an installed prefix or a luarocks
 * tree); else the checkout's lua/ when running from a build directory of a checkout. Otherwise
 * LT_ENOTFOUND: the caller leaves Lua's default package.path alone. */
int lt_paths_lua_dir(char *out, size_t n);

/* The directory of the built-in venue's server.pem, server.key and ca.pem: LUATRADE_CERT_DIR if
 * set; else the checkout's build/sim when running from a checkout build that has it (make
 * certs); else the per-user directory $XDG_STATE_HOME/luatrade/sim (~/.local/state/luatrade/sim
 * when XDG_STATE_HOME is unset), made at first use with mode 700 and filled by
 * lt_cert_generate. Two processes doing this at once end up with the same files. */
int lt_paths_cert_dir(char *out, size_t n, lt_err *err);

#endif

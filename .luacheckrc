-- luacheck configuration (Debian lua-check): `luacheck lua strategies spec bench` from the top.
std = "lua54"
max_line_length = 140
files["spec"] = { std = "+busted" }
-- bench/runtime.lua keeps a value alive on purpose so the handler's work is not optimised away
files["bench/runtime.lua"] = { ignore = { "241", "311" } }

-- spec/helper.lua — make the freshly built module and the Lua layer loadable for busted.
-- LUATRADE_BUILD selects the build directory (build, or build/asan for the sanitizer run).
local build = os.getenv("LUATRADE_BUILD") or "build"
package.cpath = build .. "/?.so;" .. package.cpath
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path

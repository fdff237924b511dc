--- luatrade.version — load one version of a strategy for `luatrade run`: the file is compiled
-- and run in a fresh environment (globals it sets stay in that environment, _G is read
-- through), and every module it requires from the strategy's own directory is loaded afresh
-- into the same environment, so an edit to any of them takes effect at the next reload. Other
-- modules (luatrade, cjson, ...) are the process's shared ones.
--
--     local mod, files = version.load("strategies/market_maker.lua")
--     if not mod then print(files) end   -- the error, with file:line
--
-- Returns mod, files (the strategy file first, then each module loaded from its directory),
-- or nil, err, files when the file cannot be read or compiled, raises while loading, or does
-- not return a table with a start function. No rate limit applies.
local M = { _VERSION = "version 0.1.0" }

local function dir_of(path) return path:match("^(.*)/[^/]*$") or "." end

function M.load(path)
  local dir = dir_of(path)
  local env = setmetatable({}, { __index = _G })
  local own, loading, files = {}, {}, { path }
  local search = dir .. "/?.lua;" .. dir .. "/?/init.lua"
  function env.require(name)
    local v = own[name]
    if v ~= nil then return v end
    local file = type(name) == "string" and package.searchpath(name, search)
    if not file then return require(name) end
    if loading[name] then error("module '" .. name .. "' requires itself (a loop)", 2) end
    local chunk, err = loadfile(file, "t", env)
    if not chunk then error(err, 0) end
    files[#files + 1] = file
    loading[name] = true
    v = chunk(name, file)
    loading[name] = nil
    if v == nil then v = true end
    own[name] = v
    return v
  end
  local chunk, err = loadfile(path, "t", env)
  if not chunk then return nil, err, files end
  local ok, mod = xpcall(chunk, debug.traceback)
  if not ok then return nil, "while loading: " .. tostring(mod), files end
  if type(mod) ~= "table" or type(mod.start) ~= "function" then
    return nil, path .. ": a strategy must return a table with a start(ctx, state) function", files
  end
  return mod, files
end

return M

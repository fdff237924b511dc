--- luatrade.runner — what `luatrade run STRATEGY.lua` does: load the strategy module, give it a
-- context (ctx.public, ctx.private, ctx.log, ctx.config), start it inside lt.run, stop it on
-- Ctrl-C.
local lt = require "luatrade"

local M = {}

local function load_strategy(path)
  local chunk, err = loadfile(path)
  if not chunk then error("cannot load strategy: " .. err, 0) end
  local ok, mod = pcall(chunk)
  if not ok then error("strategy failed while loading: " .. tostring(mod), 0) end
  if type(mod) ~= "table" or type(mod.start) ~= "function" then
    error(path .. ": a strategy must return a table with a start(ctx, state) function", 0)
  end
  return mod
end

--- The strategy's private client: the demo account on the built-in venue; elsewhere
-- DERIBIT_CLIENT_ID with DERIBIT_CLIENT_SECRET (or --secret-file); nil without credentials.
function M.private_client(where, opts)
  local id = os.getenv("DERIBIT_CLIENT_ID")
  if where.venue == "sim" and not id then return lt.private{ venue = "sim" } end
  if not id then return nil end
  local secret = opts.secret_file and lt.secret.file(opts.secret_file)
                 or lt.secret.env("DERIBIT_CLIENT_SECRET")
  local o = { client_id = id, client_secret = secret }
  for k, v in pairs(where) do o[k] = v end
  return lt.private(o)
end

--- runner.run(opts): opts.path (strategy file), opts.venue / opts.url / opts.ca_file,
-- opts.seed, opts.log_level, opts.secret_file, opts.config (table of strings). Raises on a
-- strategy error.
function M.run(opts)
  if opts.log_level then lt.set_log_level(opts.log_level) end
  local strategy = load_strategy(opts.path)
  local ctx = { config = opts.config or {} }
  function ctx.log(level, fmt, ...) lt.log(level, fmt, ...) end
  if (opts.venue == nil or opts.venue == "sim") and not opts.url then
    lt.sim.start(tonumber(opts.seed) or 1)
  end
  local where = { venue = not opts.url and (opts.venue or "sim") or nil,
                  url = opts.url, ca_file = opts.ca_file }
  lt.run(function()
    ctx.public = lt.public(where)
    ctx.private = M.private_client(where, opts)
    strategy.start(ctx, nil)
  end)
  if strategy.stop then
    local ok, err = pcall(strategy.stop, ctx)
    if not ok then lt.log("error", "strategy stop failed: %s", tostring(err)) end
  end
end

return M

--- luatrade.runner — what `luatrade run STRATEGY.lua` does: load the strategy module, give it a
-- context (ctx.public, ctx.private, ctx.log, ctx.config), start it inside lt.run, and on Ctrl-C
-- (SIGINT) or SIGTERM stop it gracefully, inside the loop:
--
--   1. strategy.stop(ctx, "shutdown") runs as a task (it may await: cancel, flush, log); it
--      gets opts.stop_timeout seconds (default 10), then it is ended (core._kill) and logged.
--   2. From then on the strategy's buy/sell/edit fail at once (err.kind "shutdown") and
--      ctx.public is closed, so its handlers cannot quote again while we clean up.
--   3. Unless opts.keep_orders, the open orders this runtime placed are cancelled and the
--      venue's answers awaited (all of it within opts.cancel_timeout, default 10 s).
--   4. lt.run ends: the remaining tasks are ended, the connections closed; exit status 0.
--   A second signal meanwhile exits the process at once with status 130 (lua_core.c).
--
-- Which orders "this runtime placed": ctx.private is not the client itself but a proxy whose
-- buy and sell (a) add the run's own label ("lt" .. time .. random, unique per run) when the
-- strategy gives none, and (b) record the order_id of every result whose order is open or
-- untriggered, with its instrument; edit and cancel results drop ids that are no longer open.
-- At shutdown the runner waits (bounded) for order calls still in flight, asks the venue for
-- the open orders of each instrument the strategy sent orders on (get_open_orders_by_instrument)
-- and cancels by order_id those that are recorded or carry the run label. Orders of the same
-- account placed by anyone else — another process, another client — are never touched, and a
-- strategy label is never rewritten, so the strategy can keep querying its own labels.
-- Limits: an order whose outcome stayed unknown (timeout, connection lost) and that carries a
-- strategy label is not recognised as ours; neither is an order sent through priv:call.
--
-- The private client is created only when the strategy uses it: on the first access of
-- ctx.private, or at start when the strategy module sets `M.private = true`. A public-only
-- strategy never logs in.
local lt = require "luatrade"
local core = require "luatrade.core"

local M = { _VERSION = "runner 0.2.0" }

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

-- ---- the order book-keeping of one run ------------------------------------------------------

local shutdown_err = setmetatable({ kind = "shutdown", name = "shutting_down", sent = false,
  retryable = false, message = "the runner is shutting down: no new orders" },
  { __tostring = function(e) return e.name .. ": " .. e.message end })

local LIVE = { open = true, untriggered = true }

-- A proxy of client `real` for the strategy: every method runs on the real client; buy, sell,
-- edit and cancel also keep `own` (ids, instruments, in-flight count, closing flag) up to date.
local function tracked(real, own)
  local proxy, cache = {}, {}
  local function place(method)
    return function(_, params, ...)
      if own.closing then return nil, shutdown_err end
      if type(params) == "table" then
        if params.label == nil then
          local p = {}
          for k, v in pairs(params) do p[k] = v end
          p.label, params = own.label, p
        end
        if type(params.instrument_name) == "string" then own.instruments[params.instrument_name] = true end
      end
      own.inflight = own.inflight + 1
      local r, err = real[method](real, params, ...)
      own.inflight = own.inflight - 1
      local o = type(r) == "table" and r.order
      if type(o) == "table" and o.order_id then
        own.ids[o.order_id] = LIVE[o.order_state] and (o.instrument_name or true) or nil
      end
      return r, err
    end
  end
  local special = {
    buy = place("buy"), sell = place("sell"),
    edit = function(_, params, ...)
      if own.closing then return nil, shutdown_err end
      own.inflight = own.inflight + 1
      local r, err = real:edit(params, ...)
      own.inflight = own.inflight - 1
      local o = type(r) == "table" and r.order
      if type(o) == "table" and o.order_id and own.ids[o.order_id] and not LIVE[o.order_state] then
        own.ids[o.order_id] = nil
      end
      return r, err
    end,
    cancel = function(_, params, ...)
      local r, err = real:cancel(params, ...)
      if (r or (err and (err.name == "order_not_found" or err.name == "not_open_order")))
         and type(params) == "table" and params.order_id then
        own.ids[params.order_id] = nil
      end
      return r, err
    end,
  }
  return setmetatable(proxy, {
    __name = "luatrade.runner.Private",
    __tostring = function() return tostring(real) end,
    __index = function(_, k)
      local f = special[k] or cache[k]
      if f then return f end
      local v = real[k]
      if type(v) ~= "function" then return v end
      f = function(self, ...) return v(self == proxy and real or self, ...) end
      cache[k] = f
      return f
    end,
  })
end

-- Wait in this task until pred() or the deadline (lt.now() seconds); returns pred().
local function wait_until(pred, deadline)
  while not pred() and lt.now() < deadline do lt.sleep(0.01) end
  return pred()
end

-- The open orders of `own` on the venue, by order_id -> true; nil, err if a listing failed.
local function own_open_orders(real, own, timeout)
  local mine = {}
  for instrument in pairs(own.instruments) do
    local list, err = real:get_open_orders_by_instrument({ instrument_name = instrument }, timeout)
    if not list then return nil, err end
    for _, o in ipairs(list) do
      if own.ids[o.order_id] or o.label == own.label then mine[#mine + 1] = o.order_id end
    end
  end
  return mine
end

-- Cancel the open orders this run placed; every cancel awaited, all within `seconds`.
local function cancel_own(real, own, seconds)
  local deadline = lt.now() + seconds
  if not wait_until(function() return own.inflight == 0 end, deadline) then
    lt.log("warn", "shutdown: %d order call(s) still unanswered", own.inflight)
  end
  local ids, err = own_open_orders(real, own, math.max(deadline - lt.now(), 0.1))
  if not ids then
    lt.log("warn", "shutdown: cannot list open orders (%s); cancelling every recorded id", tostring(err))
    ids = {}
    for id in pairs(own.ids) do ids[#ids + 1] = id end
  end
  local pending, failed = #ids, 0
  for _, id in ipairs(ids) do
    lt.spawn(function()
      local _, cerr = real:cancel({ order_id = id }, math.max(deadline - lt.now(), 0.1))
      if cerr and cerr.name ~= "order_not_found" and cerr.name ~= "not_open_order" then
        failed = failed + 1
        lt.log("warn", "shutdown: cancel %s: %s", id, tostring(cerr))
      end
      pending = pending - 1
    end)
  end
  if not wait_until(function() return pending == 0 end, deadline) then
    lt.log("warn", "shutdown: %d cancel(s) unanswered after %g s", pending, seconds)
  end
  lt.log("info", "shutdown: cancelled %d open order(s) of this run%s", #ids - pending - failed,
         failed > 0 and (" (%d failed)"):format(failed) or "")
end

-- Run strategy.stop(ctx, "shutdown") as a task of its own, ended after `seconds`.
local function bounded_stop(strategy, ctx, seconds)
  if type(strategy.stop) ~= "function" then return end
  local done = false
  local id = lt.spawn(function()
    local ok, err = pcall(strategy.stop, ctx, "shutdown")
    if not ok then lt.log("error", "strategy stop failed: %s", tostring(err)) end
    done = true
  end)
  if not wait_until(function() return done end, lt.now() + seconds) then
    core._kill(id)
    lt.log("warn", "strategy stop overran its %g s limit: ended", seconds)
  end
end

local function number_opt(v, name, default)
  if v == nil then return default end
  local n = tonumber(v)
  if not n or n < 0 then error(name .. " must be a number of seconds >= 0", 0) end
  return n
end

--- runner.run(opts): opts.path (strategy file), opts.venue / opts.url / opts.ca_file,
-- opts.seed, opts.log_level, opts.secret_file, opts.config (table of strings),
-- opts.stop_timeout and opts.cancel_timeout (seconds, default 10), opts.keep_orders.
-- Raises on a strategy error.
function M.run(opts)
  if opts.log_level then lt.set_log_level(opts.log_level) end
  local stop_timeout = number_opt(opts.stop_timeout, "--stop-timeout", 10)
  local cancel_timeout = number_opt(opts.cancel_timeout, "--cancel-timeout", 10)
  local strategy = load_strategy(opts.path)
  if (opts.venue == nil or opts.venue == "sim") and not opts.url then
    lt.sim.start(tonumber(opts.seed) or 1)
  end
  local where = { venue = not opts.url and (opts.venue or "sim") or nil,
                  url = opts.url, ca_file = opts.ca_file }
  local own = { label = ("lt%x%04x"):format(os.time(), math.random(0, 0xffff)),
                ids = {}, instruments = {}, inflight = 0, closing = false }
  local real, tried
  local ctx = setmetatable({ config = opts.config or {} }, { __index = function(t, k)
    if k ~= "private" or tried then return nil end
    tried = true
    real = M.private_client(where, opts)
    if real then rawset(t, "private", tracked(real, own)) end
    return rawget(t, "private")
  end })
  function ctx.log(level, fmt, ...) lt.log(level, fmt, ...) end
  local signalled = false
  local function on_signal(sig)
    signalled = true
    lt.log("info", "%s: stopping the strategy (limit %g s)", sig, stop_timeout)
    bounded_stop(strategy, ctx, stop_timeout)
    own.closing = true
    if ctx.public then ctx.public:close() end -- market data would only wake handlers now
    if real and not opts.keep_orders then cancel_own(real, own, cancel_timeout)
    elseif real then lt.log("info", "shutdown: --keep-orders: open orders stay on the venue") end
  end
  lt.run(function()
    ctx.public = lt.public(where)
    if strategy.private == true then local _ = ctx.private end
    strategy.start(ctx, nil)
  end, on_signal)
  -- the strategy ended by itself (every task done): stop still runs, as it always did, but the
  -- loop is over, so it cannot await there
  if not signalled and type(strategy.stop) == "function" then
    local ok, err = pcall(strategy.stop, ctx, "shutdown")
    if not ok then lt.log("error", "strategy stop failed: %s", tostring(err)) end
  end
end

return M

--- luatrade.runner — what `luatrade run STRATEGY.lua` does: load the strategy module, give it a
-- context (ctx.public, ctx.private, ctx.orders, ctx.log, ctx.config), start it inside lt.run,
-- reload it while connected when its files change or on SIGHUP, and stop it gracefully on
-- Ctrl-C (SIGINT) or SIGTERM.
--
-- Lifecycle: M.start(ctx, state) must return within --start-timeout (long work goes into
-- lt.spawn); M.stop(ctx, reason) -> state, reason "reload" or "shutdown", runs as a task inside
-- the loop (it may await) within --stop-timeout, then it is ended and logged.
--
-- Hot reload (luatrade.version, luatrade.handover): the strategy file and every module it
-- loaded from its own directory are watched (inotify on the directory, so saves by rename
-- count; a burst of writes reloads once, after 30 ms of quiet); SIGHUP reloads too, and with
-- opts.no_watch only SIGHUP does. A reload:
--   1. loads and compiles the new version in a fresh environment; a syntax or load error is
--      logged (file:line) and the running version is not touched;
--   2. ends the old version's tasks: their pending awaits (and any later one) raise an error
--      with err.kind "reloaded", to-be-closed variables run; a call already sent is tracked by
--      the runtime (order calls run in runtime tasks: the answer reaches ctx.orders);
--   3. runs old.stop(ctx, "reload") and hands its result to new.start(ctx, state); meanwhile
--      the notifications of the old version's channels queue, in order;
--   4. channels the new version subscribes that the old one had are taken over without a
--      request (its handler gets the queued notifications first), the others are subscribed;
--      channels only the old version had are unsubscribed once the new one has started;
--   5. if new.start raises or overruns, everything it started is undone (its tasks end, its
--      channels are unsubscribed) and the old version starts again with the same state.
--   Each reload is logged with its outcome and how long the switch took.
--
-- Shutdown (Ctrl-C or SIGTERM), inside the loop:
--   1. strategy.stop(ctx, "shutdown") runs as a task within opts.stop_timeout (default 10).
--   2. From then on the strategy's buy/sell/edit fail at once (err.kind "shutdown") and
--      ctx.public is closed, so its handlers cannot quote again while we clean up.
--   3. Unless opts.keep_orders, the open orders this runtime placed are cancelled and the
--      venue's answers awaited (all of it within opts.cancel_timeout, default 10 s).
--   4. lt.run ends: the remaining tasks are ended, the connections closed; exit status 0.
--   A second signal meanwhile exits the process at once with status 130 (lua_core.c).
-- A strategy whose tasks have all ended by themselves gets stop(ctx, "shutdown") too, and the
-- run ends.
--
-- After the private client reconnects and logs in again, ctx.orders is reconciled with the
-- venue (tracker:reconcile): the user.orders notifications of a dead connection are lost.
--
-- Which orders "this runtime placed" (luatrade.orders): buy and sell through ctx.private add
-- the run's own label when the strategy gives none and record every result; at shutdown the
-- open orders of the instruments traded that are recorded or carry the run label are
-- cancelled by order_id. Orders of the same account placed by anyone else are never touched.
-- Limits: an order whose outcome stayed unknown (timeout, connection lost) and that carries a
-- strategy label is not recognised as ours; neither is an order sent through priv:call.
--
-- LUATRADE_ORDERS_DUMP=FILE: the tracker's view of the orders (what it took in, the heap, and
-- at shutdown what it holds) is written to FILE for checks from outside (luatrade.orders_dump).
--
-- The private client is created only when the strategy uses it: on the first access of
-- ctx.private, or at start when the strategy module sets `M.private = true`. A public-only
-- strategy never logs in.
local lt = require "luatrade"
local core = require "luatrade.core"
local version = require "luatrade.version"
local orders = require "luatrade.orders"
local handover = require "luatrade.handover"

local M = { _VERSION = "runner 0.3.0" }

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

-- The error a reload ends the old version's tasks with (a new one per version).
local function reloaded_error()
  return setmetatable({ kind = "reloaded", name = "reloaded", retryable = false,
    message = "the strategy was reloaded: this task of the old version ended (a call it had " ..
              "sent is still tracked by the runtime)" },
    { __tostring = function(e) return e.name .. ": " .. e.message end })
end

-- Run fn(...) as a task of `group`; wait at most `seconds`. Returns "ok", result |
-- "error", message | "overran" (the task is then ended).
local function bounded(group, seconds, fn, ...)
  local ev, args = core._event(), table.pack(...)
  local id = core._spawn_in(group, function()
    local ok, res = xpcall(fn, debug.traceback, table.unpack(args, 1, args.n))
    if not ev:is_set() then ev:set(ok and "ok" or "error", res) end
  end)
  local timer = lt.spawn(function()
    lt.sleep(seconds)
    if not ev:is_set() then ev:set("overran") end
  end)
  local how, res = ev:wait()
  core._kill(timer)
  if how == "overran" then core._kill(id) end
  return how, res
end

-- End every task of version (or stop group) `v`: pending awaits raise "reloaded" and the
-- tasks unwind; what is still alive after a few loop rounds is killed.
local function end_group(group)
  core._cancel_group(group, reloaded_error())
  local deadline = lt.now() + 0.5
  while core._group_count(group) > 0 and lt.now() < deadline do lt.sleep(0) end
  core._end_group(group)
end

-- ---- one run --------------------------------------------------------------------------------

local Run = {}
Run.__index = Run

function Run:private()
  if not self.tried then
    self.tried = true
    self.real_priv = M.private_client(self.where, self.opts)
    if self.real_priv then -- ctx.orders follows the venue's user.orders (a runtime task)
      core._spawn_in(self.rt_group, function()
        local sub, err = self.orders:watch(self.real_priv)
        if not sub then lt.log("warn", "ctx.orders: cannot subscribe %s: %s", orders.CHANNEL, tostring(err)) end
      end)
      -- What user.orders said while the connection was down is lost with it: once logged in
      -- again after a reconnect, ctx.orders asks the venue (found by the soak, scripts/soak).
      local down = false
      self.H:state_hook(self.real_priv, function(state)
        if state == "reconnecting" or state == "closed" then down = true
        elseif state == "authenticated" and down then
          down = false
          core._spawn_in(self.rt_group, function()
            local ok, rerr = self.orders:reconcile(self.real_priv, 5)
            if not ok then lt.log("warn", "reconnect: orders not reconciled: %s", tostring(rerr)) end
          end)
        end
      end)
    end
  end
  return self.real_priv
end

-- A version of the strategy: its module, its task group and its ctx.
function Run:version(mod)
  local v = { mod = mod, group = core._new_group() }
  local run = self
  local ctx = setmetatable({ config = self.opts.config or {}, orders = self.orders }, {
    __index = function(t, k)
      if k ~= "private" then return nil end
      local rc = run:private()
      if not rc then return nil end
      local p = run.H:client(rc, v)
      rawset(t, "private", p)
      return p
    end })
  function ctx.log(level, fmt, ...) lt.log(level, fmt, ...) end
  ctx.public = self.H:client(self.real_pub, v)
  v.ctx = ctx
  return v
end

-- Start v with `state`; true, or false, message.
function Run:start(v, state)
  self.H.current = v
  if v.mod.private == true then local _ = v.ctx.private end
  local how, res = bounded(v.group, self.start_timeout, v.mod.start, v.ctx, state)
  if how == "ok" then return true end
  if how == "overran" then return false, ("start overran its %g s limit"):format(self.start_timeout) end
  return false, tostring(res)
end

-- Run v.mod.stop(ctx, reason) in a group of its own within the stop limit; returns its state.
function Run:stop(v, reason)
  if type(v.mod.stop) ~= "function" then return nil end
  local g = core._new_group()
  local how, res = bounded(g, self.stop_timeout, v.mod.stop, v.ctx, reason)
  end_group(g)
  self.H:hold(v)
  if how == "overran" then
    lt.log("warn", "strategy stop overran its %g s limit: ended", self.stop_timeout)
  elseif how == "error" then
    lt.log("error", "strategy stop failed: %s", tostring(res))
  end
  return how == "ok" and res or nil
end

-- End version v: its tasks end ("reloaded"), its channels are held for the next version.
function Run:finish(v)
  end_group(v.group)
  self.H:hold(v)
  if self.H.current == v then self.H.current = nil end
end

--- Reload: load and compile the new version first (an error keeps the old one untouched);
-- end the old version's tasks, run its stop(ctx, "reload") and hand the state it returns to
-- the new version's start(ctx, state). If that start fails, what it started is undone and the
-- old version starts again with the same state. Channels nobody took are then unsubscribed.
function Run:reload(trigger)
  local t0 = lt.now()
  local mod, err, files = version.load(self.path)
  if mod then files = err end
  for _, f in ipairs(files or {}) do self:watch(f) end
  if not mod then
    lt.log("error", "reload (%s): %s; the running version stays", trigger, err)
    return false
  end
  self.reloading = true
  local old, state = self.cur, nil
  if old then
    self:finish(old)
    state = self:stop(old, "reload")
  end
  if self.real_priv then
    local ok, rerr = self.orders:reconcile(self.real_priv, 2)
    if not ok then lt.log("warn", "reload: orders not reconciled: %s", tostring(rerr)) end
  end
  local new = self:version(mod)
  local ok, serr = self:start(new, state)
  if ok then
    self.cur = new
  else
    lt.log("error", "reload (%s): the new version's start failed: %s", trigger, serr)
    self:finish(new)
    self.cur = nil
    if old then
      local again = self:version(old.mod)
      local ok2, e2 = self:start(again, state)
      if ok2 then self.cur = again
      else
        lt.log("error", "reload: the old version's start failed too (%s); no strategy runs " ..
               "until the next reload", e2)
        self:finish(again)
      end
    end
  end
  local dropped = self.H:drop_held()
  self.reloads = self.reloads + 1
  self.reloading = false
  lt.log("info", "reload (%s): %s; switch took %.1f ms (%d channel(s) handed over, %d unsubscribed)",
         trigger, ok and "the new version runs" or "kept the old version",
         (lt.now() - t0) * 1000, self.H:count(), dropped)
  return ok
end

function Run:watch(path)
  if self.watcher and self.watch_files then
    local ok, err = pcall(self.watcher.add, self.watcher, path)
    if not ok then lt.log("warn", "not watching %s: %s", path, tostring(err)) end
  end
end

-- The supervisor task: waits for file changes (debounced: a burst reloads once) and SIGHUP,
-- reloads; when the strategy has ended by itself, runs its stop(ctx, "shutdown") and returns.
function Run:supervise()
  while not self.stopping do
    local ev, why
    if self.watcher then ev, why = self.watcher:wait(0.5) else lt.sleep(0.5) end
    if self.stopping or why == "closed" then return end
    if ev then
      local trigger = ev.hup and "SIGHUP" or (ev.paths[1] or "?"):match("[^/]*$")
      local quiet_until = lt.now() + 1
      while lt.now() < quiet_until do -- wait for 30 ms of quiet, at most 1 s
        local more = self.watcher:wait(0.03)
        if not more then break end
        if more.hup then trigger = "SIGHUP" end
      end
      if self.stopping then return end
      self:reload(trigger)
    elseif self.cur and core._group_count(self.cur.group) == 0 then
      self:stop(self.cur, "shutdown")   -- the strategy ended by itself
      self.ended = true
      if self.watcher then self.watcher:close() end
      return
    end
  end
end

-- Ctrl-C / SIGTERM: stop the strategy inside the loop, then cancel this run's orders.
function Run:shutdown(sig)
  self.stopping = true
  if self.watcher then self.watcher:close() end
  local deadline = lt.now() + self.stop_timeout
  while self.reloading and lt.now() < deadline do lt.sleep(0.01) end
  lt.log("info", "%s: stopping the strategy (limit %g s)", sig, self.stop_timeout)
  if self.cur then self:stop(self.cur, "shutdown") end
  self.orders.closing = true
  if self.real_pub then self.real_pub:close() end -- market data would only wake handlers now
  if self.dump then self.dump.final() end -- LUATRADE_ORDERS_DUMP (luatrade.orders_dump)
  local real = self.real_priv
  if real and not self.opts.keep_orders then self.orders:cancel_own(real, self.cancel_timeout)
  elseif real then lt.log("info", "shutdown: --keep-orders: open orders stay on the venue") end
end

local function number_opt(v, name, default)
  if v == nil then return default end
  local n = tonumber(v)
  if not n or n < 0 then error(name .. " must be a number of seconds >= 0", 0) end
  return n
end

--- runner.run(opts): opts.path (strategy file), opts.venue / opts.url / opts.ca_file,
-- opts.seed, opts.log_level, opts.secret_file, opts.config (table of strings),
-- opts.stop_timeout, opts.start_timeout and opts.cancel_timeout (seconds, default 10),
-- opts.keep_orders, opts.no_watch. Raises when the strategy cannot be loaded or its first
-- start() fails.
function M.run(opts)
  if opts.log_level then lt.set_log_level(opts.log_level) end
  local run = setmetatable({ opts = opts, path = opts.path, reloads = 0,
    stop_timeout = number_opt(opts.stop_timeout, "--stop-timeout", 10),
    start_timeout = number_opt(opts.start_timeout, "--start-timeout", 10),
    cancel_timeout = number_opt(opts.cancel_timeout, "--cancel-timeout", 10),
    watch_files = not opts.no_watch }, Run)
  local mod, files = version.load(opts.path)
  if not mod then error("cannot load strategy: " .. files, 0) end
  if (opts.venue == nil or opts.venue == "sim") and not opts.url then
    lt.sim.start(tonumber(opts.seed) or 1)
  end
  run.where = { venue = not opts.url and (opts.venue or "sim") or nil,
                url = opts.url, ca_file = opts.ca_file }
  local ok_w, w = pcall(core.watch_new, { hup = true })
  if ok_w then run.watcher = w
  else lt.log("warn", "no file watching or SIGHUP reload: %s", tostring(w)) end
  lt.run(function()
    run.rt_group = core._new_group()
    run.orders = orders.new(run.rt_group)
    local dump = os.getenv("LUATRADE_ORDERS_DUMP") -- the tracker's view, for checks (soak)
    if dump and dump ~= "" then
      run.dump = require("luatrade.orders_dump").attach(run.orders, dump,
        function(fn) core._spawn_in(run.rt_group, fn) end)
    end
    run.H = handover.new(run.orders, { [orders.CHANNEL] = "ctx.orders follows it; subscribe " ..
      "a narrower user.orders channel, e.g. user.orders.BTC-PERPETUAL.raw" })
    run.real_pub = lt.public(run.where)
    for _, f in ipairs(files) do run:watch(f) end
    local v = run:version(mod)
    run.cur = v   -- a signal during the first start still gets its stop
    local ok, serr = run:start(v, nil)
    if not ok then
      run.cur = nil
      run:finish(v)
      error("strategy start failed: " .. serr, 0)
    end
    core._spawn_in(run.rt_group, run.supervise, run)
  end, function(sig) run:shutdown(sig) end)
  if run.watcher then run.watcher:close() end
end

return M

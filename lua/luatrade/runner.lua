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
-- The trading layer (luatrade.trading): ctx.orders (the order tracker), ctx.positions,
-- ctx.risk and ctx.kill(reason) belong to the run, not to a version: they carry over reloads.
-- buy, sell, edit and cancel through ctx.private go through ctx.orders too, so every order
-- gets the tracker's label and the risk limits. Limits come from opts.risk (the config file),
-- then the strategy module's `M.risk = {...}` at each start, then ctx.risk:set{...}. The kill
-- file is opts.kill_file (--kill-file; default "KILL" in the working directory). "This run's
-- orders", cancelled at shutdown, are those the tracker placed (its label); orders of the same
-- account placed by anyone else, or sent through priv:call, are never touched.
--
-- Exit statuses (runner.main, printed by main.c as one line "luatrade: ..."): 0 the run ended;
-- 2 bad options or input (luatrade.cli checks them all before anything starts); 1 the strategy
-- could not be loaded, its first start() failed, or a client could never connect (see "could
-- never connect" below; --connect-timeout). --config FILE is read by luatrade.cli; its `risk`
-- table sets the run's risk limits (ctx.risk), its `client` table goes to lt.public / lt.private.
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
local trading = require "luatrade.trading"
local handover = require "luatrade.handover"
local cli = require "luatrade.cli"

local M = { _VERSION = "runner 0.4.0" }

-- The runner's own log lines (component "runner").
local function log(level, fmt, ...) core.log(level, fmt:format(...), "runner") end

--- The strategy's private client: the demo account on the built-in venue; elsewhere
-- DERIBIT_CLIENT_ID with DERIBIT_CLIENT_SECRET (or --secret-file); nil without credentials.
function M.private_client(where, opts)
  local id = os.getenv("DERIBIT_CLIENT_ID")
  if where.venue == "sim" and not id then
    local o = { venue = "sim" }
    for k, v in pairs(opts.client or {}) do o[k] = v end
    return lt.private(o)
  end
  if not id then return nil end
  local secret = opts.secret_file and lt.secret.file(opts.secret_file)
                 or lt.secret.env("DERIBIT_CLIENT_SECRET")
  local o = { client_id = id, client_secret = secret }
  for k, v in pairs(where) do o[k] = v end
  for k, v in pairs(opts.client or {}) do o[k] = v end
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
    if self.real_priv then self:watch_connect(self.real_priv, true) end
    if self.real_priv then -- ctx.orders follows the venue's user.orders (a runtime task)
      core._spawn_in(self.rt_group, function()
        local ok, err = trading.attach(self.orders, self.real_priv, self.opts.kill_file or "KILL")
        if not ok then log("warn", "ctx.orders: cannot subscribe %s: %s", orders.CHANNEL, tostring(err)) end
      end)
    end
  end
  return self.real_priv
end

-- A version of the strategy: its module, its task group and its ctx.
function Run:version(mod)
  local v = { mod = mod, group = core._new_group() }
  local run = self
  local tr = self.orders
  local layer = { orders = tr, positions = tr.positions, risk = tr.risk }
  local ctx = setmetatable({ config = self.opts.config or {} }, {
    __index = function(t, k)
      if layer[k] then -- the trading layer needs the private client
        run:private()
        rawset(t, k, layer[k])
        return layer[k]
      end
      if k ~= "private" then return nil end
      local rc = run:private()
      if not rc then return nil end
      local p = run.H:client(rc, v)
      rawset(t, "private", p)
      return p
    end })
  function ctx.log(level, fmt, ...)
    core.log(level, select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt), "strategy")
  end
  function ctx.kill(reason) run:private(); tr.risk:kill(reason) end
  ctx.public = self.H:client(self.real_pub, v)
  v.ctx = ctx
  return v
end

-- Start v with `state`; true, or false, message.
function Run:start(v, state)
  self.H.current = v
  if v.mod.private == true then local _ = v.ctx.private end
  if type(v.mod.risk) == "table" then
    local ok, err = pcall(self.orders.risk.set, self.orders.risk, v.mod.risk)
    if not ok then return false, "M.risk: " .. tostring(err) end
  end
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
    log("warn", "strategy stop overran its %g s limit: ended", self.stop_timeout)
  elseif how == "error" then
    log("error", "strategy stop failed: %s", tostring(res))
  end
  return how == "ok" and res or nil
end

-- End version v: its tasks end ("reloaded"), its channels are held for the next version.
function Run:finish(v)
  end_group(v.group)
  self.orders:forget(v.group)
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
    log("error", "reload (%s): %s; the running version stays", trigger, err)
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
    if not ok then log("warn", "reload: orders not reconciled: %s", tostring(rerr)) end
  end
  local new = self:version(mod)
  local ok, serr = self:start(new, state)
  if ok then
    self.cur = new
  else
    log("error", "reload (%s): the new version's start failed: %s", trigger, serr)
    self:finish(new)
    self.cur = nil
    if old then
      local again = self:version(old.mod)
      local ok2, e2 = self:start(again, state)
      if ok2 then self.cur = again
      else
        log("error", "reload: the old version's start failed too (%s); no strategy runs " ..
               "until the next reload", e2)
        self:finish(again)
      end
    end
  end
  local dropped = self.H:drop_held()
  self.reloads = self.reloads + 1
  self.reloading = false
  log("info", "reload (%s): %s; switch took %.1f ms (%d channel(s) handed over, %d unsubscribed)",
         trigger, ok and "the new version runs" or "kept the old version",
         (lt.now() - t0) * 1000, self.H:count(), dropped)
  return ok
end

function Run:watch(path)
  if self.watcher and self.watch_files then
    local ok, err = pcall(self.watcher.add, self.watcher, path)
    if not ok then log("warn", "not watching %s: %s", path, tostring(err)) end
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
      self.orders:stop()
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
  log("info", "%s: stopping the strategy (limit %g s)", sig, self.stop_timeout)
  if self.cur then self:stop(self.cur, "shutdown") end
  self.orders.closing = true
  if self.real_pub then self.real_pub:close() end -- market data would only wake handlers now
  if self.dump then self.dump.final() end -- LUATRADE_ORDERS_DUMP (luatrade.orders_dump)
  local real = self.real_priv
  if real and not self.opts.keep_orders then self.orders:cancel_own(real, self.cancel_timeout)
  elseif real then log("info", "shutdown: --keep-orders: open orders stay on the venue") end
  self.orders:stop()
end

-- ---- "could never connect" ------------------------------------------------------------------
--
-- A client that has never connected is watched until it does. The run fails (exit status 1)
-- with one line when its first attempt fails for a reason retrying cannot fix (certificate not
-- trusted, host not found, an HTTP answer other than 429 / 5xx to the upgrade), when three
-- attempts in a row were refused, when a private client's first authentication is refused, or
-- when no connection opened within --connect-timeout seconds (default 10). A client that was
-- connected once and drops later reconnects as before: it is not watched any more.

local HINT = {
  refused = "is the venue running? check --url and its port",
  tls = "pass --ca-file FILE with the venue's CA for a self-signed venue, or check the host name",
  dns = "check the host name in --url",
  handshake = "is this a Deribit WebSocket endpoint? check the path in --url, e.g. /ws/api/v2",
}

-- The one line for client rc that has not connected: message, or nil while it may still.
local function connect_failure(rc, private, deadline_passed, connect_timeout)
  local st = rc:stats()
  local state, reason, kind = rc:state()
  local url = tostring(rc):match("%((.-), [%w_]+%)$") or "the venue"
  if (st.connects or 0) > 0 then
    if private and state == "auth_failed" and (st.authentications or 0) == 0 then
      return ("authentication refused by %s: %s (check DERIBIT_CLIENT_ID and the secret, "
              .. "and the key's scopes)"):format(url, reason or "refused")
    end
    return nil
  end
  if not reason then
    if deadline_passed then
      return ("cannot connect to %s: no connection within %g s (is the venue reachable? "
              .. "raise --connect-timeout for a slow network)"):format(url, connect_timeout)
    end
    return nil
  end
  reason = reason:gsub("%s*;%s*pass ca_file for a self%-signed venue", "")
  local transient = kind == "handshake" and (reason:match("HTTP 429") or reason:match("HTTP 5%d%d"))
  local fatal = kind == "tls" or kind == "dns" or (kind == "handshake" and not transient)
                or (kind == "refused" and (st.reconnects or 0) >= 3)
  if fatal or deadline_passed then
    if kind == "tls" and not reason:find("certificate") then
      return ("cannot connect to %s: %s; is the venue serving wss:// (TLS) on this port? (a "
              .. "plain ws:// venue on loopback needs a ws:// --url and --insecure-loopback)")
             :format(url, reason)
    end
    local hint = (not fatal and kind ~= "refused") and
      ("no connection within %g s; is the venue reachable? raise --connect-timeout for a slow "
       .. "network"):format(connect_timeout) or HINT[kind] or "check --url"
    return ("cannot connect to %s: %s; %s"):format(url, reason, hint)
  end
  return nil
end

-- opts.metrics_port (--metrics-port N, 0 = a free one) and opts.metrics_addr (default
-- 127.0.0.1): serve /metrics and /healthz on the loop (lua_metrics.c); raises one line (exit
-- status 2 for a bad value, 1 when it cannot listen).
local function serve_metrics(opts)
  if not opts.metrics_port then error({ exit = 2, message = "--metrics-addr needs --metrics-port N" }, 0) end
  local port = tonumber(opts.metrics_port)
  if not port or port % 1 ~= 0 or port < 0 or port > 65535 then
    error({ exit = 2, message = "--metrics-port must be a port number 0..65535 (0: a free one), got "
      .. tostring(opts.metrics_port) }, 0)
  end
  local addr = opts.metrics_addr or "127.0.0.1"
  local ok, bound = pcall(core.metrics_serve, addr, math.tointeger(port))
  if not ok then error(tostring(bound), 0) end
  log("info", "metrics on http://%s:%d/metrics (health: /healthz)", addr:find(":") and "[" .. addr .. "]" or addr, bound)
end

-- The run failed for good: remember the one line, end the strategy's tasks, end lt.run.
function Run:fail(message)
  if self.failure or self.stopping then return end
  self.failure = { exit = 1, message = message }
  local fatal = setmetatable({ kind = "not_connected", name = "not_connected", retryable = false,
    message = message }, { __tostring = function(e) return e.name .. ": " .. e.message end })
  if self.cur then core._cancel_group(self.cur.group, fatal) end
  self.done:set("failed")
end

--- Run:watch_connect(rc, private): a runtime task that ends the run when rc could never
-- connect (see above); it ends when rc has connected (and, private, authenticated once).
function Run:watch_connect(rc, private)
  local deadline = lt.now() + self.connect_timeout
  core._spawn_in(self.rt_group, function()
    while not self.stopping and not self.failure and not self.done:is_set() do
      local st = rc:stats()
      if (st.connects or 0) > 0 and (not private or (st.authentications or 0) > 0) then return end
      local msg = connect_failure(rc, private, lt.now() > deadline, self.connect_timeout)
      if msg then return self:fail(msg) end
      if (st.connects or 0) > 0 and rc:state() == "closed" then return end
      lt.sleep(0.05)
    end
  end)
end

-- The first line of a strategy error (the traceback goes to the debug log).
local function first_line(msg)
  msg = tostring(msg)
  local line = msg:match("^[^\n]*")
  if line ~= msg then log("debug", "%s", msg) end
  return line
end

--- runner.run(opts): opts.path (strategy file), opts.config_file (--config), opts.venue /
-- opts.url / opts.ca_file / opts.insecure_loopback, opts.seed, opts.log_level,
-- opts.log_format, opts.secret_file, opts.client (client options), opts.config (table),
-- opts.risk (limits: ctx.risk), opts.kill_file (--kill-file, default "KILL"), opts.stop_timeout, opts.start_timeout and
-- opts.cancel_timeout (seconds, default 10), opts.connect_timeout (default 10),
-- opts.keep_orders, opts.no_watch. Raises { exit = 2, message } for bad options, { exit = 1,
-- message } when the clients could never connect or the first start() failed (one line each).
function M.run(cmd)
  local file = cmd.config_file and cli.load_config(cmd.config_file) or nil
  local opts = cli.merge(file, cmd)
  opts.path = cmd.path or (file and file.strategy)
  cli.check(opts)
  if opts.log_level then lt.set_log_level(opts.log_level) end
  if opts.log_format then lt.set_log_format(opts.log_format) end
  local run = setmetatable({ opts = opts, path = opts.path, reloads = 0,
    stop_timeout = opts.stop_timeout or 10, start_timeout = opts.start_timeout or 10,
    cancel_timeout = opts.cancel_timeout or 10, connect_timeout = opts.connect_timeout or 10,
    watch_files = not opts.no_watch }, Run)
  local mod, files = version.load(opts.path)
  if not mod then error({ exit = 1, message = "cannot load strategy: " .. first_line(files) }, 0) end
  if (opts.venue == nil or opts.venue == "sim") and not opts.url then
    lt.sim.start(math.tointeger(opts.seed) or 1)
  end
  if opts.metrics_port or opts.metrics_addr then serve_metrics(opts) end
  run.where = { venue = not opts.url and (opts.venue or "sim") or nil,
                url = opts.url, ca_file = opts.ca_file,
                insecure_loopback = opts.insecure_loopback or nil }
  local ok_w, w = pcall(core.watch_new, { hup = true })
  if ok_w then run.watcher = w
  else log("warn", "no file watching or SIGHUP reload: %s", tostring(w)) end
  local ok_run, run_err = pcall(lt.run, function()
    run.rt_group = core._new_group()
    run.done = core._event()
    run.orders = trading.new{ group = run.rt_group, risk = opts.risk }
    local dump = os.getenv("LUATRADE_ORDERS_DUMP") -- the tracker's view, for checks (soak)
    if dump and dump ~= "" then
      run.dump = require("luatrade.orders_dump").attach(run.orders, dump,
        function(fn) core._spawn_in(run.rt_group, fn) end)
    end
    run.H = handover.new(run.orders, {
      [orders.CHANNEL] = "ctx.orders follows it; subscribe a narrower user.orders channel, " ..
        "e.g. user.orders.BTC-PERPETUAL.raw",
      [orders.TRADES] = "ctx.orders and ctx.positions follow it; subscribe a narrower " ..
        "user.trades channel, e.g. user.trades.BTC-PERPETUAL.raw" })
    local pub_opts = {}
    for k, v in pairs(run.where) do pub_opts[k] = v end
    for k, v in pairs(opts.client or {}) do
      if not cli.PRIVATE_ONLY[k] then pub_opts[k] = v end
    end
    local ok_p, pub = pcall(lt.public, pub_opts)
    if not ok_p then
      run.failure = { exit = 2, message = "client options: " .. tostring(pub):gsub("^.-:%d+: ", "") }
      error("bad client options", 0)
    end
    run.real_pub = pub
    run:watch_connect(pub, false)
    for _, f in ipairs(files) do run:watch(f) end
    local v = run:version(mod)
    run.cur = v   -- a signal during the first start still gets its stop
    local ok, serr = run:start(v, nil)
    if run.failure then error("failed", 0) end
    if not ok then
      run.cur = nil
      run:finish(v)
      run.failure = { exit = 1, message = "strategy start failed: " .. first_line(serr) ..
        (tostring(serr):find("\n") and " (--log-level debug shows the traceback)" or "") }
      error("failed", 0)
    end
    core._spawn_in(run.rt_group, function()
      run:supervise()
      if not run.done:is_set() then run.done:set("ended") end
    end)
    local how = run.done:wait()
    if run.failure then error("failed", 0) end
    -- the strategy ended by itself: end the runtime's own tasks too (ctx.orders' user.orders
    -- watch would keep a private run alive for ever), so lt.run ends
    if how == "ended" and not run.stopping then end_group(run.rt_group) end
  end, function(sig) run:shutdown(sig) end)
  if run.watcher then run.watcher:close() end
  if run.failure then error(run.failure, 0) end
  if not ok_run then error(run_err, 0) end
end

--- runner.main(opts) -> exit status, message: runner.run without raising. 0 when the run
-- ended normally; 2 and one line for bad options or input; 1 and one line when the clients
-- could never connect, the strategy could not be loaded or its first start() failed; 1 and the
-- error with its traceback for anything unexpected (a bug: please report it).
-- Example (main.c does this): `local status, msg = runner.main{ path = "s.lua" }`.
function M.main(opts)
  local ok, err = pcall(M.run, opts)
  if ok then return 0 end
  if type(err) == "table" and err.exit then return err.exit, err.message end
  return 1, tostring(err)
end

return M

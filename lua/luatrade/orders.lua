--- luatrade.orders — the order tracker: every order a strategy places through it is followed
-- from the call's result and the venue's user.orders channel until it is filled, cancelled or
-- rejected; outcomes the connection left unknown are looked up by label once the venue can be
-- asked again, never re-sent; after every reconnect all open orders are reconciled.
--
--     local orders = lt.orders(priv)                           -- outside `luatrade run`
--     orders:on_fill(function(fill, order) print(fill.amount, fill.price, order.state) end)
--     local o, err = orders:buy{ instrument_name = "BTC-PERPETUAL", amount = 10,
--                                type = "limit", price = 90000, post_only = true, label = "bid" }
--     for _, o in ipairs(orders:open{ instrument = "BTC-PERPETUAL", tag = "bid" }) do ... end
--     orders:cancel_all()                                      -- only what this tracker placed
--
-- In `luatrade run` it is ctx.orders, shared by every version of a hot-reloaded strategy, and
-- ctx.private's buy, sell, edit and cancel go through it too.
--
-- Labels: every order gets a label of its own, "<tag>-<run>-<n>": tag = the label the strategy
-- passed (a label prefix; at most 40 bytes) or the tracker's prefix (opts.prefix, default
-- "lt"), run = 10 hex digits drawn when the tracker is made, n counts up. The venue finds an
-- order by it (get_order_state_by_label), so an order whose call failed with connection_lost or
-- timed out is found, or known never to have arrived, without sending it again.
--
-- Records (orders:get, orders:open, handlers; copies): label, tag, order_id, instrument_name,
-- direction, type, price, amount, filled_amount, average_price, state, last_update_timestamp,
-- error (a rejected call's error). States: "pending" (call in flight), "open", "untriggered",
-- "unknown" (the call's outcome is unknown: it is looked up by label when the client is
-- authenticated again), then "filled", "cancelled" or "rejected" (by the venue, by the risk
-- limits, or never arrived: error.name "not_on_venue"). Closed records stay queryable until
-- 1,000 later ones closed; at most 10,000 open ones (beyond: refused, kind "risk").
--
-- Rate limits: each call is the venue method's own (order methods draw from the
-- matching-engine bucket); reconciliation asks get_open_orders_by_instrument once per traded
-- instrument and get_order_state / get_order_state_by_label per order it cannot place.
local core = require "luatrade.core"

local M = { _VERSION = "orders 0.2.0" }

local T = {}
T.__index = T
T.__name = "luatrade.Orders"

local TERMINAL = { filled = true, cancelled = true, rejected = true }
local HISTORY = 1000       -- closed records kept for queries
local MAX_LIVE = 10000     -- open records
local MAX_HANDLERS = 64

--- The channels the tracker listens to on its private client (reserved in `luatrade run`).
M.CHANNEL = "user.orders.any.any.raw"
M.TRADES = "user.trades.any.any.raw"

local FIELDS = { "order_id", "instrument_name", "direction", "price", "amount", "filled_amount",
                 "average_price", "last_update_timestamp", "order_type" }

local function mkerr(kind, name, message, sent)
  return setmetatable({ kind = kind, name = name, message = message, sent = sent or false,
    retryable = false }, { __tostring = function(e) return e.name .. ": " .. e.message end })
end
M.error = mkerr

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- orders.new(opts) -> tracker. opts.group: the task group its calls run in (default: a new
-- one); opts.prefix: label tag of orders placed without a label ("lt"). The tracker is wired
-- to a client by tracker:attach(priv) (lt.orders does both). Raises on a bad prefix.
function M.new(opts)
  opts = opts or {}
  local prefix = opts.prefix or "lt"
  if type(prefix) ~= "string" or not prefix:match("^[%w_.:]+$") or #prefix > 40 then
    error("orders: prefix must be 1..40 letters, digits or _ . :", 2)
  end
  return setmetatable({
    group = opts.group or core._new_group(), prefix = prefix,
    run = ("%06x%04x"):format(os.time() & 0xffffff, math.random(0, 0xffff)), seq = 0,
    bylabel = {}, byid = {}, live = {}, nlive = 0, hist = {}, hhead = 1, htail = 0,
    handlers = { fill = {}, order = {} }, instruments = {}, inflight = 0,
    dirty = false, closing = false,
    counts = { placed = 0, filled = 0, cancelled = 0, rejected = 0, unknown = 0, reconciled = 0,
               refused = 0 },
  }, T)
end

function T.__tostring(self)
  return ("luatrade.Orders(%d open)"):format(self.nlive)
end

--- tracker:label(): the label stem of this tracker's orders ("<prefix>-<run>"); every label
-- it gives contains "-<run>-". Example: `print(orders:label())`.
function T:label() return self.prefix .. "-" .. self.run end

--- tracker:owns(label) -> bool: was label given by this tracker?
function T:owns(label)
  return type(label) == "string" and label:find("-" .. self.run .. "-", 1, true) ~= nil
end

local function emit(self, kind, ...)
  for _, h in ipairs(self.handlers[kind]) do
    if h.group > 0 then core._spawn_in(h.group, h.fn, ...) else core.spawn(h.fn, ...) end
  end
end

-- rec left the open set: keep it in the bounded history.
local function close_rec(self, rec)
  if self.live[rec.label] then
    self.live[rec.label] = nil
    self.nlive = self.nlive - 1
  end
  self.htail = self.htail + 1
  self.hist[self.htail] = rec
  if self.htail - self.hhead + 1 > HISTORY then
    local old = self.hist[self.hhead]
    self.hist[self.hhead] = nil
    self.hhead = self.hhead + 1
    if self.bylabel[old.label] == old then self.bylabel[old.label] = nil end
    if old.order_id and self.byid[old.order_id] == old then self.byid[old.order_id] = nil end
  end
  self.counts[rec.state] = (self.counts[rec.state] or 0) + 1
end

-- Set rec's state; tell the handlers about a change.
local function set_state(self, rec, state, prev_filled)
  local prev = rec.state
  rec.state = state
  if TERMINAL[state] and not TERMINAL[prev] then
    close_rec(self, rec)
    if state == "filled" then core._metric_inc("luatrade_orders_filled_total", { direction = rec.direction }) end
  end
  if state ~= prev or rec.filled_amount ~= prev_filled then
    emit(self, "order", copy(rec), prev)
  end
end

--- tracker:record(o) -> record | nil: take in a venue order object (a call's result, a
-- listing, user.orders) if the order is this tracker's. A view older than the recorded one
-- (last_update_timestamp) is ignored, and so is any view of a closed order.
function T:record(o)
  if type(o) ~= "table" then return nil end
  local rec = (o.order_id ~= nil and self.byid[o.order_id]) or
              (type(o.label) == "string" and self.bylabel[o.label]) or nil
  if not rec or TERMINAL[rec.state] then return rec end
  local ts = tonumber(o.last_update_timestamp)
  if ts and rec.last_update_timestamp and ts < rec.last_update_timestamp then return rec end
  local prev_filled = rec.filled_amount
  for _, k in ipairs(FIELDS) do if o[k] ~= nil then rec[k] = o[k] end end
  if rec.order_id ~= nil then self.byid[rec.order_id] = rec end
  if rec.instrument_name then self.instruments[rec.instrument_name] = true end
  set_state(self, rec, o.order_state or rec.state, prev_filled)
  return rec
end

--- tracker:get(order_id | label) -> a copy of the record, or nil (never placed here, or
-- closed more than 1,000 records ago).
function T:get(key)
  local rec = self.byid[key] or self.bylabel[key]
  return rec and copy(rec)
end

--- tracker:open([filter]) -> the open records (copies: pending, open, untriggered, unknown),
-- oldest first. filter: an instrument name, or { instrument = ..., tag = ..., label = prefix }.
function T:open(filter)
  if type(filter) == "string" then filter = { instrument = filter } end
  filter = filter or {}
  local list = {}
  for _, rec in pairs(self.live) do
    if (filter.instrument == nil or rec.instrument_name == filter.instrument) and
       (filter.tag == nil or rec.tag == filter.tag) and
       (filter.label == nil or rec.label:sub(1, #filter.label) == filter.label) then
      list[#list + 1] = copy(rec)
    end
  end
  table.sort(list, function(a, b) return a.seq < b.seq end)
  return list
end

--- tracker:records() -> every record it holds (copies): the open ones and the closed ones it
-- still keeps (the last 1,000), in no order. For checks from outside (luatrade.orders_dump).
function T:records()
  local list = {}
  for _, rec in pairs(self.bylabel) do list[#list + 1] = copy(rec) end
  return list
end

--- tracker:on_fill(fn): fn(fill, order) for every fill of this tracker's orders (fill: the
-- venue's user trade: trade_id, order_id, instrument_name, direction, price, amount, fee,
-- fee_currency, mark_price; order: the record after it). tracker:on_order(fn): fn(order,
-- previous_state) at every change of state or filled amount. Each call runs as a task of the
-- caller's task group (in `luatrade run`: until the version that registered it is reloaded).
-- Raises beyond 64 handlers of a kind.
local function add_handler(self, kind, fn)
  if type(fn) ~= "function" then error("on_" .. kind .. ": expected a function", 3) end
  local hs = self.handlers[kind]
  if #hs >= MAX_HANDLERS then error("on_" .. kind .. ": at most 64 handlers", 3) end
  hs[#hs + 1] = { fn = fn, group = core._group() }
end
function T:on_fill(fn) add_handler(self, "fill", fn) end
function T:on_order(fn) add_handler(self, "order", fn) end

--- tracker:forget(group): drop the handlers registered by tasks of group (the runner, when a
-- version ends).
function T:forget(group)
  for kind, hs in pairs(self.handlers) do
    local keep = {}
    for _, h in ipairs(hs) do if h.group ~= group then keep[#keep + 1] = h end end
    self.handlers[kind] = keep
  end
end

-- A user trade of ours: handlers and the positions (all of the account's trades go there).
function T:_fill(t)
  local rec = (t.order_id ~= nil and self.byid[t.order_id]) or
              (type(t.label) == "string" and self.bylabel[t.label]) or nil
  if rec then emit(self, "fill", copy(t), copy(rec)) end
end

-- A new record for an order call (buy/sell).
local function new_rec(self, method, params)
  self.seq = self.seq + 1
  local tag = params.label
  if tag ~= nil and (type(tag) ~= "string" or #tag > 40 or tag == "") then
    error(method .. ": label must be a string of 1..40 bytes (the tracker adds its own suffix)", 3)
  end
  tag = tag or self.prefix
  local rec = { label = ("%s-%s-%d"):format(tag, self.run, self.seq), tag = tag, seq = self.seq,
    instrument_name = params.instrument_name, direction = method, type = params.type or "limit",
    price = params.price, amount = params.amount, filled_amount = 0, state = "pending" }
  self.bylabel[rec.label] = rec
  self.live[rec.label] = rec
  self.nlive = self.nlive + 1
  if type(rec.instrument_name) == "string" then self.instruments[rec.instrument_name] = true end
  return rec
end

local function gone(err)
  return err and (err.name == "order_not_found" or err.name == "not_open_order")
end

-- The answer to an order call: the record follows it.
local function settle(self, method, params, rec, r, err)
  local o = type(r) == "table" and r.order
  if o then
    if rec and rec.order_id == nil then rec.order_id = o.order_id end
    self:record(o)
    if method == "buy" or method == "sell" then self.counts.placed = self.counts.placed + 1 end
  elseif rec and rec.state == "pending" then
    if err.sent ~= false and (err.kind == "transport" or err.kind == "timeout") then
      rec.error = err
      self.counts.unknown = self.counts.unknown + 1
      set_state(self, rec, "unknown", rec.filled_amount)
      self.dirty = true
    else
      rec.error = err
      set_state(self, rec, "rejected", rec.filled_amount)
    end
  end
  if (method == "cancel" or method == "edit") and type(params) == "table" and gone(err) then
    local c = self.byid[params.order_id]
    if c and not TERMINAL[c.state] then self.dirty = true; c.stale = true end
  end
  if method == "cancel" and r and type(params) == "table" then
    local c = self.byid[params.order_id]
    if c and not TERMINAL[c.state] then set_state(self, c, "cancelled", c.filled_amount) end
  end
end

--- tracker:call(client, method, params [, timeout]) -> r, err, record: client[method] (buy,
-- sell, edit or cancel) checked by the risk limits (tracker.risk, if any) and run in the
-- tracker's task group, so the answer reaches the records even when the calling task is ended
-- (a reload). buy and sell get the tracker's label (see above) and return the record as a
-- third value (a copy: its label finds it later, e.g. with tracker:wait after an unknown
-- outcome). Returns what the client method returns; raises what it raises (invalid
-- parameters).
function T:call(client, method, params, timeout)
  if self.closing and method ~= "cancel" then
    return nil, mkerr("shutdown", "shutting_down", "the runner is shutting down: no new orders")
  end
  if type(params) ~= "table" then error(method .. ": expected a params table", 2) end
  if self.risk then
    local ok, rerr = self.risk:check(method, params)
    if not ok then self.counts.refused = self.counts.refused + 1; return nil, rerr end
  end
  local rec
  if method == "buy" or method == "sell" then
    if self.nlive >= MAX_LIVE then
      return nil, mkerr("risk", "max_tracked", ("the tracker holds %d open orders"):format(MAX_LIVE))
    end
    rec = new_rec(self, method, params)
    params = copy(params)
    params.label = rec.label
  end
  local ev = core._event()
  self.inflight = self.inflight + 1
  core._spawn_in(self.group, function()
    local ok, r, err = pcall(client[method], client, params, timeout)
    self.inflight = self.inflight - 1
    if ok then settle(self, method, params, rec, r, err) end
    if ok and r and method ~= "cancel" then core._metric_inc("luatrade_orders_placed_total", { method = method }) end
    if not ok and rec then rec.error = mkerr("invalid", "invalid_params", tostring(r)); set_state(self, rec, "rejected") end
    ev:set(ok, r, err)
  end)
  local ok, r, err = ev:wait()
  if not ok then error(r, 2) end
  return r, err, rec and copy(rec)
end

--- tracker:wait(order_id | label [, timeout]) -> record | nil, "timeout": await (in a task)
-- until the order is no longer pending or unknown (an unknown outcome settles once the venue
-- has been asked by label), at most timeout seconds (10). Example:
--   local r, err, o = orders:buy{ ... }
--   if err and err.kind ~= "risk" then o = orders:wait(o.label) end   -- filled? open? never arrived?
function T:wait(key, timeout)
  local deadline = core.now() + (timeout or 10)
  while true do
    local rec = self.byid[key] or self.bylabel[key]
    if rec == nil then return nil, "unknown order" end
    if rec.state ~= "pending" and rec.state ~= "unknown" then return copy(rec) end
    if core.now() >= deadline then return nil, "timeout" end
    core.sleep(0.05)
  end
end

--- tracker:buy(params [, timeout]), :sell, :edit, :cancel(order_id | params): the calls on the
-- tracker's client (tracker:attach). Example: `orders:cancel(o.order_id)`.
for _, m in ipairs({ "buy", "sell", "edit", "cancel" }) do
  T[m] = function(self, params, timeout)
    if not self.client then error(m .. ": the tracker has no client (lt.orders(priv))", 2) end
    if m == "cancel" and type(params) ~= "table" then params = { order_id = params } end
    return self:call(self.client, m, params, timeout)
  end
end

-- Wait in this task until pred() or the deadline (lt.now() seconds); returns pred().
local function wait_until(pred, deadline)
  while not pred() and core.now() < deadline do core.sleep(0.01) end
  return pred()
end

local function currency_of(instrument)
  return type(instrument) == "string" and instrument:match("^(%u+)") or "BTC"
end

--- tracker:reconcile([client [, timeout]]) -> true | nil, err: bring every open record in line
-- with the venue: the open orders of each traded instrument are listed; a record with an
-- order id the listing lacks is asked for by id (one the venue no longer knows is closed as
-- "cancelled", error.name "order_not_found"), an unknown one by label (not found there: it
-- never arrived, state "rejected", error.name "not_on_venue"). A transport error stops it
-- (retried later); a venue error about one order does not stop the others. Runs at every reconnect
-- (once authenticated) and whenever an outcome turned unknown. Changes reach on_order.
function T:reconcile(client, timeout)
  client = client or self.client
  self.dirty = false
  if self.nlive == 0 then return true end
  local listed = {}
  for instrument in pairs(self.instruments) do
    local list, err = client:get_open_orders_by_instrument({ instrument_name = instrument }, timeout)
    if not list then self.dirty = true; return nil, err end
    for _, o in ipairs(list) do
      if self.byid[o.order_id] or self:owns(o.label) then listed[o.label or o.order_id] = o end
    end
  end
  local todo = {}
  for label, rec in pairs(self.live) do
    if listed[label] == nil and rec.state ~= "pending" then todo[#todo + 1] = rec end
  end
  for _, o in pairs(listed) do self:record(o) end
  for _, rec in ipairs(todo) do
    if not TERMINAL[rec.state] then
      local st, err
      if rec.order_id ~= nil then
        st, err = client:get_order_state({ order_id = rec.order_id }, timeout)
        if st then self:record(st)
        elseif err.name == "order_not_found" then -- the venue no longer knows it: gone
          rec.error = err
          set_state(self, rec, "cancelled", rec.filled_amount)
          err = nil
        end
      else
        st, err = client:get_order_state_by_label({ label = rec.label,
          currency = currency_of(rec.instrument_name) }, timeout)
        if st and st[1] then
          for _, o in ipairs(st) do self:record(o) end
        elseif st then
          rec.error = mkerr("venue", "not_on_venue", "the order never reached the venue")
          set_state(self, rec, "rejected", rec.filled_amount)
        end
      end
      if err and (err.kind == "transport" or err.kind == "timeout" or err.kind == "rate_limit") then
        self.dirty = true                 -- the venue cannot be asked now: the rest waits too
        return nil, err
      elseif err then                     -- this one order: the others are still asked
        self.dirty = true
        core.log("warn", ("orders: reconcile %s: %s"):format(rec.label, tostring(err)))
      end
      rec.stale = nil
      self.counts.reconciled = self.counts.reconciled + 1
    end
  end
  return true
end

--- tracker:attach(client) -> true | nil, err: follow client's user.orders and user.trades
-- (subscribed here, in this task) and reconcile after every re-authentication and whenever an
-- outcome is unknown (a task of the tracker's group). on_trade(t), if given, gets every user
-- trade of the account (the positions use it).
function T:attach(client, on_trade)
  self.client = client
  local sub, err = client:subscribe({ M.CHANNEL, M.TRADES }, function(msg, _, channel)
    if channel == M.TRADES then
      for _, t in ipairs(msg) do
        self:_fill(t)
        if on_trade then on_trade(t) end
      end
    else
      self:record(msg)
    end
  end)
  if not sub then return nil, err end
  self.sub = sub
  local seen_drop = false
  self.listener = function(state)
    if state == "reconnecting" or state == "closed" then seen_drop = true
    elseif state == "authenticated" and seen_drop then
      seen_drop = false
      self.dirty = true
      if self.on_reconnect then self.on_reconnect() end
    end
  end
  client:_listen_state(self.listener)
  core._spawn_in(self.group, function()
    while not self.detached do
      if self.dirty and self.inflight == 0 and client:state() == "authenticated" then
        local ok, rerr = self:reconcile(client, 5)
        if not ok then
          core.log("warn", "orders: reconcile failed: " .. tostring(rerr))
          core.sleep(1)
        end
      end
      core.sleep(0.1)
    end
  end)
  return true
end

--- tracker:stop(): end the tracker's own tasks (the reconcile loop, the risk watch); its
-- channels stay subscribed. tracker:close(): stop, and unsubscribe them (one request).
-- Orders stay on the venue either way.
function T:stop()
  self.detached = true
  if self.risk then self.risk:stop() end
  if self.listener then self.client:_unlisten_state(self.listener); self.listener = nil end
end

function T:close()
  self:stop()
  if self.sub then self.sub:close(); self.sub = nil end
end

-- Cancel every open record of ours (listed by the venue, or recorded) within `seconds`;
-- returns cancelled, failed, unanswered.
local function cancel_mine(self, client, seconds)
  local deadline = core.now() + seconds
  wait_until(function() return self.inflight == 0 end, deadline)
  local ids = {}
  for instrument in pairs(self.instruments) do
    local list = client:get_open_orders_by_instrument({ instrument_name = instrument },
      math.max(deadline - core.now(), 0.1))
    for _, o in ipairs(list or {}) do
      if self.byid[o.order_id] or self:owns(o.label) then ids[o.order_id] = true end
    end
  end
  for _, rec in pairs(self.live) do if rec.order_id ~= nil then ids[rec.order_id] = true end end
  local pending, failed, n = 0, 0, 0
  for id in pairs(ids) do
    pending = pending + 1
    core._spawn_in(self.group, function()
      local _, cerr = self:call(client, "cancel", { order_id = id }, math.max(deadline - core.now(), 0.1))
      if cerr and not gone(cerr) then
        failed = failed + 1
        core.log("warn", ("cancel %s: %s"):format(id, tostring(cerr)))
      else
        n = n + 1
      end
      pending = pending - 1
    end)
  end
  wait_until(function() return pending == 0 end, deadline)
  return n, failed, pending
end

--- tracker:cancel_all([timeout]) -> cancelled, failed: cancel only the open orders this
-- tracker placed (never the account's others), awaiting every answer within timeout (10 s).
function T:cancel_all(timeout)
  if not self.client then error("cancel_all: the tracker has no client (lt.orders(priv))", 2) end
  local n, failed = cancel_mine(self, self.client, timeout or 10)
  return n, failed
end

--- tracker:cancel_own(client, seconds): at shutdown, cancel this tracker's open orders.
function T:cancel_own(client, seconds)
  local n, failed, pending = cancel_mine(self, client, seconds)
  if pending > 0 then
    core.log("warn", ("shutdown: %d cancel(s) unanswered after %g s"):format(pending, seconds))
  end
  core.log("info", ("shutdown: cancelled %d open order(s) of this run%s"):format(n,
           failed > 0 and (" (%d failed)"):format(failed) or ""))
end

--- tracker:stats() -> { open, placed, filled, cancelled, rejected, unknown, reconciled,
-- refused }: counts since the tracker was made.
function T:stats()
  local s = copy(self.counts)
  s.open = self.nlive
  return s
end

return M

--- luatrade.orders — the orders one `luatrade run` placed, kept across hot reloads: the
-- runner routes a strategy's buy, sell, edit and cancel through tracker:call, which makes the
-- call in a runtime task, so that the answer still reaches this book-keeping when the strategy
-- task that asked is ended by a reload (it then raises "reloaded" in that task). The strategy
-- sees it as ctx.orders:
--
--     for _, o in ipairs(ctx.orders:open("BTC-PERPETUAL")) do print(o.order_id, o.state, o.price) end
--     local o = ctx.orders:get(order_id)        -- nil once it is no longer open
--
-- Records: order_id, instrument_name, direction, price, amount, filled_amount,
-- average_price, label, state (open | untriggered), last_update_timestamp. They are kept up to
-- date from the call results and from the private client's user.orders.any.any.raw channel
-- (tracker:watch), which the runtime subscribes for this (a strategy subscribing that exact
-- channel gets an error naming it; narrower user.orders channels are free). A record leaves
-- once its order is filled, cancelled or rejected, so the book-keeping is bounded by the
-- account's open orders. Orders placed without a label get the run's own label
-- (ctx.orders:label()); the label of an order call whose outcome stayed unknown (a timeout, a
-- lost connection) is remembered, so the order is taken in when the venue reports it, and
-- found by reconcile() and at shutdown. Nothing is ever re-sent. reconcile() (at every reload)
-- asks the venue for the open orders of every instrument traded and the state of every record
-- it no longer lists. Rate limits: each call is the venue method's own (order methods draw from
-- the matching-engine bucket).
local core = require "luatrade.core"

local M = { _VERSION = "orders 0.1.0" }

local T = {}
T.__index = T
T.__name = "luatrade.Orders"

local LIVE = { open = true, untriggered = true }
local MAX_REMEMBERED = 1000   -- closed ids and unknown-outcome labels kept, each

--- The channel the tracker listens to (tracker:watch).
M.CHANNEL = "user.orders.any.any.raw"
local FIELDS = { "order_id", "instrument_name", "direction", "price", "amount", "filled_amount",
                 "average_price", "label", "last_update_timestamp" }

local shutdown_err = setmetatable({ kind = "shutdown", name = "shutting_down", sent = false,
  retryable = false, message = "the runner is shutting down: no new orders" },
  { __tostring = function(e) return e.name .. ": " .. e.message end })

--- orders.new(group): a tracker whose calls run in task group `group` (the runtime's own).
function M.new(group)
  return setmetatable({ group = group, byid = {}, instruments = {}, inflight = 0,
    closed = {}, nclosed = 0, unknown = {}, nunknown = 0,
    closing = false, own_label = ("lt%x%04x"):format(os.time(), math.random(0, 0xffff)) }, T)
end

function T.__tostring(self)
  local n = 0
  for _ in pairs(self.byid) do n = n + 1 end
  return ("luatrade.Orders(%d open)"):format(n)
end

--- tracker:label(): the run's own label, given to orders placed without one.
function T:label() return self.own_label end

-- Remember key in set (a bounded one: cleared when full).
local function remember(self, set, count, key, value)
  if self[count] >= MAX_REMEMBERED then self[set], self[count] = {}, 0 end
  if self[set][key] == nil then self[count] = self[count] + 1 end
  self[set][key] = value
end

--- tracker:record(order): take in an order object (a call's result, a listing, user.orders).
-- An older view than the one recorded (last_update_timestamp) is ignored, and so is an open
-- view of an order already seen closed.
function T:record(o)
  if type(o) ~= "table" or o.order_id == nil then return end
  local id, rec = o.order_id, self.byid[o.order_id]
  local ts = tonumber(o.last_update_timestamp)
  if rec and ts and rec.last_update_timestamp and ts < rec.last_update_timestamp then return end
  if o.order_state == "filled" and not self.closed[id] then core._metric_inc("luatrade_orders_filled_total", { direction = tostring(o.direction or (rec and rec.direction)) }) end
  if not LIVE[o.order_state] then
    self.byid[id] = nil
    remember(self, "closed", "nclosed", id, true)
    return
  end
  if self.closed[id] then return end
  rec = rec or {}
  for _, k in ipairs(FIELDS) do if o[k] ~= nil then rec[k] = o[k] end end
  rec.state = o.order_state
  self.byid[id] = rec
  if rec.instrument_name then self.instruments[rec.instrument_name] = true end
end

-- A user.orders notification: taken in when the order is ours (recorded, the run label, or
-- the label of a call whose outcome is unknown).
local function on_order(self, o)
  if type(o) ~= "table" then return end
  if self.byid[o.order_id] or (o.label ~= nil and (o.label == self.own_label or self.unknown[o.label])) then
    if o.label ~= nil then self.unknown[o.label] = nil end
    self:record(o)
  end
end

--- tracker:watch(client): subscribe client's user.orders.any.any.raw for the records (in a
-- task; returns the subscription, or nil, err).
function T:watch(client)
  return client:subscribe(M.CHANNEL, function(o) on_order(self, o) end)
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- tracker:open([instrument]): the open orders (copies), oldest id first.
function T:open(instrument)
  local list = {}
  for _, rec in pairs(self.byid) do
    if instrument == nil or rec.instrument_name == instrument then list[#list + 1] = copy(rec) end
  end
  table.sort(list, function(a, b) return tostring(a.order_id) < tostring(b.order_id) end)
  return list
end

--- tracker:get(order_id): a copy of the record, or nil once the order is not open.
function T:get(id)
  local rec = self.byid[id]
  return rec and copy(rec)
end

local function settle(self, method, params, r, err)
  local o = type(r) == "table" and r.order
  if o then self:record(o) end
  if method == "cancel" and type(params) == "table" and params.order_id and
     (r or (err and (err.name == "order_not_found" or err.name == "not_open_order"))) then
    self.byid[params.order_id] = nil
    remember(self, "closed", "nclosed", params.order_id, true)
  elseif method == "edit" and err and type(params) == "table" and
         (err.name == "order_not_found" or err.name == "not_open_order") then
    self.byid[params.order_id] = nil
  end
end

--- tracker:call(client, method, params [, timeout]) -> r, err: client[method] (buy, sell, edit
-- or cancel) run in a runtime task; raises what the call raises (invalid parameters).
function T:call(client, method, params, timeout)
  if self.closing and method ~= "cancel" then return nil, shutdown_err end
  if (method == "buy" or method == "sell") and type(params) == "table" then
    if params.label == nil then
      params = copy(params)
      params.label = self.own_label
    end
    if type(params.instrument_name) == "string" then self.instruments[params.instrument_name] = true end
  end
  local ev = core._event()
  self.inflight = self.inflight + 1
  core._spawn_in(self.group, function()
    local ok, r, err = pcall(client[method], client, params, timeout)
    self.inflight = self.inflight - 1
    if ok then settle(self, method, params, r, err) end
    if ok and r and method ~= "cancel" then core._metric_inc("luatrade_orders_placed_total", { method = method }) end
    if ok and err and err.sent ~= false and (method == "buy" or method == "sell") and params.label then
      remember(self, "unknown", "nunknown", params.label, params.instrument_name or true)
    end
    ev:set(ok, r, err)
  end)
  local ok, r, err = ev:wait()
  if not ok then error(r, 2) end
  return r, err
end

-- Wait in this task until pred() or the deadline (lt.now() seconds); returns pred().
local function wait_until(pred, deadline)
  while not pred() and core.now() < deadline do core.sleep(0.01) end
  return pred()
end

-- The open orders of ours on the venue (listed by instrument), by order_id; nil, err.
local function venue_open(self, client, timeout)
  local mine = {}
  for instrument in pairs(self.instruments) do
    local list, err = client:get_open_orders_by_instrument({ instrument_name = instrument }, timeout)
    if not list then return nil, err end
    for _, o in ipairs(list) do
      if self.byid[o.order_id] or o.label == self.own_label or (o.label and self.unknown[o.label]) then
        mine[o.order_id] = o
      end
    end
  end
  return mine
end

--- tracker:reconcile(client [, timeout]) -> true | nil, err: bring the records in line with
-- the venue: orders it still lists are refreshed (and ours placed with an unknown outcome are
-- taken in); the state of every other record is asked for.
function T:reconcile(client, timeout)
  if next(self.byid) == nil and next(self.instruments) == nil then return true end
  local listed, err = venue_open(self, client, timeout)
  if not listed then return nil, err end
  for id in pairs(self.byid) do
    if not listed[id] then
      local st, serr = client:get_order_state({ order_id = id }, timeout)
      if st then self:record(st)
      elseif serr.name == "order_not_found" then self.byid[id] = nil end
    end
  end
  for _, o in pairs(listed) do self:record(o) end
  return true
end

--- tracker:cancel_own(client, seconds): at shutdown, cancel the open orders this run placed
-- (recorded, or carrying the run label) and await every answer, all within `seconds`.
function T:cancel_own(client, seconds)
  local deadline = core.now() + seconds
  if not wait_until(function() return self.inflight == 0 end, deadline) then
    core.log("warn", ("shutdown: %d order call(s) still unanswered"):format(self.inflight))
  end
  local ids = {}
  local listed, err = venue_open(self, client, math.max(deadline - core.now(), 0.1))
  if not listed then
    core.log("warn", ("shutdown: cannot list open orders (%s); cancelling every recorded id"):format(tostring(err)))
    listed = self.byid
  end
  for id in pairs(listed) do ids[#ids + 1] = id end
  local pending, failed = #ids, 0
  for _, id in ipairs(ids) do
    core._spawn_in(self.group, function()
      local _, cerr = client:cancel({ order_id = id }, math.max(deadline - core.now(), 0.1))
      if cerr and cerr.name ~= "order_not_found" and cerr.name ~= "not_open_order" then
        failed = failed + 1
        core.log("warn", ("shutdown: cancel %s: %s"):format(id, tostring(cerr)))
      else
        self.byid[id] = nil
      end
      pending = pending - 1
    end)
  end
  if not wait_until(function() return pending == 0 end, deadline) then
    core.log("warn", ("shutdown: %d cancel(s) unanswered after %g s"):format(pending, seconds))
  end
  core.log("info", ("shutdown: cancelled %d open order(s) of this run%s"):format(#ids - pending - failed,
           failed > 0 and (" (%d failed)"):format(failed) or ""))
end

return M

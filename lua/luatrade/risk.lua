--- luatrade.risk — pre-trade limits and the kill switch of an order tracker. Every buy, sell and
-- edit through the tracker is checked before anything is sent; a violating order gets
-- `nil, err` with err.kind "risk", err.name the limit's name and a message naming the limit
-- and the figures, and is counted (risk:stats()). Cancels are never refused.
--
--     ctx.risk:set{ max_position = 200, max_order_amount = 50, max_open_orders = 10,
--                   max_orders_per_second = 5, price_band = 2, max_daily_loss = 0.01 }
--     local r, err = ctx.orders:buy{ ... }   -- err.kind == "risk", err.name == "max_position"
--     ctx.kill("manual")                     -- or: touch KILL (or the --kill-file path)
--
-- Limits (a number applies to every instrument; a table { [instrument] = n } to those named):
--   max_position          |position + open orders on that side + this order| in amount units
--                         (USD on inverse perpetuals and futures, coin on options); an order
--                         that brings the position closer to zero is always allowed
--   max_contracts         the same in contracts (amount / the instrument's contract_size)
--   max_order_amount      amount of one order
--   max_open_orders       open orders of this tracker (pending and unknown ones included)
--   max_orders_per_second buy, sell and edit calls in any one-second window
--   price_band            percent: a limit price farther than this from the mark is refused
--                         (the mark: positions:mark, at most one ticker call a second)
--   max_daily_loss        coin, per currency (a number: each; or { BTC = 0.01 }): when the net
--                         PnL (realized + unrealized - fees) since the UTC day began falls
--                         below -limit, the kill switch fires
-- Kill switch: cancels every open order of the tracker, refuses new ones (err.name "killed"),
-- logs the reason once; market data and the strategy keep running.
local core = require "luatrade.core"
local orders = require "luatrade.orders"

local M = { _VERSION = "risk 0.1.0" }

local R = {}
R.__index = R
R.__name = "luatrade.Risk"

local KEYS = { max_position = true, max_contracts = true, max_order_amount = true,
  max_open_orders = true, max_orders_per_second = true, price_band = true, max_daily_loss = true }

--- risk.new(tracker, positions [, limits]) -> the limits of tracker (tracker.risk).
function M.new(tracker, positions, limits)
  local self = setmetatable({ tracker = tracker, positions = positions, limits = {},
    refused = {}, nrefused = 0, recent = {}, sizes = {}, day = nil, base = {} }, R)
  tracker.risk = self
  if limits then self:set(limits) end
  return self
end

function R.__tostring(self)
  return ("luatrade.Risk(%s)"):format(self.killed and ("killed: " .. self.killed) or "armed")
end

--- risk.validate(limits) -> true | nil, message: is limits a table risk:set accepts?
function M.validate(t)
  if type(t) ~= "table" then return nil, "expected a table of limits" end
  for k, v in pairs(t) do
    if not KEYS[k] then return nil, "unknown limit '" .. tostring(k) .. "'" end
    local ok = v == false or (type(v) == "number" and v > 0)
    if type(v) == "table" then
      ok = true
      for name, n in pairs(v) do
        if type(name) ~= "string" or type(n) ~= "number" or n <= 0 then ok = false end
      end
    end
    if not ok then return nil, k .. " must be a positive number or a table of them" end
  end
  return true
end

--- risk:set(limits): set (or, with false, clear) limits; raises naming a key it does not know
-- or a value that is not a positive number (or a table of them by instrument / currency).
function R:set(t)
  local ok, why = M.validate(t)
  if not ok then error("risk:set: " .. why, 2) end
  for k, v in pairs(t) do self.limits[k] = v or nil end
end

--- risk:get() -> a copy of the limits in force.
function R:get()
  local c = {}
  for k, v in pairs(self.limits) do c[k] = v end
  return c
end

local function limit_for(self, key, name)
  local v = self.limits[key]
  if type(v) == "table" then return v[name] end
  return v
end

local function refuse(self, name, fmt, ...)
  self.refused[name] = (self.refused[name] or 0) + 1
  self.nrefused = self.nrefused + 1
  local msg = fmt:format(...)
  core.log("warn", "risk: refused: " .. msg)
  return nil, orders.error("risk", name, msg)
end

-- Amount still open on `direction` of instrument, over the tracker's open records
-- (except the order being edited).
local function open_amount(self, instrument, direction, except)
  local n = 0
  for _, rec in pairs(self.tracker.live) do
    if rec.instrument_name == instrument and rec.direction == direction and rec.order_id ~= except then
      n = n + (tonumber(rec.amount) or 0) - (tonumber(rec.filled_amount) or 0)
    end
  end
  return n
end

local function contract_size(self, instrument)
  if self.sizes[instrument] == nil and self.tracker.client then
    local i = self.tracker.client:get_instrument({ instrument_name = instrument }, 2)
    self.sizes[instrument] = i and i.contract_size or false
  end
  return self.sizes[instrument] or nil
end

local function check_position(self, instrument, direction, amount, except)
  local lim, lim_c = limit_for(self, "max_position", instrument), limit_for(self, "max_contracts", instrument)
  if not (lim or lim_c) then return true end
  local now = self.positions:size(instrument)
  local worst = now + (direction == "buy" and 1 or -1) * (open_amount(self, instrument, direction, except) + amount)
  if math.abs(worst) <= math.abs(now) then return true end   -- reduces the exposure
  if lim and math.abs(worst) > lim then
    return refuse(self, "max_position", "max_position %g %s: position %g with open orders and this %s %g would reach %g",
      lim, instrument, now, direction, amount, worst)
  end
  if lim_c then
    local cs = contract_size(self, instrument)
    if not cs then return refuse(self, "max_contracts", "max_contracts: contract size of %s unknown", instrument) end
    if math.abs(worst) / cs > lim_c then
      return refuse(self, "max_contracts", "max_contracts %g %s: this %s would reach %g contracts",
        lim_c, instrument, direction, math.abs(worst) / cs)
    end
  end
  return true
end

--- risk:check(method, params) -> true | nil, err: the tracker calls it before every order call.
function R:check(method, params)
  if method == "cancel" then return true end
  if self.killed then
    return refuse(self, "killed", "kill switch: %s (no new orders)", self.killed)
  end
  local instrument, amount = params.instrument_name, tonumber(params.amount)
  local direction = method
  if method == "edit" then
    local rec = self.tracker.byid[params.order_id]
    instrument, direction = rec and rec.instrument_name, rec and rec.direction
  end
  local lim = limit_for(self, "max_order_amount", instrument)
  if lim and amount and amount > lim then
    return refuse(self, "max_order_amount", "max_order_amount %g: %s %s amount %g", lim, method,
      tostring(instrument), amount)
  end
  lim = self.limits.max_open_orders
  if lim and method ~= "edit" and self.tracker.nlive + 1 > lim then
    return refuse(self, "max_open_orders", "max_open_orders %d: %d open already", lim, self.tracker.nlive)
  end
  lim = self.limits.max_orders_per_second
  if lim then
    local now, keep = core.now(), {}
    for _, t in ipairs(self.recent) do if now - t < 1 then keep[#keep + 1] = t end end
    self.recent = keep
    if #keep + 1 > lim then
      return refuse(self, "max_orders_per_second", "max_orders_per_second %g: %d in the last second", lim, #keep)
    end
  end
  if instrument and amount and direction then
    local ok, err = check_position(self, instrument, direction, amount, params.order_id)
    if not ok then return nil, err end
  end
  lim = instrument and limit_for(self, "price_band", instrument)
  local price = tonumber(params.price)
  if lim and price and params.type ~= "market" then
    local mark = self.positions:mark(instrument)
    if not mark then
      return refuse(self, "price_band", "price_band %g%%: no mark price for %s", lim, instrument)
    end
    local off = math.abs(price - mark) / mark * 100
    if off > lim then
      return refuse(self, "price_band", "price_band %g%%: %s price %g is %.2f%% from the mark %g",
        lim, instrument, price, off, mark)
    end
  end
  if self.limits.max_orders_per_second then self.recent[#self.recent + 1] = core.now() end
  return true
end

--- risk:kill(reason): the kill switch (see above). Idempotent; returns nothing. Awaits the
-- cancels when called from a task (at most 10 s), else cancels in the tracker's group.
function R:kill(reason)
  if self.killed then return end
  self.killed = tostring(reason or "kill switch")
  core.log("error", "KILL SWITCH: " .. self.killed .. ": cancelling this run's open orders, refusing new ones")
  local tracker = self.tracker
  if tracker.client then
    core._spawn_in(tracker.group, function()
      local n, failed = tracker:cancel_all(10)
      core.log("warn", ("kill switch: cancelled %d open order(s)%s"):format(n,
        failed > 0 and (" (%d failed)"):format(failed) or ""))
      self.kill_done = true
    end)
  end
end

--- risk:is_killed() -> the kill reason, or nil.
function R:is_killed() return self.killed end

--- risk:stats() -> { refused = { [limit] = n }, total = n, killed = reason | nil }.
function R:stats()
  local c = {}
  for k, v in pairs(self.refused) do c[k] = v end
  return { refused = c, total = self.nrefused, killed = self.killed }
end

-- One look at the daily loss: baseline per currency at the first look of each UTC day.
function R:_check_loss()
  local lim = self.limits.max_daily_loss
  if not lim or self.killed then return end
  local day = os.date("!%Y-%m-%d")
  if day ~= self.day then self.day, self.base = day, {} end
  local ccys = {}
  for _, p in pairs(self.positions.by) do ccys[p.currency] = true end
  for name in pairs(self.tracker.instruments) do ccys[name:match("^(%u+)") or "BTC"] = true end
  for ccy in pairs(ccys) do
    local l = type(lim) == "table" and lim[ccy] or (type(lim) == "number" and lim)
    if l then
      for name, p in pairs(self.positions.by) do
        if p.currency == ccy and p.size ~= 0 then self.positions:mark(name) end
      end
      local net = self.positions:pnl(ccy).net
      if self.base[ccy] == nil then self.base[ccy] = net end
      local loss = self.base[ccy] - net
      if loss > l then
        self:kill(("max_daily_loss %g %s breached: lost %.8f %s today"):format(l, ccy, loss, ccy))
        return
      end
    end
  end
end

--- risk:watch([kill_file]): run in the tracker's group until risk:stop(): once a second the
-- daily loss is checked; every 0.25 s the kill file (a path; nil: none) is looked for.
function R:watch(kill_file)
  self.watching = true
  core._spawn_in(self.tracker.group, function()
    local last_loss = 0
    while self.watching do
      if kill_file and not self.killed then
        local f = io.open(kill_file, "r")
        if f then f:close(); self:kill("kill file " .. kill_file .. " appeared") end
      end
      if core.now() - last_loss >= 1 then
        last_loss = core.now()
        self:_check_loss()
      end
      core.sleep(0.25)
    end
  end)
end

--- risk:stop(): end risk:watch.
function R:stop() self.watching = false end

return M

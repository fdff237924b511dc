--- luatrade.positions — the account's positions and PnL, kept from its fills (user.trades, as
-- the order tracker receives them) and reconciled against the venue's get_positions at start
-- and after every reconnect (a mismatch is logged and the venue's figure wins).
--
--     local p = ctx.positions:get("BTC-PERPETUAL")
--     print(p.size, p.average_price, p.realized_pnl, p.unrealized_pnl, p.fees)
--     local pnl = ctx.positions:pnl("BTC")       -- { realized, unrealized, fees, total }
--
-- The model is the venue's (deribit-api.md §5): inverse perpetuals and futures (BTC-PERPETUAL,
-- ETH-28MAR25, ...) have size in USD (< 0 short), entries averaged harmonically, PnL in the
-- coin: closing q at price p realizes q * (1/avg - 1/p) (long; the opposite short) and the open
-- part is worth size * (1/avg - 1/mark). Linear instruments (options, *_USDC) use q * (p - avg).
-- Fees are kept apart: total = realized + unrealized, net = total - fees.
-- Marks: from each fill's mark_price, each reconciliation, and positions:mark(), which asks the
-- venue's ticker at most once a second per instrument (non-matching-engine credits).
local core = require "luatrade.core"

local M = { _VERSION = "positions 0.1.0" }

local P = {}
P.__index = P
P.__name = "luatrade.Positions"

local MAX_INSTRUMENTS = 1000
local EPS = 1e-9

--- positions.new(client) -> book of positions, empty until fills or reconcile().
function M.new(client)
  return setmetatable({ client = client, by = {}, n = 0, marks = {}, mark_at = {} }, P)
end

function P.__tostring(self) return ("luatrade.Positions(%d instruments)"):format(self.n) end

local function linear(instrument)
  return instrument:find("_USDC", 1, true) ~= nil or instrument:find("_USDT", 1, true) ~= nil
      or select(2, instrument:gsub("-", "")) >= 3   -- options: BTC-28MAR25-100000-C
end

local function pos(self, instrument)
  local p = self.by[instrument]
  if not p then
    if self.n >= MAX_INSTRUMENTS then return nil end
    p = { instrument_name = instrument, size = 0, average_price = 0, realized_pnl = 0, fees = 0,
          fills = 0, currency = instrument:match("^(%u+)") or "BTC", linear = linear(instrument) }
    self.by[instrument] = p
    self.n = self.n + 1
  end
  return p
end

local function close_pnl(p, long, avg, price, q)
  local per = p.linear and q * (price - avg) or q * (1 / avg - 1 / price)
  return long and per or -per
end

--- positions:fill(trade): take in one user trade (instrument_name, direction, price, amount,
-- fee, mark_price). The order tracker calls it for every trade of the account.
function P:fill(t)
  if type(t) ~= "table" or type(t.instrument_name) ~= "string" or type(t.amount) ~= "number"
     or type(t.price) ~= "number" or t.price <= 0 then return end
  local p = pos(self, t.instrument_name)
  if not p then return end
  local q = t.direction == "sell" and -t.amount or t.amount
  local size = math.abs(p.size)
  if p.size == 0 or (p.size > 0) == (q > 0) then
    local avg = p.average_price > 0 and p.average_price or t.price
    p.average_price = p.linear and (size * avg + t.amount * t.price) / (size + t.amount)
                      or (size + t.amount) / (size / avg + t.amount / t.price)
    p.size = p.size + q
  else
    p.realized_pnl = p.realized_pnl + close_pnl(p, p.size > 0, p.average_price, t.price,
                                                math.min(t.amount, size))
    local flips = t.amount > size + EPS
    p.size = p.size + q
    if math.abs(p.size) < EPS then p.size, p.average_price = 0, 0
    elseif flips then p.average_price = t.price end
  end
  p.average_price = math.floor(p.average_price * 1e8 + 0.5) / 1e8
  p.fees = p.fees + (tonumber(t.fee) or 0)
  p.fills = p.fills + 1
  if type(t.mark_price) == "number" then self.marks[t.instrument_name] = t.mark_price end
end

local function unrealized(p, mark)
  if p.size == 0 or not mark or mark <= 0 or p.average_price <= 0 then return 0 end
  if p.linear then return p.size * (mark - p.average_price) end
  return p.size * (1 / p.average_price - 1 / mark)
end

--- positions:mark(instrument [, max_age]) -> mark price or nil: the last known one, refreshed
-- from the venue's ticker when older than max_age seconds (1) — awaits then (at most 2 s);
-- outside a task it only returns what is known.
function P:mark(instrument, max_age)
  local at = self.mark_at[instrument]
  if (not at or core.now() - at > (max_age or 1)) and self.client then
    self.mark_at[instrument] = core.now()
    local ok, t = pcall(self.client.ticker, self.client, { instrument_name = instrument }, 2)
    if ok and type(t) == "table" and type(t.mark_price) == "number" then
      self.marks[instrument] = t.mark_price
    end
  end
  return self.marks[instrument]
end

--- positions:get(instrument) -> { instrument_name, size, average_price, realized_pnl,
-- unrealized_pnl, fees, mark_price, currency } (a copy; size 0 for an instrument never traded).
function P:get(instrument)
  local p = self.by[instrument] or { instrument_name = instrument, size = 0, average_price = 0,
    realized_pnl = 0, fees = 0, currency = instrument:match("^(%u+)") or "BTC", linear = linear(instrument) }
  local mark = self.marks[instrument]
  return { instrument_name = instrument, size = p.size, average_price = p.average_price,
    realized_pnl = p.realized_pnl, unrealized_pnl = unrealized(p, mark), fees = p.fees,
    mark_price = mark, currency = p.currency }
end

--- positions:size(instrument) -> signed size (amount units; 0 if none).
function P:size(instrument)
  local p = self.by[instrument]
  return p and p.size or 0
end

--- positions:all() -> list of get() for every instrument with a position or a fill.
function P:all()
  local list = {}
  for name in pairs(self.by) do list[#list + 1] = self:get(name) end
  table.sort(list, function(a, b) return a.instrument_name < b.instrument_name end)
  return list
end

--- positions:pnl([currency]) -> { realized, unrealized, fees, total, net } summed over the
-- instruments settled in currency (default: all), at the known marks.
function P:pnl(currency)
  local s = { realized = 0, unrealized = 0, fees = 0 }
  for name, p in pairs(self.by) do
    if currency == nil or p.currency == currency then
      s.realized = s.realized + p.realized_pnl
      s.unrealized = s.unrealized + unrealized(p, self.marks[name])
      s.fees = s.fees + p.fees
    end
  end
  s.total = s.realized + s.unrealized
  s.net = s.total - s.fees
  return s
end

--- positions:reconcile([currencies]) -> true | nil, err: ask get_positions for each currency
-- (default: those traded, else BTC and ETH); a size or average that differs is logged and
-- the venue's figure taken (its realized_profit_loss too, and its mark_price).
function P:reconcile(currencies)
  if not currencies then
    currencies = {}
    for _, p in pairs(self.by) do currencies[p.currency] = true end
    if next(currencies) == nil then currencies = { BTC = true, ETH = true } end
  end
  for ccy in pairs(currencies) do
    local list, err = self.client:get_positions({ currency = ccy }, 5)
    if not list then return nil, err end
    local seen = {}
    for _, v in ipairs(list) do
      local name = v.instrument_name
      seen[name] = true
      local p = pos(self, name)
      if p and type(v.size) == "number" then
        if math.abs(p.size - v.size) > EPS or math.abs(p.average_price - (v.average_price or 0)) > 1e-6 then
          if p.fills > 0 or p.size ~= 0 then
            core.log("warn", ("positions: %s here size %g avg %.8g, venue size %g avg %.8g: taking the venue's")
              :format(name, p.size, p.average_price, v.size, v.average_price or 0))
          end
          p.size, p.average_price = v.size, v.average_price or 0
        end
        if type(v.realized_profit_loss) == "number" then p.realized_pnl = v.realized_profit_loss end
        if type(v.mark_price) == "number" then self.marks[name] = v.mark_price end
      end
    end
    for name, p in pairs(self.by) do
      if p.currency == ccy and not seen[name] and p.size ~= 0 then
        core.log("warn", ("positions: %s here size %g, the venue has none: taking the venue's"):format(name, p.size))
        p.size, p.average_price = 0, 0
      end
    end
  end
  return true
end

return M

-- market_maker.lua — quote a bid and an ask around the mid of a local order book, replace them
-- as the book moves, inside a position limit and a daily loss limit.
--   luatrade run strategies/market_maker.lua                 (demo account on the built-in venue)
--   luatrade run --set spread=5 --set size=20 --set max_position=200 strategies/market_maker.lua
--
-- It stands on the trading layer: quotes come from lt.book, orders go through ctx.orders (a
-- unique label each; an answer lost to a timeout or a drop is looked up by label, never
-- re-sent), the position and PnL are ctx.positions', and ctx.risk refuses what would break a
-- limit before it is sent. `touch KILL` (or Ctrl-C) stops the quoting: open orders cancelled.
local lt = require "luatrade"
local M = { private = true }

local function round_to(x, tick) return math.floor(x / tick + 0.5) * tick end
-- A coin amount to 8 decimals with its sign, never "-0.00000000".
local function coin(x) return ("%+.8f"):format(math.floor(x * 1e8 + 0.5) / 1e8 + 0.0) end

-- Hot reload: stop(ctx, "reload") returns the quotes (order ids); the next version's start
-- takes them over (they rest on the venue meanwhile), so an edit to the spread takes effect
-- without cancelling anything.
function M.start(ctx, state)
  local cfg = ctx.config
  local instrument = cfg.instrument or "BTC-PERPETUAL"
  local spread = tonumber(cfg.spread) or 2.0            -- USD between bid and ask
  local size = tonumber(cfg.size) or 10                 -- USD per quote (inverse perpetual)
  ctx.risk:set{ max_position = tonumber(cfg.max_position) or 100,          -- USD
                max_daily_loss = tonumber(cfg.max_loss) or 0.001,           -- BTC
                max_open_orders = 4, max_order_amount = size }
  local orders, positions = ctx.orders, ctx.positions
  local tick = assert(ctx.public:get_instrument{ instrument_name = instrument }).tick_size
  local quotes = state or {}                            -- side -> order_id
  local refused = {}                                    -- side -> last refusal, logged once

  orders:on_fill(function(f)
    local p = positions:get(instrument)
    ctx.log("info", "fill %s %g @ %.1f  position %+g USD  pnl %s %s", f.direction, f.amount,
            f.price, p.size, coin(p.realized_pnl + p.unrealized_pnl - p.fees), p.currency)
  end)

  local function quote(side, price)
    local o = quotes[side] and orders:get(quotes[side])
    if o and (o.state == "pending" or o.state == "unknown") then return end   -- being settled
    if o and o.state == "open" then
      if o.price == price then return end
      local _, err = orders:edit{ order_id = o.order_id, amount = size, price = price, post_only = true }
      if not err then return end
      if err.name ~= "order_not_found" and err.name ~= "not_open_order" then
        ctx.log("warn", "edit %s: %s", side, tostring(err))
        return
      end                                               -- filled meanwhile: place a new one
    end
    quotes[side] = nil
    local r, err = orders[side](orders, { instrument_name = instrument, amount = size, type = "limit",
      price = price, post_only = true, label = side == "buy" and "mm-bid" or "mm-ask" })
    if r then
      quotes[side], refused[side] = r.order.order_id, nil
    elseif refused[side] ~= err.name then               -- risk limits, funds, ...: once per cause
      refused[side] = err.name
      ctx.log("warn", "%s not quoted: %s", side, tostring(err))
    end
  end

  local book = assert(lt.book(ctx.public, instrument, { interval = "100ms" }))
  book:on_update(function()
    local bid, ask = book:best_bid(), book:best_ask()
    if not (bid and ask) then return end
    local mid = (bid + ask) / 2
    local b, a = round_to(mid - spread / 2, tick), round_to(mid + spread / 2, tick)
    if a <= b then a = b + tick end
    quote("buy", b)
    quote("sell", a)
  end)
  ctx.log("info", "quoting %s: spread %g, size %g, limits %s (Ctrl-C or touch KILL to stop)",
          instrument, spread, size, "max_position " .. ctx.risk:get().max_position)
  M.quotes = quotes
end

function M.stop(ctx, reason)
  local p = ctx.positions:get(ctx.config.instrument or "BTC-PERPETUAL")
  ctx.log("info", "market_maker stopped (%s): position %+g USD, realized %s, fees %s",
          reason, p.size, coin(p.realized_pnl), coin(p.fees))
  return M.quotes
end

return M

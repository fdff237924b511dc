-- twap.lua — buy (or sell) a total amount in equal slices spread over a period, each slice an
-- awaited immediate-or-cancel limit order a few ticks through the touch, through ctx.orders.
--   luatrade run strategies/twap.lua                            (100 USD in 5 slices over 10 s)
--   luatrade run --set total=500 --set slices=10 --set period=60 --set side=sell strategies/twap.lua
local lt = require "luatrade"

local M = {}

function M.start(ctx)
  local cfg = ctx.config
  local instrument = cfg.instrument or "BTC-PERPETUAL"
  local side = cfg.side or "buy"
  local total = tonumber(cfg.total) or 100
  local slices = tonumber(cfg.slices) or 5
  local period = tonumber(cfg.period) or 10
  local pub = ctx.public
  if not ctx.private then ctx.log("error", "twap needs credentials (ctx.private)") return end
  local inst = assert(pub:get_instrument{ instrument_name = instrument })
  local slice = math.max(inst.min_trade_amount,
                         math.floor(total / slices / inst.min_trade_amount) * inst.min_trade_amount)
  lt.spawn(function()
    local done, n = 0, 0
    while done < total and n < slices * 2 do
      n = n + 1
      local t, err = pub:ticker{ instrument_name = instrument }
      if t then
        local through = 5 * inst.tick_size
        local price = side == "buy" and t.best_ask_price + through or t.best_bid_price - through
        local amount = math.min(slice, total - done)
        local r, oerr, o = ctx.orders[side](ctx.orders, { instrument_name = instrument,
          amount = amount, type = "limit", price = price, time_in_force = "immediate_or_cancel",
          label = "twap" })
        if r then
          done = done + r.order.filled_amount
          print(("slice %d: %s %g @ avg %.2f, done %g of %g"):format(
            n, side, r.order.filled_amount, r.order.average_price, done, total))
        elseif oerr.kind == "transport" or oerr.kind == "timeout" then
          -- outcome unknown: ctx.orders looks it up by its label (never sends it again)
          o = ctx.orders:wait(o.label, 30)
          if o then done = done + (o.filled_amount or 0) end
        else
          ctx.log("warn", "slice %d: %s", n, tostring(oerr))
        end
      else
        ctx.log("warn", "ticker: %s", tostring(err))
      end
      if done < total then lt.sleep(period / slices) end
    end
    ctx.log("info", "twap finished: %s %g of %g %s", side, done, total, instrument)
  end)
end

return M

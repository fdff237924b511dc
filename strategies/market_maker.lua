-- market_maker.lua — quote a bid and an ask around the mid, replace them as the market moves,
-- react to fills, track the position and stop quoting a side past a maximum position.
--   luatrade run strategies/market_maker.lua                 (demo account on the built-in venue)
--   luatrade run --set spread=5 --set size=20 --set max_position=200 strategies/market_maker.lua
--
-- Error handling shown for every call:
--   * buy/sell: not_enough_funds -> stop quoting that side for a while; post_only_reject -> retry
--     next tick; transport errors (connection_lost, timeout) -> the order's outcome is unknown:
--     reconcile by label (get_order_state_by_label) before quoting again, never blind-resend.
--   * edit/cancel: order_not_found / not_open_order -> the order was filled or cancelled in
--     the meantime (a race with a fill): forget it, the fill arrives on user.trades.
local lt = require "luatrade"
local lt_now = lt.now
local M = {}

local function round_to(x, tick) return math.floor(x / tick + 0.5) * tick end

-- Hot reload: stop(ctx, "reload") returns the quotes and the position; the next version's
-- start(ctx, state) takes them over (the quotes rest on the venue meanwhile), so an edit to
-- the spread takes effect without cancelling anything. On Ctrl-C the runner cancels them.
function M.start(ctx, state)
  local cfg = ctx.config
  local instrument = cfg.instrument or "BTC-PERPETUAL"
  local spread = tonumber(cfg.spread) or 2.0            -- USD between bid and ask
  local size = tonumber(cfg.size) or 10                 -- USD per quote (inverse perpetual)
  local max_position = tonumber(cfg.max_position) or 100
  local pub, priv = ctx.public, ctx.private
  if not priv then ctx.log("error", "market_maker needs credentials (ctx.private)") return end

  local inst = assert(pub:get_instrument{ instrument_name = instrument })
  local tick = inst.tick_size
  local s = state or { position = 0, cash = 0, fills = 0, quotes = {}, paused = {} }
  for side, q in pairs(s.quotes) do              -- filled or cancelled while we switched?
    if not ctx.orders:get(q.order_id) then s.quotes[side] = nil end
  end
  local label = { buy = "mm-bid", sell = "mm-ask" }

  local function report()
    local mark = s.mark or 0
    -- inverse perpetual PnL in coin: cash flow of contracts valued at the mark
    local pnl = s.position ~= 0 and (s.cash + s.position / mark) or s.cash
    ctx.log("info", "fills %d  position %+g USD  pnl %+.8f BTC (at mark %.1f)",
            s.fills, s.position, pnl, mark)
  end

  -- Fills: user.trades is always an array (deribit-api.md §4).
  local fills, err = priv:subscribe("user.trades." .. instrument .. ".raw", function(trades)
    for _, t in ipairs(trades) do
      local signed = t.direction == "buy" and t.amount or -t.amount
      s.position = s.position + signed
      s.cash = s.cash - signed / t.price
      s.fills = s.fills + 1
      print(("fill %s %g @ %.1f  (%s)"):format(t.direction, t.amount, t.price, t.label or ""))
      if t.order_id == (s.quotes[t.direction] or {}).order_id and t.state == "filled" then
        s.quotes[t.direction] = nil
      end
    end
    report()
  end)
  if not fills then ctx.log("error", "user.trades: %s", tostring(err)) return end

  local function cancel(side)
    local q = s.quotes[side]
    if not q then return end
    local _, cerr = priv:cancel{ order_id = q.order_id }
    if cerr and cerr.name ~= "order_not_found" and cerr.name ~= "not_open_order" then
      ctx.log("warn", "cancel %s: %s", side, tostring(cerr))
      return
    end
    s.quotes[side] = nil                  -- cancelled, or already filled/cancelled (a race)
  end

  local function quote(side, price)
    if s.paused[side] and s.paused[side] > lt_now() then return end
    local q = s.quotes[side]
    if q and q.price == price then return end
    if q then
      local r, eerr = priv:edit{ order_id = q.order_id, amount = size, price = price, post_only = true }
      if r then q.price = price return end
      if eerr.name == "order_not_found" or eerr.name == "not_open_order" then
        s.quotes[side] = nil                -- filled meanwhile: place a fresh one below
      else
        ctx.log("warn", "edit %s: %s", side, tostring(eerr)) return
      end
    end
    local r, perr = priv[side](priv, { instrument_name = instrument, amount = size,
      type = "limit", price = price, post_only = true, label = label[side] })
    if r then
      if r.order.order_state == "open" then
        s.quotes[side] = { order_id = r.order.order_id, price = r.order.price }
      end
    elseif perr.name == "not_enough_funds" then
      ctx.log("warn", "%s: not enough funds; pausing that side for 10 s", side)
      s.paused[side] = lt_now() + 10
    elseif perr.kind == "transport" or perr.kind == "timeout" then
      -- unknown outcome: look the order up by its label before quoting again
      local orders = priv:get_order_state_by_label{ label = label[side], currency = "BTC" }
      for _, o in ipairs(orders or {}) do
        if o.order_state == "open" then s.quotes[side] = { order_id = o.order_id, price = o.price } end
      end
    else
      ctx.log("warn", "%s: %s", side, tostring(perr))
    end
  end

  local sub, terr = pub:subscribe("ticker." .. instrument .. ".100ms", function(t)
    if not (t.best_bid_price and t.best_ask_price) then return end
    s.mark = t.mark_price
    local mid = (t.best_bid_price + t.best_ask_price) / 2
    local bid = round_to(mid - spread / 2, tick)
    local ask = round_to(mid + spread / 2, tick)
    if ask <= bid then ask = bid + tick end
    if s.position < max_position then quote("buy", bid) else cancel("buy") end
    if s.position > -max_position then quote("sell", ask) else cancel("sell") end
  end)
  if not sub then ctx.log("error", "ticker: %s", tostring(terr)) return end
  ctx.log("info", "quoting %s: spread %g, size %g, max position %g (Ctrl-C to stop)",
          instrument, spread, size, max_position)
  M.ctx, M.state = ctx, s
end

function M.stop(ctx, reason)
  ctx.log("info", "market_maker stopped (%s)", reason)
  return M.state
end


return M

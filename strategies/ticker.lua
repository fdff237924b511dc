-- ticker.lua — print bid, ask and mark price of one instrument as the venue streams them.
--   luatrade run strategies/ticker.lua                      (BTC-PERPETUAL on the built-in venue)
--   luatrade run --set instrument=ETH-PERPETUAL strategies/ticker.lua
local M = {}

function M.start(ctx)
  local instrument = ctx.config.instrument or "BTC-PERPETUAL"
  local interval = ctx.config.interval or "100ms"
  local channel = ("ticker.%s.%s"):format(instrument, interval)
  local sub, err = ctx.public:subscribe(channel, function(t)
    print(("%s %-14s bid %10.2f  ask %10.2f  mark %10.2f"):format(
      os.date("!%H:%M:%S", t.timestamp // 1000), t.instrument_name,
      t.best_bid_price or 0, t.best_ask_price or 0, t.mark_price or 0))
    io.stdout:flush()
  end)
  if not sub then
    ctx.log("error", "cannot subscribe to %s: %s", channel, tostring(err))
    return
  end
  ctx.log("info", "streaming %s (Ctrl-C to stop)", channel)
end

return M

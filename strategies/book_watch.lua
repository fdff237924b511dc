-- book_watch.lua — keep a local order book with lt.book and print the top of book, the spread
-- and the depth of the best five levels a side.
--   luatrade run strategies/book_watch.lua
--   luatrade run --set instrument=ETH-PERPETUAL --set depth=10 strategies/book_watch.lua
--
-- lt.book subscribes book.{instrument}.{interval} (or the grouped top-N channel with depth),
-- applies the snapshot and every change in C, checks the prev_change_id chain, and on a gap or
-- a crossed book resubscribes for a fresh snapshot (reported below through on_resync).
-- Hot reload: the new version builds its own book; the channel stays subscribed meanwhile and
-- the new book asks the venue for a fresh snapshot (on_resync reason "no_snapshot").
local lt = require "luatrade"

local M = {}

function M.start(ctx)
  local instrument = ctx.config.instrument or "BTC-PERPETUAL"
  local depth = tonumber(ctx.config.depth)
  local book, err = lt.book(ctx.public, instrument,
                            { depth = depth, interval = ctx.config.interval or "100ms" })
  if not book then
    ctx.log("error", "cannot keep the %s book: %s", instrument, tostring(err))
    return
  end
  book:on_resync(function(b, reason, detail)
    ctx.log("warn", "%s: resync %d (%s: %s)", b.channel, b:resyncs(), reason, tostring(detail))
  end)
  book:on_update(function(b)
    local bid, bid_amount = b:best_bid()
    local ask, ask_amount = b:best_ask()
    if not (bid and ask) then return end
    local bids, asks = 0, 0
    for _, amount in b:levels("bids", 5) do bids = bids + amount end
    for _, amount in b:levels("asks", 5) do asks = asks + amount end
    print(("%s %-14s %10.2f x %-10g | %10.2f x %-10g spread %.2f  top-5 %g / %g"):format(
      os.date("!%H:%M:%S", b:timestamp() // 1000), instrument, bid, bid_amount,
      ask, ask_amount, b:spread(), bids, asks))
    io.stdout:flush()
  end)
  M.book = book
  ctx.log("info", "watching %s (Ctrl-C to stop)", book.channel)
end

-- At a reload the book is left to the runner (its channel stays subscribed for the next
-- version); at shutdown it is closed (unsubscribed).
function M.stop(_, reason)
  if M.book and reason ~= "reload" then M.book:close() end
end

return M

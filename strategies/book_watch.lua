-- book_watch.lua — keep a local order book from book.{instrument}.{interval} notifications and
-- print the top of book and the spread.
--   luatrade run strategies/book_watch.lua
--   luatrade run --set instrument=ETH-PERPETUAL strategies/book_watch.lua
--
-- The venue sends a snapshot, then changes chained by prev_change_id (deribit-api.md §4). A
-- change whose prev_change_id is not the last change_id seen means a message was missed: the
-- book is rebuilt from public/get_order_book, and changes older than that snapshot are skipped.
local M = {}

local function best(side, better)
  local top
  for price in pairs(side) do
    if top == nil or better(price, top) then top = price end
  end
  return top
end

local function apply(side, levels)
  for _, l in ipairs(levels) do
    local action, price, amount = l[1], l[2], l[3]
    if action == "delete" or amount == 0 then side[price] = nil else side[price] = amount end
  end
end

-- Hot reload: stop() hands the book to the next version's start(), which keeps applying the
-- same channel's changes (the runner keeps it subscribed and queues what arrives meanwhile).
function M.start(ctx, state)
  local instrument = ctx.config.instrument or "BTC-PERPETUAL"
  local channel = ("book.%s.%s"):format(instrument, ctx.config.interval or "100ms")
  local book = state and state.channel == channel and state.book
               or { bids = {}, asks = {}, change_id = nil }
  M.state = { channel = channel, book = book }

  local function resync()
    local snap, err = ctx.public:get_order_book{ instrument_name = instrument, depth = 1000 }
    if not snap then ctx.log("warn", "resync failed: %s", tostring(err)) return end
    book.bids, book.asks = {}, {}
    for _, l in ipairs(snap.bids) do book.bids[l[1]] = l[2] end
    for _, l in ipairs(snap.asks) do book.asks[l[1]] = l[2] end
    book.change_id = snap.change_id
  end

  local sub, err = ctx.public:subscribe(channel, function(msg)
    if msg.type == "snapshot" then
      book.bids, book.asks = {}, {}
    elseif book.change_id and msg.change_id <= book.change_id then
      return                                   -- already contained in a resync snapshot
    elseif msg.prev_change_id ~= book.change_id then
      ctx.log("warn", "gap in %s (prev %s, last %s): resyncing", channel,
              tostring(msg.prev_change_id), tostring(book.change_id))
      resync()                                 -- handlers may await: later messages wait
      return
    end
    apply(book.bids, msg.bids)
    apply(book.asks, msg.asks)
    book.change_id = msg.change_id
    local bid = best(book.bids, function(a, b) return a > b end)
    local ask = best(book.asks, function(a, b) return a < b end)
    if bid and ask then
      print(("%s %-14s %10.2f x %-10g | %10.2f x %-10g spread %.2f"):format(
        os.date("!%H:%M:%S", msg.timestamp // 1000), instrument, bid, book.bids[bid],
        ask, book.asks[ask], ask - bid))
      io.stdout:flush()
    end
  end)
  if not sub then
    ctx.log("error", "cannot subscribe to %s: %s", channel, tostring(err))
    return
  end
  ctx.log("info", "watching %s (Ctrl-C to stop)", channel)
end

function M.stop() return M.state end

return M

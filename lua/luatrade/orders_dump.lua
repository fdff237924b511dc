--- luatrade.orders_dump — the runtime's view of its orders, written to a file for checks from
-- outside (scripts/soak compares it with the venue's event log). Enabled by the runner when
-- the environment variable LUATRADE_ORDERS_DUMP names a file; otherwise nothing is loaded.
--
--     LUATRADE_ORDERS_DUMP=/tmp/orders.txt luatrade run strategies/market_maker.lua
--
-- The file is rewritten at start and gets one line per fact, fields separated by spaces
-- (times are wall-clock milliseconds, lt.now() * 1000):
--   start T                          the run began
--   heap T KB                        collectgarbage("count") after a full collection, at
--                                    start, then every 5 s
--   seen T ORDER_ID STATE TS         the tracker (ctx.orders) took in a view of an order: a
--                                    call's result, a listing or user.orders (TS: the order's
--                                    last_update_timestamp, or - )
--   final T                          shutdown, after the strategy stopped and the order calls
--                                    in flight were answered (at most 3 s) and 0.5 s of quiet;
--                                    then, as the tracker sees it at that moment:
--   open ORDER_ID STATE TS           each order it holds as open
--   closed ORDER_ID                  each order it remembers as closed
--   end T                            the dump is complete
-- Nothing secret is written (order ids, states, times). A file that cannot be opened is
-- logged once at warn and the run goes on without the dump.
local lt = require "luatrade"

local M = {}

local function ms() return math.floor(lt.now() * 1000) end

--- orders_dump.attach(tracker, path, spawn): start dumping tracker's view to path; spawn(fn)
-- runs the heap sampler as a runtime task. Returns the dumper (with :final()), or nil.
function M.attach(tracker, path, spawn)
  local f, err = io.open(path, "w")
  if not f then lt.log("warn", "LUATRADE_ORDERS_DUMP: %s", tostring(err)) return nil end
  f:setvbuf("line")
  local d = { f = f }
  f:write(("start %d\n"):format(ms()))
  local function heap()
    collectgarbage("collect")
    f:write(("heap %d %.1f\n"):format(ms(), collectgarbage("count")))
  end
  heap()
  local record = tracker.record
  tracker.record = function(self, o)
    if not d.done and type(o) == "table" and o.order_id ~= nil then
      f:write(("seen %d %s %s %s\n"):format(ms(), tostring(o.order_id), tostring(o.order_state),
        tostring(o.last_update_timestamp or "-")))
    end
    return record(self, o)
  end
  spawn(function()
    while true do
      lt.sleep(5)
      if d.done then return end
      heap()
    end
  end)
  --- d:final(): wait for the order calls in flight (3 s at most) and 0.5 s, write the view.
  function d.final()
    local deadline = lt.now() + 3
    while tracker.inflight > 0 and lt.now() < deadline do lt.sleep(0.01) end
    lt.sleep(0.5)
    f:write(("final %d\n"):format(ms()))
    for _, rec in ipairs(tracker:records()) do -- (an unknown outcome never found has no id)
      if rec.order_id ~= nil and (rec.state == "filled" or rec.state == "cancelled" or rec.state == "rejected") then
        f:write(("closed %s\n"):format(tostring(rec.order_id)))
      elseif rec.order_id ~= nil then
        f:write(("open %s %s %s\n"):format(tostring(rec.order_id), tostring(rec.state),
          tostring(rec.last_update_timestamp or "-")))
      end
    end
    heap()
    f:write(("end %d\n"):format(ms()))
    d.done = true
    f:close()
  end
  return d
end

return M

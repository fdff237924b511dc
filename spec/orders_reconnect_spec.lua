-- spec/orders_reconnect_spec.lua — `luatrade run`'s ctx.orders after a reconnect: the
-- user.orders notifications the venue made while the connection was silent are lost with it,
-- so once logged in again the tracker reconciles itself with the venue (found by the soak,
-- scripts/soak: a fill during a dead connection stayed "open" in ctx.orders). Checked with a
-- venue process: its blackhole discards the cancel notification, then the connection drops.
local lt = require "luatrade"
local venue = require "venue"
local S = require "support"

local STRATEGY = [[
local lt = require "luatrade"
local M = { private = true }
function M.start(ctx)
  local r = assert(ctx.private:buy{ instrument_name = "BTC-PERPETUAL", amount = 10,
    type = "limit", price = 1000, label = "rc-1" })
  ctx.log("info", "placed %s", r.order.order_id)
  lt.spawn(function()
    while true do
      local o = ctx.orders:get(r.order.order_id)
      ctx.log("info", "tracked %s", o and o.state or "none")
      lt.sleep(0.1)
    end
  end)
end
function M.stop() end
return M
]]

describe("ctx.orders across a reconnect", function()
  local proc, C
  setup(function()
    proc = assert(venue.process{ args = S.account_args("oc", 1) })
    C = S.clients_of(function() return proc.url end, "oc")
  end)
  teardown(function() if proc then proc:stop() end end)

  it("learns what happened to an order while the connection was down", function()
    lt.run(function()
      local h = S.run_strategy(proc.url, "oc1", S.strategy_file(STRATEGY), "--no-watch")
      assert.is_true(S.wait_for(function() return h.output():find("tracked open") ~= nil end, 15),
                     h.output())
      local id = h.output():match("placed (%d+)")
      local ctl = C.public()
      local st = assert(venue.stats(ctl, "oc1"))
      assert.equal(1, #st.connection_ids)
      local conn = st.connection_ids[1]
      -- the runner's connection goes silent; the order is cancelled meanwhile by another
      -- client of the account (its notification to the runner is discarded); then it drops
      assert(venue.fault(ctl, "blackhole", { conn = conn }))
      local other = C.private(1)
      assert(other:call("private/cancel", { order_id = id }))
      other:close()
      lt.sleep(0.3)
      local mark = #h.output()
      assert(venue.fault(ctl, "drop", { conn = conn }))
      local ok = S.wait_for(function() return h.output():find("tracked cancelled", mark, true) ~= nil end, 10)
      h.signal("TERM")
      h.rc(15)
      local out = h.output()
      h.cleanup()
      ctl:close()
      assert.is_true(ok, out)
    end)
  end)
end)

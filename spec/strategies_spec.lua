-- spec/strategies_spec.lua — every example in strategies/ runs as it is (`luatrade run FILE`
-- against a venue process), does what its header says, and exits 0 on Ctrl-C; the market
-- maker's quotes, limits and kill switch are checked on the venue.
local lt = require "luatrade"
local venue = require "venue"
local S = require "support"

local BTC = "BTC-PERPETUAL"

describe("strategies/", function()
  local proc, C
  setup(function()
    proc = assert(venue.process{ args = S.account_args("st", 6) })
    C = S.clients_of(function() return proc.url end, "st")
  end)
  teardown(function() if proc then proc:stop() end end)

  local function open_orders(priv)
    return assert(priv:get_open_orders_by_instrument{ instrument_name = BTC })
  end

  local function stop(h)
    h.signal("INT")
    local rc, out = h.rc(15), h.output()
    h.cleanup()
    assert.equal(0, rc, out)
    return out
  end

  it("ticker.lua streams bid, ask and mark", function()
    lt.run(function()
      local h = S.run_strategy(proc.url, "st1", "strategies/ticker.lua")
      assert.is_true(S.wait_for(function() return select(2, h.output():gsub("BTC%-PERPETUAL +bid", "")) >= 3 end, 10), h.output())
      stop(h)
    end)
  end)

  it("twap.lua buys its total in slices, then ends by itself", function()
    lt.run(function()
      local priv = C.private(2)
      local h = S.run_strategy(proc.url, "st2", "strategies/twap.lua", "--set total=40 --set slices=2 --set period=1")
      assert.equal(0, h.rc(20), h.output())
      local out = h.output()
      h.cleanup()
      assert.equal(40, assert(priv:get_position{ instrument_name = BTC }).size, out)
      assert(priv:sell{ instrument_name = BTC, amount = 40, type = "market" })
      priv:close()
    end)
  end)

  it("market_maker.lua quotes both sides through ctx.orders within its limits and cancels them on Ctrl-C", function()
    lt.run(function()
      local priv = C.private(3)
      local h = S.run_strategy(proc.url, "st3", "strategies/market_maker.lua", "--set size=20 --set max_position=40")
      assert.is_true(S.wait_for(function() return #open_orders(priv) == 2 end, 10), h.output())
      local sides = {}
      for _, o in ipairs(open_orders(priv)) do
        sides[o.direction] = o
        assert.equal(20, o.amount)
        assert.matches("^mm%-%a%a%a%-%x+%-%d+$", o.label)           -- the tracker's labels
      end
      assert.is_truthy(sides.buy and sides.sell)
      assert.is_true(sides.buy.price < sides.sell.price)
      local out = stop(h)
      assert.same({}, open_orders(priv))
      assert.truthy(out:find("market_maker stopped (shutdown)", 1, true), out)
      assert.falsy(out:find("-0.00000000", 1, true), out)
      priv:close()
    end)
  end)

  it("market_maker.lua stops quoting when the kill file appears and keeps its market data", function()
    lt.run(function()
      local priv = C.private(4)
      local kill = os.tmpname(); os.remove(kill)
      local h = S.run_strategy(proc.url, "st4", "strategies/market_maker.lua", "--kill-file " .. kill)
      assert.is_true(S.wait_for(function() return #open_orders(priv) == 2 end, 10), h.output())
      S.write(kill, "")
      assert.is_true(S.wait_for(function() return #open_orders(priv) == 0 end, 10), h.output())
      assert.is_true(S.wait_for(function() return h.output():find("KILL SWITCH", 1, true) ~= nil end, 5))
      lt.sleep(1)
      assert.equal(0, #open_orders(priv))                            -- and it does not quote again
      assert.is_nil(h.rc(0), "still running")
      local out = stop(h)
      assert.truthy(out:find("not quoted: killed", 1, true), out)
      os.remove(kill)
      priv:close()
    end)
  end)
end)

-- spec/shutdown_spec.lua — Ctrl-C of `luatrade run`, checked on the venue: the command runs as a
-- process of its own against a venue process, gets SIGINT, and the venue says what remains.
local lt = require "luatrade"
local venue = require "venue"
local S = require "support"


local read, run, strategy_file = S.read, S.run_strategy, S.strategy_file

local function open_orders(priv)
  local list, err = priv:call("private/get_open_orders_by_currency", { currency = "BTC" })
  assert(list, tostring(err))
  return list
end

describe("luatrade run on Ctrl-C", function()
  local proc, C
  setup(function()
    proc = assert(venue.process{ args = S.account_args("sd", 8) })
    C = S.clients_of(function() return proc.url end, "sd")
  end)
  teardown(function() if proc then proc:stop() end end)

  local function quoting(n, args)
    local h = run(proc.url, "sd" .. n, "strategies/market_maker.lua", args)
    local priv = C.private(n)
    assert.is_true(S.wait_for(function() return #open_orders(priv) >= 2 end, 10),
                   "the market maker quotes: " .. h.output())
    return h, priv
  end

  it("cancels the quotes of the strategy before it exits with status 0", function()
    lt.run(function()
      local h, priv = quoting(1)
      h.signal("INT")
      local rc = h.rc(15)
      local out = h.output()
      h.cleanup()
      assert.equal(0, rc, out)
      assert.same({}, open_orders(priv))
      assert.truthy(out:find("cancelled %d+ open order"), out)
      priv:close()
    end)
  end)

  it("leaves them with --keep-orders", function()
    lt.run(function()
      local h, priv = quoting(2, "--keep-orders")
      h.signal("INT")
      local rc = h.rc(15)
      h.cleanup()
      assert.equal(0, rc)
      assert.is_true(#open_orders(priv) >= 1)
      priv:call("private/cancel_all", {})
      priv:close()
    end)
  end)

  it("does not cancel orders of the same account placed by another client", function()
    lt.run(function()
      local priv = C.private(3)
      local pub = C.public()
      local t = assert(pub:ticker{ instrument_name = "BTC-PERPETUAL" })
      local mine = assert(priv:buy{ instrument_name = "BTC-PERPETUAL", amount = 10, type = "limit",
        price = math.floor(t.best_bid_price * 0.95), post_only = true, label = "mm-bid" })
      local h = run(proc.url, "sd3", "strategies/market_maker.lua")
      assert.is_true(S.wait_for(function() return #open_orders(priv) >= 3 end, 10), h.output())
      h.signal("INT")
      local rc = h.rc(15)
      h.cleanup()
      assert.equal(0, rc)
      local left = open_orders(priv)
      assert.equal(1, #left)
      assert.equal(mine.order.order_id, left[1].order_id)
      priv:call("private/cancel_all", {})
      priv:close(); pub:close()
    end)
  end)

  it("runs stop(ctx, \"shutdown\") inside the loop, where it can await", function()
    local marker = os.tmpname(); os.remove(marker)
    local path = strategy_file(([[
      local M = { private = true }
      function M.start(ctx) ctx.public:subscribe("ticker.BTC-PERPETUAL.100ms", function() end); ctx.log("info", "started") end
      function M.stop(ctx, reason)
        local orders = assert(ctx.private:get_open_orders_by_instrument{ instrument_name = "BTC-PERPETUAL" })
        local t = assert(ctx.public:get_time{})
        local f = assert(io.open(%q, "w")); f:write(reason, " ", #orders, " ", tostring(t)); f:close()
      end
      return M]]):format(marker))
    lt.run(function()
      local h = run(proc.url, "sd4", path)
      local pub = C.public()
      assert.is_true(S.wait_for(function()
        return ((venue.stats(pub, "sd4") or {}).auths or 0) >= 1 end, 10), h.output())
      h.signal("INT")
      local rc = h.rc(15)
      local out = h.output()
      h.cleanup()
      assert.equal(0, rc, out)
      assert.truthy((read(marker) or ""):match("^shutdown 0 %d+"), out)
      pub:close()
    end)
    os.remove(marker); os.remove(path)
  end)

  it("ends a stop that overruns --stop-timeout and still exits with status 0", function()
    local marker = os.tmpname(); os.remove(marker)
    local path = strategy_file(([[
      local lt = require "luatrade"
      local M = {}
      function M.start(ctx) ctx.public:subscribe("ticker.BTC-PERPETUAL.100ms", function() end); ctx.log("info", "started") end
      function M.stop(ctx)
        lt.sleep(30)
        local f = io.open(%q, "w"); f:write("late"); f:close()
      end
      return M]]):format(marker))
    lt.run(function()
      local h = run(proc.url, "sd5", path, "--stop-timeout 1")
      assert.is_true(S.wait_for(function() return h.output():find("started", 1, true) ~= nil end, 20), h.output())
      local t0 = lt.now()
      h.signal("INT")
      local rc = h.rc(10)
      local took = lt.now() - t0
      local out = h.output()
      h.cleanup()
      assert.equal(0, rc, out)
      assert.is_true(took >= 0.9 and took < 6, "took " .. took)
      assert.truthy(out:find("overran", 1, true), out)
      assert.is_nil(read(marker))
    end)
    os.remove(path)
  end)

  it("exits at once with status 130 on a second Ctrl-C", function()
    local path = strategy_file([[
      local lt = require "luatrade"
      local M = {}
      function M.start(ctx) ctx.public:subscribe("ticker.BTC-PERPETUAL.100ms", function() end); ctx.log("info", "started") end
      function M.stop() lt.sleep(30) end
      return M]])
    lt.run(function()
      local h = run(proc.url, "sd6", path)
      assert.is_true(S.wait_for(function() return h.output():find("started", 1, true) ~= nil end, 20), h.output())
      h.signal("INT")
      lt.sleep(0.5)
      assert.is_nil(h.rc(0), "still stopping after the first Ctrl-C")
      local t0 = lt.now()
      h.signal("INT")
      local rc = h.rc(5)
      local took = lt.now() - t0
      h.cleanup()
      assert.equal(130, rc)
      assert.is_true(took < 2, "took " .. took)
    end)
    os.remove(path)
  end)

  it("never logs in for a public-only strategy", function()
    local path = strategy_file([[
      local M = {}
      function M.start(ctx)
        ctx.public:subscribe("ticker.BTC-PERPETUAL.100ms", function(t)
          if not M.seen then M.seen = true; ctx.log("info", "ticker %s", t.instrument_name) end
        end)
      end
      return M]])
    lt.run(function()
      local h = run(proc.url, "sd7", path)
      assert.is_true(S.wait_for(function() return h.output():find("ticker BTC", 1, true) ~= nil end, 10),
                     h.output())
      h.signal("INT")
      local rc = h.rc(15)
      h.cleanup()
      assert.equal(0, rc)
      local pub = C.public()
      local st = assert(venue.stats(pub, "sd7"))
      assert.equal(0, st.auths)
      pub:close()
    end)
    os.remove(path)
  end)

  it("does log in when the strategy touches ctx.private", function()
    local path = strategy_file([[
      local M = {}
      function M.start(ctx)
        assert(ctx.private:get_positions{ currency = "BTC" })
        ctx.log("info", "positions read")
        ctx.public:subscribe("ticker.BTC-PERPETUAL.100ms", function() end)
      end
      return M]])
    lt.run(function()
      local h = run(proc.url, "sd8", path)
      assert.is_true(S.wait_for(function() return h.output():find("positions read", 1, true) ~= nil end, 10),
                     h.output())
      h.signal("TERM")
      local rc = h.rc(15)
      h.cleanup()
      assert.equal(0, rc)
      local pub = C.public()
      assert.is_true(assert(venue.stats(pub, "sd8")).auths >= 1)
      pub:close()
    end)
    os.remove(path)
  end)

  -- regression (this change): a strategy that ended by itself no longer had stop() called
  it("still runs stop after a strategy that ends by itself", function()
    local mark = os.tmpname()
    local path = strategy_file(([[
      local M = {}
      function M.start(ctx) ctx.log("info", "started") end
      function M.stop(ctx, reason) local f = io.open(%q, "w"); f:write(reason); f:close() end
      return M]]):format(mark))
    lt.run(function()
      local h = run(proc.url, "sd1", path)
      local rc = h.rc(15)
      h.cleanup()
      assert.equal(0, rc)
    end)
    assert.equal("shutdown", read(mark))
    os.remove(path); os.remove(mark)
  end)
end)

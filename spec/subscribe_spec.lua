-- Subscriptions against the built-in venue: delivery, order, handlers that await or fail,
-- closing, heartbeats.
local lt = require "luatrade"
local S = require "support"

describe("subscriptions", function()
  it("deliver book changes in order to a handler that awaits between messages", function()
    local got, chain_ok = {}, true
    S.with_public(function(pub)
      local last
      local sub = assert(pub:subscribe("book.BTC-PERPETUAL.100ms", function(b)
        if b.type == "change" and b.prev_change_id ~= last then chain_ok = false end
        last = b.change_id
        got[#got + 1] = b
        lt.sleep(0.01)                          -- handlers may await; order still holds
      end))
      S.wait_for(function() return #got >= 10 end, 10)
      sub:close()
    end)
    assert.is_true(#got >= 10)
    assert.equal("snapshot", got[1].type)
    assert.equal("integer", math.type(got[1].change_id))
    assert.is_true(chain_ok)
  end)

  it("stop delivering once closed, also as a to-be-closed variable", function()
    local n, after = 0, nil
    S.with_public(function(pub)
      do
        local sub <close> = assert( -- luacheck: no unused
          pub:subscribe("ticker.BTC-PERPETUAL.100ms", function() n = n + 1 end))
        S.wait_for(function() return n >= 2 end)
      end
      after = n
      lt.sleep(0.5)
    end)
    assert.is_true(after >= 2)
    assert.equal(after, n)
  end)

  it("keep delivering to a handler that raises", function()
    local calls = 0
    S.with_public(function(pub)
      local sub = assert(pub:subscribe("ticker.BTC-PERPETUAL.100ms", function()
        calls = calls + 1
        error("boom")
      end))
      S.wait_for(function() return calls >= 3 end)
      sub:close()
    end)
    assert.is_true(calls >= 3)
  end)

  it("return an error when the venue accepts none of the channels", function()
    local sub, err = S.with_public(function(pub)
      return pub:subscribe("ticker.NOPE.100ms", function() end)
    end)
    assert.is_nil(sub)
    assert.equal("subscription_rejected", err.name)
  end)

  it("are restored after a reconnect", function()
    local n, reconnects = 0, 0
    S.with_public(function(pub)
      local sub = assert(pub:subscribe("ticker.BTC-PERPETUAL.100ms", function() n = n + 1 end))
      S.wait_for(function() return n >= 1 end)
      pub:_drop_connection()
      lt.sleep(0.3)
      local before = n
      S.wait_for(function() return n >= before + 3 end, 8)
      assert.is_true(n >= before + 3)
      reconnects = pub:stats().reconnects
      sub:close()
    end)
    assert.is_true(reconnects >= 1)
  end)
end)

describe("heartbeats", function()
  it("are answered, so the venue keeps the connection open", function()
    local stats
    S.with_public(function(pub)
      -- the venue's 10 s minimum, run at 100 ms per second by the built-in venue
      assert(pub:call("sim/configure", { heartbeat_ms_per_s = 100 }))
      assert.equal("ok", assert(pub:set_heartbeat{ interval = 10 }))
      lt.sleep(2.5)
      stats = pub:stats()
      assert.equal("open", pub:state())
    end)
    assert.is_true(stats.heartbeats >= 2)
    assert.equal(0, stats.reconnects)
  end)

  it("unanswered, make the venue close the connection", function()
    local err
    S.with_public(function(pub)
      assert(pub:call("sim/configure", { heartbeat_ms_per_s = 100 }))
      assert(pub:set_heartbeat{ interval = 10 })
      assert(pub:call("sim/fault", { action = "stall", count = 1 }))
      local _
      _, err = pub:get_time(nil, 5)             -- the venue drops us before answering
    end, { answer_test_request = false, reconnect = false })
    assert.equal("connection_lost", err.name)
  end)
end)

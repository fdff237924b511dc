-- Awaitable calls against the built-in venue over real wss on loopback.
local lt = require "luatrade"
local S = require "support"

describe("awaitable public calls", function()
  it("return typed results: integers for timestamps, floats for prices", function()
    local t, err = S.with_public(function(pub)
      return pub:ticker{ instrument_name = "BTC-PERPETUAL" }
    end)
    assert.is_nil(err)
    assert.equal("BTC-PERPETUAL", t.instrument_name)
    assert.equal("integer", math.type(t.timestamp))
    assert.equal("float", math.type(t.best_bid_price))
    assert.equal("float", math.type(t.mark_price))
    assert.is_true(t.best_ask_price > t.best_bid_price)
  end)

  it("reach every public method with a codec", function()
    S.with_public(function(pub)
      local v = assert(pub:hello{ client_name = "spec", client_version = "1" })
      assert.is_string(v.version)
      assert.is_string(assert(pub:test{}).version)
      assert.equal("integer", math.type(assert(pub:get_time())))
      local list = assert(pub:get_instruments{ currency = "BTC" })
      assert.is_true(#list >= 3)
      local one = assert(pub:get_instrument{ instrument_name = "BTC-PERPETUAL" })
      assert.equal("integer", math.type(one.instrument_id))
      assert.equal("float", math.type(one.tick_size))
      local book = assert(pub:get_order_book{ instrument_name = "BTC-PERPETUAL", depth = 5 })
      assert.is_true(#book.bids > 0 and #book.bids <= 5)
      assert.equal("float", math.type(book.bids[1][1]))
      assert.equal("integer", math.type(book.change_id))
      local idx = assert(pub:get_index_price{ index_name = "btc_usd" })
      assert.equal("float", math.type(idx.index_price))
      assert.equal("ok", assert(pub:disable_heartbeat()))
      assert.equal("ok", assert(pub:unsubscribe_all()))
    end)
  end)

  it("reach a method without a codec through call()", function()
    local r = S.with_public(function(pub) return pub:call("public/get_time", nil) end)
    assert.equal("integer", math.type(r))
  end)

  it("suspend only the calling task: answers arriving out of order reach the right task", function()
    local order, slow_type = {}, nil
    S.with_public(function(pub)
      assert(pub:call("sim/fault", { action = "delay", ms = 300 }))
      local done = 0
      lt.spawn(function()
        local t = assert(pub:get_time())       -- delayed by the venue
        order[#order + 1] = "slow"; done = done + 1
        slow_type = math.type(t)                -- asserted below: a failed assert in a task is only logged
      end)
      lt.spawn(function()
        lt.sleep(0.05)
        assert(pub:test{})                      -- sent second, answered first
        order[#order + 1] = "fast"; done = done + 1
      end)
      S.wait_for(function() return done == 2 end)
    end)
    assert.same({ "fast", "slow" }, order)
    assert.equal("integer", slow_type)
  end)

  it("return nil and a venue error with code, name, kind and a readable tostring", function()
    local r, err = S.with_public(function(pub)
      return pub:get_instrument{ instrument_name = "NOPE-PERPETUAL" }
    end)
    assert.is_nil(r)
    assert.equal("venue", err.kind)
    assert.is_number(err.code)
    assert.is_string(err.name)
    assert.is_false(err.retryable)
    assert.matches(tostring(err.code), tostring(err), 1, true)
  end)

  it("time out with kind 'timeout' when the venue does not answer", function()
    local r, err = S.with_public(function(pub)
      assert(pub:call("sim/fault", { action = "stall", count = 1 }))
      return pub:get_time(nil, 0.3)
    end)
    assert.is_nil(r)
    assert.equal("timeout", err.kind)
    assert.equal("timeout", err.name)
  end)

  -- checked on the venue: the order was executed once and the runtime did not send it again
  it("fail an in-flight request with connection_lost and never re-send it", function()
    local err, after, orders, stats
    lt.run(function()
      local id, secret = S.account()
      local priv = lt.private{ venue = "sim", client_id = id, client_secret = secret, timeout = 5 }
      local price = S.passive_bid(priv)
      local label = "resend-" .. id
      assert(priv:call("sim/fault", { action = "delay", ms = 400 }))   -- executed now, answered later
      lt.spawn(function() lt.sleep(0.1); priv:_drop_connection() end)
      local _
      _, err = priv:buy{ instrument_name = "BTC-PERPETUAL", amount = 10, type = "limit",
                         price = price, post_only = true, label = label }
      after = priv:get_time(nil, 5)             -- works again after the reconnect
      lt.sleep(0.5)                             -- past the delayed answer and any re-send
      orders = assert(priv:get_open_orders_by_label{ currency = "BTC", label = label })
      stats = priv:stats()
      priv:cancel_by_label{ label = label }
      priv:close()
    end)
    assert.equal("connection_lost", err.name)
    assert.equal("transport", err.kind)
    assert.is_true(err.sent)
    assert.equal("integer", math.type(after))
    assert.equal(1, #orders)                    -- the venue got it exactly once
    assert.is_true(stats.reconnects >= 1)
  end)
end)

describe("parameter validation", function()
  local cases = {
    { "ticker", {}, "instrument_name" },
    { "ticker", { instrument_name = 5 }, "instrument_name" },
    { "ticker", { instrument_name = "BTC-PERPETUAL", bogus = 1 }, "bogus" },
    { "get_order_book", { instrument_name = "BTC-PERPETUAL", depth = 3 }, "depth" },
    { "get_instruments", { currency = "DOGE" }, "currency" },
    { "set_heartbeat", { interval = 5 }, "interval" },
    { "hello", { client_name = "x" }, "client_version" },
  }
  for _, c in ipairs(cases) do
    it(("raises an error naming '%s' for a bad %s call, and sends nothing"):format(c[3], c[1]), function()
      S.with_public(function(pub)
        local before = pub:stats().messages_out
        local ok, msg = pcall(pub[c[1]], pub, c[2])
        assert.is_false(ok)
        assert.matches(c[3], msg, 1, true)
        assert.equal(before, pub:stats().messages_out)
      end)
    end)
  end
end)

describe("outside a task", function()
  it("an awaitable raises a clear error", function()
    local ok, msg = pcall(lt.sleep, 0.01)
    assert.is_false(ok)
    assert.matches("luatrade task", msg, 1, true)
  end)

  it("a client call made from a plain coroutine raises a clear error", function()
    local msg
    S.with_public(function(pub)
      local co = coroutine.create(function() return pub:get_time() end)
      local ok
      ok, msg = coroutine.resume(co)
      assert.is_false(ok)
    end)
    assert.matches("luatrade task", msg, 1, true)
  end)

  it("creating a client outside lt.run raises", function()
    assert.has_error(function() lt.public{ venue = "sim" } end)
  end)
end)

describe("the public client", function()
  it("refuses credentials", function()
    lt.run(function()
      local ok, msg = pcall(lt.public, { venue = "sim", client_secret = "s3cr3t" })
      assert.is_false(ok)
      assert.matches("no credentials", msg, 1, true)
      assert.not_matches("s3cr3t", msg, 1, true)
    end)
  end)

  it("refuses plain ws:// to a remote host and without insecure_loopback", function()
    lt.run(function()
      assert.has_error(function() lt.public{ url = "ws://example.com/ws/api/v2" } end)
      assert.has_error(function() lt.public{ url = "ws://127.0.0.1:1/ws/api/v2" } end)
    end)
  end)

  it("keeps running after malformed and invalid UTF-8 frames from the venue", function()
    local stats, t = S.with_public(function(pub)
      assert(pub:call("sim/fault", { action = "malformed" }))
      lt.sleep(0.2)
      return pub:stats(), pub:get_time()
    end)
    assert.is_true(stats.malformed >= 1)
    assert.equal("integer", math.type(t))
  end)
end)

describe("the local rate limiter", function()
  -- the venue's non-ME pool (deribit-api.md §7): 500 credits a call, cap 50,000 (100 calls),
  -- 10,000/s; the local bucket keeps one call back and refills at 95 % (src/ratelimit.h)
  local COST, CAP, RATE, MARGIN = 500, 50000, 10000, 0.95

  it("under policy 'error' returns rate_limit errors with retry_after instead of sending", function()
    local errs, ok_count, before_first = {}, 0, nil
    S.with_public(function(pub)
      -- 200 calls need 100,000 credits: 5 s of refill beyond the burst, far more than they take
      for _ = 1, 200 do
        local r, err = pub:test{}
        if r then ok_count = ok_count + 1 else errs[#errs + 1] = err end
        if err and not before_first then before_first = ok_count end
      end
    end, { rate_limit = "error", heartbeat = false })  -- set_heartbeat would take 500 credits
    assert.is_true(#errs > 0, "no call was refused")
    assert.is_true(before_first >= CAP / COST - 1)  -- 99 of the venue's 100 go at once
    assert.equal("rate_limit", errs[1].kind)
    assert.is_true(errs[1].retry_after > 0)
    assert.is_true(errs[1].retry_after <= COST / (RATE * MARGIN) + 1e-6)
  end)

  it("under policy 'wait' delays calls past the burst instead of failing them", function()
    local failures, status = 0, nil
    S.with_public(function(pub)
      for _ = 1, 150 do                         -- more than the 99-call local burst carries
        if not pub:test{} then failures = failures + 1 end
      end
      status = pub:rate_limit_status()
    end)
    assert.equal(0, failures)
    assert.is_true(status.waited >= 1)
    assert.is_true(status.waited_seconds > 0)
  end)

  it("can be turned off only for loopback servers", function()
    lt.run(function()
      assert.has_error(function()
        lt.public{ url = "wss://test.deribit.com/ws/api/v2", rate_limit = "off" }
      end)
    end)
  end)
end)

describe("lt.sleep", function()
  -- regression: a task woken by a timer waited for the next I/O event (timers run just before
  -- libwebsockets polls), so short sleeps overslept by up to the next tick or forever
  it("returns on time when nothing else is happening", function()
    local t0, t1
    lt.run(function()
      t0 = lt.now()
      for _ = 1, 20 do lt.sleep(0.01) end
      t1 = lt.now()
    end)
    assert.is_true(t1 - t0 >= 0.2)
    assert.is_true(t1 - t0 < 1.0, ("20 sleeps of 10 ms took %.3f s"):format(t1 - t0))
  end)
end)

describe("lt.run", function()
  -- regression: a failing main function left lt.run waiting for its other tasks (a
  -- subscription's handler task runs until the subscription closes), so it hung
  it("re-raises the main function's error at once even while other tasks are alive", function()
    local t0 = lt.now()
    local ok, err = pcall(lt.run, function()
      lt.spawn(function() lt.sleep(30) end)
      error("boom")
    end)
    assert.is_false(ok)
    assert.matches("boom", err, 1, true)
    assert.is_true(lt.now() - t0 < 2)
  end)
end)

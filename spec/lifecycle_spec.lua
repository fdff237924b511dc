-- The request and connection lifecycle against the built-in venue in a process of its own
-- (fresh accounts, a fast market): requests waiting across a reconnect, requests the runtime
-- refuses before sending, subscriptions refused locally, slow handlers. Claims about what the
-- venue received are checked on the venue (open orders by label, the venue's own answers).
local lt = require "luatrade"
local S = require "support"
local venue_stats = require "venue"
local BTC = "BTC-PERPETUAL"

describe("the request lifecycle", function()
  local venue

  setup(function()
    venue = S.venue_process("--tick-ms 2 " .. S.account_args("lc", 6))
  end)

  teardown(function() venue:stop() end)
  local C = S.clients_of(function() return venue.url end, "lc")
  local private, public = C.private, C.public

  -- regression: a call waiting in the rate limiter when the connection dropped was written on
  -- the new connection before public/auth (30 queued orders + a drop -> 2 answered 13009)
  it("sends orders queued in the limiter across a drop only after re-authentication, each once", function()
    local results, per_label, unauthorized = {}, {}, 0
    lt.run(function()
      local priv = private(1)
      local t = assert(priv:ticker{ instrument_name = BTC })
      local price = math.floor(t.best_bid_price * 0.95)        -- rests: no taker reaches it
      local done = 0
      for i = 1, 30 do
        lt.spawn(function()
          local r, err = priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = price,
                                   post_only = true, label = "q-" .. i }
          results[i] = r and "ok" or err.name
          if err and err.code == 13009 then unauthorized = unauthorized + 1 end
          done = done + 1
        end)
      end
      lt.sleep(0.05)                                  -- 19 went at once, 11 wait for credits
      priv:_drop_connection()
      S.wait_for(function() return done == 30 end, 30)
      local st = assert(venue_stats.stats(priv, "lc1"))    -- ask the venue what it received
      for i = 1, 30 do per_label[i] = st.labels["q-" .. i] or 0 end
      priv:cancel_all()
      priv:close()
    end)
    assert.equal(0, unauthorized)
    local ok, lost = 0, 0
    for i = 1, 30 do
      assert.is_true(per_label[i] <= 1, "label q-" .. i .. " reached the venue twice")
      if results[i] == "ok" then ok = ok + 1; assert.equal(1, per_label[i]) end
      if results[i] == "connection_lost" then lost = lost + 1 end
    end
    assert.equal(30, ok + lost)
    assert.is_true(ok >= 11, ("only %d orders went through"):format(ok))
  end)

  it("refuses a request over the venue's 32 kB locally, as a validation error, sending nothing", function()
    local err, sent_before, sent_after
    lt.run(function()
      local pub = public()
      assert(pub:get_time())
      sent_before = pub:stats().sent
      local _
      _, err = pub:call("public/get_book_summary_by_currency", { currency = "BTC", pad = ("x"):rep(40000) })
      sent_after = pub:stats().sent
      pub:close()
    end)
    assert.equal("request_too_large", err.name)
    assert.equal("validation", err.kind)
    assert.is_false(err.sent)
    assert.equal(sent_before, sent_after)
  end)

  it("says a request was never sent when the venue cannot be reached", function()
    local err
    lt.run(function()
      local pub = lt.public{ url = "wss://127.0.0.1:1/ws/api/v2", ca_file = "build/sim/ca.pem",
                             timeout = 0.5 }
      local _
      _, err = pub:get_time()
      pub:close()
    end)
    assert.equal("not_sent", err.name)
    assert.equal("transport", err.kind)
    assert.is_false(err.sent)
    assert.matches("not connected", err.message, 1, true)
  end)

  it("refuses unknown venue names instead of guessing", function()
    lt.run(function()
      for _, v in ipairs{ "prod", "live", "Mainnet" } do
        local ok, msg = pcall(lt.private, { venue = v })
        assert.is_false(ok)
        assert.matches("unknown venue", msg, 1, true)
      end
    end)
  end)

  it("rejects heartbeat intervals below the venue's 10 s when the client is made", function()
    lt.run(function()
      local ok, msg = pcall(public, { heartbeat = 5 })
      assert.is_false(ok)
      assert.matches("heartbeat", msg, 1, true)
      local pub = public({ heartbeat = false })
      assert(pub:get_time())
      pub:close()
    end)
  end)
end)

describe("subscriptions in the lifecycle", function()
  local venue

  setup(function() venue = S.venue_process("--tick-ms 2") end)
  teardown(function() venue:stop() end)
  local public = S.clients_of(function() return venue.url end, "lc").public

  -- regression: a subscribe refused locally left a ghost channel: retrying said "already
  -- subscribed", and the ghost was restored after every reconnect
  it("leave nothing behind when a subscribe is refused before it is sent", function()
    local refused, again
    lt.run(function()
      local pub = public({ rate_limit = "error" })
      for _ = 1, 12 do                               -- the subscribe pool holds 9 at once
        local s, err = pub:subscribe("ticker.BTC-PERPETUAL.100ms", function() end)
        if s then s:close() elseif err.kind == "rate_limit" then refused = err break end
        lt.sleep(0)
      end
      lt.sleep(0.5)                                   -- credits come back
      again = assert(pub:subscribe("ticker.BTC-PERPETUAL.100ms", function() end))
      again:close()
      pub:close()
    end)
    assert.is_table(refused)
    assert.is_false(refused.sent)
  end)

  it("keep memory flat behind a slow handler: snapshot-like channels keep the newest", function()
    local heap_mid, heap_end, stats, got, client_stats = 0, 0, nil, 0, nil
    lt.run(function()
      local pub = public()
      local sub = assert(pub:subscribe("ticker.BTC-PERPETUAL.100ms", function()
        got = got + 1
        lt.sleep(0.01)                                -- 100 messages/s at most; the venue sends more
      end, { max_queue = 20 }))
      lt.sleep(2); collectgarbage(); heap_mid = collectgarbage("count")
      lt.sleep(2); collectgarbage(); heap_end = collectgarbage("count")
      stats = sub:stats()
      client_stats = pub:stats()
      sub:close(); pub:close()
    end)
    assert.is_true(got > 50)
    assert.is_true(stats.dropped > 0, "nothing was dropped: the stream was not faster than the handler")
    assert.is_true(stats.high_water <= stats.cap)
    assert.equal(1, client_stats.subscriptions)
    assert.is_true(client_stats.sub_dropped >= stats.dropped)
    assert.is_true(heap_end - heap_mid < 4096, ("heap grew by %.0f KiB"):format(heap_end - heap_mid))
  end)

  it("resync an incremental book from a fresh snapshot when its handler falls behind", function()
    local stats, gaps, snapshots = nil, 0, 0
    lt.run(function()
      local pub = public()
      local last
      local sub = assert(pub:subscribe("book.BTC-PERPETUAL.100ms", function(b)
        if b.type == "snapshot" then snapshots = snapshots + 1
        elseif b.prev_change_id ~= last then gaps = gaps + 1 end
        last = b.change_id
        lt.sleep(0.01)
      end, { max_queue = 20 }))
      lt.sleep(3)
      stats = sub:stats()
      sub:close(); pub:close()
    end)
    assert.is_true(stats.resyncs >= 1)
    assert.equal(0, gaps)                             -- changes never skip: a gap means a snapshot
    assert.is_true(snapshots >= 2)
  end)

  it("never drop trades: a handler that falls behind fails its subscription loudly", function()
    local events, handled, ended = {}, 0, false
    lt.run(function()
      local pub = public()
      pub:on_state(function(state, reason)
        if state == "subscription_failed" then events[#events + 1] = { state, reason } end
      end)
      local sub = assert(pub:subscribe("trades.future.BTC.100ms", function()
        handled = handled + 1
        lt.sleep(0.1)
      end, { max_queue = 5 }))
      S.wait_for(function() return #events > 0 end, 10)
      lt.sleep(0.3)
      ended = tostring(sub):match("closed") ~= nil
      pub:close()
    end)
    assert.equal("subscription_failed", events[1][1])
    assert.matches("trades.future.BTC.100ms", events[1][2], 1, true)
    assert.is_true(ended)
  end)
end)

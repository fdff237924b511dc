-- lt.book against the built-in venue: the local book equals the venue's own book
-- (public/get_order_book at the same change_id) through thousands of changes made by the
-- venue's market and by a private client's orders; a change_id gap injected on the venue side
-- (sim/fault blackhole: the venue keeps publishing into the void, so the next change's
-- prev_change_id is not the last one the client saw) makes it resubscribe, checked by the
-- venue's subscribe counter; grouped top-N books; misuse.
local lt = require "luatrade"
local S = require "support"
local venue = require "venue"
local BTC = "BTC-PERPETUAL"

-- Compare the book's side with the venue's [price, amount] list; nil or what differs.
local function diff(b, side, levels, n)
  local i = 0
  for price, amount in b:levels(side, n) do
    i = i + 1
    local l = levels[i]
    if not l or l[1] ~= price or l[2] ~= amount then
      return ("%s[%d]: local %s x %s, venue %s x %s"):format(side, i, price, amount,
        l and l[1], l and l[2])
    end
  end
  local want = n and math.min(n, #levels) or #levels
  if i ~= want then return ("%s: %d levels locally, %d at the venue"):format(side, i, want) end
end

-- Ask the venue for its book until one answer has the book's change_id (the answer and the
-- notifications before it come in order on one connection); returns matched, mismatch.
local function compare(pub, b, tries, depth)
  local matched, mismatch = 0, nil
  for _ = 1, tries do
    local ob = assert(pub:get_order_book{ instrument_name = BTC, depth = 1000 })
    if ob.change_id == b:change_id() then
      matched = matched + 1
      mismatch = mismatch or diff(b, "bids", ob.bids, depth) or diff(b, "asks", ob.asks, depth)
    end
    lt.sleep(0.08)                                    -- well under 20 requests/s
  end
  return matched, mismatch
end

describe("lt.book", function()
  local proc
  setup(function() proc = S.venue_process("--tick-ms 1 " .. S.account_args("bk", 3)) end)
  teardown(function() proc:stop() end)
  local C = S.clients_of(function() return proc.url end, "bk")

  it("equals the venue's book through thousands of changes, the strategy's own orders included", function()
    local changes, matched, mismatch, resyncs, orders, skipped = 0, 0, nil, nil, 0, nil
    lt.run(function()
      local pub, priv = C.public(), C.private(1)
      local b = assert(lt.book(pub, BTC))
      assert(b:wait(10))
      b:on_update(function() changes = changes + 1 end)
      local done = false
      lt.spawn(function()  -- orders resting in the book (new levels and existing ones), cancels
        local t = assert(priv:ticker{ instrument_name = BTC })
        for i = 1, 12 do
          local r = priv:buy{ instrument_name = BTC, amount = 10 * i, type = "limit", post_only = true,
                              price = t.best_bid_price - 0.5 * (i + 2), label = "bk-" .. i }
          if r then orders = orders + 1 end
          if i % 4 == 0 then priv:cancel_all() end
        end
        done = true
      end)
      local deadline = lt.now() + 30
      while (changes < 2000 or not done) and lt.now() < deadline do
        local m, why = compare(pub, b, 5)
        matched, mismatch = matched + m, mismatch or why
      end
      priv:cancel_all()
      resyncs, skipped = b:resyncs(), b:stats().skipped
      b:close()
      priv:close()
      pub:close()
    end)
    assert.is_nil(mismatch)
    assert.is_true(changes >= 2000, "changes applied: " .. changes)
    assert.is_true(matched >= 5, "comparisons at the same change_id: " .. matched)
    assert.is_true(orders >= 6, "orders placed: " .. orders)
    assert.equal(0, resyncs)
    assert.equal(0, skipped)
  end)

  it("resubscribes for a fresh snapshot on a change_id gap, and is right again afterwards", function()
    local reasons, resyncs, subscribes, matched, mismatch, synced = {}, nil, nil, 0, nil, nil
    local channel = "book." .. BTC .. ".100ms"
    lt.run(function()
      local pub = C.public()
      local b = assert(lt.book(pub, BTC))
      assert(b:wait(10))
      b:on_resync(function(_, reason, detail) reasons[#reasons + 1] = { reason, detail } end)
      local before = assert(venue.subscribe_count(pub, nil, channel))
      venue.blackhole(pub, 300)                      -- the venue publishes into the void
      S.wait_for(function() return #reasons >= 1 and b:synced() end, 10)
      synced = b:synced()
      resyncs = b:resyncs()
      subscribes = assert(venue.subscribe_count(pub, nil, channel)) - before
      matched, mismatch = compare(pub, b, 10)
      b:close()
      pub:close()
    end)
    assert.equal("gap", reasons[1] and reasons[1][1])
    assert.matches("prev_change_id %d+ is not the last change_id %d+", reasons[1][2])
    assert.equal(1, resyncs)
    assert.equal(1, subscribes)                     -- one resubscribe reached the venue
    assert.is_true(synced)
    assert.is_true(matched >= 1, "comparisons at the same change_id: " .. matched)
    assert.is_nil(mismatch)
  end)

  it("is not synced between a drop and the restored channel's fresh snapshot", function()
    local during, after, matched, mismatch, listeners
    lt.run(function()
      local pub = C.public()
      local b = assert(lt.book(pub, BTC))
      assert(b:wait(10))
      -- heard after the book's own listener (registered first), in the same order: the
      -- reconnect and the fresh snapshot may come too fast for polling to see the gap
      local function seen(state) if state == "reconnecting" then during = not b:synced() end end
      pub:_listen_state(seen)
      pub:_drop_connection()
      assert.is_true(S.wait_for(function() return during ~= nil end, 5))
      assert.is_true(S.wait_for(function() return b:synced() end, 10))
      pub:_unlisten_state(seen)
      after = b:synced()
      matched, mismatch = compare(pub, b, 10)
      b:close()
      -- the book's state listener went with it: a fresh book per reload does not pile them up
      listeners = 0
      for _ = 1, 10 do local b2 = assert(lt.book(pub, BTC)); b2:close(); listeners = listeners + 1 end
      pub:close()
    end)
    assert.is_true(during)
    assert.is_true(after)
    assert.is_true(matched >= 1, "comparisons at the same change_id: " .. matched)
    assert.is_nil(mismatch)
    assert.equal(10, listeners)
  end)

  it("resubscribes after a change that crosses the book or a malformed one, backing off", function()
    local reasons, subscribes, synced, gap_s = {}, nil, {}, nil
    local channel = "book." .. BTC .. ".100ms"
    lt.run(function()
      local pub = C.public()
      local b = assert(lt.book(pub, BTC))
      assert(b:wait(10))
      b:on_resync(function(_, reason) reasons[#reasons + 1] = reason end)
      local before = assert(venue.subscribe_count(pub, nil, channel))
      local ask = b:best_ask()
      b:_feed{ type = "change", change_id = b:change_id() + 1, prev_change_id = b:change_id(),
               timestamp = 1, bids = { { "new", ask + 10, 1.0 } }, asks = {} }
      synced[1] = b:best_bid()                     -- emptied at once, not stale
      assert(b:wait(10))
      local t0 = lt.now()
      b:_feed{ type = "change", change_id = "x", bids = {}, asks = {} }
      assert(b:wait(10))
      gap_s = lt.now() - t0                        -- the second resync in a row waits 0.5 s
      synced[2] = b:synced()
      subscribes = assert(venue.subscribe_count(pub, nil, channel)) - before
      b:close()
      pub:close()
    end)
    assert.same({ "crossed", "bad_message" }, reasons)
    assert.is_nil(synced[1])
    assert.is_true(synced[2])
    assert.equal(2, subscribes)
    assert.is_true(gap_s >= 0.4, "second resync after " .. gap_s .. " s")
  end)

  it("keeps a grouped top-N book from snapshots", function()
    local matched, mismatch, count, channel
    lt.run(function()
      local pub = C.public()
      local b = assert(lt.book(pub, BTC, { depth = 10 }))
      assert(b:wait(10))
      channel, count = b.channel, b:count("bids")
      matched, mismatch = compare(pub, b, 10, 10)
      b:close()
      pub:close()
    end)
    assert.equal("book.BTC-PERPETUAL.none.10.100ms", channel)
    assert.equal(10, count)
    assert.is_true(matched >= 1)
    assert.is_nil(mismatch)
  end)

  it("answers nil for empty or unsynced books and raises on misuse", function()
    local got = {}
    lt.run(function()
      local pub = C.public()
      got.bad_client = pcall(lt.book, 42, BTC)
      got.bad_depth = pcall(lt.book, pub, BTC, { depth = 7 })
      got.bad_interval = pcall(lt.book, pub, BTC, { interval = "1s" })
      got.bad_group = pcall(lt.book, pub, BTC, { group = "5" })
      got.raw, got.raw_err = lt.book(pub, BTC, { interval = "raw" }) -- needs authentication
      got.unknown, got.unknown_err = lt.book(pub, "NOPE-PERPETUAL")
      local b = assert(lt.book(pub, BTC))
      got.before = { b:best_bid(), b:mid(), b:change_id() }  -- before the first snapshot
      assert(b:wait(10))
      got.after = b:mid() ~= nil and b:spread() > 0 and b:depth_at("bids", (b:best_bid())) > 0
      b:close(); b:close()
      got.closed = pcall(b.best_bid, b)
      pub:close()
    end)
    assert.is_false(got.bad_client)
    assert.is_false(got.bad_depth)
    assert.is_false(got.bad_interval)
    assert.is_false(got.bad_group)
    assert.is_nil(got.raw)
    assert.equal("subscription_rejected", got.raw_err.name)
    assert.is_nil(got.unknown)
    assert.equal("subscription_rejected", got.unknown_err.name)
    assert.same({}, got.before)
    assert.is_true(got.after)
    assert.is_false(got.closed)
  end)

  it("drives strategies/book_watch.lua as it is, across a hot reload", function()
    local printed, resynced, after, rc, out
    lt.run(function()
      local h = S.run_strategy(proc.url, "bk3", "strategies/book_watch.lua")
      local function lines() return select(2, h.output():gsub("spread %d", "")) end
      printed = S.wait_for(function() return lines() >= 3 end, 15)
      h.signal("HUP")
      resynced = S.wait_for(function() return h.output():find("resync 1 (no_snapshot", 1, true) end, 15)
      local before = lines()
      after = S.wait_for(function() return lines() >= before + 3 end, 15)
      h.signal("INT")
      rc, out = h.rc(15), h.output()
      h.cleanup()
    end)
    assert.is_true(printed, out)
    assert.truthy(resynced, out)
    assert.is_true(after, out)
    assert.equal(0, rc, out)
  end)

  it("keeps a raw book on an authenticated client", function()
    local ok, n
    lt.run(function()
      local priv = C.private(2)
      local b = assert(lt.book(priv, BTC, { interval = "raw" }))
      ok = b:wait(10)
      n = b:count("asks")
      b:close()
      priv:close()
    end)
    assert.is_true(ok)
    assert.is_true(n > 0)
  end)
end)

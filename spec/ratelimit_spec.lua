-- Rate limiting faithful to the venue (deribit-api.md §7), against the built-in venue in its own
-- process (fresh accounts, fresh server-side buckets): the runtime's limiter keeps a client from
-- ever reaching the venue's limit, waits in FIFO order or fails fast, keeps clients apart, and
-- backs off after a 10028 it did not expect.
local lt = require "luatrade"
local S = require "support"
local BTC = "BTC-PERPETUAL"

describe("rate limits", function()
  local venue, url

  setup(function()
    local accounts = {}
    for i = 1, 7 do accounts[#accounts + 1] = ("--account rl%d:secret-rl-%d"):format(i, i) end
    venue = S.venue_process(table.concat(accounts, " "))
    url = venue.url
  end)

  teardown(function() venue:stop() end)

  local function private(n, opts)
    local o = { url = url, ca_file = "build/sim/ca.pem", client_id = "rl" .. n,
                client_secret = "secret-rl-" .. n, timeout = 60 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return lt.private(o)
  end

  local function passive_price(pub)
    local t = assert(pub:ticker{ instrument_name = BTC })
    return t.best_bid_price - 20
  end

  it("lets 300 mixed requests through at tier 4 with no 10028, within 15% of the allowed time", function()
    local n_me, n_other = 60, 240
    local errors, venue_limited, elapsed, allowed = {}, 0, 0, 0
    lt.run(function()
      local priv = private(1, { tier = 4 })
      local price = passive_price(priv)            -- also waits for authentication
      local status = priv:rate_limit_status()
      local done = 0
      local t0 = lt.now()
      for i = 1, n_me do
        lt.spawn(function()
          local _, err = priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                   price = price, post_only = true, label = "rl-burst" }
          if err then errors[#errors + 1] = err end
          done = done + 1
        end)
      end
      for _ = 1, n_other do
        lt.spawn(function()
          local _, err = priv:get_time()
          if err then errors[#errors + 1] = err end
          done = done + 1
        end)
      end
      S.wait_for(function() return done == n_me + n_other end, 60)
      elapsed = lt.now() - t0
      -- what the venue's limits allow from the buckets as they were at the start
      local me = math.max(0, n_me - status.matching_engine) / 5
      local other = math.max(0, n_other * 500 - status.non_matching_engine) / 10000
      allowed = math.max(me, other)
      venue_limited = priv:stats().venue_rate_limited
      priv:cancel_by_label{ label = "rl-burst" }
      priv:close()
    end)
    assert.same({}, errors)
    assert.equal(0, venue_limited)
    assert.is_true(allowed > 5)
    assert.is_true(elapsed <= allowed * 1.15, ("took %.2f s, limits allow %.2f s"):format(elapsed, allowed))
    assert.is_true(elapsed >= allowed * 0.85, ("took %.2f s, limits allow %.2f s"):format(elapsed, allowed))
  end)

  it("under policy 'error' returns rate_limit errors and never a 10028", function()
    local limited, venue, ok = 0, 0, 0
    lt.run(function()
      local priv = private(2, { rate_limit = "error" })
      local price = passive_price(priv)
      for _ = 1, 40 do
        local r, err = priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                 price = price, post_only = true, label = "rl-err" }
        if r then ok = ok + 1
        elseif err.code == 10028 then venue = venue + 1
        elseif err.kind == "rate_limit" then
          limited = limited + 1
          assert.is_true(err.retry_after > 0 and err.retry_after <= 0.2)
        end
      end
      lt.sleep(0.3)
      priv:cancel_by_label{ label = "rl-err" }
      priv:close()
    end)
    assert.equal(0, venue)
    assert.is_true(ok >= 20 and ok < 40)
    assert.equal(40 - ok, limited)
  end)

  it("keeps clients apart: a public flood does not delay the private client's orders", function()
    local order_time, flood_waited
    lt.run(function()
      local pub = lt.public{ url = url, ca_file = "build/sim/ca.pem", timeout = 60 }
      local priv = private(3)
      local price = passive_price(priv)
      for _ = 1, 300 do lt.spawn(function() pub:get_time() end) end   -- ~10 s of pub credits
      lt.sleep(0.1)
      local t0 = lt.now()
      for _ = 1, 10 do
        assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = price,
                         post_only = true, label = "rl-sep" })
      end
      order_time = lt.now() - t0
      flood_waited = pub:rate_limit_status().waited
      priv:cancel_by_label{ label = "rl-sep" }
      pub:close(); priv:close()
    end)
    assert.is_true(flood_waited >= 100)
    assert.is_true(order_time < 1.0, ("10 orders took %.2f s"):format(order_time))
  end)

  it("maps a 10028 from the venue to rate_limit, counts it and backs off", function()
    local err, backoff, venue_limited, level
    lt.run(function()
      local priv = private(4)
      local price = passive_price(priv)
      assert(priv:call("sim/fault", { action = "rate_limit" }))
      local _
      _, err = priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = price,
                         post_only = true, label = "rl-inj" }
      level = priv:rate_limit_status().matching_engine
      local t0 = lt.now()
      assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = price,
                       post_only = true, label = "rl-inj" })
      backoff = lt.now() - t0
      venue_limited = priv:stats().venue_rate_limited
      priv:cancel_by_label{ label = "rl-inj" }
      priv:close()
    end)
    assert.equal(10028, err.code)
    assert.equal("rate_limit", err.kind)
    assert.is_true(err.retryable)
    assert.equal(1, venue_limited)
    assert.is_true(level < 1)                      -- the local bucket was drained
    assert.is_true(backoff >= 0.15, ("the next order went after %.3f s"):format(backoff))
  end)

  it("waits for a refill (>= 5 s) before reconnecting when the venue ends the session on a 10028", function()
    local err, early_state, later_state
    lt.run(function()
      local priv = private(7)
      assert(priv:get_positions{ currency = "BTC" })
      assert(priv:call("sim/configure", { close_on_10028 = true }))
      assert(priv:call("sim/fault", { action = "rate_limit" }))
      local _
      _, err = priv:get_positions{ currency = "BTC" }
      lt.sleep(3)
      early_state = priv:state()
      S.wait_for(function() return priv:state() == "authenticated" end, 8)
      later_state = priv:state()
      assert(priv:call("sim/configure", { close_on_10028 = false }))
      priv:close()
    end)
    assert.equal(10028, err.code)
    assert.equal("reconnecting", early_state)
    assert.equal("authenticated", later_state)
  end)

  it("reads the account's limits with tier = 'auto'", function()
    local status
    lt.run(function()
      local priv = private(5, { tier = "auto" })
      assert(priv:get_positions{ currency = "BTC" })
      lt.sleep(0.2)
      status = priv:rate_limit_status()
      priv:close()
    end)
    assert.is_true(status.matching_engine <= 20)
  end)

  it("is enforced by the venue too: without the local limiter a burst gets 10028", function()
    local venue = 0
    lt.run(function()
      local priv = private(6, { rate_limit = "off", tier = 1 })
      local price = passive_price(priv)
      local done = 0
      for _ = 1, 40 do
        lt.spawn(function()
          local _, err = priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                   price = price, post_only = true, label = "rl-off" }
          if err and err.code == 10028 then venue = venue + 1 end
          done = done + 1
        end)
      end
      S.wait_for(function() return done == 40 end, 10)
      lt.sleep(0.5)
      priv:cancel_by_label{ label = "rl-off" }
      priv:close()
    end)
    assert.is_true(venue >= 15)                    -- tier 4 account: burst 20 of 40
  end)
end)

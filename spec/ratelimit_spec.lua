-- Rate limiting faithful to the venue (deribit-api.md §7), against the built-in venue in its own
-- process (fresh accounts, fresh server-side buckets): the runtime's limiter keeps a client from
-- ever reaching the venue's limit, waits in FIFO order or fails fast, keeps clients apart, and
-- backs off after a 10028 it did not expect.
local lt = require "luatrade"
local S = require "support"
local BTC = "BTC-PERPETUAL"

-- The venue's figures (deribit-api.md §7) and the local limiter's margin (src/ratelimit.h): each
-- local bucket refills at MARGIN of the venue's rate and keeps one request below its capacity.
local ME_RATE, ME_BURST = 5, 20                  -- tier 4, a new account
local T1_RATE, T1_BURST = 30, 100                -- tier 1
local NON_ME_RATE, NON_ME_CAP, NON_ME_COST = 10000, 50000, 500
local MARGIN = 0.95

describe("rate limits", function()
  local venue, url

  setup(function()
    venue = S.venue_process(S.account_args("rl", 8))
    url = venue.url
  end)

  teardown(function() venue:stop() end)

  local make = S.clients_of(function() return url end, "rl").private
  local function private(n, opts)
    local o = { timeout = 60 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return make(n, o)
  end

  it("lets 300 mixed requests through at tier 4 with no 10028, at most ~5% slower than the venue allows", function()
    local n_me, n_other = 60, 240
    local errors, venue_limited, elapsed, status = {}, 0, 0, nil
    lt.run(function()
      local priv = private(1, { tier = 4 })
      local price = S.passive_bid(priv)            -- also waits for authentication
      status = priv:rate_limit_status()
      local done = 0
      local t0 = lt.now()
      for _ = 1, n_me do
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
      venue_limited = priv:stats().venue_rate_limited
      priv:cancel_by_label{ label = "rl-burst" }
      priv:close()
    end)
    assert.same({}, errors)
    assert.equal(0, venue_limited)
    -- the local buckets start a request below the venue's
    assert.is_true(status.matching_engine <= ME_BURST - 1)
    assert.is_true(status.non_matching_engine <= NON_ME_CAP - NON_ME_COST)
    -- the fastest the venue's limits allow, even from full buckets
    local allowed = math.max((n_me - ME_BURST) / ME_RATE,
                             (n_other * NON_ME_COST - NON_ME_CAP) / NON_ME_RATE)
    assert.is_true(allowed > 5)
    -- the margin costs 1/MARGIN of that plus the request kept back; 10 % more for the machine
    local limit = allowed / MARGIN + 1 / (ME_RATE * MARGIN) + 0.10 * allowed
    local msg = ("took %.2f s, the venue allows %.2f s, the limiter should need %.2f s")
      :format(elapsed, allowed, allowed / MARGIN + 1 / (ME_RATE * MARGIN))
    assert.is_true(elapsed >= allowed, msg)       -- faster would have drawn a 10028
    assert.is_true(elapsed <= limit, msg)
  end)

  it("under policy 'error' returns rate_limit errors and never a 10028", function()
    local limited, tens, ok = 0, 0, 0
    lt.run(function()
      local priv = private(2, { rate_limit = "error" })
      local price = S.passive_bid(priv)
      for _ = 1, 40 do
        local r, err = priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                 price = price, post_only = true, label = "rl-err" }
        if r then ok = ok + 1
        elseif err.code == 10028 then tens = tens + 1
        elseif err.kind == "rate_limit" then
          limited = limited + 1
          -- at most one credit's refill at the local rate
          assert.is_true(err.retry_after > 0 and err.retry_after <= 1 / (ME_RATE * MARGIN) + 1e-6)
        end
      end
      lt.sleep(0.3)
      priv:cancel_by_label{ label = "rl-err" }
      priv:close()
    end)
    assert.equal(0, tens)
    assert.is_true(ok >= ME_BURST - 1 and ok < 40)  -- the burst less the request kept back
    assert.equal(40 - ok, limited)
  end)

  it("keeps clients apart: a public flood does not delay the private client's orders", function()
    local order_time, flood_waited
    lt.run(function()
      local pub = lt.public{ url = url, ca_file = "build/sim/ca.pem", timeout = 60 }
      local priv = private(3)
      local price = S.passive_bid(priv)
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
      local price = S.passive_bid(priv)
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

  it("reads the account's limits with tier = 'auto': a tier 1 account gets tier 1's burst", function()
    local n = 60                                   -- 3 tier-4 bursts; more than tier 2 carries
    local status, waited, elapsed, venue_limited, errors = nil, nil, nil, nil, {}
    lt.run(function()
      local admin = private(5)
      assert(admin:get_positions{ currency = "BTC" })          -- authenticated
      assert(admin:call("sim/configure", { tier = 1 }))
      admin:close()
      -- the venue's ME bucket keeps tier 4's 20 credits and refills at 30/s: full after 2.7 s
      lt.sleep((T1_BURST - ME_BURST) / T1_RATE + 0.1)
      local priv = private(5, { tier = "auto" })
      local price = S.passive_bid(priv)
      S.wait_for(function() return priv:rate_limit_status().matching_engine > ME_BURST end, 5)
      status = priv:rate_limit_status()
      local done, t0 = 0, lt.now()
      for _ = 1, n do
        lt.spawn(function()
          local _, err = priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                   price = price, post_only = true, label = "rl-auto" }
          if err then errors[#errors + 1] = err end
          done = done + 1
        end)
      end
      S.wait_for(function() return done == n end, 30)
      elapsed = lt.now() - t0
      waited = priv:rate_limit_status().waited
      venue_limited = priv:stats().venue_rate_limited
      priv:cancel_by_label{ label = "rl-auto" }
      priv:close()
    end)
    -- tier 1's burst less the request kept back, not tier 4's 19
    assert.equal(T1_BURST - 1, status.matching_engine)
    assert.same({}, errors)
    assert.equal(0, venue_limited)
    assert.equal(0, waited)                        -- at tier 4 they would wait (60-19)/4.75 s
    assert.is_true(elapsed < (n - ME_BURST) / ME_RATE / 2, ("%d orders took %.2f s"):format(n, elapsed))
  end)

  -- regression: unsubscribes were counted in the subscribe pool while the venue charges them
  -- to the non-matching-engine bucket (deribit-api.md §7: only subscribe has a bucket of its own)
  it("counts unsubscribes in the non-matching-engine pool, as the venue does: no 10028", function()
    local limited, failed, pending = 0, 0, 0
    lt.run(function()
      local priv = private(8)
      assert(priv:get_time())
      for i = 1, 140 do
        pending = pending + 1
        lt.spawn(function()
          local _, err
          if i % 7 == 0 then _, err = priv:unsubscribe{ channels = { "ticker." .. BTC .. ".100ms" } }
          else _, err = priv:get_time() end
          if err and err.code == 10028 then limited = limited + 1 elseif err then failed = failed + 1 end
          pending = pending - 1
        end)
      end
      S.wait_for(function() return pending == 0 end, 60)
      priv:close()
    end)
    assert.equal(0, pending)
    assert.equal(0, failed)
    assert.equal(0, limited)
  end)

  it("is enforced by the venue too: without the local limiter a burst gets 10028", function()
    local tens = 0
    lt.run(function()
      local priv = private(6, { rate_limit = "off", tier = 1 })
      local price = S.passive_bid(priv)
      local done = 0
      for _ = 1, 40 do
        lt.spawn(function()
          local _, err = priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                   price = price, post_only = true, label = "rl-off" }
          if err and err.code == 10028 then tens = tens + 1 end
          done = done + 1
        end)
      end
      S.wait_for(function() return done == 40 end, 10)
      lt.sleep(0.5)
      priv:cancel_by_label{ label = "rl-off" }
      priv:close()
    end)
    assert.is_true(tens >= 15)                    -- tier 4 account: burst 20 of 40
  end)
end)

-- Sessions across faults, verified on the venue (sim/stats): revoked tokens, cancel-on-disconnect
-- and subscriptions restored after a reconnect, a subscribe made before the first
-- authentication sent once, and a venue process killed and restarted on the same port.
local lt = require "luatrade"
local S = require "support"
local venue = require "venue"
local BTC = "BTC-PERPETUAL"

describe("a private session across faults", function()
  local p

  setup(function()
    p = assert(venue.process{ args = S.account_args("rc", 8) })
  end)

  teardown(function() p:stop() end)
  local private = S.clients_of(function() return p.url end, "rc").private

  local function wait_state(client, want, seconds)
    return S.wait_for(function() return client:state() == want end, seconds or 10)
  end

  -- regression: after a 13009 to a client that believed it was authenticated, every private
  -- call failed with 13009 until the scheduled refresh (12 minutes at a 900 s token)
  it("re-authenticates at once when the venue answers 13009, returning the failed call as an error", function()
    local first, second, auths_before, auths_after, labels
    lt.run(function()
      local priv = private(1)
      assert(priv:get_positions{ currency = "BTC" })
      auths_before = assert(venue.stats(priv, "rc1")).auths
      assert(venue.revoke_tokens(priv))
      local _
      _, first = priv:buy{ instrument_name = BTC, amount = 10, type = "limit", label = "rv-1",
                           price = S.passive_bid(priv), post_only = true }
      second = priv:get_positions{ currency = "BTC" }          -- waits for the new session
      auths_after = assert(venue.stats(priv, "rc1")).auths
      labels = venue.label_count(priv, "rc1", "rv-1")
      priv:close()
    end)
    assert.equal(13009, first.code)
    assert.equal("auth", first.kind)
    assert.is_table(second)
    assert.equal(auths_before + 1, auths_after)
    assert.equal(1, labels)                                     -- the refused order was not re-sent
  end)

  -- regression: cancel-on-disconnect with connection scope was off on the new connection
  it("restores cancel-on-disconnect on the new connection before reporting authenticated", function()
    local cod, state
    lt.run(function()
      local priv = private(2)
      assert(priv:enable_cancel_on_disconnect{ scope = "connection" })
      local events = {}
      priv:on_state(function(s) events[#events + 1] = s end)
      priv:_drop_connection()
      S.wait_for(function() return events[#events] == "authenticated" end, 10)
      cod = assert(venue.stats(priv, "rc2")).cancel_on_disconnect
      state = assert(priv:get_cancel_on_disconnect{ scope = "connection" })
      priv:close()
    end)
    assert.same({ true }, cod)                                  -- one connection, COD on
    assert.is_true(state.enabled)
  end)

  -- regression: subscribing before the first authentication sent the subscribe twice (once by
  -- the call, once by the restore after authentication)
  it("sends a subscribe made before the first authentication once, and restores it once per reconnect", function()
    local first, after
    lt.run(function()
      local priv = private(3)
      local sub = assert(priv:subscribe("user.orders." .. BTC .. ".raw", function() end))
      lt.sleep(0.2)
      first = venue.subscribe_count(priv, "rc3", "user.orders." .. BTC .. ".raw")
      priv:_drop_connection()
      lt.sleep(0.1)
      wait_state(priv, "authenticated")
      S.wait_for(function()
        return venue.subscribe_count(priv, "rc3", "user.orders." .. BTC .. ".raw") >= 2
      end, 5)
      lt.sleep(0.3)
      after = venue.subscribe_count(priv, "rc3", "user.orders." .. BTC .. ".raw")
      sub:close(); priv:close()
    end)
    assert.equal(1, first)
    assert.equal(2, after)
  end)

  it("comes back after the venue process is killed and restarted on the same port", function()
    local st, pub_st, got_after, cod_ok
    lt.run(function()
      local priv = private(4)
      local pub = lt.public{ url = p.url, ca_file = "build/sim/ca.pem", timeout = 10 }
      assert(priv:enable_cancel_on_disconnect{ scope = "connection" })
      local n = 0
      local s1 = assert(pub:subscribe("ticker." .. BTC .. ".100ms", function() n = n + 1 end))
      local s2 = assert(priv:subscribe({ "user.orders." .. BTC .. ".raw", "book." .. BTC .. ".100ms" },
                                       function() end))
      assert(p:kill())
      assert(p:restart())
      S.wait_for(function() return priv:state() == "authenticated" and pub:state() == "open" end, 15)
      local mark = n
      S.wait_for(function() return n > mark + 3 end, 10)
      got_after = n > mark
      lt.sleep(0.3)
      st = assert(venue.stats(priv, "rc4"))                     -- a fresh process: only the restore
      pub_st = assert(venue.stats(pub))
      cod_ok = st.cancel_on_disconnect[1]
      s1:close(); s2:close(); pub:close(); priv:close()
    end)
    assert.is_true(got_after)
    assert.equal(1, st.auths)
    assert.equal(1, st.subscribes["user.orders." .. BTC .. ".raw"])
    assert.equal(1, st.subscribes["book." .. BTC .. ".100ms"])
    assert.equal(1, pub_st.subscribes["ticker." .. BTC .. ".100ms"])
    assert.is_true(cod_ok)
  end)
end)

describe("liveness and backoff", function()
  local p

  setup(function() p = assert(venue.process{ args = "" }) end)
  teardown(function() p:stop() end)
  local public = S.clients_of(function() return p.url end, "rc").public

  -- regression: a venue that stopped sending left the client "open" for minutes
  it("declares a silent connection dead within dead_after, fails the call in flight, and reconnects", function()
    local reason, err, elapsed, after
    lt.run(function()
      local pub = public({ heartbeat = 10, dead_after = 1 })
      assert(pub:get_time())
      pub:on_state(function(state, why)
        if state == "reconnecting" and not reason then reason = why end
      end)
      venue.freeze(pub, 4000)                  -- the venue stops reading and writing for 4 s
      lt.sleep(0.1)                            -- (the freeze request is on its way)
      local t0 = lt.now() - 0.1
      local _
      _, err = pub:get_time(nil, 8)
      elapsed = lt.now() - t0
      S.wait_for(function() return pub:state() == "open" end, 15)
      after = pub:get_time()
      pub:close()
    end)
    assert.matches("^dead", reason)
    assert.equal("connection_lost", err.name)
    assert.is_true(elapsed >= 0.9 and elapsed < 3.5, ("detected after %.2f s"):format(elapsed))
    assert.equal("integer", math.type(after))
  end)

  -- regression: the backoff reset at every handshake, so a venue accepting and dropping at once
  -- got about five reconnects a second forever
  it("backs off more and more against a venue that accepts and drops at once", function()
    local before, after
    lt.run(function()
      local watch = public()                     -- a second client reads the venue's counters
      local pub = public()
      assert(pub:get_time())
      before = assert(venue.stats(watch)).flapped
      assert(venue.flap(watch, 1000))
      pub:_drop_connection()
      lt.sleep(4)
      after = assert(venue.stats(watch)).flapped
      assert(venue.flap(watch, 0))
      pub:close(); watch:close()
    end)
    local n = after - before
    assert.is_true(n >= 2, ("only %d reconnects in 4 s"):format(n))
    assert.is_true(n <= 10, ("%d reconnects in 4 s: the backoff does not grow"):format(n))
  end)

  it("reports the venue's close code and reason", function()
    local reason
    lt.run(function()
      local pub = public()
      assert(pub:get_time())
      pub:on_state(function(state, why)
        if state == "reconnecting" and not reason then reason = why end
      end)
      venue.close(pub, 4000, "maintenance")
      S.wait_for(function() return reason ~= nil end, 5)
      pub:close()
    end)
    assert.matches("4000", reason, 1, true)
    assert.matches("maintenance", reason, 1, true)
  end)

  it("refuses ws:// to a host that only looks like a loopback address", function()
    lt.run(function()
      for _, url in ipairs{ "ws://127.attacker.example/ws/api/v2", "ws://127.0.0.1.evil.com/x",
                            "ws://localhost.evil.com/x" } do
        local ok, msg = pcall(lt.public, { url = url, insecure_loopback = true })
        assert.is_false(ok, url)
        assert.matches("ws://", msg, 1, true)
        ok = pcall(lt.public, { url = (url:gsub("^ws:", "wss:")), rate_limit = "off" })
        assert.is_false(ok, url .. " with rate_limit off")
      end
    end)
  end)

  it("says the certificate is not trusted when ca_file is missing for a self-signed venue", function()
    local err
    lt.run(function()
      local pub = lt.public{ url = p.url, timeout = 1 }
      local _
      _, err = pub:get_time()
      pub:close()
    end)
    assert.equal("not_sent", err.name)
    assert.is_false(err.sent)
    assert.matches("certificate", err.message, 1, true)
  end)
end)

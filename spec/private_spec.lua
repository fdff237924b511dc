-- The private client against the built-in venue over wss: authentication, secrets, trading.
local lt = require "luatrade"
local S = require "support"

local function with_private(fn, opts)
  local out
  lt.run(function()
    local o = { venue = "sim", timeout = 5 }
    o.client_id, o.client_secret = S.account()     -- each test spends its own account's limits
    for k, v in pairs(opts or {}) do o[k] = v end
    local priv = lt.private(o)
    out = table.pack(fn(priv))
    priv:close()
  end)
  return table.unpack(out, 1, out.n)
end

local BTC = "BTC-PERPETUAL"

local passive_bid = S.passive_bid

describe("lt.private", function()
  it("needs a client_id and a client_secret", function()
    lt.run(function()
      local _, secret = lt.sim.demo_account()
      local ok, msg = pcall(lt.private, { url = "wss://127.0.0.1:1/ws/api/v2", client_secret = secret })
      assert.is_false(ok)
      assert.matches("client_id is required", msg, 1, true)
      ok, msg = pcall(lt.private, { url = "wss://127.0.0.1:1/ws/api/v2", client_id = "x" })
      assert.is_false(ok)
      assert.matches("client_secret is required", msg, 1, true)
    end)
  end)

  it("authenticates first: a private call made at once waits for it and succeeds", function()
    local summary, state, stats = with_private(function(priv)
      local r = priv:get_account_summary{ currency = "BTC" }   -- issued before auth completes
      return r, priv:state(), priv:stats()
    end)
    assert.is_table(summary)
    assert.equal("float", math.type(summary.equity))
    assert.equal("authenticated", state)
    assert.equal(1, stats.authentications)
  end)

  it("also authenticates with client_credentials", function()
    local r = with_private(function(priv)
      return priv:get_positions{ currency = "BTC" }
    end, { grant = "client_credentials" })
    assert.is_table(r)
  end)

  it("fails with kind 'auth', stays auth_failed and does not retry a bad secret", function()
    local err, err2, state, stats = with_private(function(priv)
      local _, e = priv:get_positions{ currency = "BTC" }
      lt.sleep(0.3)
      local _, e2 = priv:get_positions{ currency = "BTC" }
      return e, e2, priv:state(), priv:stats()
    end, { client_secret = "definitely-wrong-secret" })
    assert.equal("auth", err.kind)
    assert.equal(13004, err.code)
    assert.not_matches("definitely%-wrong%-secret", tostring(err))
    assert.equal("auth", err2.kind)
    assert.equal("auth_failed", state)
    assert.is_true(stats.messages_out <= 2)      -- one public/auth, nothing else
  end)

  it("re-authenticates after a reconnect", function()
    local stats, r = with_private(function(priv)
      assert(priv:get_positions{ currency = "BTC" })
      priv:_drop_connection()
      lt.sleep(0.2)
      local pos = priv:get_positions{ currency = "BTC" }
      return priv:stats(), pos
    end)
    assert.is_table(r)
    assert.equal(2, stats.authentications)
  end)

  it("reports state changes to on_state, so a strategy can reconcile after a reconnect", function()
    local seen = {}
    with_private(function(priv)
      priv:on_state(function(state) seen[#seen + 1] = state end)
      assert(priv:get_positions{ currency = "BTC" })
      priv:_drop_connection()
      S.wait_for(function() return #seen >= 4 end)
    end)
    assert.same({ "authenticated", "reconnecting", "connecting", "authenticated" },
                { seen[1], seen[2], seen[3], seen[4] })
  end)

  it("refreshes its token before it expires, mid-session", function()
    local stats, r, sent
    with_private(function(priv)
      local sub = assert(priv:subscribe("ticker.BTC-PERPETUAL.100ms", function() end))
      assert(priv:get_positions{ currency = "BTC" })
      local before = priv:stats().messages_out
      lt.sleep(2.5)                              -- a 2-second token: refreshed at 1.6 s
      r = priv:get_positions{ currency = "BTC" }
      stats = priv:stats()
      sent = stats.messages_out - before
      sub:close()
    end, { scope = "expires:2" })
    assert.is_table(r)
    assert.is_true(stats.token_refreshes >= 1)
    assert.equal(1, stats.authentications)       -- refreshed, not re-authenticated
    -- regression: a refresh re-sent every subscription; only the refresh and the call go out
    assert.equal(stats.token_refreshes + 1, sent)
  end)
end)

describe("secrets", function()
  it("print as <secret> and cannot be read back", function()
    lt.run(function()
      local _, secret = lt.sim.demo_account()
      assert.equal("<secret>", tostring(secret))
      assert.has_error(function() return secret.value end)
      local priv = lt.private{ venue = "sim" }
      assert.not_matches("secret", tostring(priv):lower():gsub("privateclient", ""), 1, true)
      priv:close()
    end)
  end)

  it("from a file readable by others are refused", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w")); f:write("s3cr3t-value\n"); f:close()
    os.execute("chmod 644 " .. path)
    local ok, msg = pcall(lt.secret.file, path)
    assert.is_false(ok)
    assert.matches("chmod 600", msg, 1, true)
    assert.not_matches("s3cr3t", msg, 1, true)
    os.execute("chmod 600 " .. path)
    assert.equal("<secret>", tostring(lt.secret.file(path)))
    os.remove(path)
  end)

  it("from an unset environment variable raise a clear error", function()
    assert.has_error(function() lt.secret.env("LUATRADE_SURELY_UNSET_VAR") end)
  end)
end)

describe("trading on the built-in venue", function()
  it("places, lists, edits and cancels a resting order; typed results", function()
    with_private(function(priv)
      local price = passive_bid(priv)
      local r = assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                 price = price, post_only = true, label = "spec-rest" })
      local o = r.order
      assert.is_string(o.order_id)
      assert.equal("open", o.order_state)
      assert.equal("buy", o.direction)
      assert.equal("float", math.type(o.price))
      assert.equal("integer", math.type(o.creation_timestamp))
      local open = assert(priv:get_open_orders_by_instrument{ instrument_name = BTC })
      local found = false
      for _, x in ipairs(open) do found = found or x.order_id == o.order_id end
      assert.is_true(found)
      local e = assert(priv:edit{ order_id = o.order_id, amount = 20, price = price - 0.5 })
      assert.equal(price - 0.5, e.order.price)
      local c = assert(priv:cancel{ order_id = o.order_id })
      assert.equal("cancelled", c.order_state)
      local again, err = priv:cancel{ order_id = o.order_id }
      assert.is_nil(again)
      assert.is_true(err.code == 11044 or err.code == 10004)
      assert.equal("venue", err.kind)
    end)
  end)

  it("fills a market order, updates the position and sends user.trades", function()
    local trades, pos0, pos1 = {}, nil, nil
    with_private(function(priv)
      local sub = assert(priv:subscribe("user.trades." .. BTC .. ".raw", function(ts)
        for _, t in ipairs(ts) do trades[#trades + 1] = t end
      end))
      pos0 = assert(priv:get_position{ instrument_name = BTC }).size
      local r = assert(priv:buy{ instrument_name = BTC, amount = 10, type = "market", label = "spec-mkt" })
      assert.equal("filled", r.order.order_state)
      assert.is_true(#r.trades >= 1)
      assert.is_string(r.trades[1].trade_id)
      S.wait_for(function() return #trades >= 1 end)
      pos1 = assert(priv:get_position{ instrument_name = BTC }).size
      assert(priv:sell{ instrument_name = BTC, amount = 10, type = "market" })
      sub:close()
    end)
    assert.equal(10, pos1 - pos0)
    assert.equal("integer", math.type(trades[1].trade_seq))
    assert.equal("float", math.type(trades[1].price))
  end)

  it("delivers user.orders raw as one object and 100ms as an array", function()
    local raw, agg = {}, {}
    with_private(function(priv)
      local s1 = assert(priv:subscribe("user.orders." .. BTC .. ".raw", function(o) raw[#raw + 1] = o end))
      local s2 = assert(priv:subscribe("user.orders." .. BTC .. ".100ms", function(a) agg[#agg + 1] = a end))
      local r = assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                 price = passive_bid(priv) })
      assert(priv:cancel{ order_id = r.order.order_id })
      S.wait_for(function() return #raw >= 2 and #agg >= 1 end)
      s1:close(); s2:close()
    end)
    assert.is_string(raw[1].order_id)          -- an object
    assert.is_string(agg[1][1].order_id)       -- an array of objects
  end)

  it("cancels by label and in bulk, and finds orders by label", function()
    with_private(function(priv)
      local p = passive_bid(priv, 60)
      for i = 1, 2 do
        assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p - i, label = "spec-lbl" })
      end
      local st = assert(priv:get_order_state_by_label{ label = "spec-lbl", currency = "BTC" })
      assert.is_true(#st >= 2)
      assert.equal(2, assert(priv:cancel_by_label{ label = "spec-lbl" }))
      assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p })
      assert.is_true(assert(priv:cancel_all_by_instrument{ instrument_name = BTC }) >= 1)
      assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p })
      assert.is_true(assert(priv:cancel_all()) >= 1)
    end)
  end)

  local rejects = {
    { "an off-tick price", { amount = 10, type = "limit", price = 1000.3 }, 10043 },
    { "an amount below the minimum", { amount = 1, type = "limit", price = 1000 }, 10002 },
    { "more than the account can afford", { amount = 1e10, type = "market" }, 10009 },
  }
  for _, c in ipairs(rejects) do
    it(("rejects %s with code %d and kind 'venue'"):format(c[1], c[3]), function()
      local r, err = with_private(function(priv)
        local p = { instrument_name = BTC }
        for k, v in pairs(c[2]) do p[k] = v end
        return priv:buy(p)
      end)
      assert.is_nil(r)
      assert.equal(c[3], err.code)
      assert.equal("venue", err.kind)
    end)
  end

  it("partially fills a limit order that takes more than the best level, then rests the rest", function()
    local o, filled
    with_private(function(priv)
      local book = assert(priv:get_order_book{ instrument_name = BTC, depth = 1 })
      local p1, a1 = book.asks[1][1], book.asks[1][2]
      local r = assert(priv:buy{ instrument_name = BTC, amount = a1 + 10, type = "limit",
                                 price = p1, label = "spec-partial" })
      o, filled = r.order, 0
      for _, t in ipairs(r.trades) do filled = filled + t.amount end
      priv:cancel_by_label{ label = "spec-partial" }
      priv:sell{ instrument_name = BTC, amount = filled, type = "market" }
    end)
    assert.equal("open", o.order_state)
    assert.is_true(o.filled_amount > 0 and o.filled_amount < o.amount)
    assert.equal(o.filled_amount, filled)
  end)

  it("cancels by currency, finds open orders by label, turns cancel_on_disconnect off", function()
    with_private(function(priv)
      local p = passive_bid(priv, 60)
      assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p, label = "spec-cur" })
      local by_label = assert(priv:get_open_orders_by_label{ label = "spec-cur", currency = "BTC" })
      assert.equal(1, #by_label)
      assert.equal("spec-cur", by_label[1].label)
      assert.equal(1, assert(priv:cancel_all_by_currency{ currency = "BTC", kind = "future" }))
      assert.equal("ok", assert(priv:enable_cancel_on_disconnect{}))
      assert.equal("ok", assert(priv:disable_cancel_on_disconnect{}))
      assert.is_false(assert(priv:get_cancel_on_disconnect{}).enabled)
    end)
  end)

  it("delivers user.portfolio and user.changes after a fill", function()
    local portfolio, changes
    with_private(function(priv)
      local s = assert(priv:subscribe({ "user.portfolio.btc", "user.changes." .. BTC .. ".raw" },
        function(msg)
          if msg.equity then portfolio = msg else changes = msg end
        end))
      assert(priv:buy{ instrument_name = BTC, amount = 10, type = "market" })
      S.wait_for(function() return portfolio and changes end)
      assert(priv:sell{ instrument_name = BTC, amount = 10, type = "market" })
      s:close()
    end)
    assert.equal("float", math.type(portfolio.equity))
    assert.equal(BTC, changes.instrument_name)
    assert.is_table(changes.trades)
    assert.is_table(changes.orders)
  end)

  it("raises naming the parameter for invalid orders, and sends nothing", function()
    with_private(function(priv)
      local cases = {
        { { instrument_name = BTC, amount = 10, type = "limit" }, "price" },
        { { instrument_name = BTC, amount = 10, contracts = 1, type = "market" }, "amount" },
        { { instrument_name = BTC, amount = 10, type = "market", price = 1 }, "price" },
        { { instrument_name = BTC, amount = 10, type = "market", post_only = true }, "post_only" },
        { { instrument_name = BTC, amount = 10, price = 1, label = ("x"):rep(65) }, "label" },
        { { instrument_name = BTC, amount = 10, price = 1, time_in_force = "forever" }, "time_in_force" },
      }
      for _, c in ipairs(cases) do
        local ok, msg = pcall(priv.buy, priv, c[1])
        assert.is_false(ok)
        assert.matches(c[2], msg, 1, true)
      end
    end)
  end)

  it("cancels this connection's orders when it drops with cancel_on_disconnect", function()
    local state
    with_private(function(priv)
      assert.equal("ok", assert(priv:enable_cancel_on_disconnect{ scope = "connection" }))
      local cod = assert(priv:get_cancel_on_disconnect{ scope = "connection" })
      assert.is_true(cod.enabled)
      local r = assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                 price = passive_bid(priv) })
      priv:_drop_connection()
      lt.sleep(0.3)
      local o = assert(priv:get_order_state{ order_id = r.order.order_id })
      state = o.order_state .. "/" .. tostring(o.cancel_reason)
    end)
    assert.equal("cancelled/cancel_on_disconnect", state)
  end)

  it("logs out: the venue closes the connection and the client is closed", function()
    local ok, state = with_private(function(priv)
      assert(priv:get_positions{ currency = "BTC" })
      local r = priv:logout()
      return r, priv:state()
    end)
    assert.is_true(ok)
    assert.equal("closed", state)
  end)
end)

describe("venue errors through the clients", function()
  -- regression: pub:call("public/auth", ...) authenticated the public client's connection, and
  -- private/* went out through call(); the public client has no authentication at all
  it("the public client refuses public/auth and private methods through every entry point", function()
    local outcomes = {}
    S.with_public(function(pub)
      for _, m in ipairs{ "public/auth", "private/get_positions", "private/buy" } do
        local ok, msg = pcall(pub.call, pub, m, { currency = "BTC" })
        outcomes[#outcomes + 1] = { ok, msg:match("cannot authenticate or call private") ~= nil }
      end
      outcomes.buy = pub.buy                   -- no private codec method on the public client
    end)
    assert.same({ { false, true }, { false, true }, { false, true } }, { outcomes[1], outcomes[2], outcomes[3] })
    assert.is_nil(outcomes.buy)
  end)

  it("an unknown client_id gets 13004 invalid_credentials", function()
    local _, err = with_private(function(priv)
      return priv:get_positions{ currency = "BTC" }
    end, { client_id = "nobody-here", client_secret = "x" })
    assert.equal(13004, err.code)
    assert.equal("invalid_credentials", err.name)
  end)

  it("-32602 carries the parameter in err.data", function()
    local _, err = S.with_public(function(pub)
      return pub:call("sim/configure", { heartbeat_ms_per_s = 5000 })
    end)
    assert.equal(-32602, err.code)
    assert.equal("heartbeat_ms_per_s", err.data.param)
    assert.is_string(err.data.reason)
  end)
end)

-- The trading layer (lt.orders: tracker, positions, risk limits, kill switch) against the
-- built-in venue over wss. What the runtime claims about the venue is checked on the venue:
-- sim/stats counts every order request by label, get_order_state / get_positions give the
-- venue's own view.
local lt = require "luatrade"
local S = require "support"

local BTC = "BTC-PERPETUAL"

-- Run fn(orders, priv, other, id) in lt.run: a tracker on a fresh account, and a client of
-- another account (a counterparty).
local function with_trading(fn, opts)
  local out
  lt.run(function()
    local id, secret = S.account()
    local priv = lt.private{ venue = "sim", client_id = id, client_secret = secret, timeout = 5 }
    local oid, osecret = S.account()
    local other = lt.private{ venue = "sim", client_id = oid, client_secret = osecret, timeout = 5 }
    local orders = assert(lt.orders(priv, opts))
    local ok, err = pcall(fn, orders, priv, other, id)
    orders:close()
    priv:cancel_all{}
    other:cancel_all{}
    priv:close(); other:close()
    if not ok then error(err, 0) end
    out = true
  end)
  return out
end

-- How many order requests with this label the venue received.
local function venue_label_count(priv, id, label)
  local st = assert(priv:call("sim/stats", { account = id }))
  return st.labels[label] or 0
end

local function venue_order_requests(priv, id)
  local st = assert(priv:call("sim/stats", { account = id }))
  local n = 0
  for _, m in ipairs({ "private/buy", "private/sell", "private/edit" }) do n = n + (st.requests[m] or 0) end
  return n
end

local passive_bid = S.passive_bid

describe("lt.orders", function()
  it("gives every order a unique label and tracks it through partial fills to filled", function()
    with_trading(function(orders, priv, other, id)
      local seen, fills = {}, {}
      orders:on_order(function(o) seen[#seen + 1] = { state = o.state, filled = o.filled_amount } end)
      orders:on_fill(function(f, o) fills[#fills + 1] = { amount = f.amount, order = o.order_id } end)
      -- take more than the best ask level: a partial fill, the rest rests as the best bid
      local book = assert(priv:get_order_book{ instrument_name = BTC, depth = 1 })
      local p1, a1 = book.asks[1][1], book.asks[1][2]
      local r = assert(orders:buy{ instrument_name = BTC, amount = a1 + 30, type = "limit", price = p1, label = "pf" })
      local label = r.order.label
      assert.matches("^pf%-%x+%-%d+$", label)
      local rec = orders:get(r.order.order_id)
      assert.equal("open", rec.state)
      assert.is_true(rec.filled_amount > 0 and rec.filled_amount < rec.amount)
      assert.same(rec, orders:get(label))
      -- the counterparty sells the rest into it
      local rest = rec.amount - rec.filled_amount
      assert(other:sell{ instrument_name = BTC, amount = rest, type = "limit", price = p1 })
      assert.is_true(S.wait_for(function() return orders:get(label).state == "filled" end, 5))
      rec = orders:get(label)
      assert.equal(rec.amount, rec.filled_amount)
      assert.equal(0, #orders:open())
      -- the venue agrees, and got the order once
      local v = assert(priv:get_order_state{ order_id = rec.order_id })
      assert.equal("filled", v.order_state)
      assert.equal(v.filled_amount, rec.filled_amount)
      assert.equal(1, venue_label_count(priv, id, label))
      -- the handlers saw the partial state, then filled; fills add up to the amount
      assert.is_true(S.wait_for(function() return #seen > 0 and seen[#seen].state == "filled" end, 2))
      local partial = false
      for _, s in ipairs(seen) do if s.state == "open" and s.filled > 0 and s.filled < rec.amount then partial = true end end
      assert.is_true(partial)
      assert.is_true(S.wait_for(function()
        local n = 0
        for _, f in ipairs(fills) do n = n + f.amount end
        return n == rec.amount
      end, 5))
      -- a second order gets a different label
      local r2 = assert(orders:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                    price = passive_bid(priv), post_only = true })
      assert.matches("^lt%-%x+%-%d+$", r2.order.label)
      assert.are_not.equal(label, r2.order.label)
      assert.equal(1, #orders:open{ instrument = BTC, tag = "lt" })
      assert.equal(0, #orders:open{ tag = "pf" })
      assert.equal(1, #orders:open{ label = "lt-" })
    end)
  end)

  it("marks an order whose answer timed out as unknown and reconciles it by label: executed", function()
    with_trading(function(orders, priv, _, id)
      local p = passive_bid(priv)
      -- the venue stops reading for 1.5 s, then processes what arrived: the buy times out here
      lt.spawn(function() priv:call("sim/fault", { action = "blackhole", mode = "freeze", ms = 1500 }, 3) end)
      lt.sleep(0.05)                                 -- (it is never answered)
      local r, err, o = orders:buy({ instrument_name = BTC, amount = 10, type = "limit",
                                     price = p, post_only = true, label = "ux" }, 0.4)
      assert.is_nil(r)
      assert.equal("timeout", err.kind)
      local list = orders:open{ tag = "ux" }
      assert.equal(1, #list)
      assert.equal("unknown", list[1].state)
      local label = list[1].label
      assert.equal(label, o.label)
      local rec = assert(orders:wait(label, 8))       -- settles once the venue was asked by label
      assert.equal("open", rec.state)
      assert.is_not_nil(rec.order_id)
      assert.equal(1, orders:stats().unknown)
      assert.equal(1, venue_label_count(priv, id, label))   -- never re-sent
      local v = assert(priv:get_order_state{ order_id = rec.order_id })
      assert.equal("open", v.order_state)
      assert.equal(label, v.label)
    end)
  end)

  it("keeps an order in flight across a drop: its real state, never re-sent", function()
    with_trading(function(orders, priv, _, id)
      local p = passive_bid(priv)
      assert(priv:call("sim/fault", { action = "delay", ms = 1500 }))   -- executed now, answered later
      lt.spawn(function() lt.sleep(0.15); priv:_drop_connection() end)
      local r, err = orders:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                 price = p, post_only = true, label = "ux" }
      assert.is_nil(r)
      assert.equal("connection_lost", err.name)
      local label = orders:open{ tag = "ux" }[1].label
      assert.is_true(S.wait_for(function()
        return orders:get(label).state == "open" and orders:get(label).order_id ~= nil end, 8))
      lt.sleep(1.6)                                  -- past the delayed answer and any re-send
      assert.equal(1, venue_label_count(priv, id, label))
      assert.equal("open", assert(priv:get_order_state{ order_id = orders:get(label).order_id }).order_state)
    end)
  end)

  it("reconciles an unknown outcome the venue never executed to rejected (not_on_venue)", function()
    with_trading(function(orders, priv, _, id)
      local p = passive_bid(priv)
      assert(priv:call("sim/fault", { action = "stall", count = 1 }))  -- dropped unprocessed
      lt.spawn(function() lt.sleep(0.15); priv:_drop_connection() end)
      local r, err = orders:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                 price = p, post_only = true, label = "un" }
      assert.is_nil(r)
      assert.is_true(err.sent)
      local label = orders:open{ tag = "un" }[1].label
      assert.is_true(S.wait_for(function() return orders:get(label).state == "rejected" end, 8))
      assert.equal("not_on_venue", orders:get(label).error.name)
      assert.equal(1, venue_label_count(priv, id, label))     -- it arrived once, was never re-sent
      assert.same({}, assert(priv:get_order_state_by_label{ currency = "BTC", label = label }))
    end)
  end)

  it("sees cancel-on-disconnect after the reconnect", function()
    with_trading(function(orders, priv)
      assert(priv:enable_cancel_on_disconnect{ scope = "connection" })
      local r = assert(orders:buy{ instrument_name = BTC, amount = 10, type = "limit",
                                   price = passive_bid(priv), post_only = true })
      local states = {}
      orders:on_order(function(o, prev) states[#states + 1] = prev .. ">" .. o.state end)
      assert.equal("open", orders:get(r.order.order_id).state)
      priv:_drop_connection()
      assert.is_true(S.wait_for(function() return orders:get(r.order.order_id).state == "cancelled" end, 8))
      assert.is_true(S.wait_for(function() return states[#states] == "open>cancelled" end, 2))
      assert.equal("cancelled", assert(priv:get_order_state{ order_id = r.order.order_id }).order_state)
      assert(priv:disable_cancel_on_disconnect{})
    end)
  end)

  -- regression (found by the soak): one order the venue no longer knew (order_not_found, a
  -- restarted venue) made every later reconciliation fail, so other orders' fills went unseen
  it("reconciles the other orders when the venue no longer knows one", function()
    with_trading(function(orders, priv)
      local p = passive_bid(priv, 60)
      local a = assert(orders:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p, post_only = true })
      local b = assert(orders:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p - 1, post_only = true })
      -- the venue forgets a (its id is one it never gave), and b fills unseen by user.orders
      local rec = orders.byid[a.order.order_id]
      orders.byid[rec.order_id], orders.bylabel[rec.label], orders.live[rec.label] = nil, nil, nil
      rec.order_id, rec.label = "1", rec.label .. "-forgotten"
      orders.byid["1"], orders.bylabel[rec.label], orders.live[rec.label] = rec, rec, rec
      orders.live[b.order.label].state = "untriggered"   -- a stale view of b
      assert.is_true(orders:reconcile())
      assert.equal("cancelled", orders:get("1").state)
      assert.equal("order_not_found", orders:get("1").error.name)
      assert.equal("open", orders:get(b.order.order_id).state)    -- b was asked for too
      assert(priv:cancel{ order_id = a.order.order_id })
    end)
  end)

  it("cancel_all cancels only the tracker's orders", function()
    with_trading(function(orders, priv)
      local p = passive_bid(priv, 60)
      for i = 1, 3 do
        assert(orders:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p - i, post_only = true })
      end
      local mine = assert(priv:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p,
                                    post_only = true, label = "not-tracked" })
      assert.equal(3, orders:cancel_all())
      assert.equal(0, #orders:open())
      local left = assert(priv:get_open_orders_by_instrument{ instrument_name = BTC })
      assert.equal(1, #left)
      assert.equal(mine.order.order_id, left[1].order_id)
    end)
  end)
end)

describe("lt.orders lifetime", function()
  it("can be made and closed many times on one client (its state listener goes with it)", function()
    local n = 0
    lt.run(function()
      local id, secret = S.account()
      local priv = lt.private{ venue = "sim", client_id = id, client_secret = secret, timeout = 5 }
      for _ = 1, 10 do
        local o = assert(lt.orders(priv))
        o:close()
        n = n + 1
      end
      priv:close()
    end)
    assert.equal(10, n)                              -- and lt.run ended: no task left behind
  end)
end)

describe("positions", function()
  it("equal the venue's get_positions after a run of fills", function()
    with_trading(function(orders, priv)
      local P = orders.positions
      for i, side in ipairs({ "buy", "buy", "sell", "buy", "sell", "sell", "sell", "buy" }) do
        assert(orders[side](orders, { instrument_name = BTC, amount = 10 * i, type = "market" }))
      end
      lt.sleep(0.3)                                  -- user.trades of the last fill
      local v = assert(priv:get_position{ instrument_name = BTC })
      local mine = P:get(BTC)
      assert.equal(v.size, mine.size)
      assert.near(v.average_price, mine.average_price, 1e-6)
      assert.near(v.realized_profit_loss, mine.realized_pnl, 1e-8)
      assert.is_true(mine.fees > 0)
      -- unrealized at the venue's mark
      P.marks[BTC] = v.mark_price
      assert.near(v.floating_profit_loss, P:get(BTC).unrealized_pnl, 1e-8)
      local pnl = P:pnl("BTC")
      assert.near(pnl.total, pnl.realized + pnl.unrealized, 1e-12)
    end)
  end)

  it("take the venue's figure on a mismatch at reconcile", function()
    with_trading(function(orders, priv)
      assert(orders:buy{ instrument_name = BTC, amount = 20, type = "market" })
      lt.sleep(0.3)
      local P = orders.positions
      P.by[BTC].size = P.by[BTC].size + 1000        -- a fill missed
      assert(P:reconcile())
      assert.equal(assert(priv:get_position{ instrument_name = BTC }).size, P:size(BTC))
    end)
  end)
end)

describe("risk limits", function()
  it("refuse every violating order locally: nothing reaches the venue", function()
    with_trading(function(orders, priv, _, id)
      local R = orders.risk
      local p = passive_bid(priv)
      local before = venue_order_requests(priv, id)
      local function refused(name, params, method)
        local r, err = orders[method or "buy"](orders, params)
        assert.is_nil(r, name)
        assert.equal("risk", err.kind)
        assert.equal(name, err.name)
        assert.truthy(tostring(err):find(name, 1, true), tostring(err))
      end
      local bid = { instrument_name = BTC, amount = 60, type = "limit", price = p, post_only = true }
      R:set{ max_order_amount = 50 }
      refused("max_order_amount", bid)
      R:set{ max_order_amount = false, max_position = 50 }
      refused("max_position", bid)
      R:set{ max_position = false, max_contracts = 5 }             -- 60 USD = 6 contracts
      refused("max_contracts", bid)
      R:set{ max_contracts = false, price_band = 1 }
      refused("price_band", { instrument_name = BTC, amount = 10, type = "limit", price = p * 0.9, post_only = true })
      assert.equal(before, venue_order_requests(priv, id))
      R:set{ price_band = false, max_open_orders = 2 }
      bid.amount = 10
      assert(orders:buy(bid)); assert(orders:buy(bid))
      refused("max_open_orders", bid)
      orders:cancel_all()
      R:set{ max_open_orders = false, max_orders_per_second = 2 }
      lt.sleep(1.1)
      assert(orders:buy(bid)); assert(orders:buy(bid))
      refused("max_orders_per_second", bid)
      local after = venue_order_requests(priv, id)
      assert.equal(before + 4, after)                -- only the four allowed ones went out
      local st = R:stats()
      assert.equal(6, st.total)
      assert.equal(1, st.refused.max_position)
      -- a position limit never stops an order that reduces the position
      orders:cancel_all()
      R:set{ max_orders_per_second = false }
      assert(orders:buy{ instrument_name = BTC, amount = 30, type = "market" })
      lt.sleep(0.3)
      R:set{ max_position = 10 }
      assert(orders:sell{ instrument_name = BTC, amount = 20, type = "market" })
      refused("max_position", { instrument_name = BTC, amount = 30, type = "market" }, "buy")
    end)
  end)

  it("fire the kill switch on the daily loss: open orders cancelled, new ones refused", function()
    with_trading(function(orders, priv, _, id)
      local p = passive_bid(priv, 80)
      assert(orders:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p, post_only = true })
      orders.risk:set{ max_daily_loss = 1e-7 }
      lt.sleep(1.2)                                  -- the baseline is taken
      -- a losing round trip: across the spread twice, with fees
      assert(orders:buy{ instrument_name = BTC, amount = 500, type = "market" })
      assert(orders:sell{ instrument_name = BTC, amount = 500, type = "market" })
      assert.is_true(S.wait_for(function() return orders.risk:is_killed() ~= nil end, 5))
      assert.matches("max_daily_loss", orders.risk:is_killed())
      assert.is_true(S.wait_for(function() return #assert(priv:get_open_orders_by_instrument{ instrument_name = BTC }) == 0 end, 5))
      local n = venue_order_requests(priv, id)
      local r, err = orders:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p, post_only = true }
      assert.is_nil(r)
      assert.equal("killed", err.name)
      assert.equal(n, venue_order_requests(priv, id))
    end)
  end)

  it("fire the kill switch when the kill file appears", function()
    local file = os.tmpname(); os.remove(file)
    with_trading(function(orders, priv)
      local p = passive_bid(priv, 80)
      for i = 1, 2 do assert(orders:buy{ instrument_name = BTC, amount = 10, type = "limit", price = p - i, post_only = true }) end
      assert.equal(2, #assert(priv:get_open_orders_by_instrument{ instrument_name = BTC }))
      local f = assert(io.open(file, "w")); f:close()
      assert.is_true(S.wait_for(function() return #assert(priv:get_open_orders_by_instrument{ instrument_name = BTC }) == 0 end, 5))
      assert.matches("kill file", orders.risk:is_killed())
      -- market data keeps flowing
      assert(priv:ticker{ instrument_name = BTC })
    end, { kill_file = file })
    os.remove(file)
  end)
end)

-- subscribe's `fields` option against the built-in venue: only the listed keys of each
-- notification's data are decoded (src/json_fields.c, the skip path of src/json_decode.c),
-- typed as without the option; subscriptions without it are unchanged; bad values raise
-- naming the option and leave nothing registered.
local S = require "support"

local TICKER = "ticker.BTC-PERPETUAL.100ms"

local function keys(t)
  local k = {}
  for name in pairs(t) do k[#k + 1] = name end
  table.sort(k)
  return k
end

describe("subscribe fields", function()
  it("decode only the listed keys of a ticker, typed, and kept messages stay valid", function()
    local got = {}
    S.with_public(function(pub)
      local sub = assert(pub:subscribe(TICKER, function(t) got[#got + 1] = t end,
        { fields = { "best_bid_price", "best_ask_price", "timestamp", "stats" } }))
      S.wait_for(function() return #got >= 5 end, 10)
      sub:close()
      collectgarbage()
      collectgarbage()
    end)
    assert.is_true(#got >= 5)
    for _, t in ipairs(got) do  -- kept past the handler, after a full collection
      assert.same({ "best_ask_price", "best_bid_price", "stats", "timestamp" }, keys(t))
      assert.equal("float", math.type(t.best_bid_price))
      assert.equal("float", math.type(t.best_ask_price))
      assert.equal("integer", math.type(t.timestamp))
      assert.equal("table", type(t.stats))       -- a kept object is whole
      assert.is_not_nil(t.stats.high)
      assert.is_nil(t.mark_price)
      assert.is_nil(t.instrument_name)
    end
    assert.is_true(got[#got].timestamp >= got[1].timestamp)
  end)

  it("leave a subscription without fields unchanged, on the same client", function()
    local narrow, full = {}, {}
    S.with_public(function(pub)
      local a = assert(pub:subscribe(TICKER, function(t) narrow[#narrow + 1] = t end,
        { fields = { "best_bid_price" } }))
      local b = assert(pub:subscribe("ticker.ETH-PERPETUAL.100ms",
        function(t) full[#full + 1] = t end))
      S.wait_for(function() return #narrow >= 2 and #full >= 2 end, 10)
      a:close()
      b:close()
    end)
    assert.same({ "best_bid_price" }, keys(narrow[1]))
    local k = keys(full[1])
    assert.is_true(#k > 15)
    assert.equal("ETH-PERPETUAL", full[1].instrument_name)
    assert.equal("integer", math.type(full[1].timestamp))
    assert.equal("float", math.type(full[1].best_bid_price))
  end)

  it("raise naming the option for bad fields, leaving nothing registered", function()
    local errs, sub_after = {}, nil
    S.with_public(function(pub)
      local long = string.rep("x", 65)
      local many = {}
      for i = 1, 65 do many[i] = "k" .. i end
      local bad = {
        "best_bid_price", { 1 }, {}, { "a", nil, "b" }, { a = "b" }, { "a", "a" }, { long },
        many, { "" },
      }
      for i, f in ipairs(bad) do
        local ok, e = pcall(pub.subscribe, pub, TICKER, function() end, { fields = f })
        errs[i] = ok and "no error" or tostring(e)
      end
      local ok, e = pcall(pub.subscribe, pub, "book.BTC-PERPETUAL.100ms", function() end,
        { fields = { "bids", "asks" } })
      errs[#errs + 1] = ok and "no error" or tostring(e)
      -- the channel was never registered by the failed calls
      local n = 0
      local sub = assert(pub:subscribe(TICKER, function() n = n + 1 end,
        { fields = { "timestamp" } }))
      S.wait_for(function() return n >= 1 end, 10)
      sub_after = n
      sub:close()
    end)
    for i, e in ipairs(errs) do
      assert.is_truthy(e:find("subscribe: fields", 1, true), "case " .. i .. ": " .. e)
    end
    assert.is_truthy(errs[2]:find("expected a string", 1, true))
    assert.is_truthy(errs[6]:find("listed twice", 1, true))
    assert.is_truthy(errs[7]:find("longer than 64", 1, true))
    assert.is_truthy(errs[8]:find("more than 64", 1, true))
    assert.is_truthy(errs[10]:find("\"type\"", 1, true))
    assert.is_true(sub_after >= 1)
  end)

  it("accept an incremental book with type among the fields", function()
    local got = {}
    S.with_public(function(pub)
      local sub = assert(pub:subscribe("book.BTC-PERPETUAL.100ms",
        function(b) got[#got + 1] = b end, { fields = { "type", "change_id" } }))
      S.wait_for(function() return #got >= 2 end, 10)
      sub:close()
    end)
    assert.equal("snapshot", got[1].type)
    assert.same({ "change_id", "type" }, keys(got[1]))
    assert.equal("integer", math.type(got[1].change_id))
  end)
end)

describe("subscribe fields across a hot reload (luatrade.handover)", function()
  local lt = require "luatrade"
  local core = require "luatrade.core"
  local handover = require "luatrade.handover"

  -- Run fn as a task of group g (as the runner runs a version) and wait for it.
  local function in_group(g, fn)
    local done = false
    core._spawn_in(g, function() fn(); done = true end)
    S.wait_for(function() return done end, 10)
  end

  -- Version 1 subscribes with fields a, is held (its tasks cancelled, as the runner does),
  -- version 2 subscribes the same channel with fields b: every message version 2 sees has
  -- exactly the keys of b.
  local function switch(fields1, fields2)
    local got1, got2 = {}, {}
    S.with_public(function(pub)
      local H = handover.new(nil)
      local v1 = { group = core._new_group() }
      local p1 = H:client(pub, v1)
      in_group(v1.group, function()
        assert(p1:subscribe(TICKER, function(t) got1[#got1 + 1] = t end, { fields = fields1 }))
      end)
      S.wait_for(function() return #got1 >= 2 end, 10)
      H:hold(v1)
      core._cancel_group(v1.group, "reloaded")
      lt.sleep(0.3)                               -- messages queue for the next version
      local v2 = { group = core._new_group() }
      local p2 = H:client(pub, v2)
      local sub
      in_group(v2.group, function()
        sub = assert(p2:subscribe(TICKER, function(t) got2[#got2 + 1] = t end,
          { fields = fields2 }))
      end)
      H:drop_held()
      S.wait_for(function() return #got2 >= 5 end, 10)
      sub:close()
    end)
    return got1, got2
  end

  it("subscribe the channel afresh when the new version asks other fields", function()
    local got1, got2 = switch({ "best_bid_price" }, { "timestamp", "best_ask_price" })
    assert.same({ "best_bid_price" }, keys(got1[1]))
    assert.is_true(#got2 >= 5)
    for _, t in ipairs(got2) do assert.same({ "best_ask_price", "timestamp" }, keys(t)) end
  end)

  it("take the channel over when the fields are the same", function()
    local _, got2 = switch({ "timestamp", "best_bid_price" }, { "best_bid_price", "timestamp" })
    assert.is_true(#got2 >= 5)
    for _, t in ipairs(got2) do assert.same({ "best_bid_price", "timestamp" }, keys(t)) end
  end)
end)

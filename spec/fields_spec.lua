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

-- Lazy notifications against the built-in venue over wss (src/json_lazy.c, src/lua_lazy.c;
-- README "Messages are lazy"): a subscription without `fields` gets each object message as
-- a table whose fields are decoded when read. It reads, types and iterates as the full decode,
-- stays valid when kept past the handler, takes writes, and lt.plain makes a plain table of it.
-- `lazy = false` (and `fields`) give plain tables instead.
local lt = require "luatrade"
local cjson = require "cjson"
local S = require "support"

local TICKER = "ticker.BTC-PERPETUAL.100ms"

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- Deep compare through pairs and reads (so every lazy field is decoded), math types included.
local function same(a, b, path)
  path = path or "data"
  if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) ~= "table" then
    if a ~= b or math.type(a) ~= math.type(b) then
      return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
    end
    return true
  end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  if count(a) ~= count(b) then return false, path .. ": key counts differ" end
  return true
end

local function tickers(n, opts)
  local got = {}
  S.with_public(function(pub)
    local sub = assert(pub:subscribe(TICKER, function(t) got[#got + 1] = t end, opts))
    S.wait_for(function() return #got >= n end, 10)
    sub:close()
  end)
  assert.is_true(#got >= n)
  return got
end

describe("lazy notifications", function()
  it("are tables that read and type as the full decode, and stay valid when kept", function()
    local got = tickers(20)
    collectgarbage()
    collectgarbage()
    for i, t in ipairs(got) do -- kept past the handler, after later messages and a full GC
      assert.equal("table", type(t))
      assert.matches("^luatrade.object: ", tostring(t))
      assert.equal("BTC-PERPETUAL", t.instrument_name)
      assert.equal("integer", math.type(t.timestamp))
      assert.equal("float", math.type(t.best_bid_price))
      assert.equal("float", math.type(t.best_ask_price))
      assert.is_true(t.best_ask_price >= t.best_bid_price)
      assert.equal("table", type(t.stats))
      assert.equal(t.stats, t.stats) -- a nested object is decoded once, then the same table
      assert.is_true(count(t) > 15)
      if i > 1 then assert.is_true(t.timestamp >= got[i - 1].timestamp) end
    end
  end)

  it("read as the same message decoded in full (a fields subscription naming every key)",
    function()
      local lazy, full = {}, {}
      S.with_public(function(pub)
        local a = assert(pub:subscribe(TICKER, function(t) lazy[t.timestamp] = t end))
        S.wait_for(function() return next(lazy) ~= nil end, 10)
        local keys = {}
        for k in pairs(select(2, next(lazy))) do keys[#keys + 1] = k end
        local pub2 = lt.public{ venue = "sim", timeout = 5 }
        local b = assert(pub2:subscribe(TICKER, function(t) full[#full + 1] = t end,
          { fields = keys }))
        S.wait_for(function()
          local n = 0
          for _, t in ipairs(full) do if lazy[t.timestamp] then n = n + 1 end end
          return n >= 5
        end, 10)
        a:close()
        b:close()
        pub2:close()
      end)
      local matched = 0
      for _, f in ipairs(full) do
        local l = lazy[f.timestamp]
        if l then
          assert.is_nil(getmetatable(f))  -- the projection is decoded in full
          assert.is_truthy(same(l, f))
          assert.is_truthy(same(f, l))
          matched = matched + 1
        end
      end
      assert.is_true(matched >= 5)
    end)

  it("give a plain table to lt.plain, for cjson.encode, next and rawget", function()
    local t = tickers(1)[1]
    local p = lt.plain(t)
    assert.is_nil(getmetatable(p))
    assert.equal(t.best_bid_price, rawget(p, "best_bid_price"))
    assert.is_nil(getmetatable(p.stats))
    assert.is_truthy(same(t, p))
    local back = cjson.decode(cjson.encode(p))
    assert.equal(t.instrument_name, back.instrument_name)
    assert.equal(t.best_bid_price, back.best_bid_price)
    assert.equal(t.stats.high, back.stats.high)
    assert.equal(count(t), count(back))
    -- the lazy table itself is refused by cjson with an error, never encoded as something else
    local ok, e = pcall(cjson.encode, t)
    assert.is_false(ok)
    assert.matches("table key must be a number or string", e)
    assert.equal(42, lt.plain(42))
  end)

  it("take writes, deletes and new keys, and pairs shows them", function()
    local t = tickers(1)[1]
    local n = count(t)
    t.best_bid_price = 1
    t.mark_price = nil
    t.mine = "x"
    t[1] = "first"
    assert.equal(1, t.best_bid_price)
    assert.is_nil(t.mark_price)
    assert.equal("x", t.mine)
    assert.equal(1, #t)
    local seen = {}
    for k, v in pairs(t) do seen[k] = v end
    assert.equal(1, seen.best_bid_price)
    assert.is_nil(seen.mark_price)
    assert.equal("x", seen.mine)
    assert.equal("first", seen[1])
    assert.equal(n - 1 + 2, count(t))
    assert.is_truthy(same(t, lt.plain(t)))
  end)

  it("are not made for array data, a fields subscription or lazy = false", function()
    local trades = {}
    S.with_public(function(pub)
      local sub = assert(pub:subscribe("trades.BTC-PERPETUAL.100ms",
        function(d) trades[#trades + 1] = d end))
      S.wait_for(function() return #trades >= 1 end, 10)
      sub:close()
    end)
    assert.is_nil(getmetatable(trades[1]))
    local f = tickers(1, { fields = { "best_bid_price" } })[1]
    assert.is_nil(getmetatable(f))
    assert.equal("float", math.type(f.best_bid_price))
    local full = tickers(3, { lazy = false })
    for _, t in ipairs(full) do
      assert.is_nil(getmetatable(t))
      assert.equal("integer", math.type(rawget(t, "timestamp")))
      assert.equal("float", math.type(rawget(t, "best_bid_price")))
      assert.is_nil(getmetatable(rawget(t, "stats")))
      assert.is_true(count(t) > 15)
    end
    assert.is_not_nil(getmetatable(tickers(1, { lazy = true })[1]))
  end)

  it("raise naming the lazy option for a value that is not a boolean", function()
    local errs = {}
    S.with_public(function(pub)
      for i, v in ipairs({ 0, "no", {} }) do
        local ok, e = pcall(pub.subscribe, pub, TICKER, function() end, { lazy = v })
        errs[i] = ok and "no error" or tostring(e)
      end
      local n = 0 -- the failed calls registered nothing
      local sub = assert(pub:subscribe(TICKER, function() n = n + 1 end, { lazy = false }))
      S.wait_for(function() return n >= 1 end, 10)
      sub:close()
    end)
    assert.matches("subscribe: lazy: expected a boolean, got number", errs[1])
    assert.matches("subscribe: lazy: expected a boolean, got string", errs[2])
    assert.matches("subscribe: lazy: expected a boolean, got table", errs[3])
  end)
end)

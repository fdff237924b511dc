-- spec/reload_spec.lua — hot reload of `luatrade run`, end to end: the command runs as a
-- process against a venue process, its strategy file is edited on disk (or it gets SIGHUP),
-- and what survives the switch is checked in the strategy's own log lines and on the venue
-- (sim/stats: subscribes, unsubscribes, connections, open orders).
local lt = require "luatrade"
local venue = require "venue"
local S = require "support"

local BOOK = "book.BTC-PERPETUAL.100ms"   -- every venue tick (2 ms here)

-- A strategy version: a book handler that checks the change_id chain; its state (the chain,
-- counters) goes from stop() to the next start(). @V@ is the version, @EXTRA@ more code in
-- start.
local BOOK_STRATEGY = [[
local lt = require "luatrade"
local core = require "luatrade.core"
local VERSION = @V@
local M = {}
local s
function M.start(ctx, state)
  s = state or { n = 0, gaps = 0, dups = 0, snapshots = 0, versions = 0 }
  s.versions = s.versions + 1
  local sub = assert(ctx.public:subscribe("@BOOK@", function(b)
    if b.type == "snapshot" then s.snapshots = s.snapshots + 1
    elseif s.last and b.prev_change_id ~= s.last then
      if b.change_id <= s.last then s.dups = s.dups + 1 else s.gaps = s.gaps + 1 end
    end
    s.last = b.change_id
    s.n = s.n + 1
  end))
  lt.spawn(function()
    while true do
      ctx.log("info", "alive v%d n=%d", VERSION, s.n)
      lt.sleep(0.1)
    end
  end)
  @EXTRA@
  ctx.log("info", "version %d running: versions=%d n=%d gaps=%d dups=%d snapshots=%d", VERSION,
          s.versions, s.n, s.gaps, s.dups, s.snapshots)
end
function M.stop(ctx, reason)
  ctx.log("info", "stop %s v%d n=%d gaps=%d dups=%d snapshots=%d", reason, VERSION, s.n, s.gaps,
          s.dups, s.snapshots)
  return s
end
return M
]]

local function book_strategy(v, extra)
  return (BOOK_STRATEGY:gsub("@V@", tostring(v)):gsub("@BOOK@", BOOK):gsub("@EXTRA@", function() return extra or "" end))
end

-- Save like an editor that writes a temp file and renames it over the original.
local function save_by_rename(path, text)
  S.write(path .. ".swp", text)
  assert(os.rename(path .. ".swp", path))
end

local function count(out, pattern)
  local n = 0
  for _ in out:gmatch(pattern) do n = n + 1 end
  return n
end

-- The last "alive vV n=N" of version v in the output, or nil.
local function alive(out, v)
  local last
  for n in out:gmatch("alive v" .. v .. " n=(%d+)") do last = tonumber(n) end
  return last
end

describe("luatrade run hot reload", function()
  local proc, C, pub
  setup(function()
    proc = assert(venue.process{ args = "--tick-ms 2 " .. S.account_args("rl", 8) })
    C = S.clients_of(function() return proc.url end, "rl")
  end)
  teardown(function() if proc then proc:stop() end end)

  local function started(h, v, seconds)
    return S.wait_for(function() return h.output():find("version " .. v .. " running", 1, true) ~= nil end,
                      seconds or 10)
  end

  it("edited 20 times while a book streams: the change_id chain is unbroken, no unsubscribe or "
     .. "subscribe goes out for the shared channel and the connection stays the same", function()
    lt.run(function()
      pub = C.public()
      local before = assert(venue.stats(pub))
      local path = S.strategy_file(book_strategy(1))
      local h = S.run_strategy(proc.url, "rl1", path)
      assert.is_true(started(h, 1), h.output())
      for v = 2, 21 do
        lt.sleep(0.1)
        local text = book_strategy(v)
        if v % 2 == 0 then save_by_rename(path, text) else S.write(path, text) end
        assert.is_true(started(h, v), "version " .. v .. ":\n" .. h.output())
      end
      lt.sleep(0.3)
      local after = assert(venue.stats(pub))
      h.signal("INT")
      assert.equal(0, h.rc(15))
      local out = h.output()
      h.cleanup(); os.remove(path)
      local n, gaps, dups, snaps = out:match("stop shutdown v21 n=(%d+) gaps=(%d+) dups=(%d+) snapshots=(%d+)")
      assert.truthy(n, out)
      assert.is_true(tonumber(n) > 500, "book messages: " .. n)   -- ~2 s at a 2 ms tick
      assert.equal("0", gaps, out)
      assert.equal("0", dups, out)
      assert.equal("1", snaps, out)                                -- never re-subscribed
      assert.equal(20, count(out, "reload %([^)]*%): the new version runs"), out)
      assert.truthy(out:find("versions=21", 1, true), out)
      -- on the venue: one subscribe of the channel, no unsubscribe, one connection of the
      -- runner throughout (unauthenticated counters: the runner's public client and ours)
      local function sub_count(st, map) return (st[map] or {})[BOOK] or 0 end
      assert.equal(1, sub_count(after, "subscribes") - sub_count(before, "subscribes"))
      assert.equal(0, sub_count(after, "unsubscribes") - sub_count(before, "unsubscribes"))
      assert.equal(1, after.connections_total - before.connections_total)
      pub:close()
    end)
  end)

  it("keeps the old version running when the new one has a syntax error, raises while loading, or "
     .. "its start() raises; channels only the failed version used are unsubscribed", function()
    lt.run(function()
      pub = C.public()
      local path = S.strategy_file(book_strategy(1))
      local h = S.run_strategy(proc.url, "rl2", path, "--log-level info")
      assert.is_true(started(h, 1), h.output())
      local function rejected(text, what)
        local seen = count(h.output(), "kept the old version") + count(h.output(), "running version stays")
        assert.is_true(S.wait_for(function() return alive(h.output(), 1) ~= nil end, 10), h.output())
        local n0 = alive(h.output(), 1)
        S.write(path, text)
        assert.is_true(S.wait_for(function()
          return count(h.output(), "kept the old version") + count(h.output(), "running version stays") > seen
        end, 10), what .. ":\n" .. h.output())
        assert.is_true(S.wait_for(function() return (alive(h.output(), 1) or 0) > n0 + 50 end, 10),
                       what .. ": the old version keeps receiving\n" .. h.output())
      end
      rejected((book_strategy(2):gsub("return M", "local x = = 1\nreturn M")), "syntax error")
      assert.truthy(h.output():find("%.lua:%d+: unexpected symbol near '='"), h.output()) -- file:line
      rejected("error('refusing to load')\n" .. book_strategy(3), "raise at load")
      assert.truthy(h.output():find("refusing to load", 1, true), h.output())
      local before = assert(venue.stats(pub))
      rejected(book_strategy(4, [[
        assert(ctx.public:subscribe("ticker.ETH-PERPETUAL.100ms", function() end))
        error("start refuses")]]), "start raises")
      assert.truthy(h.output():find("start refuses", 1, true), h.output())
      assert.truthy(h.output():find("version 1 running: versions=3", 1, true), h.output()) -- resumed with its state
      lt.sleep(0.3)                       -- v4's tasks ran while its start did, none after
      local out4 = h.output()
      local undone_at = select(2, out4:find("the new version's start failed", 1, true))
      local last_v4 = 0
      for at in out4:gmatch("()alive v4 ") do last_v4 = at end
      assert.is_true(last_v4 < undone_at, out4)
      local after = assert(venue.stats(pub))
      local function delta(map, ch) return ((after[map] or {})[ch] or 0) - ((before[map] or {})[ch] or 0) end
      assert.equal(0, delta("subscribes", BOOK))
      assert.equal(0, delta("unsubscribes", BOOK))
      assert.equal(1, delta("subscribes", "ticker.ETH-PERPETUAL.100ms"))
      assert.equal(1, delta("unsubscribes", "ticker.ETH-PERPETUAL.100ms"))
      h.signal("INT")
      local out = h.output()
      assert.equal(0, h.rc(15), out)
      local _, gaps, dups, snaps = h.output():match("stop shutdown v1 n=(%d+) gaps=(%d+) dups=(%d+) snapshots=(%d+)")
      assert.equal("0", gaps); assert.equal("0", dups); assert.equal("1", snaps)
      h.cleanup(); os.remove(path)
      pub:close()
    end)
  end)

  it("ends the old version's tasks with err.kind \"reloaded\" (to-be-closed variables run), hands "
     .. "stop()'s state to start() and lets stop() await a cancel", function()
    local src = [[
      local lt = require "luatrade"
      local VERSION = @V@
      local M = { private = true }
      function M.start(ctx, state)
        if state then ctx.log("info", "got state: cancelled=%s from v%d", tostring(state.cancelled), state.v) end
        local t = assert(ctx.public:ticker{ instrument_name = "BTC-PERPETUAL" })
        local r = assert(ctx.private:buy{ instrument_name = "BTC-PERPETUAL", amount = 10, type = "limit",
          price = math.floor(t.best_bid_price * 0.9), post_only = true, label = "rl3-v" .. VERSION })
        M.order = r.order.order_id
        lt.spawn(function()
          local _ <close> = setmetatable({}, { __close = function(_, e)
            ctx.log("info", "v%d closed with %s", VERSION, e and e.kind or "nothing") end })
          local ok, err = pcall(lt.sleep, 100)
          ctx.log("info", "v%d sleep ended: %s", VERSION, tostring(err and err.kind))
          lt.sleep(0)
          ctx.log("info", "v%d must not get here", VERSION)
        end)
        ctx.log("info", "version %d running: open=%d", VERSION, #ctx.orders:open())
      end
      function M.stop(ctx, reason)
        local _, err = ctx.private:cancel{ order_id = M.order }
        ctx.log("info", "v%d stop %s: cancel %s", VERSION, reason, err and err.name or "ok")
        return { cancelled = M.order, v = VERSION }
      end
      return M]]
    lt.run(function()
      local priv = C.private(3)
      local path = S.strategy_file((src:gsub("@V@", "1")))
      local h = S.run_strategy(proc.url, "rl3", path)
      assert.is_true(started(h, 1), h.output())
      S.write(path, (src:gsub("@V@", "2")))
      assert.is_true(started(h, 2), h.output())
      local out = h.output()
      assert.truthy(out:find("v1 sleep ended: reloaded", 1, true), out)
      assert.truthy(out:find("v1 closed with reloaded", 1, true), out)
      assert.falsy(out:find("must not get here", 1, true), out)
      assert.truthy(out:find("v1 stop reload: cancel ok", 1, true), out)
      assert.truthy(out:find("got state: cancelled=%d+ from v1"), out)
      -- on the venue: v1's order is gone, v2's rests
      local open = assert(priv:get_open_orders_by_instrument{ instrument_name = "BTC-PERPETUAL" })
      local labels = {}
      -- the tracker's labels are "<the strategy's label>-<run>-<n>"
      for _, o in ipairs(open) do
        local tag = o.label:match("^(rl3%-v%d)%-%x+%-%d+$")
        if tag then labels[tag] = (labels[tag] or 0) + 1 end
      end
      assert.is_nil(labels["rl3-v1"])
      assert.equal(1, labels["rl3-v2"])
      h.signal("INT")
      assert.equal(0, h.rc(15), h.output())
      h.cleanup(); os.remove(path)
      priv:call("private/cancel_all", {})
      priv:close()
    end)
  end)

  it("ends a stop() that overruns --stop-timeout, and the new version starts", function()
    local src = [[
      local lt = require "luatrade"
      local M = {}
      function M.start(ctx, state)
        ctx.public:subscribe("ticker.BTC-PERPETUAL.100ms", function() end)
        ctx.log("info", "version @V@ running, state %s", tostring(state))
      end
      function M.stop() lt.sleep(30) return "late" end
      return M]]
    lt.run(function()
      local path = S.strategy_file((src:gsub("@V@", "1")))
      local h = S.run_strategy(proc.url, "rl4", path, "--stop-timeout 0.5")
      assert.is_true(started(h, 1), h.output())
      local t0 = lt.now()
      S.write(path, (src:gsub("@V@", "2")))
      assert.is_true(started(h, 2), h.output())
      local took = lt.now() - t0
      local out = h.output()
      assert.truthy(out:find("stop overran its 0.5 s limit", 1, true), out)
      assert.truthy(out:find("version 2 running, state nil", 1, true), out)
      assert.is_true(took < 5, "took " .. took)
      h.signal("TERM")
      h.rc(5)
      h.cleanup(); os.remove(path)
    end)
  end)

  it("reloads once for an editor's save by rename and once for a burst of writes; SIGHUP reloads; "
     .. "--no-watch ignores edits", function()
    lt.run(function()
      local path = S.strategy_file(book_strategy(1))
      local h = S.run_strategy(proc.url, "rl5", path)
      assert.is_true(started(h, 1), h.output())
      save_by_rename(path, book_strategy(2))
      assert.is_true(started(h, 2), h.output())
      for i = 1, 10 do S.write(path, book_strategy(i < 10 and 100 + i or 3)) end
      assert.is_true(started(h, 3), h.output())
      lt.sleep(0.5)
      local out = h.output()
      assert.equal(2, count(out, "reload %("), out)
      assert.is_nil(out:find("version 101 running", 1, true))
      h.signal("HUP")
      assert.is_true(S.wait_for(function() return count(h.output(), "reload %(SIGHUP%)") == 1 end, 10), h.output())
      h.signal("INT")
      assert.equal(0, h.rc(15), h.output())
      h.cleanup()
      local q = S.run_strategy(proc.url, "rl6", path, "--no-watch")
      assert.is_true(started(q, 3), q.output())
      S.write(path, book_strategy(4))
      lt.sleep(1)
      assert.is_nil(q.output():find("version 4 running", 1, true), q.output())
      q.signal("HUP")
      assert.is_true(started(q, 4), q.output())
      q.signal("INT")
      assert.equal(0, q.rc(15), q.output())
      q.cleanup(); os.remove(path)
    end)
  end)

  it("keeps ctx.orders in step with the venue between reloads (user.orders) and across them", function()
    local src = [[
      local lt = require "luatrade"
      local M = { private = true }
      function M.start(ctx, state)
        local ok, err = pcall(ctx.private.subscribe, ctx.private, "user.orders.any.any.raw", function() end)
        ctx.log("info", "reserved: %s", ok and "no" or tostring(err))
        if not state then
          local t = assert(ctx.public:ticker{ instrument_name = "BTC-PERPETUAL" })
          for i = 1, 2 do
            assert(ctx.private:buy{ instrument_name = "BTC-PERPETUAL", amount = 10, type = "limit",
              price = math.floor(t.best_bid_price * 0.9) - i, post_only = true, label = "rl7-" .. i })
          end
        end
        lt.spawn(function()
          local last
          while true do
            local n = #ctx.orders:open("BTC-PERPETUAL")
            if n ~= last then ctx.log("info", "@V@ open orders: %d", n); last = n end
            lt.sleep(0.02)
          end
        end)
        ctx.log("info", "version @V@ running")
      end
      function M.stop() return true end
      return M]]
    lt.run(function()
      local priv = C.private(7)
      local path = S.strategy_file((src:gsub("@V@", "1")))
      local h = S.run_strategy(proc.url, "rl7", path)
      assert.is_true(S.wait_for(function() return h.output():find("1 open orders: 2", 1, true) ~= nil end, 10), h.output())
      assert.truthy(h.output():find("'user.orders.any.any.raw' is the runtime's own", 1, true), h.output())
      -- cancelled by another client of the account: the runner hears it on user.orders
      local function label_of(tag) -- the tracker's label for the strategy's tag
        for _, o in ipairs(assert(priv:get_open_orders_by_instrument{ instrument_name = "BTC-PERPETUAL" })) do
          if o.label:find("^" .. tag .. "%-%x+%-%d+$") then return o.label end
        end
      end
      assert(priv:cancel_by_label{ label = assert(label_of("rl7%-1")) })
      assert.is_true(S.wait_for(function() return h.output():find("1 open orders: 1", 1, true) ~= nil end, 10), h.output())
      S.write(path, (src:gsub("@V@", "2")))
      assert.is_true(S.wait_for(function() return h.output():find("2 open orders: 1", 1, true) ~= nil end, 10), h.output())
      assert(priv:cancel_by_label{ label = assert(label_of("rl7%-2")) })
      assert.is_true(S.wait_for(function() return h.output():find("2 open orders: 0", 1, true) ~= nil end, 10), h.output())
      h.signal("INT")
      assert.equal(0, h.rc(15), h.output())
      h.cleanup(); os.remove(path)
      priv:close()
    end)
  end)

  it("100 reloads leave the Lua heap, RSS, tasks, the registry and the connections flat", function()
    local src = book_strategy("@N@", [[
      collectgarbage(); collectgarbage()
      local reg = 0
      for _ in pairs(debug.getregistry()) do reg = reg + 1 end
      local rss = tonumber((io.open("/proc/self/statm"):read("l")):match("^%d+ (%d+)")) * 4
      ctx.log("info", "mem v%d heap=%d rss=%d tasks=%d registry=%d", VERSION,
              math.floor(collectgarbage("count")), rss, core._task_count(), reg)]])
    lt.run(function()
      pub = C.public()
      local path = S.strategy_file((src:gsub("@N@", "1")))
      -- under the sanitizers: LeakSanitizer checks the process at exit, and a small quarantine
      -- keeps freed memory from looking like growth
      local sanitized = (os.getenv("LUATRADE_BUILD") or "build") ~= "build"
      local h = S.run_strategy(proc.url, "rl6", path, "--no-watch",
        sanitized and "ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=1" or nil)
      assert.is_true(started(h, 1), h.output())
      local before = assert(venue.stats(pub))
      for i = 1, 100 do
        h.signal("HUP")
        assert.is_true(S.wait_for(function() return count(h.output(), "reload %(SIGHUP%)") >= i end, 10),
                       "reload " .. i .. "\n" .. h.output():sub(-2000))
      end
      local after = assert(venue.stats(pub))
      h.signal("INT")
      assert.equal(0, h.rc(15), h.output():sub(-3000))
      local out = h.output()
      h.cleanup(); os.remove(path)
      assert.is_nil(out:find("LeakSanitizer", 1, true), out:sub(-3000))
      local rows = {}
      for heap, rss, tasks, reg in out:gmatch("mem v1 heap=(%d+) rss=(%d+) tasks=(%d+) registry=(%d+)") do
        rows[#rows + 1] = { heap = tonumber(heap), rss = tonumber(rss), tasks = tonumber(tasks), reg = tonumber(reg) }
      end
      assert.equal(101, #rows)
      local r10, last = rows[11], rows[#rows]
      assert.equal(r10.tasks, last.tasks)
      assert.equal(r10.reg, last.reg)
      assert.is_true(last.heap < r10.heap + 200, ("heap %d KB -> %d KB"):format(r10.heap, last.heap))
      assert.is_true(last.rss < r10.rss + 4096, ("rss %d KB -> %d KB"):format(r10.rss, last.rss))
      assert.equal(0, after.connections_total - before.connections_total)
      assert.equal(0, ((after.subscribes or {})[BOOK] or 0) - ((before.subscribes or {})[BOOK] or 0))
      pub:close()
    end)
  end)
end)

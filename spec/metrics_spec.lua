-- spec/metrics_spec.lua — `luatrade run --metrics-port 0`: a strategy runs as a process of its
-- own against a venue process; its /metrics and /healthz are scraped with curl during the
-- session. The counters move (requests, checked against what the venue says it received;
-- round trips; a reconnect after the venue closed the connection; an order placed and
-- filled), /healthz is 200 while connected and authenticated and 503 with a reason once the
-- venue is gone; bad options fail with one line.
local lt = require "luatrade"
local venue = require "venue"
local S = require "support"

local function sleep(s) os.execute("sleep " .. s) end

-- GET url with curl: status code (number), body, content type. Without LD_PRELOAD: the
-- sanitizer run preloads ASan, which deadlocks curl.
local function get(url)
  local out = os.tmpname()
  local p = io.popen(("env -u LD_PRELOAD curl -s --max-time 5 -o %s -w '%%{http_code} %%{content_type}' %s"):format(out, url))
  local meta = p:read("a") or ""
  p:close()
  local body = S.read(out) or ""
  os.remove(out)
  local code, ctype = meta:match("^(%d+) ?(.*)$")
  return tonumber(code), body, ctype
end

-- The value of one series line in an exposition ("name{labels}"), or nil.
local function value(text, series)
  local esc = series:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?{}]", "%%%0")
  local v = text:match("\n" .. esc .. " ([^\n]+)")
  return tonumber(v)
end

-- Poll until fn() is truthy (at most seconds); returns fn()'s last result.
local function poll(fn, seconds)
  local deadline = os.time() + seconds
  local r = fn()
  while not r and os.time() <= deadline do
    sleep(0.1)
    r = fn()
  end
  return r
end

-- 20 tickers one after another (the 5th followed by the venue closing the public connection),
-- a market buy on the private client, then it idles.
local STRATEGY = [[
local lt = require "luatrade"
local M = { private = true }
function M.start(ctx)
  lt.spawn(function()
    for n = 1, 20 do
      assert(ctx.public:ticker({ instrument_name = "BTC-PERPETUAL" }, 10))
      if n == 5 then ctx.public:call("sim/fault", { action = "close", code = 1000 }, 2) end
      lt.sleep(0.02)
    end
    ctx.log("info", "tickers done")
    while true do lt.sleep(1) end
  end)
  lt.spawn(function()
    local r, err = ctx.private:buy({ instrument_name = "BTC-PERPETUAL", amount = 10, type = "market" })
    ctx.log("info", "buy: %s", r and r.order.order_state or tostring(err))
  end)
end
return M
]]

describe("luatrade run --metrics-port", function()
  local proc, path
  setup(function()
    proc = assert(venue.process{ args = S.account_args("mx", 3) })
    path = S.strategy_file(STRATEGY)
  end)
  teardown(function()
    if proc then proc:stop() end
    os.remove(path)
  end)

  it("serves counters that move during a session, and a health check that follows the venue", function()
    local h = S.run_strategy(proc.url, "mx1", path, "--metrics-port 0 --stop-timeout 1 --cancel-timeout 1")
    local ok, err = pcall(function()
      local port = poll(function() return h.output():match("metrics on http://127%.0%.0%.1:(%d+)/metrics") end, 15)
      assert.truthy(port, h.output())
      local base = "http://127.0.0.1:" .. port
      -- the session: 20 tickers, a reconnect, the buy
      local text
      assert.truthy(poll(function()
        local code, body = get(base .. "/metrics")
        text = body
        return code == 200 and h.output():find("tickers done", 1, true)
          and (value(body, 'luatrade_orders_filled_total{direction="buy"}') or 0) >= 1
      end, 30), h.output() .. "\n" .. tostring(text))
      local code, body, ctype = get(base .. "/metrics")
      text = body
      assert.equal(200, code)
      assert.equal("text/plain; version=0.0.4; charset=utf-8", ctype)
      assert.truthy(body:find("# TYPE luatrade_requests_total counter\n", 1, true))
      assert.equal(20, value(body, 'luatrade_requests_total{client="public",method="public/ticker"}'))
      assert.is_true(value(body, 'luatrade_reconnects_total{client="public"}') >= 1)
      assert.equal(0, value(body, 'luatrade_reconnects_total{client="private"}'))
      assert.is_true(value(body, 'luatrade_request_duration_seconds_count{client="public"}') >= 20)
      assert.is_true(value(body, 'luatrade_request_duration_seconds_bucket{client="public",le="+Inf"}') >= 20)
      assert.equal(1, value(body, 'luatrade_requests_total{client="private",method="private/buy"}'))
      assert.equal(1, value(body, 'luatrade_orders_placed_total{method="buy"}'))
      assert.equal(1, value(body, 'luatrade_orders_filled_total{direction="buy"}'))
      assert.equal(1, value(body, 'luatrade_connection_state{client="public",state="open"}'))
      assert.equal(1, value(body, 'luatrade_authenticated{client="private"}'))
      -- the sim/fault close ended without an answer: counted as an error of that call
      assert.equal(1, value(body, 'luatrade_request_errors_total{client="public",method="other",kind="transport",error="connection_lost"}'))
      -- what the venue says it received is what was counted
      local st
      lt.run(function()
        local pub = lt.public{ url = proc.url, ca_file = "build/sim/ca.pem", timeout = 10 }
        st = assert(venue.stats(pub))
        pub:close()
      end)
      assert.equal(20, st.requests["public/ticker"])
      -- healthy while connected and authenticated
      code, body = get(base .. "/healthz")
      assert.equal(200, code)
      assert.equal("ok\n", body)
      code = get(base .. "/nothing")
      assert.equal(404, code)
      -- the venue goes away: 503 with the reason, and the reconnects keep being counted
      proc:kill("KILL")
      local why
      assert.truthy(poll(function()
        local c, b = get(base .. "/healthz")
        why = b
        return c == 503
      end, 15), tostring(why))
      assert.truthy(why:find("^%a+ client wss://127%.0%.0%.1:%d+/ws/api/v2: %a+"), why)
      assert.equal(1, select(2, why:gsub("\n", "")))
      local before = value(text, 'luatrade_reconnects_total{client="public"}')
      local after
      assert.truthy(poll(function()
        local _, b = get(base .. "/metrics")
        after = b
        return (value(b, 'luatrade_reconnects_total{client="public"}') or 0) > before
      end, 15), tostring(after))
      assert.equal(0, value(after, 'luatrade_connection_state{client="public",state="open"}'))
    end)
    h.signal("INT")
    local rc = h.rc(15)
    local out = h.output()
    h.cleanup()
    proc:restart()
    assert(ok, tostring(err) .. "\n" .. out)
    assert.equal(0, rc, out) -- a clean exit, also under the sanitizers
    assert.falsy(out:find("Sanitizer") or out:find("runtime error"), out)
  end)

  it("serves a page of many kilobytes whole, and caps the series", function()
    local many = S.strategy_file([[
local lt = require "luatrade"
local core = require "luatrade.core"
return { start = function()
  for i = 1, 1500 do core._metric_inc("luatrade_orders_placed_total", { method = ("m%04d"):format(i) }) end
  lt.spawn(function() while true do lt.sleep(1) end end)
  lt.log("info", "series made")
end }
]])
    local h = S.run_strategy(proc.url, "mx2", many, "--metrics-port 0 --stop-timeout 1 --cancel-timeout 1")
    local port = poll(function() return h.output():find("series made", 1, true)
      and h.output():match("metrics on http://127%.0%.0%.1:(%d+)/metrics") end, 15)
    local code, body = get("http://127.0.0.1:" .. tostring(port) .. "/metrics")
    h.signal("INT")
    local rc = h.rc(15)
    local out = h.output()
    h.cleanup()
    os.remove(many)
    assert.equal(200, code, out)
    assert.is_true(#body > 3 * 16384, "the page spans several writes: " .. #body)
    local n = select(2, body:gsub("\nluatrade_orders_placed_total{", ""))
    assert.is_true(n > 800 and n < 1024, "series: " .. n)
    local dropped = value(body, "luatrade_metrics_series_dropped_total")
    assert.is_true(dropped >= 1500 - n, "dropped: " .. tostring(dropped))
    assert.equal("luatrade_metrics_series_dropped_total " .. dropped .. "\n",
                 body:sub(-#("luatrade_metrics_series_dropped_total " .. dropped .. "\n")))
    assert.equal(0, rc, out)
  end)

  it("refuses a port that is not a port number, in one line", function()
    local h = S.run_strategy(proc.url, "mx2", path, "--metrics-port 70000")
    local rc = h.rc(15)
    local out = h.output()
    h.cleanup()
    assert.equal(2, rc, out)                       -- bad input
    assert.truthy(out:find("--metrics-port must be a port number 0..65535", 1, true), out)
    assert.falsy(out:find("traceback"), out)
  end)

  it("says so when the port is taken, or --metrics-addr comes alone", function()
    for _, case in ipairs{
      { "--metrics-port " .. proc.port, "metrics: cannot listen on 127.0.0.1 port " .. proc.port, 1 },
      { "--metrics-addr 127.0.0.1", "--metrics-addr needs --metrics-port N", 2 } } do
      local h = S.run_strategy(proc.url, "mx3", path, case[1])
      local rc = h.rc(15)
      local out = h.output()
      h.cleanup()
      assert.equal(case[3], rc, out)
      assert.truthy(out:find(case[2], 1, true), out)
    end
  end)

  it("says so when the address cannot be served", function()
    local h = S.run_strategy(proc.url, "mx3", path, "--metrics-port 0 --metrics-addr localhost")
    local rc = h.rc(15)
    local out = h.output()
    h.cleanup()
    assert.equal(1, rc, out)
    assert.truthy(out:find("metrics: the address must be a numeric IPv4 or IPv6 address, got 'localhost'", 1, true), out)
  end)
end)

describe("the metrics registry in process", function()
  local core = require "luatrade.core"
  local DROPPED = 'luatrade_subscription_dropped_total{client="public",reason="newest"}'

  it("counts the notifications a subscription's overflow policy dropped", function()
    local before, after, stats
    lt.run(function()
      local pub = lt.public{ venue = "sim", timeout = 5 }
      before = value(core._metrics_text(), DROPPED)
      local sub = assert(pub:subscribe("ticker.BTC-PERPETUAL.100ms", function() lt.sleep(0.5) end,
                                       { max_queue = 3 }))
      local deadline = lt.now() + 10
      while sub:stats().dropped < 3 and lt.now() < deadline do lt.sleep(0.1) end
      stats = sub:stats()
      after = value(core._metrics_text(), DROPPED)
      sub:close(); pub:close()
    end)
    assert.is_true(stats.dropped >= 3, "nothing was dropped")
    assert.equal(stats.dropped, after - before)
  end)

  it("lets Lua increment only the orders' counters, with exactly their labels", function()
    local text0 = core._metrics_text()
    core._metric_inc("luatrade_orders_placed_total", { method = "edit" })
    local n0 = value(text0, 'luatrade_orders_placed_total{method="edit"}') or 0
    assert.equal(n0 + 1, value(core._metrics_text(), 'luatrade_orders_placed_total{method="edit"}'))
    assert.has_error(function() core._metric_inc("luatrade_requests_total", { client = "public", method = "x" }) end,
      "metric_inc: 'luatrade_requests_total' is not a metric Lua may increment")
    assert.has_error(function() core._metric_inc("nope") end, "metric_inc: 'nope' is not a metric Lua may increment")
    assert.has_error(function() core._metric_inc("luatrade_orders_placed_total") end,
      "metric_inc: luatrade_orders_placed_total needs label 'method'")
    assert.has_error(function() core._metric_inc("luatrade_orders_placed_total", { method = 1 }) end,
      "metric_inc: luatrade_orders_placed_total: label 'method' must be a string")
    assert.has_error(function() core._metric_inc("luatrade_orders_placed_total", { method = "buy", x = "y" }) end,
      "metric_inc: luatrade_orders_placed_total has no label 'x'")
  end)

  it("says why it is unhealthy when there is no client", function()
    assert.same({ false, "no open client (not started, or shutting down)" }, { core._health() })
  end)
end)

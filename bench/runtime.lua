--- bench/runtime.lua — the benchmark's luatrade peer: the measurements bench/bare_client.c,
-- bench/raw_client.c and bench/node_client.js make, through luatrade's Lua API.
--
--     lua5.4 bench/runtime.lua PORT CA_FILE ROUNDTRIPS [react | rss [MSGS] | gc=on|gc=stop [PREFAULT_MIB]]
--
-- 1. firehose: one public client subscribes to ticker.BTC-PERPETUAL.raw on the firehose server
--    (bench/firehose_server.c); the handler reads best_bid_price and best_ask_price of every
--    notification until the {"end":true} marker. Timed from the subscribe call (the connection
--    is already open: one awaited call first) to the end marker in the handler.
-- 2. round trip: ROUNDTRIPS awaited pub:test{} calls, one at a time, each timed with lt.now().
--    The client's rate limiter (500 credits per call, 50,000 cap, 10,000/s refill) would hold
--    such a loop to ~20 calls/s and measure the limiter instead of the runtime: the client uses
--    rate_limit = "off" (allowed for loopback servers only).
-- 3. reaction (mode "react", what run-bench uses): a private client (rate_limit = "off", its
--    matching-engine bucket included; it authenticates with client_signature against the
--    server's public/auth) subscribes to ticker.BTC-PERPETUAL.100ms; the server sends one ticker
--    at a time and waits for the order; the handler, as a strategy would, calls
--    priv:buy{instrument_name, amount = 10, type = "limit", price = msg.best_bid_price,
--    post_only = true, label = "bench"} and awaits its result. The server times each reaction and
--    prints it; this side only checks every buy succeeded.
-- Prints "RESULT key=value ..." lines like the bare client: msgs/s, p50/p99 µs, the peak of
-- collectgarbage("count").
--
-- rss: the firehose only (run-bench gives it a 2,000,000-message server), printing VmRSS from
-- /proc/self/status before the subscribe, at the first notification, at the middle (MSGS / 2,
-- MSGS default 2,000,000: the server's stream length) and at the end marker
-- ("RESULT rss msgs=.. start_kib=.. first_kib=.. middle_kib=.. end_kib=..").
--
-- gc=on / gc=stop (a shorter run, firehose only, RSS not reported) estimate the collector's
-- share of the firehose time: both first allocate and free PREFAULT_MIB (default 160) of
-- strings so that, with glibc told not to trim (run-bench sets GLIBC_TUNABLES), the heap is
-- already faulted in; gc=stop then stops the collector for the firehose, gc=on leaves it
-- running. gc=stop also reports the garbage allocated per notification.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("LUATRADE_BUILD") or "build") .. "/?.so;" .. package.cpath

local lt = require "luatrade"

local port, ca_file, roundtrips, mode = tonumber(arg[1]), arg[2], tonumber(arg[3]), arg[4]
local prefault_mib = tonumber(arg[5]) or 160
local rss_half = (tonumber(arg[5]) or 2000000) // 2      -- mode rss: arg 5 is the stream's length
if not (port and ca_file and roundtrips) then
  io.stderr:write("usage: lua5.4 bench/runtime.lua PORT CA_FILE ROUNDTRIPS [react | rss [MSGS] | gc=on|gc=stop [PREFAULT_MIB]]\n")
  os.exit(2)
end

local URL = ("wss://127.0.0.1:%d/ws/api/v2"):format(port)
local CHANNEL = "ticker.BTC-PERPETUAL.raw"
local REACT_CHANNEL = "ticker.BTC-PERPETUAL.100ms"
local peak_kib = 0
local gc_mode = mode == "gc=on" or mode == "gc=stop"

-- VmRSS of this process in KiB.
local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local kib = tonumber(f:read("a"):match("VmRSS:%s*(%d+)"))
  f:close()
  return kib
end

local function sample_gc()
  local kib = collectgarbage("count")
  if kib > peak_kib then peak_kib = kib end
end

-- BENCH_FIELDS=1 (README "Lazy messages, and decoding only the fields a handler reads"): the
-- firehose subscribes with fields = the two keys its handler reads and the end marker's, so
-- the rest of each ticker is skipped by the decoder instead of becoming Lua values.
-- BENCH_LAZY=0: it subscribes with lazy = false, every field decoded into a plain table (the
-- decode before lazy messages).
local SUB_OPTS = os.getenv("BENCH_FIELDS") == "1"
  and { fields = { "best_bid_price", "best_ask_price", "end" } }
  or os.getenv("BENCH_LAZY") == "0" and { lazy = false } or nil

local function new_client(extra)
  local opts = { url = URL, ca_file = ca_file }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return lt.public(opts)
end

local function connected(pub)
  local r, err = pub:test{}
  if not r then error("bench: cannot reach the firehose server: " .. tostring(err), 0) end
  return pub
end

-- The firehose ends in its handler, which records the end time and spawns `after` to close the
-- subscription and go on. (Polling for the end with lt.sleep from the main task is avoided: a
-- sleep timer that expires just before the loop blocks in poll is only noticed when the next
-- I/O or internal lws timer arrives, up to ~30 s later once the stream has stopped.)
local function firehose(after)
  local pub = connected(new_client())
  local n, sum, sub = 0, 0.0, nil
  local kib0
  if mode == "gc=stop" then
    collectgarbage("stop")
    kib0 = collectgarbage("count")
  end
  local rss = mode == "rss" and { start = rss_kib() } or nil
  local t0 = lt.now()
  sub = assert(pub:subscribe(CHANNEL, function(msg)
    if msg["end"] then
      if rss then
        print(("RESULT rss msgs=%d start_kib=%d first_kib=%d middle_kib=%d end_kib=%d"):format(
          n, rss.start, rss.first, rss.middle or 0, rss_kib()))
      end
      local secs = lt.now() - t0
      sample_gc()
      if kib0 then
        print(("RESULT garbage_bytes_per_msg=%.0f"):format((collectgarbage("count") - kib0) * 1024 / n))
        collectgarbage("restart")
      end
      assert(sum > 0, "bench: the handler saw no spread")
      print(("RESULT firehose msgs=%d secs=%.3f rate=%.0f"):format(n, secs, n / secs))
      lt.spawn(function()
        sub:close()
        pub:close()
        after()
      end)
      return
    end
    local bid, ask = msg.best_bid_price, msg.best_ask_price
    sum = sum + (ask - bid)
    n = n + 1
    if n & 1023 == 0 then
      sample_gc()
      if rss and not rss.middle and n >= rss_half then rss.middle = rss_kib() end
    end
    if rss and n == 1 then rss.first = rss_kib() end
  end, SUB_OPTS))
end

local function timed_calls(pub, count, out)
  for _ = 1, count do
    local t0 = lt.now()
    local r, err = pub:test{}
    out[#out + 1] = (lt.now() - t0) * 1e6
    if not r then error("bench: public/test failed: " .. tostring(err), 0) end
  end
end

local function roundtrip()
  local us = {}
  local pub = connected(new_client({ rate_limit = "off" }))
  timed_calls(pub, roundtrips, us)
  pub:close()
  sample_gc()
  table.sort(us)
  local function q(p) return us[math.max(1, math.min(#us, math.ceil(p * #us)))] end
  print(("RESULT roundtrip n=%d p50_us=%.0f p99_us=%.0f limiter=off"):format(#us, q(0.50), q(0.99)))
end

-- The reaction loop: a strategy-like handler that buys at the ticker's best bid.
local function reaction()
  local priv = lt.private{ url = URL, ca_file = ca_file, client_id = "bench",
                           client_secret = lt.secret.env("LUATRADE_BENCH_SECRET"),
                           rate_limit = "off" }
  local orders, failed, sub = 0, nil, nil
  sub = assert(priv:subscribe(REACT_CHANNEL, function(msg)
    if msg["end"] then
      sample_gc()
      print(("RESULT react orders=%d%s"):format(orders, failed and (" failed=%q"):format(failed) or ""))
      lt.spawn(function()
        sub:close()
        priv:close()
      end)
      return
    end
    local r, err = priv:buy{ instrument_name = "BTC-PERPETUAL", amount = 10, type = "limit",
                             price = msg.best_bid_price, post_only = true, label = "bench" }
    if r then orders = orders + 1 else failed = failed or tostring(err) end
  end))
end

-- Fault in (and free) about mib MiB of heap, so a run with the collector stopped does not pay
-- page faults a collecting run would not.
local function prefault(mib)
  local junk = {}
  for i = 1, mib * 1024 do junk[i] = string.rep("x", 1000) .. i end
  junk = nil
  collectgarbage("collect")
end

if gc_mode then prefault(prefault_mib) end
lt.run(function()
  firehose(function()
    if mode == nil or mode == "react" then
      if roundtrips > 0 then roundtrip() end
      if mode == "react" then reaction() end
    end
  end)
end)
print(("RESULT lua_kib_peak=%.0f"):format(peak_kib))

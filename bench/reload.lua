--- bench/reload.lua — the hot-reload benchmark (`make bench`, after the firehose one).
--
--     lua5.4 bench/reload.lua BUILD [RELOADS]
--
-- Starts a venue process (`luatrade sim --tick-ms 1`) and `luatrade run` of a strategy with 10
-- subscriptions (ticker, book, trades, quote and a grouped book of BTC-PERPETUAL and
-- ETH-PERPETUAL; the venue publishes them every tick) whose handlers note the time of every notification. The file is rewritten
-- RELOADS times (default 20); for each switch the strategy logs
--   - pause: the gap in handler delivery across the switch (first notification handled by the
--     new version minus the last one handled by the old version), and
--   - the time from the file's change (noted here just before the write) to that first one.
-- The peer, measured in the same run against the same venue: a soft restart as other strategy
-- hosts do it (close the client, connect a new one, subscribe the same 10 channels), from the
-- close to the first notification, RELOADS times. Prints medians and the ratio; target: the
-- switch pauses delivery for less than 5 ms.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local BUILD = arg[1] or "build"
package.cpath = BUILD .. "/?.so;" .. package.cpath
local RELOADS = tonumber(arg[2]) or 20

local lt = require "luatrade"
lt.set_log_level("warn")            -- the peer's reconnects would log a line each

local CHANNELS = {}
for _, i in ipairs{ "BTC-PERPETUAL", "ETH-PERPETUAL" } do
  for _, c in ipairs{ "ticker.%s.100ms", "book.%s.100ms", "trades.%s.100ms", "quote.%s", "book.%s.none.10.100ms" } do
    CHANNELS[#CHANNELS + 1] = c:format(i)
  end
end

local STRATEGY = [[
local lt = require "luatrade"
local VERSION = @V@
local CHANNELS = { @CHANNELS@ }
local M = {}
local s
function M.start(ctx, state)
  s = state or { n = 0 }
  local function handler()
    local now = lt.now()
    if s.switched_at then
      ctx.log("info", "switch v%d pause_ms=%.3f first_at=%.6f", VERSION, (now - s.last) * 1000, now)
      s.switched_at = nil
    end
    s.last, s.n = now, s.n + 1
  end
  for _, ch in ipairs(CHANNELS) do assert(ctx.public:subscribe(ch, handler)) end
  ctx.log("info", "version %d running", VERSION)
end
function M.stop(ctx, reason)
  s.switched_at = lt.now()
  return s
end
return M
]]

local function read(path)
  local f = io.open(path)
  if not f then return "" end
  local t = f:read("a"); f:close()
  return t
end

local function write(path, text)
  local f = assert(io.open(path, "w")); f:write(text); f:close()
end

local function median(t)
  table.sort(t)
  local n = #t
  if n == 0 then return 0 end
  return n % 2 == 1 and t[(n + 1) / 2] or (t[n / 2] + t[n / 2 + 1]) / 2
end

local function wait_for(pred, seconds)
  local deadline = lt.now() + seconds
  while not pred() and lt.now() < deadline do lt.sleep(0.005) end
  return pred()
end

local dir = os.tmpname(); os.remove(dir); os.execute("mkdir -p " .. dir)
local quoted = {}
for i, c in ipairs(CHANNELS) do quoted[i] = ("%q"):format(c) end
local function version(v)
  return (STRATEGY:gsub("@V@", tostring(v)):gsub("@CHANNELS@", table.concat(quoted, ", ")))
end

local venue_pid = io.popen(("%s/luatrade sim --port 0 --tick-ms 1 > %s/sim.log 2>&1 & echo $!")
  :format(BUILD, dir)):read("l")
local port
for _ = 1, 100 do
  port = read(dir .. "/sim.log"):match("127%.0%.0%.1:(%d+)")
  if port then break end
  os.execute("sleep 0.05")
end
assert(port, "the venue did not start: " .. read(dir .. "/sim.log"))
local url = ("wss://127.0.0.1:%s/ws/api/v2"):format(port)
local path, log = dir .. "/strategy.lua", dir .. "/run.log"
write(path, version(0))
local run_pid = io.popen(("%s/luatrade run --url %s --ca-file build/sim/ca.pem %s > %s 2>&1 & echo $!")
  :format(BUILD, url, path, log)):read("l")

local pauses, latencies, soft = {}, {}, {}
local ok, err = pcall(lt.run, function()
  assert(wait_for(function() return read(log):find("version 0 running", 1, true) end, 20), read(log))
  lt.sleep(0.5)
  for v = 1, RELOADS do
    local t0 = lt.now()
    write(path, version(v))
    local line
    assert(wait_for(function()
      line = read(log):match("switch v" .. v .. " pause_ms=([%d.]+) first_at=([%d.]+)")
      return line
    end, 10), "reload " .. v .. ": " .. read(log):sub(-1500))
    local pause, first = read(log):match("switch v" .. v .. " pause_ms=([%d.]+) first_at=([%d.]+)")
    pauses[#pauses + 1] = tonumber(pause)
    latencies[#latencies + 1] = (tonumber(first) - t0) * 1000
    lt.sleep(0.2)
  end
  -- the peer: a soft restart (close, reconnect, resubscribe) against the same venue
  local last, first
  local function handler() local now = lt.now(); first = first or now; last = now end
  local function connect()
    local c = lt.public{ url = url, ca_file = "build/sim/ca.pem" }
    for _, ch in ipairs(CHANNELS) do assert(c:subscribe(ch, handler)) end
    return c
  end
  local pub = connect()
  for _ = 1, RELOADS do
    lt.sleep(0.2)
    local before = last
    pub:close()
    first = nil
    pub = connect()
    assert(wait_for(function() return first end, 10))
    soft[#soft + 1] = (first - before) * 1000
  end
  pub:close()
end)
os.execute("kill " .. run_pid .. " " .. venue_pid .. " 2>/dev/null")
os.execute("rm -rf " .. dir)
if not ok then io.stderr:write("bench/reload: ", tostring(err), "\n") os.exit(2) end

local max_pause = math.max(table.unpack(pauses))
local p, l, s = median(pauses), median(latencies), median(soft)
print(("\nhot reload: %d reloads of a strategy with %d subscriptions (venue tick 1 ms), medians"):format(RELOADS, #CHANNELS))
print(("%-44s %10.2f ms"):format("file change -> first notification handled", l))
print(("%-44s %10.2f ms   (max %.2f)   < 5 ms %s"):format("switch pause (delivery gap across it)", p, max_pause,
  p < 5 and "met" or "MISSED"))
print(("%-44s %10.2f ms"):format("peer: soft restart (reconnect + resubscribe)", s))
print(("%-44s %10.3f"):format("ratio switch pause / soft restart", p / s))

-- spec/logging_spec.lua — the runtime's debug log, through the luatrade command against a venue
-- process: connection events with the URL and the close code, each request's method, id and
-- duration, limiter waits, auth and subscription state changes, reconnect decisions; the json
-- format writes one parseable object per line (time, level, component, message, fields) for the
-- core's lines and the Lua side's alike; no secret or token in any of it.
local cjson = require "cjson"
local S = require "support"

local build = os.getenv("LUATRADE_BUILD") or "build"
local SECRET = "L0gSecretNeverPrinted77"

local STRATEGY = [[
local lt = require "luatrade"
local M = { private = true }
function M.start(ctx)
  local pub, priv = ctx.public, ctx.private
  assert(pub:ticker{ instrument_name = "BTC-PERPETUAL" })
  assert(priv:get_positions{ currency = "BTC" })
  local sub = assert(pub:subscribe("ticker.BTC-PERPETUAL.100ms", function() end))
  ctx.log("info", "strategy line %d", 42)
  pub:call("sim/fault", { action = "close", code = 4000, reason = "maintenance" }, 1)
  lt.sleep(1.5)
  assert(pub:ticker{ instrument_name = "BTC-PERPETUAL" })
  sub:close()
  print("done", pub:stats().reconnects)
end
return M
]]

local function run_session(venue, format)
  local path = venue.dir .. "/log_" .. format .. ".lua"
  S.write(path, STRATEGY)
  local cmd = ("DERIBIT_CLIENT_ID=logger DERIBIT_CLIENT_SECRET=%s %s/luatrade run --log-level debug "
    .. "--log-format %s --url %s --ca-file build/sim/ca.pem %s 2>&1"):format(SECRET, build, format,
    venue.url, path)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return out
end

local function no_secrets(out)
  assert.not_matches(SECRET, out, 1, true)
  -- the venue's tokens look like "<ms>.<32 hex>"
  assert.is_nil(out:match("%d%d%d%d%d%d%d%d%d%d%d%d%d%.%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x"), out)
end

describe("debug logging", function()
  local venue
  setup(function() venue = S.venue_process("--account logger:" .. SECRET .. " --token-expires 600") end)
  teardown(function() venue:stop() end)

  it("text: connection, request, auth, subscription and reconnect events, no secret", function()
    assert.is_string(venue.url)
    local out = run_session(venue, "text")
    assert.matches("done%s+[1-9]", out)
    local url = venue.url:gsub("%p", "%%%0")
    assert.matches("DEBUG " .. url .. ": connection opened", out)
    assert.matches("DEBUG public/ticker id %d+: sent", out)
    assert.matches("DEBUG public/ticker id %d+: result in %d+%.%d ms", out)
    assert.matches("DEBUG public/auth id %d+: result in", out)
    assert.matches("auth state authenticating %-> restoring", out)
    assert.matches("auth state restoring %-> authenticated", out)
    assert.matches("subscription confirmed: 1 channel%(s%) %(first: ticker.BTC%-PERPETUAL.100ms%)", out)
    assert.matches("closed by the venue %(code 4000: maintenance%); reconnecting in %d+ ms %(retry 1%)", out)
    assert.matches("subscription restored: 1 channel", out)
    assert.matches("INFO  strategy line 42", out, 1, true)
    no_secrets(out)
  end)

  it("json: one object per line with time, level, component, message, fields; no secret", function()
    local out = run_session(venue, "json")
    no_secrets(out)
    local events, n = {}, 0
    for line in out:gmatch("[^\n]+") do
      if line:match("^{") then
        local ok, ev = pcall(cjson.decode, line)
        assert.is_true(ok, "not JSON: " .. line)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", ev.time)
        assert.is_truthy(({ error = 1, warn = 1, info = 1, debug = 1 })[ev.level], line)
        assert.is_string(ev.component)
        assert.is_string(ev.message)
        assert.is_table(ev.fields)
        n = n + 1
        events[#events + 1] = ev
      else
        assert.matches("^done", line)  -- the strategy's print, the only other line
      end
    end
    assert.is_true(n > 10)
    local function find(pred)
      for _, ev in ipairs(events) do if pred(ev) then return ev end end
    end
    local opened = find(function(ev) return ev.component == "client" and ev.fields.state == "open" end)
    assert.is_table(opened)
    assert.equal(venue.url, opened.fields.url)
    local req = find(function(ev)
      return ev.component == "request" and ev.fields.method == "public/ticker" and ev.fields.ms
    end)
    assert.is_table(req)
    assert.equal("debug", req.level)
    assert.equal("result", req.fields.outcome)
    assert.is_number(req.fields.id)
    assert.is_true(req.fields.ms >= 0)
    local auth = find(function(ev) return ev.component == "auth" and ev.fields.to == "authenticated" end)
    assert.is_table(auth)
    local drop = find(function(ev) return ev.component == "client" and ev.fields.state == "reconnecting" end)
    assert.is_table(drop)
    assert.matches("code 4000", drop.fields.reason, 1, true)
    assert.is_number(drop.fields.delay_ms)
    local sub = find(function(ev)
      return ev.component == "subs" and ev.fields.event == "confirmed"
             and ev.fields.channel == "ticker.BTC-PERPETUAL.100ms"
    end)
    assert.is_table(sub)
    assert.equal(1, sub.fields.channels)
    local mine = find(function(ev) return ev.component == "strategy" end)
    assert.equal("strategy line 42", mine.message)
    assert.equal("info", mine.level)
    local runner = find(function(ev) return ev.component == "runner" or ev.component == "luatrade" end)
    assert.is_table(runner)
  end)

  it("a limiter wait is logged with the method and the wait", function()
    local path = venue.dir .. "/limiter.lua"
    S.write(path, [[
local lt = require "luatrade"
local M = {}
function M.start(ctx)
  local pub = ctx.public
  local done = 0
  for _ = 1, 130 do           -- 130 x 500 credits: more than the bucket's 50,000
    lt.spawn(function() pub:get_time(); done = done + 1 end)
  end
  while done < 130 do lt.sleep(0.05) end
  print("waited", done)
end
return M
]])
    local p = io.popen(("%s/luatrade run --log-level debug --url %s --ca-file build/sim/ca.pem %s 2>&1")
                       :format(build, venue.url, path))
    local out = p:read("a")
    p:close()
    assert.matches("waited", out, 1, true)
    assert.matches("DEBUG public/get_time waits %d+%.%d ms for the rate limiter %(pool %d%)", out)
  end)

  it("LUATRADE_LOG=debug and LUATRADE_LOG_FORMAT=json turn it on without options", function()
    local path = S.strategy_file([[
local M = {}
function M.start(ctx) assert(ctx.public:ticker{ instrument_name = "BTC-PERPETUAL" }) end
return M
]])
    local p = io.popen(("LUATRADE_LOG=debug LUATRADE_LOG_FORMAT=json %s/luatrade run %s 2>&1"):format(build, path))
    local out = p:read("a")
    p:close()
    local seen = false
    for line in out:gmatch("[^\n]+") do
      local ev = cjson.decode(line)
      if ev.component == "request" and ev.fields.method == "public/ticker" then seen = true end
    end
    assert.is_true(seen, out)
    -- and without them, no debug line
    p = io.popen(("%s/luatrade run %s 2>&1"):format(build, path))
    out = p:read("a")
    p:close()
    assert.not_matches("DEBUG", out, 1, true)
  end)
end)

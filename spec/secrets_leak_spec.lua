-- A full session at the most verbose log level, with a known secret and a token refresh, through
-- the luatrade command against the venue in another process: neither the secret nor any token
-- may appear anywhere in what the runtime prints (stdout, stderr, errors, tostring).
local SECRET = "Kn0wnS3cretValue42xyz"
local build = os.getenv("LUATRADE_BUILD") or "build"

local S = require "support"

describe("secrets and tokens", function()
  local venue, dir, port

  setup(function()
    venue = S.venue_process(("--account leaky:%s --token-expires 2"):format(SECRET))
    dir, port = venue.dir, venue.port
  end)

  teardown(function() venue:stop() end)

  local function session(extra)
    assert.is_string(port)
    local strategy = dir .. "/leak.lua"
    local f = assert(io.open(strategy, "w"))
    f:write([[
local lt = require "luatrade"
local M = {}
function M.start(ctx)
  local p = ctx.private
  print("client", tostring(p))
  assert(p:get_account_summary{ currency = "BTC" })
  local t = assert(ctx.public:ticker{ instrument_name = "BTC-PERPETUAL" })
  local r = assert(p:buy{ instrument_name = "BTC-PERPETUAL", amount = 10, type = "limit",
                          price = t.best_bid_price - 500, label = "leak-test" })
  print("order", r.order.order_id, r.order.order_state)
  print("cancel", p:cancel{ order_id = r.order.order_id })
  print("bad params", pcall(p.buy, p, { instrument_name = "BTC-PERPETUAL" }))
  print("venue error", p:cancel{ order_id = "nope" })
  lt.sleep(3)                                      -- the 2 s token is refreshed meanwhile
  print("after refresh", p:get_positions{ currency = "BTC" }, p:stats().token_refreshes)
  print("secret object", lt.secret.env("DERIBIT_CLIENT_SECRET"))
  error("a strategy error with a traceback")
end
return M
]])
    f:close()
    local cmd = ("DERIBIT_CLIENT_ID=leaky DERIBIT_CLIENT_SECRET=%s LUATRADE_LOG=debug "
              .. "%s/luatrade run --log-level debug %s --url wss://127.0.0.1:%s/ws/api/v2 "
              .. "--ca-file build/sim/ca.pem %s 2>&1"):format(SECRET, build, extra, port, strategy)
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    return out
  end

  local function check(out)
    assert.matches("authenticated as leaky", out, 1, true)  -- the session really ran
    assert.matches("public/auth id %d+: sent", out)           -- the debug level really ran
    local refreshes = tonumber(out:match("after refresh%s+table: %S+%s+(%d+)"))
    assert.is_true(refreshes ~= nil and refreshes >= 1, "no token refresh happened:\n" .. out)
    assert.matches("a strategy error", out, 1, true)
    assert.matches("<secret>", out, 1, true)
    assert.not_matches(SECRET, out, 1, true)
    -- the venue's tokens look like "<ms>.<32 hex>"; none may be printed
    assert.is_nil(out:match("%d%d%d%d%d%d%d%d%d%d%d%d%d%.%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x"))
  end

  it("never appear in the runtime's output at the debug log level", function()
    check(session("--log-format text"))
  end)

  it("never appear in the json log format at the debug level", function()
    local out = session("--log-format json")
    check(out)
    assert.matches('"component":"auth"', out, 1, true)
    assert.matches('"level":"debug"', out, 1, true)
  end)
end)

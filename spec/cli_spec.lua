-- spec/cli_spec.lua — exit statuses and one-line errors of `luatrade run`, running the real
-- command against a closed port, venue processes (TLS, plain ws://, stopped) and the built-in
-- venue: 0 a run that ended, 1 a runtime failure (could never connect, auth refused, start()
-- failed), 2 bad input (options, values, files, credentials, --config) with the usage hint.
-- Every failure prints exactly one "luatrade: ..." line and never a traceback.
local S = require "support"

local build = os.getenv("LUATRADE_BUILD") or "build"

-- Run `luatrade run ARGS` with env ("NAME=value ..."); returns exit status, output.
local function run(args, env)
  local out = os.tmpname()
  local _, _, code = os.execute(("env -u DERIBIT_CLIENT_ID -u DERIBIT_CLIENT_SECRET %s "
    .. "%s/luatrade run %s > %s 2>&1 < /dev/null"):format(env or "", build, args, out))
  local text = S.read(out) or ""
  os.remove(out)
  return code, text
end

-- The lines that are not log lines (a log line starts with a time or is a JSON object).
local function error_lines(out)
  local lines = {}
  for line in out:gmatch("[^\n]+") do
    if not line:match("^%d%d:%d%d:%d%d%.%d%d%d ") and not line:match("^{") then
      lines[#lines + 1] = line
    end
  end
  return lines
end

-- One failure line, "luatrade: ...", plus the usage hint for status 2; no traceback.
local function assert_one_line(code, out, want_code, pattern)
  assert.equal(want_code, code, out)
  assert.not_matches("stack traceback", out, 1, true)
  local lines = error_lines(out)
  assert.equal(want_code == 2 and 2 or 1, #lines, out)
  assert.matches("^luatrade", lines[1])
  assert.matches(pattern, lines[1], 1, true)
  if want_code == 2 then assert.matches("luatrade run --help", lines[2], 1, true) end
end

local TICKER = S.strategy_file([[
local M = {}
function M.start(ctx)
  local t, err = ctx.public:ticker{ instrument_name = "BTC-PERPETUAL" }
  print("ticker", t and t.last_price, err)
end
return M
]])

describe("luatrade run exit status", function()
  local tls, plain
  setup(function()
    tls = S.venue_process("--account cli1:secret-cli-1")
    plain = S.venue_process("--plain")
  end)
  teardown(function() tls:stop(); plain:stop() end)

  it("is 0 for a run that ended by itself", function()
    local code, out = run(TICKER)
    assert.equal(0, code, out)
    assert.matches("ticker%s+%d", out)
  end)

  describe("is 1 with one line when the clients could never connect:", function()
    it("a closed port (connection refused)", function()
      local code, out = run("--url wss://127.0.0.1:1/ws/api/v2 " .. TICKER)
      assert_one_line(code, out, 1, "cannot connect to wss://127.0.0.1:1/ws/api/v2: connection refused")
      assert.matches("is the venue running? check --url", out, 1, true)
    end)

    it("a self-signed venue without --ca-file (certificate not trusted)", function()
      assert.is_string(tls.url)
      local code, out = run("--url " .. tls.url .. " " .. TICKER)
      assert_one_line(code, out, 1, "certificate not trusted")
      assert.matches("pass --ca-file", out, 1, true)
    end)

    it("wss:// to a plain ws:// venue (TLS handshake failed)", function()
      local code, out = run(("--url wss://127.0.0.1:%s/ws/api/v2 %s"):format(plain.port, TICKER))
      assert_one_line(code, out, 1, "TLS handshake failed")
      assert.matches("--insecure-loopback", out, 1, true)
    end)

    it("a venue that accepts TCP and never answers (--connect-timeout)", function()
      local stopped = S.venue_process()
      os.execute("kill -STOP " .. stopped.pid)
      local code, out = run(("--url %s --ca-file build/sim/ca.pem --connect-timeout 1 %s")
                            :format(stopped.url, TICKER))
      os.execute("kill -CONT " .. stopped.pid)
      stopped:stop()
      assert_one_line(code, out, 1, "no connection within 1 s")
    end)

    it("a private client whose first authentication is refused", function()
      local code, out = run(("--url %s --ca-file build/sim/ca.pem %s"):format(tls.url,
        S.strategy_file([[
local M = { private = true }
function M.start(ctx) ctx.private:get_positions{ currency = "BTC" } end
return M
]])), "DERIBIT_CLIENT_ID=cli1 DERIBIT_CLIENT_SECRET=wrong-secret")
      assert_one_line(code, out, 1, "authentication refused")
      assert.not_matches("wrong-secret", out, 1, true)
    end)
  end)

  it("stays 0 when a venue connected once drops later: the client reconnects", function()
    local code, out = run(("--url %s --ca-file build/sim/ca.pem --connect-timeout 1 %s")
                          :format(tls.url, S.strategy_file([[
local lt = require "luatrade"
local M = {}
function M.start(ctx)
  lt.spawn(function()
    local pub = ctx.public
    assert(pub:ticker{ instrument_name = "BTC-PERPETUAL" })
    pub:call("sim/fault", { action = "close", code = 4000, reason = "maintenance" }, 1)
    lt.sleep(2)                                   -- past --connect-timeout
    assert(pub:ticker{ instrument_name = "BTC-PERPETUAL" })
    print("reconnected", pub:stats().reconnects, pub:state())
  end)
end
return M
]])))
    assert.equal(0, code, out)
    assert.matches("reconnected%s+[1-9]%d*%s+open", out)
  end)

  it("prints the failure as one JSON object with --log-format json", function()
    local code, out = run("--log-format json --url wss://127.0.0.1:1/ws/api/v2 " .. TICKER)
    assert.equal(1, code, out)
    local last
    for line in out:gmatch("[^\n]+") do
      assert.matches("^{", line)
      last = require("cjson").decode(line)
    end
    assert.equal("error", last.level)
    assert.equal("cli", last.component)
    assert.equal(1, last.fields.exit_status)
    assert.matches("^luatrade: cannot connect to wss://127.0.0.1:1/ws/api/v2: connection refused", last.message)
  end)

  it("is 1 with one line (file:line) when start() fails", function()
    local path = S.strategy_file("local M = {}\nfunction M.start(ctx)\n  error('no quotes today')\nend\nreturn M\n")
    local code, out = run(path)
    assert_one_line(code, out, 1, "strategy start failed: " .. path .. ":3: no quotes today")
  end)

  it("is 1 with one line when the strategy does not compile", function()
    local path = S.strategy_file("local M = {\nreturn M\n")
    local code, out = run(path)
    assert_one_line(code, out, 1, "cannot load strategy: " .. path .. ":")
  end)

  describe("is 2 with one line and the usage hint for bad input:", function()
    local cases = {
      { "an unknown option", "--bogus " .. TICKER, "unknown option --bogus" },
      { "a missing value", TICKER .. " --url", "--url needs a value" },
      { "a wrong --venue", "--venue moon " .. TICKER, "unknown venue 'moon'" },
      { "a bad number", "--stop-timeout soon " .. TICKER, "--stop-timeout: expected a number" },
      { "a negative number", "--connect-timeout -1 " .. TICKER, "--connect-timeout: expected a number" },
      { "a missing strategy file", "/nonexistent/s.lua", "cannot open /nonexistent/s.lua" },
      { "a missing --ca-file", "--url wss://127.0.0.1:1/ws/api/v2 --ca-file /nonexistent.pem " .. TICKER,
        "--ca-file: cannot open /nonexistent.pem" },
      { "a bad --log-level", "--log-level loud " .. TICKER, "--log-level: expected" },
      { "a bad --log-format", "--log-format xml " .. TICKER, "--log-format: expected text or json" },
      { "a url that is not ws(s)://", "--url http://127.0.0.1:1/ " .. TICKER, "--url: expected wss://" },
      { "plain ws:// without --insecure-loopback", "--url ws://127.0.0.1:1/ws/api/v2 " .. TICKER,
        "pass --insecure-loopback" },
      { "plain ws:// to a remote host", "--insecure-loopback --url ws://example.com/ws/api/v2 " .. TICKER,
        "ws://" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local code, out = run(c[2])
        assert_one_line(code, out, 2, c[3])
      end)
    end

    it("DERIBIT_CLIENT_ID without DERIBIT_CLIENT_SECRET, and the reverse", function()
      local code, out = run(TICKER, "DERIBIT_CLIENT_ID=someone")
      assert_one_line(code, out, 2, "DERIBIT_CLIENT_ID is set but no secret")
      code, out = run(TICKER, "DERIBIT_CLIENT_SECRET=Sup3rS3cret")
      assert_one_line(code, out, 2, "DERIBIT_CLIENT_ID is not set")
      assert.not_matches("Sup3rS3cret", out, 1, true)
    end)

    it("a --config file with an unknown key, a wrong type or a syntax error (file:line)", function()
      local cfg = os.tmpname()
      S.write(cfg, "venue = 'sim'\nconfig = { a = 1 }\nstop_timeot = 3\n")
      local code, out = run("--config " .. cfg .. " " .. TICKER)
      assert_one_line(code, out, 2, cfg .. ":3: unknown key 'stop_timeot'")
      S.write(cfg, "return {\n  venue = 'sim',\n  seed = 'one',\n}\n")
      code, out = run("--config " .. cfg .. " " .. TICKER)
      assert_one_line(code, out, 2, cfg .. ":3: seed must be a number, got string")
      S.write(cfg, "venue = 'sim'\nconfig = {\n")
      code, out = run("--config " .. cfg .. " " .. TICKER)
      assert_one_line(code, out, 2, cfg .. ":3:")
      S.write(cfg, "url = os.getenv('URL')\n")
      code, out = run("--config " .. cfg .. " " .. TICKER)
      assert_one_line(code, out, 2, cfg .. ":1:")
      S.write(cfg, "client = { client_secret = 'Sup3rS3cret' }\n")
      code, out = run("--config " .. cfg .. " " .. TICKER)
      assert_one_line(code, out, 2, cfg .. ":1: client.client_secret is not a client option")
      S.write(cfg, "risk = { max_postion = 10 }\n")
      code, out = run("--config " .. cfg .. " " .. TICKER)
      assert_one_line(code, out, 2, "--config: risk: unknown limit 'max_postion'")
      os.remove(cfg)
      code, out = run("--config " .. cfg .. " " .. TICKER)
      assert_one_line(code, out, 2, "--config: cannot open " .. cfg)
    end)
  end)

  describe("--config", function()
    local strategy = S.strategy_file([[
local M = {}
function M.start(ctx)
  print("config", ctx.config.spread, ctx.config.size, math.type(ctx.config.size))
  print("risk", ctx.risk:get().max_position)
  local t = assert(ctx.public:ticker{ instrument_name = "BTC-PERPETUAL" })
  print("ticker", t.last_price)
end
return M
]])

    it("gives the venue, client options, ctx.config and the risk limits (ctx.risk); the command line wins", function()
      local cfg = os.tmpname()
      S.write(cfg, ([[
url = "%s"
ca_file = "build/sim/ca.pem"
client = { timeout = 5, heartbeat = 15 }
config = { spread = 2.5, size = 10 }
risk = { max_position = 1000 }
]]):format(tls.url))
      local code, out = run(("--config %s --set spread=3 %s"):format(cfg, strategy))
      assert.equal(0, code, out)
      assert.matches("config%s+3%s+10%s+integer", out)  -- --set wins; the file's types stay
      assert.matches("risk%s+1000", out)
      assert.matches("ticker%s+%d", out)
      assert.matches("connected to " .. tls.url, out, 1, true)
      -- the command line's --url replaces the file's
      code, out = run(("--config %s --url wss://127.0.0.1:1/ws/api/v2 %s"):format(cfg, TICKER))
      assert_one_line(code, out, 1, "cannot connect to wss://127.0.0.1:1/ws/api/v2")
      os.remove(cfg)
    end)

    it("may name the strategy (return-a-table form)", function()
      local cfg = os.tmpname()
      S.write(cfg, ("return { strategy = %q, venue = 'sim', config = { size = 1 } }\n"):format(strategy))
      local code, out = run("--config " .. cfg)
      os.remove(cfg)
      assert.equal(0, code, out)
      assert.matches("config%s+nil%s+1%s+integer", out)
    end)
  end)

  it("luatrade sim --plain serves only on a loopback address", function()
    local out = os.tmpname()
    local _, _, code = os.execute(("%s/luatrade sim --plain --iface 0.0.0.0 --port 0 > %s 2>&1")
                                  :format(build, out))
    local text = S.read(out) or ""
    os.remove(out)
    assert.equal(1, code, text)
    assert.matches("plain ws:// only on a loopback iface", text, 1, true)
  end)

  it("--insecure-loopback reaches a plain ws:// venue on loopback", function()
    assert.is_string(plain.port)
    local url = ("ws://127.0.0.1:%s/ws/api/v2"):format(plain.port)
    local code, out = run(("--insecure-loopback --url %s %s"):format(url, TICKER))
    assert.equal(0, code, out)
    assert.matches("ticker%s+%d", out)
    assert.matches("connected to " .. url, out, 1, true)
  end)
end)

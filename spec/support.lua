-- spec/support.lua — small helpers shared by the specs.
local lt = require "luatrade"

local S = {}

-- The in-process venue, with accounts of their own for the specs that trade: the venue's rate
-- limits are per account, so tests sharing one account would spend each other's credits.
S.accounts = {}
do
  local list = {}
  for i = 1, 40 do
    S.accounts[i] = { id = "spec" .. i, secret = "spec-secret-" .. i }
    list[i] = S.accounts[i].id .. ":" .. S.accounts[i].secret
  end
  lt.sim.start(1, { accounts = table.concat(list, ",") })
end
local next_account = 0

--- A fresh account of the in-process venue: client_id, client_secret (plain strings).
function S.account()
  next_account = next_account % #S.accounts + 1
  return S.accounts[next_account].id, S.accounts[next_account].secret
end

--- Run fn inside lt.run with a public client on the built-in venue; returns what fn returned.
function S.with_public(fn, opts)
  local out
  lt.run(function()
    local o = { venue = "sim", timeout = 5 }
    for k, v in pairs(opts or {}) do o[k] = v end
    local pub = lt.public(o)
    out = table.pack(fn(pub))
    pub:close()
  end)
  return table.unpack(out, 1, out.n)
end

--- Wait (in a task) until pred() is true or `seconds` pass; returns pred()'s last value.
function S.wait_for(pred, seconds)
  local deadline = lt.now() + (seconds or 5)
  while not pred() and lt.now() < deadline do lt.sleep(0.02) end
  return pred()
end

--- A BTC-PERPETUAL bid that stays passive for the length of a spec: 500 USD (about 0.5 %) below
-- the best bid, then `ticks` more ticks (0.5 USD) to tell orders apart. The venue's index walks
-- about 2.8 USD a 100 ms tick, so a bid 20 USD below the touch was reached and filled within a
-- few seconds often enough to fail a spec (CI, 2026-12-02); 500 USD is ~30 sigma over 3 s.
-- Buys below the band are accepted (only buys above max_price are refused).
function S.passive_bid(client, ticks)
  local t = assert(client:ticker{ instrument_name = "BTC-PERPETUAL" })
  return t.best_bid_price - 500 - 0.5 * (ticks or 0)
end

--- Start `luatrade sim` as a process of its own with extra arguments (fresh accounts, fresh
-- server-side buckets). Returns a handle: .url, .port, .dir (a scratch folder), :stop().
function S.venue_process(args)
  local build = os.getenv("LUATRADE_BUILD") or "build"
  local v = { dir = os.tmpname() }
  os.remove(v.dir); os.execute("mkdir -p " .. v.dir)
  local p = io.popen(("%s/luatrade sim --port 0 %s > %s/sim.log 2>&1 & echo $!")
                     :format(build, args or "", v.dir))
  v.pid = p:read("l"); p:close()
  for _ = 1, 100 do
    local f = io.open(v.dir .. "/sim.log")
    local log = f and f:read("a") or ""
    if f then f:close() end
    v.port = log:match("127%.0%.0%.1:(%d+)")
    if v.port then break end
    os.execute("sleep 0.05")
  end
  v.url = v.port and ("wss://127.0.0.1:" .. v.port .. "/ws/api/v2")
  function v:stop()
    if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
    os.execute("rm -rf " .. self.dir)
  end
  return v
end

--- "--account P1:secret-P-1 --account P2:secret-P-2 ..." for a venue process: n accounts of
-- their own (the venue's limits are per account).
function S.account_args(prefix, n)
  local list = {}
  for i = 1, n do list[i] = ("--account %s%d:secret-%s-%d"):format(prefix, i, prefix, i) end
  return table.concat(list, " ")
end

local function merged(o, opts)
  for k, v in pairs(opts or {}) do o[k] = v end
  return o
end

--- Client makers for a venue process: url() gives its url (it may only be known in setup);
-- private(n, opts) logs in as account prefix..n of S.account_args(prefix, ...).
function S.clients_of(url, prefix)
  local C = {}
  function C.public(opts)
    return lt.public(merged({ url = url(), ca_file = "build/sim/ca.pem", timeout = 10 }, opts))
  end
  function C.private(n, opts)
    return lt.private(merged({ url = url(), ca_file = "build/sim/ca.pem", timeout = 30,
      client_id = prefix .. n, client_secret = ("secret-%s-%d"):format(prefix, n) }, opts))
  end
  return C
end

--- The contents of a file, or nil; write a file.
function S.read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a"); f:close()
  return s
end

function S.write(path, text)
  local f = assert(io.open(path, "w")); f:write(text); f:close()
end

local function sleep(s) if coroutine.isyieldable() then lt.sleep(s) else os.execute("sleep " .. s) end end

--- Start `luatrade run` as a process for account prefix..n of a venue process at url (n digits
-- last: "sd3" logs in as sd3 with secret-sd-3). Returns a handle: pid, signal(sig),
-- rc(seconds) (the exit status, nil while it runs), output(), cleanup(). env: "NAME=value ..."
-- for the process.
function S.run_strategy(url, account, strategy, args, env)
  local build = os.getenv("LUATRADE_BUILD") or "build"
  local h = { log = os.tmpname(), rcfile = os.tmpname(), pidfile = os.tmpname() }
  os.remove(h.rcfile)
  os.execute(("%s DERIBIT_CLIENT_ID=%s DERIBIT_CLIENT_SECRET=secret-%s sh -c '%s/luatrade run --url %s"
    .. " --ca-file build/sim/ca.pem %s %s > %s 2>&1 & echo $! > %s; wait $!; echo $? > %s' < /dev/null > /dev/null 2>&1 &")
    :format(env or "", account, (account:gsub("(%a+)(%d+)", "%1-%2")), build, url, args or "", strategy,
            h.log, h.pidfile, h.rcfile))
  for _ = 1, 100 do
    h.pid = (S.read(h.pidfile) or ""):match("%d+")
    if h.pid then break end
    sleep(0.02)
  end
  assert(h.pid, "luatrade run did not start")
  function h.signal(sig) os.execute(("kill -%s %s 2>/dev/null"):format(sig or "INT", h.pid)) end
  function h.rc(seconds)
    local deadline = lt.now() + (seconds or 0)
    repeat
      local rc = (S.read(h.rcfile) or ""):match("%d+")
      if rc then return tonumber(rc) end
      sleep(0.05)
    until lt.now() > deadline
    return nil
  end
  function h.output() return S.read(h.log) or "" end
  function h.cleanup()
    if not h.rc(0) then h.signal("KILL") end
    os.remove(h.log); os.remove(h.rcfile); os.remove(h.pidfile)
  end
  return h
end

--- A strategy file with this source in a fresh temp dir; returns its path.
function S.strategy_file(src)
  local path = os.tmpname() .. ".lua"
  S.write(path, src)
  return path
end

return S

-- spec/venue.lua — venue-side checks for specs: thin wrappers over the built-in venue's test
-- controls (sim/stats, sim/fault; documented in src/sim/stats.c and src/sim/faults.c) and a
-- venue process that can be killed and restarted on the same port. The point is to verify on
-- the other side: ask the venue what it received instead of trusting the client's own account.
--
--     local venue = require "venue"
--     local st = assert(venue.stats(pub, "spec7"))         -- counters of account spec7
--     assert.equal(1, venue.label_count(pub, "spec7", "mm-1"))  -- the order went out once
--     venue.blackhole(priv, 2000)                            -- the venue goes silent 2 s
--
-- `client` is any lt.public / lt.private client of that venue (sim/ controls need no auth).
-- Calls that wait for the venue must run inside a task (lt.run / lt.spawn). Failures return
-- nil, err (err from client:call); misuse raises.
local lt = require "luatrade"

local M = { _VERSION = "venue 0.1.0" }

local function check_client(client, level)
  if type(client) ~= "userdata" and type(client) ~= "table" then
    error("a client is required", level + 1)
  end
end

-- client:call, result or nil, err
local function control(client, method, params, timeout)
  check_client(client, 3)
  return client:call(method, params or {}, timeout)
end

--- venue.stats(client [, account [, timeout]]): the sim/stats object for account (a client_id),
-- or, without it, for unauthenticated traffic plus the venue-wide counters. Fields: connections,
-- connections_total, auths, refreshes, rate_limited, discarded, malformed, requests{method=n},
-- subscribes{channel=n}, unsubscribes{channel=n}, labels{label=n}, overflow{...},
-- connection_ids[], authenticated[], cancel_on_disconnect[], subscriptions[[...]] (one element
-- per open connection, oldest first); without account also flapped, flap_pending,
-- unauthenticated.
function M.stats(client, account, timeout)
  if account ~= nil and type(account) ~= "string" then error("account must be a string", 2) end
  return control(client, "sim/stats", { account = account }, timeout)
end

--- venue.reset(client [, account]): like stats, then the venue zeroes those counters.
function M.reset(client, account, timeout)
  if account ~= nil and type(account) ~= "string" then error("account must be a string", 2) end
  return control(client, "sim/stats", { account = account, reset = true }, timeout)
end

-- n of map[key] in the account's stats plus the unauthenticated ones (a request sent before the
-- connection authenticated counts there).
local function both(client, account, map, key)
  if type(key) ~= "string" then error(map .. " key must be a string", 3) end
  local total = 0
  for _, who in ipairs(account and { account, false } or { false }) do
    local st, err = M.stats(client, who or nil)
    if not st then return nil, err end
    total = total + ((st[map] or {})[key] or 0)
  end
  return total
end

--- venue.label_count(client, account, label): how many private/buy, sell or edit requests with
-- this label reached the venue, from connections of account or not yet authenticated ones —
-- whatever then happened to them (rejected, stalled, blackholed, rate-limited). 1 = sent once.
function M.label_count(client, account, label) return both(client, account, "labels", label) end

--- venue.request_count(client, account, method): requests of method that reached the venue.
function M.request_count(client, account, method) return both(client, account, "requests", method) end

--- venue.subscribe_count(client, account, channel): how often channel was named in a subscribe.
function M.subscribe_count(client, account, channel)
  return both(client, account, "subscribes", channel)
end

--- venue.fault(client, action [, params]): sim/fault {action=..., ...} awaited ("ok").
function M.fault(client, action, params)
  local p = {}
  for k, v in pairs(params or {}) do p[k] = v end
  p.action = action
  return control(client, "sim/fault", p)
end

-- Controls that get no answer (the connection goes silent or closes): sent from a task of their
-- own, which ends when the client fails the call (connection lost, or its timeout).
local function unanswered(client, params)
  check_client(client, 3)
  lt.spawn(function() client:call("sim/fault", params) end)
  return true
end

--- venue.blackhole(client [, ms]): from now on the venue sends nothing on this client's
-- connection and discards what arrives, for ms milliseconds (nil/0: until it closes); the
-- connection stays open. Returns at once (the request itself is never answered).
function M.blackhole(client, ms)
  if ms ~= nil and math.type(ms) ~= "integer" then error("ms must be an integer", 2) end
  return unanswered(client, { action = "blackhole", ms = ms })
end

--- venue.freeze(client, ms): like blackhole, but the venue does not even read the socket for
-- ms milliseconds (WebSocket pings get no pong: a stopped process); afterwards what the client
-- sent meanwhile is processed late. Returns at once.
function M.freeze(client, ms)
  if math.type(ms) ~= "integer" or ms < 1 then error("ms must be a positive integer", 2) end
  return unanswered(client, { action = "blackhole", mode = "freeze", ms = ms })
end

--- venue.close(client [, code [, reason]]): the venue closes this connection with a close frame
-- (code default 1000; 1000-1003, 1007-1011, 3000-4999). Returns at once.
function M.close(client, code, reason)
  return unanswered(client, { action = "close", code = code, reason = reason })
end

--- venue.drop(client): the venue drops the TCP connection without a close frame.
function M.drop(client) return unanswered(client, { action = "drop" }) end

--- venue.flap(client, count [, code [, reason]]): the next count new connections are accepted
-- and closed at once (no close frame unless code is given). Awaited.
function M.flap(client, count, code, reason)
  return M.fault(client, "flap", { count = count, code = code, reason = reason })
end

--- venue.revoke_tokens(client [, account]): revoke every token of account (default: the one
-- this client's connection authenticated as); its connections get 13009 until they
-- authenticate again. Awaited.
function M.revoke_tokens(client, account)
  return M.fault(client, "revoke_tokens", { account = account })
end

-- ---- a venue process ---------------------------------------------------------------------

local function pause(s)
  if coroutine.isyieldable() then lt.sleep(s) else os.execute("sleep " .. s) end
end

local function read_file(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("a"); f:close()
  return s
end

-- Gone, or a zombie (its sockets are closed then).
local function gone(pid)
  local stat = io.open("/proc/" .. pid .. "/stat")
  if stat then
    local s = stat:read("a"); stat:close()
    return s:match("^%d+ %b() (%a)") == "Z"
  end
  return not os.execute("kill -0 " .. pid .. " 2>/dev/null")
end

local Process = {}
Process.__index = Process
Process.__name = "venue.Process"
function Process:__tostring()
  return ("venue.Process(pid %s, %s)"):format(tostring(self.pid), tostring(self.url))
end

-- One start on self.port (0 the first time = any free port): true, or nil, log text.
local function start_once(self)
  self.starts = self.starts + 1
  self.log = ("%s/sim-%d.log"):format(self.dir, self.starts)
  local p = io.popen(("exec %s/luatrade sim --port %d %s > %s 2>&1 & echo $!")
                     :format(self.build, self.port, self.args, self.log))
  self.pid = p:read("l"); p:close()
  for _ = 1, 200 do
    local log = read_file(self.log)
    local port = log:match("listening on wss://[%d.]+:(%d+)")
    if port then
      self.port = tonumber(port)
      self.url = ("wss://127.0.0.1:%d/ws/api/v2"):format(self.port)
      return true
    end
    if log:find("cannot listen", 1, true) or gone(self.pid) then return nil, log end
    pause(0.025)
  end
  return nil, read_file(self.log)
end

--- p:kill([signal]): signal "KILL" (default) or "TERM"; returns once the process is gone.
function Process:kill(signal)
  if not self.pid then return true end
  os.execute(("kill -%s %s 2>/dev/null"):format(signal or "KILL", self.pid))
  for _ = 1, 400 do
    if gone(self.pid) then self.pid = nil; return true end
    pause(0.025)
  end
  return nil, "venue process " .. self.pid .. " did not end"
end

--- p:restart(): kill it (SIGKILL) if running, start it again on the same port; retries while
-- the port is still held (up to ~5 s). Returns true, or nil and the venue's log.
function Process:restart()
  local ok, err = self:kill("KILL")
  if not ok then return nil, err end
  local deadline = os.time() + 6
  repeat
    ok, err = start_once(self)
    if ok then return true end
    pause(0.1)
  until os.time() > deadline
  return nil, err
end

--- p:stop(): SIGTERM, wait, remove its scratch folder. Idempotent.
function Process:stop()
  self:kill("TERM")
  if self.dir then os.execute("rm -rf " .. self.dir); self.dir = nil end
end

--- venue.process{ port = P, args = "--account id:secret ..." }: start `luatrade sim` as its own
-- process (port 0/nil: any free port, then kept across restarts). Returns a handle with .url,
-- .port, .pid, .log (path of the current log) and :kill(sig), :restart(), :stop(); or nil, log.
function M.process(opts)
  opts = opts or {}
  if opts.port ~= nil and math.type(opts.port) ~= "integer" then
    error("port must be an integer", 2)
  end
  local self = setmetatable({
    build = opts.build or os.getenv("LUATRADE_BUILD") or "build",
    args = opts.args or "", port = opts.port or 0, starts = 0, dir = os.tmpname(),
  }, Process)
  os.remove(self.dir); os.execute("mkdir -p " .. self.dir)
  local ok, err = start_once(self)
  if not ok then self:stop(); return nil, err end
  return self
end

return M

--- luatrade.cli — the options of `luatrade run`: the --config file, merging it with the command
-- line (the command line wins), and checking every value before anything starts. A bad value
-- raises a usage error: a table { exit = 2, message = "one line" } (runner.main prints it).
--
-- The config file is Lua, run in an empty environment (no globals: no os, io, require), either
-- returning a table or assigning the keys as globals:
--
--     -- run.lua
--     venue = "testnet"                 -- or url = "wss://...", ca_file = "ca.pem"
--     client = { timeout = 5, heartbeat = 15, tier = "auto" }   -- lt.public / lt.private options
--     config = { spread = 2.5, size = 10 }  -- the strategy's ctx.config (--set KEY=V wins)
--     risk = { max_position = 1000 }        -- the run's risk limits (ctx.risk, luatrade.risk)
--     stop_timeout = 5
--
-- Keys: strategy (the file, when none is given on the command line), venue, url, ca_file,
-- insecure_loopback, seed, secret_file, log_level, log_format, kill_file, metrics_port,
-- metrics_addr, stop_timeout, start_timeout,
-- cancel_timeout, connect_timeout, keep_orders, no_watch, client, config, risk. An unknown key, a
-- value of the wrong type or a file that does not compile raises naming file:line. Credentials
-- never go in the file: DERIBIT_CLIENT_ID with DERIBIT_CLIENT_SECRET or --secret-file.
-- No rate limit applies.
local M = { _VERSION = "cli 0.1.0" }

local STRING = { strategy = true, venue = true, url = true, ca_file = true, secret_file = true,
                 log_level = true, log_format = true, kill_file = true, metrics_addr = true }
local NUMBER = { seed = true, stop_timeout = true, start_timeout = true, cancel_timeout = true,
                 connect_timeout = true, metrics_port = true }
local BOOLEAN = { insecure_loopback = true, keep_orders = true, no_watch = true }
local TABLE = { client = true, config = true, risk = true }
local FLAG = { ca_file = "--ca-file", secret_file = "--secret-file", seed = "--seed",
               stop_timeout = "--stop-timeout", start_timeout = "--start-timeout",
               cancel_timeout = "--cancel-timeout", connect_timeout = "--connect-timeout",
               log_level = "--log-level", log_format = "--log-format", venue = "--venue",
               url = "--url", metrics_port = "--metrics-port" }

-- client options a config file may give (lt.public's and lt.private's, no credentials)
local CLIENT = { timeout = true, heartbeat = true, dead_after = true, reconnect = true,
                 rate_limit = true, max_message = true, tier = true, answer_test_request = true,
                 grant = true, scope = true, refresh_fraction = true, auth_timeout = true }
M.PRIVATE_ONLY = { grant = true, scope = true, refresh_fraction = true, auth_timeout = true }

--- cli.usage(message): raise the usage error (exit status 2) with this one line.
function M.usage(message) error({ exit = 2, message = message }, 0) end

-- The line of `key =` in the file's text (for messages about values), or nil.
local function line_of(text, key)
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:match("^%s*" .. key .. "%s*=") or line:match("[{,]%s*" .. key .. "%s*=") then return n end
  end
end

local function keys_of(...)
  local list = {}
  for _, set in ipairs({ ... }) do for k in pairs(set) do list[#list + 1] = k end end
  table.sort(list)
  return table.concat(list, ", ")
end

--- cli.load_config(path) -> table of options; raises a usage error "path:line: what is wrong".
-- Example: `local o = cli.load_config("run.lua")`.
function M.load_config(path)
  local f, ferr = io.open(path)
  if not f then M.usage("--config: cannot open " .. tostring(ferr)) end
  local text = f:read("a") or ""
  f:close()
  local env = {}
  local chunk, err = load(text, "@" .. path, "t", env)
  if not chunk then M.usage("--config: " .. err) end
  local ok, res = pcall(chunk)
  if not ok then M.usage("--config: " .. tostring(res)) end
  if res ~= nil and type(res) ~= "table" then
    M.usage(("--config: %s: the file must return a table or assign keys (it returned a %s)")
            :format(path, type(res)))
  end
  local t = res or env
  for k, v in pairs(t) do
    local where = path .. ":" .. (line_of(text, tostring(k)) or "?")
    local want = STRING[k] and "string" or NUMBER[k] and "number" or BOOLEAN[k] and "boolean"
                 or TABLE[k] and "table"
    if not want then
      M.usage(("--config: %s: unknown key '%s' (known: %s)"):format(where, tostring(k),
              keys_of(STRING, NUMBER, BOOLEAN, TABLE)))
    end
    if type(v) ~= want then
      M.usage(("--config: %s: %s must be a %s, got %s"):format(where, k, want, type(v)))
    end
    if k == "client" then
      for ck in pairs(v) do
        if not CLIENT[ck] then
          M.usage(("--config: %s: client.%s is not a client option here (known: %s; "
                   .. "credentials come from DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET or "
                   .. "--secret-file)"):format(path .. ":" .. (line_of(text, tostring(ck)) or "?"),
                   tostring(ck), keys_of(CLIENT)))
        end
      end
    end
  end
  return t
end

--- cli.merge(file, cmdline) -> options: the command line's values win; config tables merge
-- key by key (--set KEY=VALUE over the file's config.KEY).
function M.merge(file, cmd)
  local o = {}
  for k, v in pairs(file or {}) do o[k] = v end
  for k, v in pairs(cmd) do if k ~= "config" then o[k] = v end end
  local conf = {}
  for k, v in pairs((file or {}).config or {}) do conf[k] = v end
  for k, v in pairs(cmd.config or {}) do conf[k] = v end
  o.config = conf
  if cmd.url and not cmd.venue then o.venue = nil end   -- --url replaces the file's venue
  if cmd.venue and not cmd.url then o.url = nil end
  return o
end

local function readable(path, flag)
  local f, err = io.open(path)
  if not f then M.usage(("%s: cannot open %s"):format(flag, tostring(err))) end
  f:close()
end

--- cli.check(opts) -> opts with numbers converted; raises a usage error on the first bad value.
function M.check(o)
  for k in pairs(NUMBER) do
    if o[k] ~= nil then
      local n = tonumber(o[k])
      if not n or n < 0 or n ~= n or n == math.huge then
        M.usage(("%s: expected a number >= 0, got '%s'"):format(FLAG[k], tostring(o[k])))
      end
      o[k] = n
    end
  end
  if o.seed and math.type(o.seed) ~= "integer" and o.seed ~= math.floor(o.seed) then
    M.usage(("--seed: expected a whole number, got '%s'"):format(tostring(o.seed)))
  end
  if o.connect_timeout == 0 then M.usage("--connect-timeout: must be more than 0 seconds") end
  if o.risk ~= nil then
    local ok, why = require("luatrade.risk").validate(o.risk)
    if not ok then M.usage("--config: risk: " .. why) end
  end
  if o.venue ~= nil and o.venue ~= "sim" and o.venue ~= "testnet" and o.venue ~= "mainnet" then
    M.usage(("--venue: unknown venue '%s' (sim, testnet or mainnet)"):format(tostring(o.venue)))
  end
  if o.log_level ~= nil and not ({ error = 1, warn = 1, info = 1, debug = 1 })[o.log_level] then
    M.usage(("--log-level: expected error, warn, info or debug, got '%s'"):format(o.log_level))
  end
  if o.log_format ~= nil and o.log_format ~= "text" and o.log_format ~= "json" then
    M.usage(("--log-format: expected text or json, got '%s'"):format(o.log_format))
  end
  if o.url then
    local scheme = o.url:match("^(%a+)://[^/]")
    if scheme ~= "wss" and scheme ~= "ws" then
      M.usage(("--url: expected wss://host[:port]/path, got '%s'"):format(o.url))
    end
    if scheme == "ws" and not o.insecure_loopback then
      M.usage(("--url: %s is plain ws://: pass --insecure-loopback to allow it (loopback "
               .. "hosts only)"):format(o.url))
    end
  end
  if o.ca_file then readable(o.ca_file, "--ca-file") end
  if o.secret_file then readable(o.secret_file, "--secret-file") end
  if not o.path then M.usage("no strategy file given") end
  readable(o.path, "strategy")
  local id, secret = os.getenv("DERIBIT_CLIENT_ID"), os.getenv("DERIBIT_CLIENT_SECRET")
  local has_secret = secret ~= nil or o.secret_file ~= nil
  if id and not has_secret then
    M.usage("DERIBIT_CLIENT_ID is set but no secret: set DERIBIT_CLIENT_SECRET or pass --secret-file")
  elseif has_secret and not id then
    M.usage((o.secret_file and "--secret-file" or "DERIBIT_CLIENT_SECRET")
            .. " is given but DERIBIT_CLIENT_ID is not set: set it to the key's client id")
  end
  return o
end

return M

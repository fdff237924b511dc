--- luatrade — write Deribit trading strategies in Lua on a C core.
--
-- Every awaitable call (client methods, lt.sleep, subscribe) suspends only the calling task
-- until the venue answers, an error or the timeout arrives; other tasks keep running. Calls
-- fail with `nil, err` (err.code, err.name, err.message, err.kind, err.retryable); invalid
-- parameters raise an error naming the parameter; an awaitable called outside a task raises.
--
--     local lt = require "luatrade"
--     lt.run(function()
--       local pub = lt.public{ venue = "sim" }
--       local t, err = pub:ticker{ instrument_name = "BTC-PERPETUAL" }
--       if not t then print(err) return end
--       print(t.best_bid_price, t.best_ask_price)
--     end)
local core = require "luatrade.core"

local M = { _VERSION = "luatrade 0.1.0" }

--- JSON null as it arrives from the venue (same value as cjson.null).
M.null = core.null

--- lt.plain(v): a lazy object (tostring "luatrade.object: 0x...", a table whose fields are
-- decoded when read; src/json_lazy.h) as a plain table with the same pairs, for cjson.encode,
-- next and rawget, which see only what was written into a lazy object; any other value is
-- returned as it is. Raises for lazy objects nested deeper than 64 (a cycle).
-- Example: `print(cjson.encode(lt.plain(msg)))`. No rate limit applies.
M.plain = core.plain

--- lt.run(fn [, on_signal]): run fn as the main task, and the event loop until fn and every
-- task it spawned (subscription handlers included) have ended, or SIGINT/SIGTERM arrives. Then
-- every client is closed. With on_signal, a first signal does not end the loop: on_signal(
-- "SIGINT" | "SIGTERM") runs as a task inside it (it may await: cancel orders, flush) and the
-- loop ends when that task ends; a second signal exits the process at once (status 130).
-- Re-raises fn's error (with the task's traceback). Returns true, or false when interrupted.
-- Example: `lt.run(function() lt.sleep(1) end, function(sig) cleanup() end)`. No rate limit
-- applies.
M.run = core.run

--- lt.spawn(fn, ...): start fn(...) as a new task; returns its id. Errors in it are logged
-- with a traceback and end only that task. Only inside lt.run.
-- Example: `lt.spawn(function() lt.sleep(1); print("later") end)`.
M.spawn = core.spawn

--- lt.sleep(seconds): suspend the calling task for `seconds` (>= 0). Raises outside a task.
-- Example: `lt.sleep(0.5)`.
M.sleep = core.sleep

--- lt.now(): wall-clock seconds since the epoch, with microseconds. Example: `local t0 = lt.now()`.
M.now = core.now

--- lt.log(level, fmt, ...): log a line at "error", "warn", "info" or "debug".
-- Example: `lt.log("info", "spread %.1f", ask - bid)`.
function M.log(level, fmt, ...)
  core.log(level, select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt))
end

--- lt.set_log_level(level): "error", "warn", "info" (default) or "debug".
M.set_log_level = core.set_log_level

--- lt.set_log_format(format): "text" (default) or "json" (one JSON object per line: time,
-- level, component, message, fields). Raises on another name. Example: `lt.set_log_format("json")`.
M.set_log_format = core.set_log_format

local sim = {}
M.sim = sim

--- lt.sim.start([seed [, opts]]): start the built-in venue in this process (once; later calls
-- return the same one) and return its url and the CA file that verifies its certificate.
-- opts.accounts = "id:secret,id:secret" adds accounts besides the demo account.
-- Example: `local url, ca = lt.sim.start(1, { accounts = "alice:s3cret" })`.
function sim.start(seed, opts) return core.sim_start(seed, opts) end

-- The handler task of every subscription: messages in order, one at a time, as
-- handler(msg, sub, channel); a handler that raises is logged with its traceback and keeps
-- receiving. A task ended by a reload (core._cancelled()) ends here too, quietly.
function core._pump(sub, handler)
  while true do
    local msg, channel = core.sub_next(sub)
    if msg == nil then return end
    local ok, err = xpcall(handler, debug.traceback, msg, sub, channel)
    if not ok then
      if core._cancelled() then error(err, 0) end
      core.log("error", "subscription handler failed: " .. tostring(err))
    end
  end
end
core._set_pump(core._pump)

--- lt.sim.demo_account(): the in-process venue's ready demo account: client_id (string) and
-- client_secret (a secret object). Starts the venue if needed.
-- Example: `local id, secret = lt.sim.demo_account()`.
function sim.demo_account() return core.sim_demo_account() end

--- lt.secret.env(NAME) (then unsets NAME), lt.secret.file(PATH): opaque secrets. tostring gives
-- "<secret>"; the value can never be read back from Lua and is wiped from memory when the
-- object is collected (or on secret:wipe()). file() raises if the file is readable by group or
-- others. Example: `client_secret = lt.secret.env("DERIBIT_CLIENT_SECRET")`.
M.secret = core.secret

local function resolve_venue(opts, who)
  if type(opts) ~= "table" then error(who .. ": expected an options table", 3) end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  local venue = o.venue
  if venue == nil and o.url == nil then venue = "sim" end
  o.venue = nil
  if venue == "sim" then
    if o.url then error(who .. ": give either venue or url, not both", 3) end
    o.url, o.ca_file = core.sim_start()
  elseif venue == "testnet" then
    o.url = o.url or "wss://test.deribit.com/ws/api/v2"
  elseif venue == "mainnet" then
    o.url = o.url or "wss://www.deribit.com/ws/api/v2"
  elseif venue ~= nil then
    error(who .. ": unknown venue '" .. tostring(venue) .. "' (sim, testnet or mainnet)", 3)
  end
  return o
end

--- lt.public(opts): a public (market-data) client. It takes no credentials: passing any
-- (client_id, client_secret, access_token, ...) raises. Only inside lt.run.
--   opts.venue     "sim" (default: the built-in venue in this process), "testnet", "mainnet";
--                  any other name raises
--   opts.url       wss://host/ws/api/v2 instead of venue; opts.ca_file for a private CA
--   opts.timeout   default per-call timeout in seconds (10): the whole budget of a call,
--                  waiting for the connection, authentication and the limiter included
--   opts.heartbeat public/set_heartbeat interval sent after every (re)connect: seconds >= 10
--                  (default 10; less raises) or false
--   opts.dead_after seconds of silence that declare the connection dead (default twice the
--                  heartbeat): it is dropped, calls in flight fail with connection_lost,
--                  on_state gets "reconnecting" with a reason starting "dead:"
--   opts.reconnect true (default), false, or { base = 0.25, cap = 30, stable = 10 }: full
--                  jitter backoff that resets only after `stable` seconds of being ready
--   opts.rate_limit "wait" (default: calls wait their turn, FIFO) or "error" (nil, err at once
--                  with err.kind == "rate_limit" and err.retry_after); "off" only for a server
--                  on a loopback address (benchmarks), refused for any other url
--   opts.insecure_loopback allow ws:// to a loopback address (127.0.0.0/8, ::1, localhost)
-- Errors carry err.sent: false when the request never left (not_sent with the reason,
-- request_too_large over 32 kB, rate_limited, a timeout while waiting), true when it did
-- (connection_lost, timeouts of sent requests: the outcome is unknown). call("public/auth")
-- and private/ methods raise on a public client.
-- Methods (each awaitable, each takes an optional timeout in seconds as last argument):
--   hello, test, get_time, set_heartbeat, disable_heartbeat, get_instruments, get_instrument,
--   ticker, get_order_book, get_index_price, unsubscribe, unsubscribe_all: the venue method
--   of that name with a params table; subscribe(channels, handler [, {timeout, max_queue,
--   fields, lazy}]) (handler(msg, sub, channel) runs in one task per subscription, messages in
--   order; an object message is a lazy table: each field is decoded, typed, when first read;
--   it reads, iterates (pairs) and keeps as a table, but next, rawget and cjson.encode need
--   lt.plain(msg) first; lazy = false decodes every field at once into plain tables (else
--   "subscribe: lazy: expected a boolean");
--   fields = { "best_bid_price", "best_ask_price" } decodes only those keys of each message's
--   data (of each object of array data such as trades), typed as without it, the other keys
--   never becoming Lua values (still parsed and UTF-8-checked): 1 to 64 distinct names of 1 to
--   64 bytes, else subscribe raises "subscribe: fields: ..."; an incremental book
--   (book.I.interval) must keep "type")
--   -> subscription (sub:close(), sub:channels(), sub:stats() -> queued, high_water, cap,
--   dropped, resyncs, delivered; on overflow of max_queue (1,000) snapshot-like channels keep
--   the newest message, incremental books resync from a snapshot, trades and user.* fail the
--   subscription with on_state("subscription_failed", reason));
--   call(method, params) for any other method; close(); state() -> state [, reason [, failure]]
--   (while not open: why, and for a failed attempt "refused", "tls", "dns", "handshake",
--   "timeout" or "other"); stats() (counters; connects = connections opened so far);
--   rate_limit_status();
--   on_state(fn): fn(state, reason) runs as a task after each change (connecting, open,
--   reconnecting, closed; on private clients authenticated and auth_failed instead of open;
--   subscription_failed when a subscription had to be closed or could not be restored).
-- Rate limits: each client has its own limiter, consulted before every send: 500 credits of
-- the non-matching-engine pool per call (50,000 cap, 10,000/s; unsubscribe too), subscribe 3,000
-- of their own pool, get_instruments 10,000 of its own.
-- Example: `local pub = lt.public{ venue = "sim" }`.
function M.public(opts)
  return core.public(resolve_venue(opts, "public"))
end

--- lt.private(opts): an authenticated client for trading. Needs client_id and client_secret
-- (a secret from lt.secret.env / lt.secret.file; a plain string is accepted with a warning
-- because it stays in the Lua heap). With venue = "sim" and no credentials, the built-in
-- venue's demo account is used. It connects, authenticates (grant "client_signature" by
-- default, or "client_credentials"), re-authenticates after every reconnect and refreshes the
-- token at refresh_fraction (0.8) of its lifetime. Private calls made before authentication
-- completes wait for it (within their timeout) and are never sent unauthenticated; after an
-- authentication error (err.kind == "auth") the client stays in state "auth_failed" and does
-- not retry. Options: those of lt.public plus client_id, client_secret, grant, scope,
-- refresh_fraction, auth_timeout (s), tier (1..4, default 4, or "auto" to read the account's
-- limits). Methods: all of lt.public's plus buy, sell, edit, cancel, cancel_all,
-- cancel_all_by_instrument, cancel_all_by_currency, cancel_by_label,
-- get_open_orders_by_instrument, get_open_orders_by_label, get_order_state,
-- get_order_state_by_label, get_positions, get_position, get_account_summary,
-- enable_cancel_on_disconnect, disable_cancel_on_disconnect, get_cancel_on_disconnect,
-- logout; subscribe accepts user.* channels.
-- Rate limits: order methods (buy, sell, edit, cancel*) draw 1 token from the matching-engine
-- bucket (tier 4: 5/s, burst 20); the others as on lt.public.
-- Example:
--   local id, secret = lt.sim.demo_account()
--   local priv = lt.private{ venue = "sim", client_id = id, client_secret = secret }
--   local r, err = priv:buy{ instrument_name = "BTC-PERPETUAL", amount = 10, type = "limit",
--                            price = 90000, post_only = true, label = "bid-1" }
function M.private(opts)
  local o = resolve_venue(opts, "private")
  local on_sim = opts.venue == "sim" or (opts.venue == nil and opts.url == nil)
  if on_sim and o.client_id == nil and o.client_secret == nil then
    o.client_id, o.client_secret = core.sim_demo_account()  -- only ever on the built-in venue
  end
  return core.private(o)
end

--- lt.orders(priv [, opts]) -> tracker | nil, err: the trading layer on a private client,
-- as `luatrade run` gives it to strategies (ctx.orders, ctx.positions, ctx.risk, ctx.kill):
-- tracked orders (luatrade.orders: buy, sell, edit, cancel, cancel_all, open, get, on_fill,
-- on_order, reconcile, stats), tracker.positions (luatrade.positions: get, all, pnl, mark)
-- and tracker.risk (luatrade.risk: set, check, kill, stats). opts.prefix: label tag ("lt");
-- opts.risk: limits; opts.kill_file: a path whose appearance fires the kill switch. Only in a
-- task: subscribes user.orders.any.any.raw and user.trades.any.any.raw on priv (that client
-- cannot subscribe them itself afterwards) and awaits the first positions reconciliation.
-- tracker:close() stops it (lt.run does not end while a tracker follows a client).
-- Rate limits: the venue methods' own (see luatrade.orders).
-- Example:
--   local orders = assert(lt.orders(priv, { risk = { max_position = 100 } }))
--   local r, err = orders:buy{ instrument_name = "BTC-PERPETUAL", amount = 10, type = "limit",
--                              price = 90000, post_only = true }
function M.orders(priv, opts)
  local trading = require "luatrade.trading"
  opts = opts or {}
  local tr = trading.new(opts)
  local ok, err = trading.attach(tr, priv, opts.kill_file)
  if not ok then return nil, err end
  return tr
end

--- lt.book(client, instrument [, opts]): a local order book kept from book.* (luatrade/book.lua).
M.book = require("luatrade.book").new

return M

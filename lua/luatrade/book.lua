--- luatrade.book — lt.book: a local order book kept from the venue's book.* channel.
--
-- It subscribes the instrument's book channel, applies the snapshot and every change in C
-- (src/lbook.c: sorted price-level arrays, no Lua table per level; src/lua_book.c reads the
-- decoded notification) and answers best bid/ask, mid, spread, depth at a price and the levels
-- in order. Every change's prev_change_id must equal the last change_id (deribit-api.md §4);
-- on a gap, a crossed book after a change, or a malformed message, the book is emptied and
-- resubscribed (unsubscribe + subscribe: the venue then sends a fresh snapshot), the resync is
-- counted (b:resyncs()), logged and reported to on_resync. While a resync is pending the book
-- is empty: best_bid() etc. return nil rather than stale prices.
--
--     local lt = require "luatrade"
--     lt.run(function()
--       local pub = lt.public{ venue = "sim" }
--       local b = assert(lt.book(pub, "BTC-PERPETUAL", { interval = "100ms" }))
--       assert(b:wait(5))                          -- the first snapshot
--       local bid, bid_amount = b:best_bid()
--       for price, amount in b:levels("asks", 5) do print(price, amount) end
--       b:on_update(function(book) print(book:mid(), book:spread()) end)
--       b:on_resync(function(book, reason, detail) print("resync", reason, detail) end)
--       lt.sleep(10)
--       b:close()
--     end)
--
-- Channels (deribit-api.md §4): without depth, book.INSTRUMENT.INTERVAL (incremental: a
-- snapshot, then changes); with depth (1, 10 or 20), book.INSTRUMENT.GROUP.DEPTH.INTERVAL
-- (group "none" unless opts.group says otherwise), which is a full top-N snapshot every time,
-- so it has no gaps. interval "raw" needs an authenticated client (lt.private) on Deribit and
-- on the built-in venue; a public client gets nil, err (subscription_rejected).
--
-- Rate limits: lt.book makes one subscribe (the subscribe pool: 3,000 credits, cap 30,000 on
-- Deribit; the client's limiter waits for its turn within opts.timeout); every resync makes an
-- unsubscribe and a subscribe from the same pool, and b:close() one unsubscribe. A resync is
-- made at most once per snapshot the venue sends (changes are ignored until it arrives, and a
-- snapshot that is itself crossed is kept, flagged by b:crossed(), not resynced), and resyncs
-- that follow each other back off (at once, then 0.5 s, 1 s, 2 s ... 30 s apart; reset after 10
-- quiet seconds), so a broken feed cannot spend the subscribe pool.
local core = require "luatrade.core"

local M = { _VERSION = "luatrade.book 0.1.0" }

local Book = {}
Book.__index = Book
Book.__name = "luatrade.LocalBook"

local DEPTHS = { [1] = true, [10] = true, [20] = true }
local GROUPS = { none = true, ["1"] = true, ["2"] = true, ["5"] = true, ["10"] = true,
                 ["25"] = true, ["100"] = true, ["250"] = true }
local INTERVALS = { raw = true, ["100ms"] = true, agg2 = true }
local RETRIES = 5
local STABLE = 10 -- seconds without a resync after which the resync backoff starts over

local function log(level, fmt, ...) core.log(level, fmt:format(...)) end

local function channel_of(instrument, opts)
  local interval = opts.interval or "100ms"
  if not INTERVALS[interval] then
    error("book: interval must be \"100ms\", \"raw\" or \"agg2\", got " .. tostring(interval), 3)
  end
  if opts.depth == nil then
    if opts.group ~= nil then error("book: group needs a depth (1, 10 or 20)", 3) end
    return ("book.%s.%s"):format(instrument, interval), false
  end
  if not DEPTHS[opts.depth] then
    error("book: depth must be 1, 10 or 20 (or nil for the full book), got " .. tostring(opts.depth), 3)
  end
  local group = opts.group == nil and "none" or tostring(opts.group)
  if not GROUPS[group] then
    error("book: group must be none, 1, 2, 5, 10, 25, 100 or 250, got " .. group, 3)
  end
  return ("book.%s.%s.%d.%s"):format(instrument, group, opts.depth, interval), true
end

local subscribe -- forward

-- Run a user callback; a failure is logged, never breaks the book.
local function callback(self, fn, ...)
  local ok, err = xpcall(fn, debug.traceback, self, ...)
  if not ok then log("error", "book %s: callback failed: %s", self.channel, tostring(err)) end
end

-- Empty the book and get a fresh snapshot: close the subscription, subscribe again.
local function resync(self, reason, detail)
  self._resyncs = self._resyncs + 1
  self._pending, self._requested = true, true
  self._c:clear()
  log("warn", "book %s: %s (%s): resubscribing for a fresh snapshot", self.channel, reason,
      tostring(detail))
  local old = self._sub
  self._sub = nil
  if old then old:close() end
  -- back off when resyncs follow each other (a feed that keeps breaking): the first is at once,
  -- then 0.5 s, 1 s, 2 s ... up to 30 s apart, back to at once after 10 quiet seconds
  local now = core.now()
  if now - self._last_resync > STABLE then self._spacing = 0 end
  local wait = self._last_resync + self._spacing - now
  if wait > 0 then core.sleep(wait) end
  self._last_resync = core.now()
  self._spacing = math.min(math.max(self._spacing * 2, 0.5), 30)
  if self._closed then return end
  local ok, err = subscribe(self)
  if self.on_resync_fn then callback(self, self.on_resync_fn, reason, detail) end
  if not ok and not self._closed then
    log("error", "book %s: resubscribe failed: %s", self.channel, tostring(err))
    if self.on_resync_fn then callback(self, self.on_resync_fn, "failed", err) end
  end
end

local function on_msg(self, msg)
  if self._closed then return end
  local c = self._c
  local snapshot = self.grouped or msg.type == "snapshot"
  if self._pending and not snapshot then
    if self._requested then                          -- from before the snapshot we asked for
      self._skipped = self._skipped + 1
      return
    end
    -- changes and no snapshot on a first subscription: the channel was already subscribed
    -- (a strategy version took it over at a hot reload), so ask for a snapshot
    return resync(self, "no_snapshot", "a change arrived before any snapshot")
  end
  local had = c:has_snapshot()
  local st, why = c:apply(msg)
  if st == nil then
    self._bad = self._bad + 1
    log("warn", "book %s: malformed notification: %s", self.channel, why)
    if not self.grouped then resync(self, "bad_message", why) end  -- a change may be lost
    return
  elseif st == "gap" then
    return resync(self, "gap", why)
  elseif st == "crossed" and not snapshot then
    return resync(self, "crossed", ("best bid %s >= best ask %s"):format(c:best_bid(), c:best_ask()))
  elseif st == "crossed" then
    log("warn", "book %s: the venue's snapshot is crossed; kept as sent", self.channel)
  end
  if snapshot and not self.grouped and had and not self._pending then
    -- a snapshot nobody here asked for: the client restored the channel after a reconnect, or
    -- dropped a backlog its handler could not keep up with (lt.public's max_queue)
    self._resyncs = self._resyncs + 1
    if self.on_resync_fn then callback(self, self.on_resync_fn, "snapshot", "fresh snapshot from the venue") end
  end
  self._pending = false
  if snapshot then self._stale = false end
  if self.on_update_fn then callback(self, self.on_update_fn, msg) end
end

-- Subscribe the channel (a few tries while the error is retryable); true or nil, err.
subscribe = function(self)
  local err
  for attempt = 1, RETRIES do
    if self._closed then return nil, "closed" end
    local sub
    sub, err = self.client:subscribe(self.channel, function(msg, s)
      if s == self._sub then on_msg(self, msg) end
    end, { timeout = self.timeout, max_queue = self.max_queue })
    if sub then
      if self._closed then sub:close() return nil, "closed" end
      self._sub = sub
      return true
    end
    if type(err) ~= "table" or not err.retryable then break end
    core.sleep(0.25 * 2 ^ (attempt - 1))
  end
  return nil, err
end

--- lt.book(client, instrument [, opts]) -> book | nil, err. Awaitable (call it in a task):
-- subscribes the book channel and returns once the venue confirmed it; the first snapshot
-- follows (b:wait(seconds) waits for it).
--   client       lt.public or lt.private client (or ctx.public / ctx.private in a strategy)
--   instrument   e.g. "BTC-PERPETUAL"
--   opts.depth   nil (default: the full incremental book) or 1, 10, 20 (grouped top-N)
--   opts.group   with depth: "none" (default), 1, 2, 5, 10, 25, 100, 250
--   opts.interval "100ms" (default), "raw" (authenticated clients only) or "agg2"
--   opts.max_levels levels kept per side (default 10,000; 1..1,000,000): a level past the cap
--                displaces the worst one (counted in stats().truncated)
--   opts.timeout seconds for each subscribe (default: the client's)
--   opts.max_queue the subscription's queue cap (see lt.public's subscribe)
-- Errors: misuse raises (not a client, instrument not a string, a bad depth, group or
-- interval, outside a task); a subscribe the venue or the limiter refused returns nil, err
-- (err.name e.g. "subscription_rejected", "not_connected", a timeout).
-- Example: `local b = assert(lt.book(pub, "ETH-PERPETUAL", { depth = 10 }))`.
function M.new(client, instrument, opts)
  if (type(client) ~= "userdata" and type(client) ~= "table") or client.subscribe == nil then
    error("book: client: expected an lt.public or lt.private client", 2)
  end
  if type(instrument) ~= "string" or instrument == "" then
    error("book: instrument: expected a non-empty string", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then error("book: opts: expected a table", 2) end
  opts = opts or {}
  local channel, grouped = channel_of(instrument, opts)
  local ml = opts.max_levels
  if ml ~= nil and (math.type(ml) ~= "integer" or ml < 1 or ml > 1000000) then
    error("book: max_levels must be an integer from 1 to 1000000", 2)
  end
  local self = setmetatable({
    client = client, instrument = instrument, channel = channel, grouped = grouped,
    timeout = opts.timeout, max_queue = opts.max_queue, _c = core.book_new(ml),
    _resyncs = 0, _bad = 0, _skipped = 0, _pending = true, _closed = false,
    _last_resync = -math.huge, _spacing = 0,
  }, Book)
  local ok, err = subscribe(self)
  if not ok then
    self._closed = true
    self._c:close()
    return nil, err
  end
  -- a drop: the levels may be stale until the client restores the channel and the venue's
  -- fresh snapshot arrives (synced() is false meanwhile)
  if client._listen_state then
    self._listener = function(state)
      if state == "reconnecting" or state == "closed" then self._stale = true end
    end
    client:_listen_state(self._listener)
  end
  return self
end

--- b:best_bid() -> price, amount of the best bid, or nil (empty side, no snapshot yet, or a
-- resync pending). b:best_ask() likewise. Example: `local p, a = b:best_bid()`.
function Book:best_bid() return self._c:best_bid() end
function Book:best_ask() return self._c:best_ask() end

--- b:mid() -> (best bid + best ask) / 2; b:spread() -> best ask - best bid; nil unless both
-- sides have a level. Example: `if b:spread() and b:spread() > 5 then ... end`.
function Book:mid() return self._c:mid() end
function Book:spread() return self._c:spread() end

--- b:depth_at(side, price) -> the amount resting at exactly this price on side "bids" or
-- "asks" (0 when there is no level there). Raises for another side name.
-- Example: `b:depth_at("bids", 93000.5)`.
function Book:depth_at(side, price) return self._c:depth_at(side, price) end

--- b:levels(side [, n]) -> iterator over price, amount of side "bids" or "asks" from the best
-- level, at most n (default all). It reads the live book at each step, so a loop body that
-- awaits may see later updates. Example: `for p, a in b:levels("bids", 10) do ... end`.
function Book:levels(side, n) return self._c:levels(side, n) end

--- b:count(side) -> number of levels on side "bids" or "asks".
function Book:count(side) return self._c:count(side) end

--- b:change_id(), b:timestamp() -> change_id and timestamp (ms) of the last applied update;
-- nil before the first snapshot and while a resync is pending.
function Book:change_id() return self._c:change_id() end
function Book:timestamp() return self._c:timestamp() end

--- b:synced() -> true when the book holds a snapshot, no resync is pending and the connection
-- has not dropped since that snapshot (after a reconnect it is true again once the restored
-- channel's fresh snapshot arrived; the levels meanwhile are the last known ones).
function Book:synced()
  return not self._closed and not self._pending and not self._stale and self._c:has_snapshot()
end

--- b:crossed() -> true when best bid >= best ask (only ever kept for a crossed snapshot).
function Book:crossed() return self._c:crossed() end

--- b:wait([seconds]) -> true once the book is synced, or nil, "timeout" after seconds
-- (default 10), or nil, "closed". Awaitable. Example: `assert(b:wait(5))`.
function Book:wait(seconds)
  local deadline = core.now() + (seconds or 10)
  while not self:synced() do
    if self._closed then return nil, "closed" end
    if core.now() >= deadline then return nil, "timeout" end
    core.sleep(0.005)
  end
  return true
end

--- b:on_update(fn): fn(book, msg) runs after every applied snapshot or change, in the
-- subscription's handler task (it may await; later messages wait for it). A failure is logged.
-- nil removes it. Example: `b:on_update(function(bk) print(bk:mid()) end)`.
function Book:on_update(fn)
  if fn ~= nil and type(fn) ~= "function" then error("on_update: expected a function", 2) end
  self.on_update_fn = fn
end

--- b:on_resync(fn): fn(book, reason, detail) runs at each resync: reason "gap" (detail names
-- the two change_ids), "crossed", "bad_message" (detail: what was wrong), "no_snapshot" (changes
-- came first: the channel was taken over from the previous version at a hot reload), "snapshot" (the
-- venue sent a fresh snapshot unasked: a reconnect, or a backlog dropped by the client), and
-- "failed" (the resubscribe failed; detail is the error; the book stays empty). nil removes.
function Book:on_resync(fn)
  if fn ~= nil and type(fn) ~= "function" then error("on_resync: expected a function", 2) end
  self.on_resync_fn = fn
end

--- b:_feed(msg): handle msg as if it had come from the venue on the book's channel (tests
-- inject crossed or malformed messages with it; the resubscribes it may cause are real).
function Book:_feed(msg) return on_msg(self, msg) end

--- b:resyncs() -> how many times the book was rebuilt from a fresh snapshot after its first.
function Book:resyncs() return self._resyncs end

--- b:stats() -> {bids, asks, max_levels, truncated, updates, resyncs, bad_messages, skipped}
-- (skipped: changes ignored while waiting for a snapshot).
function Book:stats()
  local s = self._c:stats()
  s.resyncs, s.bad_messages, s.skipped = self._resyncs, self._bad, self._skipped
  return s
end

--- b:close(): unsubscribe (one request from the subscribe pool) and free the levels;
-- idempotent; also the book's __close. Queries afterwards raise "book is closed".
function Book:close()
  if self._closed then return end
  self._closed = true
  if self._listener then self.client:_unlisten_state(self._listener) end
  local sub = self._sub
  self._sub = nil
  if sub then sub:close() end
  self._c:close()
end
Book.__close = Book.close

function Book:__tostring()
  if self._closed then return ("luatrade.LocalBook(%s, closed)"):format(self.channel) end
  return ("luatrade.LocalBook(%s, %d bids, %d asks, change_id %s)"):format(self.channel,
    self._c:count("bids"), self._c:count("asks"), tostring(self._c:change_id()))
end

return M

--- luatrade.handover — what lets a strategy version hand its subscriptions to the next one in
-- `luatrade run`: each version sees the runner's clients through proxies made here, whose
-- subscribe, on_state and close are per version while the connection and the venue-side
-- subscriptions belong to the runner.
--
-- Channels are claimed per version. At a reload the old version's claims become "held": the
-- channel stays subscribed at the venue and its notifications keep queueing (in the C
-- subscription's bounded queue, in order). When the new version subscribes a held channel no
-- request is sent: it takes the channel over, and its handler gets the queued notifications
-- first, then the live ones (nothing lost, nothing twice). Channels the new version does not
-- take are unsubscribed by drop_held() once it has started; channels only it wants are
-- subscribed as usual. One pump task per (venue subscription, version), in the version's task
-- group, calls the handler of the channel's current owner; notifications of a channel that is
-- held by nobody are skipped (counted) until it is unsubscribed.
--
--     local H = handover.new()
--     local pub = H:client(real_public, v)       -- v = { group = core._new_group() }
--     pub:subscribe("book.BTC-PERPETUAL.raw", function(msg, sub, channel) ... end)
--     H:hold(v)        -- at the switch: v's channels stay subscribed, owned by nobody
--     H:drop_held()    -- after the next version started: unsubscribe what nobody took
--
-- Rate limits: only channels nobody holds are subscribed (the subscribe pool), only channels
-- nobody took are unsubscribed.
local core = require "luatrade.core"

local M = { _VERSION = "handover 0.1.0" }

local H = {}
H.__index = H

--- handover.new(orders [, reserved]): orders = a luatrade.orders tracker for the private
-- proxies (or nil); reserved = { [channel] = "why" }, channels versions may not subscribe.
-- Channels the runtime itself listens to: a version may not subscribe them.
function M.new(orders, reserved)
  return setmetatable({ chans = {}, listening = {}, orders = orders, current = nil,
                        skipped = 0, reserved = reserved or {} }, H)
end

local function chans_of(self, rc)
  local t = self.chans[rc]
  if not t then t = {}; self.chans[rc] = t end
  return t
end

-- The handler every pump of version v on client rc calls.
local function dispatcher(self, rc, v)
  local chans = chans_of(self, rc)
  return function(msg, _, channel)
    local e = chans[channel]
    if e and e.owner == v then return e.handler(msg, e.psub, channel) end
    self.skipped = self.skipped + 1
  end
end

-- Unsubscribe channel ch (entry e of chans) and forget it; false if its subscription had
-- already been closed.
local function release(chans, ch, e)
  chans[ch] = nil
  return e.sub:_is_open() and e.sub:_drop(ch)
end

local Sub = {}
Sub.__index = Sub
Sub.__name = "luatrade.VersionSubscription"

function Sub:close()
  local chans = chans_of(self.h, self.rc)
  for _, ch in ipairs(self.list) do
    local e = chans[ch]
    if e and e.owner == self.v and e.psub == self then release(chans, ch, e) end
  end
end
Sub.__close = Sub.close

function Sub:channels()
  local c = {}
  for i, ch in ipairs(self.list) do c[i] = ch end
  return c
end

function Sub:stats()
  local e = chans_of(self.h, self.rc)[self.list[1]]
  return e and e.sub:stats() or { queued = 0, high_water = 0, cap = 0, dropped = 0, resyncs = 0, delivered = 0 }
end

function Sub.__tostring(self)
  return ("luatrade.Subscription(%s%s)"):format(self.list[1], #self.list > 1 and ", ..." or "")
end

-- The identity of subscribe's `fields` option (nil: every key). A held channel keeps its
-- subscription's projection, so a version that asks other fields than the held one gets the
-- channel unsubscribed and subscribed afresh (its queued messages were decoded for the old
-- fields) instead of taking it over.
local function fields_key(opts)
  local f = type(opts) == "table" and opts.fields or nil
  if type(f) ~= "table" then return f end  -- nil, or a bad value rc:subscribe reports
  local k = {}
  for i, name in ipairs(f) do k[i] = tostring(name) end
  table.sort(k)
  return table.concat(k, "\0")
end

-- subscribe for version v on client rc: take over held channels, subscribe the others.
local function subscribe(self, rc, v, channels, handler, opts)
  if type(handler) ~= "function" then error("subscribe: handler: expected a function", 3) end
  local list = type(channels) == "string" and { channels } or channels
  if type(list) ~= "table" then error("subscribe: channels: expected a string or a list of strings", 3) end
  local chans = chans_of(self, rc)
  local psub = setmetatable({ h = self, rc = rc, v = v, list = {} }, Sub)
  local fresh, taken = {}, {}
  local fkey = fields_key(opts)
  for _, ch in ipairs(list) do
    local e = chans[ch]
    if self.reserved[ch] then
      error("subscribe: '" .. tostring(ch) .. "' is the runtime's own (" .. self.reserved[ch] .. ")", 3)
    elseif e and e.owner ~= nil and e.sub:_is_open() then
      error("subscribe: channel '" .. tostring(ch) .. "' is already subscribed on this client", 3)
    elseif e and e.sub:_is_open() and e.fields == fkey then
      taken[#taken + 1] = ch
    elseif e and e.sub:_is_open() then  -- held with other fields: subscribe it afresh
      release(chans, ch, e)
      fresh[#fresh + 1] = ch
    else
      chans[ch] = nil
      fresh[#fresh + 1] = ch
    end
  end
  v.pumps = v.pumps or {}
  local disp = dispatcher(self, rc, v)
  for _, ch in ipairs(taken) do  -- no request: the venue already sends it
    local e = chans[ch]
    e.owner, e.handler, e.psub = v, handler, psub
    psub.list[#psub.list + 1] = ch
    if not v.pumps[e.sub] then
      v.pumps[e.sub] = true
      core.spawn(core._pump, e.sub, disp)
    end
  end
  local rejected
  if #fresh > 0 then
    local sub, err = rc:subscribe(fresh, disp, opts)
    if not sub then
      for _, ch in ipairs(taken) do chans[ch].owner = nil end
      return nil, err
    end
    rejected = err
    v.pumps[sub] = true
    for _, ch in ipairs(sub:channels()) do
      chans[ch] = { sub = sub, owner = v, handler = handler, psub = psub, fields = fkey }
      psub.list[#psub.list + 1] = ch
    end
  end
  return psub, rejected
end

-- on_state for version v: one real handler per client calls the current version's, as a task
-- of that version.
local function on_state(self, rc, v, fn)
  v.on_state = v.on_state or {}
  v.on_state[rc] = fn
  if self.listening[rc] then return end
  self.listening[rc] = true
  rc:on_state(function(state, reason)
    local cur = self.current
    local f = cur and cur.on_state and cur.on_state[rc]
    if f then core._spawn_in(cur.group, f, state, reason) end
  end)
end

local ORDER_METHODS = { buy = true, sell = true, edit = true, cancel = true }

--- H:client(rc, v): client rc as version v sees it. Its subscribe, on_state and close are
-- v's own (close drops v's subscriptions on rc; the connection stays the runner's); on a
-- private client buy, sell, edit and cancel go through the order tracker; the rest is rc's.
function H:client(rc, v)
  local cache = {}
  local proxy = {}
  local special = {
    subscribe = function(_, ch, fn, opts) return subscribe(self, rc, v, ch, fn, opts) end,
    on_state = function(_, fn) return on_state(self, rc, v, fn) end,
    close = function()
      local chans = chans_of(self, rc)
      for ch, e in pairs(chans) do
        if e.owner == v then release(chans, ch, e) end -- clearing a field while in pairs is allowed
      end
    end,
  }
  return setmetatable(proxy, {
    __name = "luatrade.VersionClient",
    __tostring = function() return tostring(rc) end,
    __index = function(_, k)
      local f = special[k] or cache[k]
      if f then return f end
      if ORDER_METHODS[k] and self.orders and rc.logout then
        f = function(_, params, timeout) return self.orders:call(rc, k, params, timeout) end
      else
        local m = rc[k]
        if type(m) ~= "function" then return m end
        f = function(me, ...) return m(me == proxy and rc or me, ...) end
      end
      cache[k] = f
      return f
    end,
  })
end

--- H:hold(v): v's channels stay subscribed but nobody owns them; v's state handlers go.
function H:hold(v)
  for _, chans in pairs(self.chans) do
    for _, e in pairs(chans) do
      if e.owner == v then e.owner, e.handler, e.psub = nil, nil, nil end
    end
  end
  v.pumps, v.on_state = nil, nil
end

--- H:drop_held() -> n: unsubscribe every channel nobody owns; returns how many.
function H:drop_held()
  local n = 0
  for _, chans in pairs(self.chans) do
    local drop = {}
    for ch, e in pairs(chans) do if e.owner == nil then drop[#drop + 1] = ch end end
    for _, ch in ipairs(drop) do
      if release(chans, ch, chans[ch]) then n = n + 1 end
    end
  end
  return n
end

--- H:count() -> channels known (owned or held), for leak checks.
function H:count()
  local n = 0
  for _, chans in pairs(self.chans) do for _ in pairs(chans) do n = n + 1 end end
  return n
end

return M

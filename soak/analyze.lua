--- soak/analyze.lua — the soak's checks, from what the venue logged (its event log, one JSON
-- object a line, src/sim/eventlog.c; a venue restarted appends a new "start" and its events)
-- and what the runtime's order tracker saw (LUATRADE_ORDERS_DUMP, lua/luatrade/orders_dump.lua).
-- Pure functions over text, so spec/soak_analyze_spec.lua proves each check can fail.
--
--     local A = require "analyze"
--     local ev = A.parse_events(io.lines("events.log"))
--     local dump = A.parse_dump(io.lines("orders.txt"))
--     local r = A.orders(ev, dump, { account = "luatrade-demo", grace_ms = 1000 })
--     print(r.duplicates, r.wrong_final, r.lost_updates)
--
-- Connections are named "EPOCH:CONN" (the venue numbers them from 1 in each process).
local cjson = require "cjson.safe"

local M = {}

-- The members of one JSON object line (lua-cjson; a line that is not one gives {}).
local function fields(line)
  local e = cjson.decode(line)
  if type(e) ~= "table" then return {} end
  for k, v in pairs(e) do if v == cjson.null then e[k] = nil end end
  return e
end
M.fields = fields

--- parse_events(iterator of lines): events in order, each with .epoch (1 = the first venue
-- process) and .cid ("EPOCH:CONN" when the event names a connection).
function M.parse_events(lines)
  local out, epoch = {}, 0
  for line in lines do
    if line:find("^{") then
      local e = fields(line)
      if e.ev == "start" then epoch = epoch + 1 end
      e.epoch = epoch
      if e.conn then e.cid = epoch .. ":" .. math.tointeger(e.conn) end
      out[#out + 1] = e
    end
  end
  return out
end

--- parse_dump(iterator of lines): { seen = {order_id = {{t, state, ts}...}}, heap = {{t, kb}},
-- final = T, open = {order_id = state}, closed = {order_id = true}, complete = bool }.
function M.parse_dump(lines)
  local d = { seen = {}, heap = {}, open = {}, closed = {}, complete = false }
  for line in lines do
    local w = {}
    for x in line:gmatch("%S+") do w[#w + 1] = x end
    local k = w[1]
    if k == "start" then d.start = tonumber(w[2])
    elseif k == "heap" then d.heap[#d.heap + 1] = { t = tonumber(w[2]), kb = tonumber(w[3]) }
    elseif k == "seen" then
      local l = d.seen[w[3]] or {}
      l[#l + 1] = { t = tonumber(w[2]), state = w[4], ts = tonumber(w[5]) }
      d.seen[w[3]] = l
    elseif k == "final" then d.final = tonumber(w[2])
    elseif k == "open" then d.open[w[2]] = w[3]
    elseif k == "closed" then d.closed[w[2]] = true
    elseif k == "end" then d.complete = true end
  end
  return d
end

local ORDER_METHODS = { ["private/buy"] = true, ["private/sell"] = true }

--- orders(events, dump, opts) -> results. opts.account: the strategy's account; opts.grace_ms
-- (default 1000): venue changes this close before the dump's final line may not have reached
-- the tracker yet and are not judged. Results:
--   labels_reused   labels received on more than one buy/sell ({label = n}), and n_reused
--   duplicates      unique labels: labels received twice; reused labels (the strategy's
--                   choice, r.reused: some label came 3 times or more): times an order opened
--                   while another open order of the account had the same label and direction
--                   (two quotes where one was meant)
--   wrong_final     orders whose state at the dump (open or not) the tracker got wrong
--   forgotten       tracker records of orders a restarted venue no longer knows (not wrong:
--                   the sim loses its orders when killed; a real venue keeps them)
--   lost_updates    user.orders notifications the venue wrote to a connection of the account
--                   whose view the tracker never got, not even a later one, nor learnt the
--                   order closed (at the dump it is among the tracker's closed ids):
--                   reconciliation counts
--   dropped         updates a fault or a connection's end discarded unsent (venue "dropped"):
--                   not judged here (nobody could see them); the final-state check judges
--                   whether reconciliation made up for them
--   settling        orders not judged (changed within grace_ms of the dump)
--   orders, updates totals; details = { strings } for what was wrong
function M.orders(events, dump, opts)
  local account, grace = opts.account, opts.grace_ms or 1000
  local final = dump.final or math.huge
  local r = { labels_reused = {}, n_reused = 0, duplicates = 0, wrong_final = 0, forgotten = 0,
              lost_updates = 0, dropped = 0, settling = 0, orders = 0, updates = 0, details = {} }
  local function detail(fmt, ...)
    if #r.details < 20 then r.details[#r.details + 1] = fmt:format(...) end
  end
  -- labels received (buy/sell of any of the account's connections)
  local labels, last_epoch = {}, 0
  for _, e in ipairs(events) do
    if e.ev == "order" and ORDER_METHODS[e.method] and e.label and
       (e.account == nil or e.account == account) then
      labels[e.label] = (labels[e.label] or 0) + 1
    end
    last_epoch = math.max(last_epoch, e.epoch)
  end
  -- A label received 3 times or more is the strategy's choice (a runtime that re-sent an order
  -- would send its label twice); then duplicates are judged by orders open at once.
  local reused = false
  for l, n in pairs(labels) do
    if n > 1 then r.labels_reused[l] = n; r.n_reused = r.n_reused + 1 end
    if n > 2 then reused = true end
  end
  r.reused = reused
  -- venue order states (the last one before the dump) and open-at-once duplicates
  local state, changed, epoch_of, open_by = {}, {}, {}, {}
  for _, e in ipairs(events) do
    if e.ev == "state" and e.account == account then
      local id = e.order_id
      if not epoch_of[id] then r.orders = r.orders + 1 end
      epoch_of[id] = e.epoch
      local key = e.epoch .. "|" .. (e.label or "") .. "|" .. (e.direction or "")
      open_by[key] = open_by[key] or {}
      if e.state == "open" and state[id] ~= "open" and e.t <= final then
        local others = 0
        for other in pairs(open_by[key]) do if other ~= id then others = others + 1 end end
        if reused and others > 0 and e.label ~= "" then
          r.duplicates = r.duplicates + 1
          detail("order %s (label %s) opened while %d other open order(s) had that label",
                 id, e.label, others)
        end
        open_by[key][id] = true
      elseif e.state ~= "open" then
        open_by[key][id] = nil
      end
      if e.t <= final then state[id] = e.state; changed[id] = e.t end
    end
  end
  if not reused then
    for l, n in pairs(labels) do
      if n > 1 then r.duplicates = r.duplicates + n - 1; detail("label %s received %d times", l, n) end
    end
  end
  -- the tracker's final view against the venue's
  if dump.final then
    for id, st in pairs(state) do
      local held = dump.open[id] ~= nil
      if changed[id] > final - grace then
        r.settling = r.settling + 1
      elseif epoch_of[id] ~= last_epoch then
        if held then r.forgotten = r.forgotten + 1 end
      elseif (st == "open") ~= held then
        r.wrong_final = r.wrong_final + 1
        detail("order %s: venue %s, tracker %s", id, st, held and "open" or "not open")
      end
    end
    for id in pairs(dump.open) do
      if not state[id] then
        r.wrong_final = r.wrong_final + 1
        detail("order %s: tracker open, unknown to the venue", id)
      end
    end
  end
  -- user.orders notifications against what the tracker saw
  local acct_conns = {}
  for _, e in ipairs(events) do
    if e.ev == "auth" and e.account == account then acct_conns[e.cid] = true end
  end
  local reported = {}
  for _, e in ipairs(events) do
    if e.ev == "uo" and acct_conns[e.cid] and e.t <= final - grace then
      local k = e.order_id .. "|" .. e.state .. "|" .. tostring(e.ts)
      if not reported[k] then -- the same change on two subscriptions counts once
        reported[k] = true
        r.updates = r.updates + 1
        local ok = dump.closed[e.order_id] == true -- the tracker learnt it closed
        if e.dropped then r.dropped = r.dropped + 1; ok = true end -- never sent: judged by the final state
        for _, s in ipairs(dump.seen[e.order_id] or {}) do
          if (s.ts and s.ts >= e.ts) or (s.state ~= "open" and s.state ~= "untriggered") then
            ok = true
            break
          end
        end
        if not ok then
          r.lost_updates = r.lost_updates + 1
          detail("user.orders %s %s (ts %s) on connection %s: the tracker never saw it or later",
                 e.order_id, e.state, tostring(e.ts), e.cid)
        end
      end
    end
  end
  return r
end

--- subscriptions(events, active, strategy_conn): channels the strategy wanted at the end
-- (subscribed by one of its connections and not unsubscribed since) that no open connection
-- of it has at the venue now. strategy_conn(cid) says whether a connection is the strategy's;
-- active is a set of channel names active now. Returns the list of lost channels.
function M.subscriptions(events, active, strategy_conn)
  local wanted = {}
  for _, e in ipairs(events) do
    if (e.ev == "sub" or e.ev == "unsub") and e.cid and strategy_conn(e.cid) then
      wanted[e.channel] = e.ev == "sub" or nil
    end
  end
  local lost = {}
  for ch in pairs(wanted) do if not active[ch] then lost[#lost + 1] = ch end end
  table.sort(lost)
  return lost, wanted
end

--- secrets(text, secret): how many times the secret or anything shaped like a venue token
-- (epoch milliseconds, ".", 32 hex digits: src/sim/accounts.c) appears in text.
function M.secrets(text, secret)
  local n = 0
  if secret and #secret > 0 then
    local i = 1
    while true do
      local s, e = text:find(secret, i, true)
      if not s then break end
      n, i = n + 1, e + 1
    end
  end
  for _ in text:gmatch("%d%d%d%d%d%d%d%d%d%d%d%d%d%." .. ("%x"):rep(32)) do n = n + 1 end
  return n
end

--- sanitizer(text): the first AddressSanitizer / LeakSanitizer / UBSan report line, or nil.
function M.sanitizer(text)
  for line in text:gmatch("[^\n]+") do
    if line:find("ERROR: AddressSanitizer", 1, true) or line:find("ERROR: LeakSanitizer", 1, true)
       or line:find("runtime error:", 1, true)
       or line:find("SUMMARY: UndefinedBehaviorSanitizer", 1, true) then
      return line
    end
  end
  return nil
end

return M

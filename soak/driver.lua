--- soak/driver.lua — the fault-injection soak (scripts/soak, `make soak`): runs a strategy
-- (strategies/market_maker.lua unless --strategy) through `luatrade run` against the built-in
-- venue as its own process, for --seconds, while injecting faults at random intervals of a few
-- seconds (seeded; the seed is printed) through the venue's own controls (sim/fault with
-- `conn`, src/sim/faults.c and faults_more.c), venue restarts (SIGKILL and a new process on the
-- same port) and slow phases (the runner stopped and continued in bursts). Then it lets the
-- runtime recover, stops the run with SIGTERM and checks, on the venue side (its event log,
-- src/sim/eventlog.c, and sim/stats) against the tracker's dump (LUATRADE_ORDERS_DUMP,
-- lua/luatrade/orders_dump.lua), what soak/analyze.lua computes. Prints a summary, one line
-- per check starting with "ok" or "FAIL"; exit status 1 if any failed.
--
--   lua5.4 soak/driver.lua --seconds 600 --build build [--seed N] [--strategy FILE] [--keep DIR]
--
-- --build is the build whose `luatrade` runs the venue and the strategy (build/asan for the
-- instrumented one: then ASan/LSan reports in their output fail the run); the driver itself
-- loads the plain build's module (LUATRADE_DRIVER_BUILD, default build).
local lt = require "luatrade"
local venue = require "venue"
local A = require "analyze"

local ACCOUNT = "luatrade-demo"
local DEAD_AFTER_S = 20   -- the runtime's default dead-connection bound (2 x 10 s heartbeat)
local QUIET_S = 15        -- no faults in the last QUIET_S seconds of the run
local RECOVER_S = 40      -- then at most this long for subscriptions to be back
local ID_BASE, ID_STEP = 63018852000, 100000000

-- ---- options ----------------------------------------------------------------------------

local opt = { seconds = 600, build = "build", seed = os.time() % 100000,
              strategy = "strategies/market_maker.lua" }
do
  local i = 1
  while i <= #arg do
    local k, v = arg[i]:match("^%-%-([%w-]+)$"), arg[i + 1]
    if not k or v == nil then
      io.stderr:write("usage: soak/driver.lua [--seconds N] [--build DIR] [--seed N] [--strategy FILE] [--keep DIR]\n")
      os.exit(2)
    end
    opt[k] = (k == "seconds" or k == "seed") and assert(tonumber(v), k .. " must be a number") or v
    i = i + 2
  end
end
math.randomseed(opt.seed)

local out_lines = {}
local function say(fmt, ...)
  local s = fmt:format(...)
  out_lines[#out_lines + 1] = s
  print(s)
  io.stdout:flush()
end

local dir = opt.keep or os.tmpname()
if not opt.keep then os.remove(dir) end
os.execute("mkdir -p " .. dir)
local files = { events = dir .. "/events.log", dump = dir .. "/orders.txt", run = dir .. "/run.out",
                rc = dir .. "/run.rc", pid = dir .. "/run.pid", secret = dir .. "/secret" }

local function read(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("a"); f:close()
  return s
end

local function sh(cmd) return os.execute(cmd) end

local instrumented = io.popen("ldd " .. opt.build .. "/luatrade 2>/dev/null | grep -c libasan"):read("a")
instrumented = tonumber(instrumented) and tonumber(instrumented) > 0

-- ---- processes --------------------------------------------------------------------------

local epoch = 1
local function venue_args(e)
  return ("--seed %d --event-log %s --order-id-base %d"):format(opt.seed, files.events,
    ID_BASE + (e - 1) * ID_STEP)
end

local venue_logs = {}
local function save_venue_log(p)
  if p.log then venue_logs[#venue_logs + 1] = read(p.log) end
end

local runner_pid
local function start_runner(url, ca)
  local cmd = ("( sh -c 'echo $$ > %s; exec env DERIBIT_CLIENT_ID=%s LUATRADE_ORDERS_DUMP=%s " ..
    "ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16 %s/luatrade run --url %s --ca-file %s --secret-file %s " ..
    "--no-watch %s' > %s 2>&1; echo $? > %s ) &"):format(files.pid, ACCOUNT, files.dump,
    opt.build, url, ca, files.secret, opt.strategy, files.run, files.rc)
  sh(cmd)
  for _ = 1, 200 do
    local pid = read(files.pid):match("%d+")
    if pid then runner_pid = pid return pid end
    lt.sleep(0.025)
  end
  error("the runner did not start")
end

-- CPU seconds (user + system) the process used so far.
local function cpu_s(pid)
  local s = read("/proc/" .. tostring(pid) .. "/stat"):match("^%d+ %b() (.*)")
  if not s then return 0 end
  local f = {}
  for x in s:gmatch("%S+") do f[#f + 1] = x end
  return ((tonumber(f[12]) or 0) + (tonumber(f[13]) or 0)) / 100
end

local function rss_kb(pid)
  local s = read("/proc/" .. pid .. "/status")
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- ---- the control client -----------------------------------------------------------------

local ctl
local control_cids = {}
local function call(method, params)
  local last
  for _ = 1, 4 do
    local r, err = ctl:call(method, params or {}, 5)
    if r ~= nil then return r end
    last = err
    lt.sleep(0.5)
  end
  return nil, last
end

-- The strategy's open connections: private (its account's), public (unauthenticated, not ours).
local function conns()
  local ev = call("sim/events", { max = 1 })
  if not ev then return {}, {} end
  control_cids[epoch .. ":" .. math.tointeger(ev.conn)] = true
  local acc = call("sim/stats", { account = ACCOUNT }) or {}
  local anon = call("sim/stats", {}) or {}
  local pub = {}
  for i, id in ipairs(anon.connection_ids or {}) do
    if id ~= ev.conn then pub[#pub + 1] = { id = id, subs = anon.subscriptions[i] } end
  end
  local priv = {}
  for i, id in ipairs(acc.connection_ids or {}) do
    priv[#priv + 1] = { id = id, subs = acc.subscriptions[i], auth = acc.authenticated[i] }
  end
  return priv, pub
end

local function pick(list) return #list > 0 and list[math.random(#list)] or nil end

-- ---- faults -----------------------------------------------------------------------------

local counts, failed_faults = {}, {}
local t0, t_end
local p -- the venue process

local function on(target, action, params)
  if not target then return false end
  params = params or {}
  params.action, params.conn = action, target.id
  local r, err = call("sim/fault", params)
  if r ~= "ok" then failed_faults[#failed_faults + 1] = action .. ": " .. tostring(err) end
  return r == "ok"
end

local function any_conn(priv, pub) return pick(math.random() < 0.5 and priv or pub) or pick(priv) or pick(pub) end

local ERRORS = { [10028] = "too_many_requests", [11094] = "internal_server_error", [13009] = "unauthorized" }

local FAULTS = {
  { "connection drop", function(priv, pub) return on(any_conn(priv, pub), "drop") end },
  { "drop with an order in flight", function(priv)
      local m = ({ "private/edit", "private/buy", "private/sell" })[math.random(3)]
      return on(pick(priv), "drop_after", { method = m, count = math.random(2),
                                            process = math.random() < 0.5 }) end },
  { "stall past the dead bound", function(priv, pub, left)
      if left < DEAD_AFTER_S + 2 + QUIET_S + 5 then return false end
      return on(any_conn(priv, pub), "blackhole", { mode = "freeze", ms = (DEAD_AFTER_S + 2) * 1000 }) end },
  { "malformed frames", function(priv, pub) return on(any_conn(priv, pub), "malformed") end },
  { "oversize frame", function(priv, pub) return on(any_conn(priv, pub), "oversize") end },
  { "invalid UTF-8", function(priv, pub) return on(any_conn(priv, pub), "invalid_utf8") end },
  { "error 10028", function(priv) return on(pick(priv), "error", { code = 10028, message = ERRORS[10028] }) end },
  { "error 11094", function(priv) return on(pick(priv), "error", { code = 11094, message = ERRORS[11094] }) end },
  { "error 13009", function(priv) return on(pick(priv), "error", { code = 13009, message = ERRORS[13009] }) end },
  { "token expiry", function(priv) return on(pick(priv), "expire_tokens", { account = ACCOUNT }) end },
  { "token revocation", function(priv) return on(pick(priv), "revoke_tokens", { account = ACCOUNT }) end },
  { "book gaps", function(_, pub) return on(pick(pub), "book_gap", { count = 5 }) end },
  { "reconnect flaps", function(priv)
      local t = pick(priv)
      if not t or call("sim/fault", { action = "flap", count = 2 }) ~= "ok" then return false end
      return on(t, "drop") end },
  { "venue restart", function(_, _, left)
      if left < QUIET_S + 10 then return false end
      save_venue_log(p)
      epoch = epoch + 1
      p.args = venue_args(epoch)
      local ok, err = p:restart()
      if not ok then error("venue restart failed: " .. tostring(err)) end
      return true end },
  { "slow handler phase", function()
      for _ = 1, 8 do -- 3.2 s: stopped 0.3 s, running 0.1 s
        sh("kill -STOP " .. runner_pid); lt.sleep(0.3)
        sh("kill -CONT " .. runner_pid); lt.sleep(0.1)
      end
      return true end },
}

-- A shuffled pass over every kind first (so short runs see each), then random kinds.
local order = {}
for i = 1, #FAULTS do order[i] = i end
for i = #order, 2, -1 do local j = math.random(i); order[i], order[j] = order[j], order[i] end
-- the kinds that need time left (a stall, a restart) come first, so a 60 s run has them too
for _, name in ipairs({ "venue restart", "stall past the dead bound" }) do
  for i, k in ipairs(order) do
    if FAULTS[k][1] == name then table.insert(order, 1, table.remove(order, i)) break end
  end
end
local nth = 0
local function next_fault()
  nth = nth + 1
  return FAULTS[nth <= #order and order[nth] or math.random(#FAULTS)]
end

-- ---- the run ----------------------------------------------------------------------------

local samples = {}
local function sample(name)
  samples[#samples + 1] = { name = name, t = lt.now(), rss = runner_pid and rss_kb(runner_pid),
    cpu = runner_pid and cpu_s(runner_pid), vcpu = p and p.pid and cpu_s(p.pid) }
end

local function wait_ready(seconds)
  local deadline = lt.now() + seconds
  while lt.now() < deadline do
    local priv, pub = conns()
    local ok = false
    for _, c in ipairs(priv) do if c.auth and #c.subs > 0 then ok = true end end
    if ok and #pub > 0 and #pub[1].subs > 0 then return true end
    lt.sleep(0.25)
  end
  return false
end

local results = {}
local function check(ok, fmt, ...)
  results[#results + 1] = (ok and "ok   " or "FAIL ") .. fmt:format(...)
  return ok
end

lt.set_log_level("error") -- the control client's connection notices are not the report
lt.run(function()
  os.remove(files.events)
  local perr
  p, perr = venue.process{ build = opt.build, args = venue_args(1) }
  if not p then error("the venue did not start: " .. tostring(perr)) end
  local log1 = read(p.log)
  local secret = log1:match("client_secret=(%x+)")
  local ca = log1:match("ca_file: ([^)]+)%)")
  do local f = assert(io.open(files.secret, "w")); f:write(secret); f:close() end
  sh("chmod 600 " .. files.secret)
  say("soak: seed %d, %d s, build %s%s, strategy %s, files in %s", opt.seed, opt.seconds,
      opt.build, instrumented and " (ASan+UBSan)" or "", opt.strategy, dir)
  ctl = lt.public{ url = p.url, ca_file = ca, timeout = 5 }
  t0 = lt.now()
  t_end = t0 + opt.seconds
  start_runner(p.url, ca)
  if not wait_ready(30) then say("soak: the strategy did not get ready in 30 s") end
  lt.sleep(math.min(5, opt.seconds / 10))
  sample("start")
  local mid_done = false
  while true do
    local now = lt.now()
    local left = t_end - now
    if left <= QUIET_S then break end
    if not mid_done and now >= t0 + opt.seconds / 2 then sample("middle"); mid_done = true end
    lt.sleep(1.5 + math.random() * 3)
    if t_end - lt.now() <= QUIET_S then break end
    local f = next_fault()
    local priv, pub = conns()
    local ok, res = pcall(f[2], priv, pub, t_end - lt.now())
    if not ok then error(res, 0) end
    if res then
      counts[f[1]] = (counts[f[1]] or 0) + 1
      say("soak: %6.1f s  %s", lt.now() - t0, f[1])
    end
  end
  if not mid_done then sample("middle") end
  while lt.now() < t_end do lt.sleep(0.5) end
  -- recovery: the strategy's connections and subscriptions are back
  local ready = wait_ready(RECOVER_S)
  local events = A.parse_events(io.lines(files.events))
  local priv, pub = conns()
  local active = {}
  for _, list in ipairs({ priv, pub }) do
    for _, c in ipairs(list) do for _, ch in ipairs(c.subs or {}) do active[ch] = true end end
  end
  local lost, wanted = A.subscriptions(events, active, function(cid) return not control_cids[cid] end)
  sample("end")
  -- stop the run
  local t_stop = lt.now()
  sh("kill -TERM " .. runner_pid)
  local rc
  for _ = 1, 600 do
    rc = read(files.rc):match("%d+")
    if rc then break end
    lt.sleep(0.05)
  end
  if not rc then sh("kill -KILL " .. runner_pid); lt.sleep(0.5); rc = "killed" end
  local stop_s = lt.now() - t_stop
  ctl:close()
  save_venue_log(p)
  p:kill("TERM") -- returns once it has exited: its LSan report is in its log then
  venue_logs[#venue_logs] = read(p.log)
  -- ---- the checks ----
  events = A.parse_events(io.lines(files.events))
  local dump = A.parse_dump(io.lines(files.dump))
  local r = A.orders(events, dump, { account = ACCOUNT, grace_ms = 1000 })
  local kinds, total = {}, 0
  for _, f in ipairs(FAULTS) do
    local n = counts[f[1]] or 0
    total = total + n
    kinds[#kinds + 1] = ("%s %d"):format(f[1], n)
  end
  check(total > 0 and #failed_faults == 0, "faults injected: %d (%s)%s", total, table.concat(kinds, ", "),
        #failed_faults > 0 and ("; refused: " .. table.concat(failed_faults, "; ")) or "")
  local pconns, pubconns, auths = {}, {}, 0
  for _, e in ipairs(events) do
    if e.ev == "auth" and e.account == ACCOUNT then pconns[e.cid] = true; auths = auths + 1 end
    if e.ev == "sub" and not control_cids[e.cid] and not e.channel:find("^user%.") then pubconns[e.cid] = true end
  end
  local function n(set) local k = 0 for _ in pairs(set) do k = k + 1 end return k end
  check(ready, "reconnects: private %d, public %d (authentications %d; venue processes %d)%s",
        math.max(n(pconns) - 1, 0), math.max(n(pubconns) - 1, 0), auths, epoch,
        ready and "" or "; NOT recovered within " .. RECOVER_S .. " s after the last fault")
  local wl = {}
  for ch in pairs(wanted) do wl[#wl + 1] = ch end
  table.sort(wl)
  check(#lost == 0, "subscriptions lost: %d (wanted at the end: %s)%s", #lost, table.concat(wl, ", "),
        #lost > 0 and ("; lost: " .. table.concat(lost, ", ")) or "")
  local reused = {}
  for l, k in pairs(r.labels_reused) do reused[#reused + 1] = ("%s x%d"):format(l, k) end
  table.sort(reused)
  check(r.duplicates == 0, "duplicate orders: %d (%s)", r.duplicates, r.reused and
        ("the strategy reuses labels: " .. table.concat(reused, ", ") ..
         "; counted instead: orders opened while another open order had the same label and side")
        or "labels unique: counted labels received twice")
  check(dump.complete and r.wrong_final == 0, "tracker final state wrong: %d of %d orders (%d changing at the dump " ..
        "not judged; %d records of orders a restarted venue forgot)%s", r.wrong_final, r.orders, r.settling,
        r.forgotten, dump.complete and "" or "; the dump is incomplete")
  check(r.lost_updates == 0, "user.orders updates lost: %d of %d the venue wrote (besides %d discarded " ..
        "unsent by faults, which reconciliation must make up for: see the final state)",
        r.lost_updates, r.updates - r.dropped, r.dropped)
  for _, d in ipairs(r.details) do results[#results + 1] = "       " .. d end
  local runout = read(files.run)
  local leaks = A.secrets(runout, secret) + A.secrets(table.concat(out_lines, "\n"), secret) +
                A.secrets(read(files.dump), secret)
  check(leaks == 0, "secrets or tokens in the output: %d (runner output %d bytes, dump, this report)",
        leaks, #runout)
  -- heap and RSS: start, middle, end (flat: end within 25 % + 512 kB of the larger earlier one)
  local function heap_at(t)
    local best
    for _, h in ipairs(dump.heap) do if h.t <= t * 1000 + 2500 then best = h.kb end end
    return best or 0
  end
  local hs, hm, he = heap_at(samples[1].t), heap_at(samples[2].t), heap_at(samples[3].t)
  local hmax = math.max(hs, hm)
  check(he <= hmax * 1.25 + 512, "Lua heap (after a full GC): start %.0f kB, middle %.0f kB, end %.0f kB " ..
        "(margin: end <= 1.25 x max(start, middle) + 512 kB)", hs, hm, he)
  local rs, rm, re = samples[1].rss or 0, samples[2].rss or 0, samples[3].rss or 0
  local rmax = math.max(rs, rm)
  check(re > 0 and re <= rmax * 1.25 + 8192, "RSS: start %d kB, middle %d kB, end %d kB " ..
        "(margin: end <= 1.25 x max(start, middle) + 8 MB)", rs, rm, re)
  local s3 = samples[3]
  results[#results + 1] = ("     CPU used: runner %.1f s, venue (its last process) %.1f s, in %.0f s of run")
    :format(s3.cpu or 0, s3.vcpu or 0, s3.t - t0)
  check(rc == "0", "graceful stop: exit status %s after SIGTERM, %.1f s", rc, stop_s)
  if instrumented then
    local rep = A.sanitizer(runout)
    for _, l in ipairs(venue_logs) do rep = rep or A.sanitizer(l) end
    check(rep == nil, "ASan/LSan/UBSan: %s", rep or "clean (runner and every venue process that exited)")
  else
    results[#results + 1] = "ok   ASan/LSan/UBSan: not an instrumented build (make soak SAN=1 for that) # SKIP"
  end
  say("== soak summary (seed %d, %d s, build %s)", opt.seed, opt.seconds, opt.build)
  for _, l in ipairs(results) do say("%s", l) end
  p:stop()
end)

local failed = 0
for _, l in ipairs(results) do if l:find("^FAIL") then failed = failed + 1 end end
if not opt.keep then os.execute("rm -rf " .. dir) end
os.exit(failed == 0 and 0 or 1)

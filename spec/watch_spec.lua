-- File watchers (core.watch_new, src/lua_watch.c): changes of watched files and SIGHUP as
-- awaitable events inside lt.run. Every case runs in a fresh temporary directory.
local lt = require "luatrade"
local core = require "luatrade.core"

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("l")
  p:close()
  return out
end

-- A fresh directory (its real path: wait reports resolved paths), removed afterwards; fn(dir)
-- runs inside lt.run. Returns what fn returned.
local function in_dir(fn)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  dir = sh("realpath " .. dir)
  local out
  local ok, err = pcall(lt.run, function() out = table.pack(fn(dir)) end)
  os.execute("rm -rf " .. dir)
  if not ok then error(err, 0) end
  return table.unpack(out, 1, out.n)
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text or "x")
  f:close()
end

-- Is SIGHUP caught by this process right now? (/proc/self/status SigCgt, bit 0 = signal 1)
local function hup_caught()
  for line in io.lines("/proc/self/status") do
    local mask = line:match("^SigCgt:%s*(%x+)")
    if mask then return tonumber(mask:sub(-1), 16) % 2 == 1 end
  end
  error("no SigCgt in /proc/self/status")
end

local function pid()
  local f = assert(io.open("/proc/self/stat"))
  local n = f:read("n")
  f:close()
  return n
end

describe("a watcher", function()
  it("reports an in-place write of a watched file and ignores other files in its directory", function()
    local quiet, ev = in_dir(function(dir)
      local w <close> = core.watch_new()
      assert.is_true(w:add(dir .. "/x.lua"))
      write(dir .. "/other.lua")
      local q = { w:wait(0.3) }
      write(dir .. "/x.lua", "return 1")
      return q, { w:wait(5) }
    end)
    assert.same({ nil, "timeout" }, quiet)
    assert.equal(1, #ev)
    assert.same({ "x.lua" }, { ev[1].paths[1]:match("/([^/]+)$") })
    assert.equal(1, #ev[1].paths)
    assert.is_false(ev[1].hup)
  end)

  it("returns the absolute path it was given", function()
    in_dir(function(dir)
      local w <close> = core.watch_new()
      w:add(dir .. "/x.lua")
      write(dir .. "/x.lua")
      assert.same({ { paths = { dir .. "/x.lua" }, hup = false } }, { w:wait(5) })
    end)
  end)

  it("sees an editor's save: a temporary file renamed over the watched one, reported once", function()
    local ev, after = in_dir(function(dir)
      write(dir .. "/x.lua", "old")
      local w <close> = core.watch_new()
      w:add(dir .. "/x.lua")
      write(dir .. "/x.lua.tmp", "new")
      assert(os.rename(dir .. "/x.lua.tmp", dir .. "/x.lua"))
      local e = w:wait(5)
      return e and e.paths, { w:wait(0.1) }, dir
    end)
    assert.equal(1, #ev)
    assert.truthy(ev[1]:match("/x%.lua$"))
    assert.same({ nil, "timeout" }, after)
  end)

  it("sees a file deleted and created again", function()
    local got = in_dir(function(dir)
      write(dir .. "/x.lua")
      local w <close> = core.watch_new()
      w:add(dir .. "/x.lua")
      os.remove(dir .. "/x.lua")
      assert.same({ nil, "timeout" }, { w:wait(0.1) }) -- a deletion alone is no new content
      write(dir .. "/x.lua", "again")
      return { w:wait(5) }, dir
    end)
    assert.equal(1, #got[1].paths)
    assert.truthy(got[1].paths[1]:match("/x%.lua$"))
  end)

  it("turns a burst of writes before the wait into one event per file", function()
    local first, second = in_dir(function(dir)
      local w <close> = core.watch_new()
      w:add(dir .. "/x.lua")
      for i = 1, 10 do -- interleaved, so the kernel cannot merge them: the watcher must
        write(dir .. "/x.lua", tostring(i))
        write(dir .. "/noise" .. i)
      end
      return { w:wait(5) }, { w:wait(0.1) }
    end)
    assert.equal(1, #first[1].paths)
    assert.truthy(first[1].paths[1]:match("/x%.lua$"))
    assert.same({ nil, "timeout" }, second)
  end)

  it("lists several changed files once each, in the order of their first change", function()
    local paths = in_dir(function(dir)
      local w <close> = core.watch_new()
      w:add(dir .. "/a.lua")
      w:add(dir .. "/b.lua")
      w:add(dir .. "/a.lua") -- idempotent
      assert.equal("luatrade.Watcher(2 files, open)", tostring(w))
      for _ = 1, 5 do
        write(dir .. "/b.lua")
        write(dir .. "/a.lua")
      end
      return w:wait(5).paths, dir
    end)
    assert.equal(2, #paths)
    assert.truthy(paths[1]:match("/b%.lua$"))
    assert.truthy(paths[2]:match("/a%.lua$"))
  end)

  it("watches a relative path as the absolute one", function()
    in_dir(function(dir)
      local cwd = sh("pwd -P")
      local ups = select(2, cwd:gsub("/[^/]+", ""))
      local rel = ("../"):rep(ups) .. dir:sub(2) .. "/x.lua"
      assert.is_nil(rel:match("^/"))
      local w <close> = core.watch_new()
      assert.is_true(w:add(rel))
      write(dir .. "/x.lua")
      assert.same({ { paths = { dir .. "/x.lua" }, hup = false } }, { w:wait(5) })
    end)
  end)

  it("raises for a directory that cannot be watched", function()
    in_dir(function(dir)
      local w <close> = core.watch_new()
      local ok, msg = pcall(w.add, w, dir .. "/missing/x.lua")
      assert.is_false(ok)
      assert.truthy(msg:find("watch: cannot watch " .. dir .. "/missing: No such file", 1, true))
      write(dir .. "/plain")
      ok, msg = pcall(w.add, w, dir .. "/plain/x.lua")
      assert.is_false(ok)
      assert.truthy(msg:find("watch: cannot watch " .. dir .. "/plain: Not a directory", 1, true))
      assert.equal("luatrade.Watcher(0 files, open)", tostring(w))
    end)
  end)

  it("reports every watched file when the kernel's event queue overflows", function()
    local f = io.open("/proc/sys/fs/inotify/max_queued_events")
    local max = f and f:read("n")
    if f then f:close() end
    if not max or max > 100000 then return pending("max_queued_events too large to overflow") end
    local paths = in_dir(function(dir)
      local w <close> = core.watch_new()
      w:add(dir .. "/a.lua")
      w:add(dir .. "/b.lua")
      for i = 1, max + 100 do -- distinct neighbours, so not merged; "a" mode: nothing to flush
        assert(io.open(dir .. "/n" .. i % 2, "a")):close()
      end
      return w:wait(5).paths
    end)
    assert.equal(2, #paths)
    assert.truthy(paths[1]:match("/a%.lua$"))
    assert.truthy(paths[2]:match("/b%.lua$"))
  end)

  it("works outside lt.run for add, but wait needs a task", function()
    local w = core.watch_new()
    local dir = os.tmpname()
    assert.is_true(w:add(dir))
    local ok, msg = pcall(w.wait, w, 0.1)
    assert.is_false(ok)
    assert.truthy(msg:find("must be called from a luatrade task", 1, true))
    w:close()
    os.remove(dir)
  end)
end)

describe("waiting", function()
  it("times out with nil, 'timeout'", function()
    local got, took = in_dir(function(dir)
      local w <close> = core.watch_new()
      w:add(dir .. "/x.lua")
      local t0 = lt.now()
      local r = { w:wait(0.05) }
      return r, lt.now() - t0
    end)
    assert.same({ nil, "timeout" }, got)
    assert.is_true(took >= 0.03)
    assert.is_true(took < 2)
  end)

  it("suspends only the waiting task", function()
    local ticks, ev = in_dir(function(dir)
      local w <close> = core.watch_new()
      w:add(dir .. "/x.lua")
      local n = 0
      lt.spawn(function()
        for _ = 1, 5 do lt.sleep(0.02); n = n + 1 end
        write(dir .. "/x.lua")
      end)
      local e = w:wait(5)
      return n, e
    end)
    assert.equal(5, ticks)
    assert.equal(1, #ev.paths)
  end)

  it("allows one waiter per watcher", function()
    local msg = in_dir(function(dir)
      local w <close> = core.watch_new()
      w:add(dir .. "/x.lua")
      lt.spawn(function() w:wait(1) end)
      lt.sleep(0.02)
      local ok, m = pcall(w.wait, w, 0.1)
      assert.is_false(ok)
      w:close()
      return m
    end)
    assert.truthy(msg:find("watch: another task is already waiting", 1, true))
  end)
end)

describe("SIGHUP", function()
  it("is delivered to every hup watcher and the process lives on", function()
    local a, b, plain = in_dir(function(dir)
      local w1 <close> = core.watch_new{ hup = true }
      local w2 <close> = core.watch_new{ hup = true }
      local w3 <close> = core.watch_new()
      w1:add(dir .. "/x.lua")
      local r3
      lt.spawn(function() r3 = { w3:wait(0.5) } end)
      assert(os.execute("kill -HUP " .. pid()))
      local r1, r2 = { w1:wait(5) }, { w2:wait(5) }
      lt.sleep(0.6)
      return r1, r2, r3
    end)
    assert.same({ { paths = {}, hup = true } }, a)
    assert.same({ { paths = {}, hup = true } }, b)
    assert.same({ nil, "timeout" }, plain)
  end)

  it("is caught only while lt.run runs with a hup watcher open, as before otherwise", function()
    local before = hup_caught()
    assert.is_false(before) -- else this process handles SIGHUP itself and the test says nothing
    local seen = in_dir(function()
      local s = { no_watcher = hup_caught() }
      local plain <close> = core.watch_new() -- luacheck: no unused
      s.plain_watcher = hup_caught()
      local w = core.watch_new{ hup = true } -- made during the run: caught from now on
      s.hup_watcher = hup_caught()
      w:close()
      s.closed = hup_caught()
      local again <close> = core.watch_new{ hup = true } -- luacheck: no unused
      s.again = hup_caught()
      return s
    end)
    assert.same({ no_watcher = false, plain_watcher = false, hup_watcher = true, closed = false,
                  again = true }, seen)
    assert.is_false(hup_caught()) -- restored when lt.run ended
    local w = core.watch_new{ hup = true }
    assert.is_false(hup_caught()) -- outside lt.run
    lt.run(function() seen = hup_caught() end)
    assert.is_true(seen) -- an open hup watcher at the start of lt.run
    assert.is_false(hup_caught())
    w:close()
  end)
end)

describe("closing a watcher", function()
  it("wakes its waiter with nil, 'closed'", function()
    local got = in_dir(function(dir)
      local w = core.watch_new()
      w:add(dir .. "/x.lua")
      local r
      lt.spawn(function() r = { w:wait(5) } end) -- not woken: "timeout" after 5 s, not a hang
      lt.sleep(0.05)
      w:close()
      while not r do lt.sleep(0.01) end
      return r
    end)
    assert.same({ nil, "closed" }, got)
  end)

  it("is idempotent, and use after it raises", function()
    local w = core.watch_new()
    w:close()
    w:close()
    assert.equal("luatrade.Watcher(0 files, closed)", tostring(w))
    local ok, msg = pcall(w.add, w, "/tmp/x.lua")
    assert.is_false(ok)
    assert.truthy(msg:find("watch: the watcher is closed", 1, true))
    in_dir(function()
      ok, msg = pcall(w.wait, w, 0.1)
    end)
    assert.is_false(ok)
    assert.truthy(msg:find("watch: the watcher is closed", 1, true))
  end)

  it("happens for a to-be-closed variable and for a collected watcher", function()
    local kept
    do
      local w <close> = core.watch_new()
      kept = w
    end
    assert.equal("luatrade.Watcher(0 files, closed)", tostring(kept))
    in_dir(function(dir)
      core.watch_new():add(dir .. "/x.lua") -- dropped while open
      collectgarbage()
      collectgarbage()
      write(dir .. "/x.lua")
      lt.sleep(0.05) -- the loop goes on polling without it
    end)
  end)

  it("is safe after its waiting task was killed, and frees the watcher for another waiter", function()
    local got = in_dir(function(dir)
      local first = core.watch_new()
      first:add(dir .. "/x.lua")
      local killed = lt.spawn(function() first:wait(0.05) end)
      lt.sleep(0.01)
      assert.is_true(core._kill(killed))
      first:close() -- no waiter left to wake; its timeout was withdrawn with it
      lt.sleep(0.1)

      local w = core.watch_new()
      w:add(dir .. "/x.lua")
      local id = lt.spawn(function() w:wait(5) end)
      lt.sleep(0.02)
      assert.is_true(core._kill(id))
      write(dir .. "/x.lua")
      local r = { w:wait(5) } -- a second waiter is allowed now and gets the change
      lt.spawn(function() w:wait(0.05) end)
      lt.sleep(0.01)
      w:close()
      lt.sleep(0.1) -- the timeout of the woken waiter must not fire into a closed watcher
      return r
    end)
    assert.equal(1, #got[1].paths)
  end)
end)

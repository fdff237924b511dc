-- spec/groups_spec.lua — task groups (core._spawn_in, _cancel_group, _end_group): what the
-- runner's hot reload uses to end exactly one strategy version's tasks.
local lt = require "luatrade"
local core = require "luatrade.core"

local RELOADED = setmetatable({ kind = "reloaded", name = "reloaded", message = "test" },
  { __tostring = function() return "reloaded: test" end })

describe("task groups", function()
  it("a cancelled task's pending await raises the group's error; to-be-closed variables get it", function()
    local seen, closed_with, after = nil, nil, false
    lt.run(function()
      local g = core._new_group()
      core._spawn_in(g, function()
        local guard <close> = -- luacheck: no unused
          setmetatable({}, { __close = function(_, e) closed_with = e end })
        local ok, err = pcall(lt.sleep, 30)
        seen = { ok = ok, err = err }
        lt.sleep(0)                    -- every later await raises too
        after = true
      end)
      lt.sleep(0.01)
      assert.equal(1, core._group_count(g))
      assert.equal(1, core._cancel_group(g, RELOADED))
      lt.sleep(0.01)
      assert.equal(0, core._group_count(g))
      core._end_group(g)
    end)
    assert.is_false(seen.ok)
    assert.equal(RELOADED, seen.err)
    assert.equal(RELOADED, closed_with)
    assert.is_false(after)
  end)

  it("tasks spawned by a group's task join the group; other groups and the caller are untouched", function()
    local other_done, child_err = false, nil
    lt.run(function()
      local g, h = core._new_group(), core._new_group()
      core._spawn_in(g, function()
        assert.equal(g, core._group())
        lt.spawn(function()
          assert.equal(g, core._group())
          local ok, err = pcall(lt.sleep, 30)
          child_err = not ok and err
        end)
        lt.sleep(30)
      end)
      core._spawn_in(h, function() lt.sleep(0.05); other_done = true end)
      lt.sleep(0.01)
      assert.equal(2, core._group_count(g))
      assert.equal(2, core._cancel_group(g, RELOADED))
      lt.sleep(0.1)
      assert.equal(0, core._group_count(g))
      core._end_group(g)
      core._end_group(h)
    end)
    assert.equal(RELOADED, child_err)
    assert.is_true(other_done)
  end)

  it("a cancelled subscription handler takes no queued message; a task that never ran is dropped", function()
    local handled, started = 0, false
    lt.run(function()
      local pub = lt.public{ venue = "sim" }
      local g = core._new_group()
      local sub
      core._spawn_in(g, function()
        sub = assert(pub:subscribe("ticker.BTC-PERPETUAL.100ms", function() handled = handled + 1 end))
        core._spawn_in(g, function() started = true end)
        core._cancel_group(g, RELOADED)   -- the handler task is new: dropped, as is the other
      end)
      lt.sleep(0.5)
      assert.equal(0, handled)
      assert.is_true(sub:stats().queued > 0)   -- the messages wait for whoever reads next
      assert.equal(0, core._group_count(g))
      core._end_group(g)
      sub:close()
      pub:close()
    end)
    assert.is_false(started)
  end)

  it("a cancelled call that was already sent still completes on the connection", function()
    lt.run(function()
      local pub = lt.public{ venue = "sim" }
      local g = core._new_group()
      local err
      core._spawn_in(g, function()
        local ok, e = pcall(pub.ticker, pub, { instrument_name = "BTC-PERPETUAL" })
        err = not ok and e
      end)
      lt.sleep(0)
      core._cancel_group(g, RELOADED)
      lt.sleep(0.2)
      assert.equal(RELOADED, err)
      local t = assert(pub:ticker{ instrument_name = "BTC-PERPETUAL" }) -- the client is fine
      assert.is_number(t.mark_price)
      core._end_group(g)
      pub:close()
    end)
  end)

  it("end_group kills what is left and runs its to-be-closed variables", function()
    local closed = false
    lt.run(function()
      local g = core._new_group()
      core._spawn_in(g, function()
        local _ <close> = setmetatable({}, { __close = function() closed = true end })
        while true do pcall(lt.sleep, 1) end        -- swallows its cancel error forever
      end)
      lt.sleep(0.01)
      core._cancel_group(g, RELOADED)
      lt.sleep(0.01)
      assert.equal(1, core._group_count(g))
      core._end_group(g)
      assert.equal(0, core._group_count(g))
    end)
    assert.is_true(closed)
  end)
end)

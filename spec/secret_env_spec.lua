-- spec/secret_env_spec.lua — lt.secret.env(NAME) consumes NAME: the value moves into an opaque
-- secret and the variable leaves the environment (unsetenv). Lua cannot set a variable, so the
-- cases that need one run in a child lua5.4 started with it set, which prints one "key value"
-- line per observation; the child inherits LUATRADE_BUILD (and LD_PRELOAD under ASan).
local lt = require "luatrade"

local NAME, VALUE = "LT_SPEC_SECRET_ENV", "s3cr3t-Spec-Value-9"

local CHILD = [[
package.cpath = (os.getenv("LUATRADE_BUILD") or "build") .. "/?.so;" .. package.cpath
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local lt = require "luatrade"
local name = ...
local s = lt.secret.env(name)
print("tostring " .. tostring(s))
print("getenv " .. tostring(os.getenv(name)))
local p = io.popen("printenv " .. name .. "; echo status $?")
print("grandchild " .. p:read("a"):gsub("\n", " "))
p:close()
print("again " .. tostring(rawequal(lt.secret.env(name), s)))
s:wipe()
print("wiped " .. select(2, pcall(lt.secret.env, name)))
]]

-- Run CHILD with NAME=VALUE in its environment; its output, and its lines as a key -> rest map.
local function run_child()
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(CHILD)
  f:close()
  local p = io.popen(("%s=%s lua5.4 %s %s 2>&1"):format(NAME, VALUE, script, NAME))
  local out = p:read("a")
  p:close()
  os.remove(script)
  local seen = {}
  for k, rest in out:gmatch("(%S+) ([^\n]*)") do seen[k] = rest end
  return out, seen
end

describe("lt.secret.env", function()
  local out, seen

  setup(function() out, seen = run_child() end)

  it("removes the variable from the environment once read", function()
    assert.equal("nil", seen.getenv, out)
  end)

  it("keeps the variable from child processes started after the read", function()
    assert.equal("status 1 ", seen.grandchild, out)
  end)

  it("keeps the value in an opaque secret that never shows it", function()
    assert.equal("<secret>", seen.tostring, out)
    assert.not_matches(VALUE, out, 1, true)
  end)

  it("returns the same secret when the name is read again", function()
    assert.equal("true", seen.again, out)
  end)

  it("raises like an unset variable once that secret is wiped", function()
    assert.equal("secret.env: environment variable " .. NAME .. " is not set", seen.wiped, out)
  end)

  it("raises for a variable that is not set", function()
    local never = "LT_SPEC_NEVER_SET_8f3a"
    assert.is_nil(os.getenv(never))
    assert.has_error(function() lt.secret.env(never) end,
                     "secret.env: environment variable " .. never .. " is not set")
  end)
end)

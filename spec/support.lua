-- spec/support.lua — small helpers shared by the specs.
local lt = require "luatrade"

local S = {}

--- Run fn inside lt.run with a public client on the built-in venue; returns what fn returned.
function S.with_public(fn, opts)
  local out
  lt.run(function()
    local o = { venue = "sim", timeout = 5 }
    for k, v in pairs(opts or {}) do o[k] = v end
    local pub = lt.public(o)
    out = table.pack(fn(pub))
    pub:close()
  end)
  return table.unpack(out, 1, out.n)
end

--- Wait (in a task) until pred() is true or `seconds` pass; returns pred()'s last value.
function S.wait_for(pred, seconds)
  local deadline = lt.now() + (seconds or 5)
  while not pred() and lt.now() < deadline do lt.sleep(0.02) end
  return pred()
end

return S

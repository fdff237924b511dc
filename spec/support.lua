-- spec/support.lua — small helpers shared by the specs.
local lt = require "luatrade"

local S = {}

-- The in-process venue, with accounts of their own for the specs that trade: the venue's rate
-- limits are per account, so tests sharing one account would spend each other's credits.
S.accounts = {}
do
  local list = {}
  for i = 1, 40 do
    S.accounts[i] = { id = "spec" .. i, secret = "spec-secret-" .. i }
    list[i] = S.accounts[i].id .. ":" .. S.accounts[i].secret
  end
  lt.sim.start(1, { accounts = table.concat(list, ",") })
end
local next_account = 0

--- A fresh account of the in-process venue: client_id, client_secret (plain strings).
function S.account()
  next_account = next_account % #S.accounts + 1
  return S.accounts[next_account].id, S.accounts[next_account].secret
end

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

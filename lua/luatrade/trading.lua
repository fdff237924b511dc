--- luatrade.trading — puts the trading layer together on one private client: the order tracker
-- (luatrade.orders), the positions it feeds (luatrade.positions) and the risk limits that
-- check its orders (luatrade.risk). `lt.orders(priv, opts)` outside `luatrade run`; the runner
-- builds ctx.orders, ctx.positions, ctx.risk and ctx.kill with it.
local core = require "luatrade.core"
local orders = require "luatrade.orders"
local positions = require "luatrade.positions"
local risk = require "luatrade.risk"

local M = {}

--- trading.new(opts) -> tracker with .positions and .risk, not yet on a client.
-- opts: group, prefix (see orders.new), risk (limits, see risk:set).
function M.new(opts)
  opts = opts or {}
  local tr = orders.new{ group = opts.group, prefix = opts.prefix }
  tr.positions = positions.new(nil)
  risk.new(tr, tr.positions, opts.risk)
  return tr
end

--- trading.attach(tr, priv [, kill_file]) -> true | nil, err: follow priv (subscribes
-- user.orders.any.any.raw and user.trades.any.any.raw), reconcile the positions now and after
-- every reconnect (the orders reconcile themselves), and start the risk watch (daily loss,
-- kill file). Awaits the subscription and the first reconciliation (errors of the latter are
-- logged, not returned).
function M.attach(tr, priv, kill_file)
  tr.positions.client = priv
  local ok, err = tr:attach(priv, function(t) tr.positions:fill(t) end)
  if not ok then return nil, err end
  local function reconcile_positions()
    local pok, perr = tr.positions:reconcile()
    if not pok then core.log("warn", "positions: not reconciled: " .. tostring(perr)) end
  end
  tr.on_reconnect = function() core._spawn_in(tr.group, reconcile_positions) end
  reconcile_positions()
  tr.risk:watch(kill_file)
  return true
end

return M

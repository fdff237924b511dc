-- spec/soak_analyze_spec.lua — the soak's checks (soak/analyze.lua) on hand-made venue event
-- logs and tracker dumps: each check counts what it must (and only that), so a soak that
-- prints 0 has looked. The soak itself (scripts/soak) runs in make test for 60 s.
package.path = "soak/?.lua;" .. package.path
local A = require "analyze"

local function lines(t) local i = 0 return function() i = i + 1 return t[i] end end
local function ev(t) return A.parse_events(lines(t)) end
local function dump(t) return A.parse_dump(lines(t)) end
local ACC = { account = "acc", grace_ms = 1000 }

describe("soak analyze", function()
  it("numbers connections per venue process", function()
    local e = ev{ '{"seq":1,"t":1,"ev":"start","pid":5,"port":9}', '{"seq":2,"t":2,"ev":"open","conn":1}',
                  '{"seq":1,"t":3,"ev":"start","pid":6,"port":9}', '{"seq":2,"t":4,"ev":"open","conn":1}' }
    assert.equal("1:1", e[2].cid)
    assert.equal("2:1", e[4].cid)
    assert.equal(2, e[4].epoch)
  end)

  it("counts a unique label received twice as a duplicate", function()
    local base = { '{"seq":1,"t":1,"ev":"start"}',
      '{"seq":2,"t":2,"ev":"order","conn":1,"account":"acc","method":"private/buy","label":"a-1"}',
      '{"seq":3,"t":3,"ev":"order","conn":2,"account":"acc","method":"private/buy","label":"a-2"}' }
    assert.equal(0, A.orders(ev(base), dump{}, ACC).duplicates)
    base[#base + 1] = '{"seq":4,"t":4,"ev":"order","conn":3,"account":"acc","method":"private/buy","label":"a-1"}'
    local r = A.orders(ev(base), dump{}, ACC)
    assert.equal(1, r.duplicates)
    assert.equal(2, r.labels_reused["a-1"])
  end)

  it("with reused labels counts orders open at once under one label and side", function()
    local t = { '{"seq":1,"t":1,"ev":"start"}',
      '{"seq":2,"t":2,"ev":"order","conn":1,"account":"acc","method":"private/buy","label":"q"}',
      '{"seq":3,"t":3,"ev":"state","account":"acc","order_id":"1","label":"q","direction":"buy","state":"open","ts":3}',
      '{"seq":4,"t":4,"ev":"state","account":"acc","order_id":"1","label":"q","direction":"buy","state":"cancelled","ts":4}',
      '{"seq":5,"t":5,"ev":"order","conn":1,"account":"acc","method":"private/buy","label":"q"}',
      '{"seq":5,"t":5,"ev":"order","conn":1,"account":"acc","method":"private/sell","label":"q"}',
      '{"seq":6,"t":6,"ev":"state","account":"acc","order_id":"2","label":"q","direction":"buy","state":"open","ts":6}',
      '{"seq":7,"t":7,"ev":"state","account":"acc","order_id":"3","label":"q","direction":"sell","state":"open","ts":7}' }
    local r = A.orders(ev(t), dump{}, ACC)
    assert.is_true(r.reused)
    assert.equal(0, r.duplicates) -- one after the other; other side
    t[#t + 1] = '{"seq":8,"t":8,"ev":"state","account":"acc","order_id":"4","label":"q","direction":"buy","state":"open","ts":8}'
    assert.equal(1, A.orders(ev(t), dump{}, ACC).duplicates)
  end)

  it("compares the tracker's final view with the venue's", function()
    local t = { '{"seq":1,"t":1,"ev":"start"}',
      '{"seq":2,"t":100,"ev":"state","account":"acc","order_id":"1","label":"q","direction":"buy","state":"open","ts":100}',
      '{"seq":3,"t":200,"ev":"state","account":"acc","order_id":"2","label":"q","direction":"buy","state":"open","ts":200}',
      '{"seq":4,"t":300,"ev":"state","account":"acc","order_id":"2","label":"q","direction":"buy","state":"filled","ts":300}',
      '{"seq":5,"t":9500,"ev":"state","account":"acc","order_id":"3","label":"q","direction":"sell","state":"open","ts":9500}',
      '{"seq":6,"t":20000,"ev":"state","account":"acc","order_id":"1","label":"q","direction":"buy","state":"cancelled","ts":20000}' }
    local good = dump{ "final 10000", "open 1 open 100", "closed 2", "end 10001" }
    local r = A.orders(ev(t), good, ACC)
    assert.equal(0, r.wrong_final)
    assert.equal(1, r.settling) -- order 3 changed within the grace before the dump
    assert.equal(3, r.orders)
    -- tracker misses an open order; holds a filled one; holds one the venue never had
    local bad = dump{ "final 10000", "open 2 open 200", "open 9 open 1", "end 10001" }
    r = A.orders(ev(t), bad, ACC)
    assert.equal(3, r.wrong_final)
  end)

  it("does not judge orders a restarted venue forgot, but counts them", function()
    local t = { '{"seq":1,"t":1,"ev":"start"}',
      '{"seq":2,"t":100,"ev":"state","account":"acc","order_id":"1","label":"q","direction":"buy","state":"open","ts":100}',
      '{"seq":1,"t":200,"ev":"start"}' }
    local r = A.orders(ev(t), dump{ "final 10000", "open 1 open 100", "end 1" }, ACC)
    assert.equal(0, r.wrong_final)
    assert.equal(1, r.forgotten)
  end)

  it("counts user.orders updates the tracker never saw, allowing a later view", function()
    local t = { '{"seq":1,"t":1,"ev":"start"}', '{"seq":2,"t":2,"ev":"auth","conn":1,"account":"acc","refresh":false}',
      '{"seq":3,"t":100,"ev":"uo","conn":1,"order_id":"1","state":"open","ts":100}',
      '{"seq":4,"t":200,"ev":"uo","conn":1,"order_id":"2","state":"open","ts":200}',
      '{"seq":5,"t":300,"ev":"uo","conn":1,"order_id":"3","state":"open","ts":300}',
      '{"seq":6,"t":300,"ev":"uo","conn":7,"order_id":"4","state":"open","ts":300}' } -- not the account's
    local d = dump{ "seen 150 1 open 100", -- seen as sent
                    "seen 900 2 open 250", -- a later view (reconciliation)
                    "final 10000", "end 10001" }
    local r = A.orders(ev(t), d, ACC)
    assert.equal(3, r.updates)
    assert.equal(1, r.lost_updates) -- order 3
    d = dump{ "seen 150 1 open 100", "seen 900 2 open 250", "seen 901 3 cancelled 1", "final 10000" }
    assert.equal(0, A.orders(ev(t), d, ACC).lost_updates) -- a final state covers it
    d = dump{ "seen 150 1 open 100", "seen 900 2 open 250", "final 10000", "closed 3" }
    assert.equal(0, A.orders(ev(t), d, ACC).lost_updates) -- so does knowing it closed
    t[5] = '{"seq":5,"t":300,"ev":"uo","conn":1,"order_id":"3","state":"open","ts":300,"dropped":true}'
    d = dump{ "seen 150 1 open 100", "seen 900 2 open 250", "final 10000" }
    r = A.orders(ev(t), d, ACC)
    assert.equal(0, r.lost_updates) -- never written: nobody could have seen it
    assert.equal(1, r.dropped)
  end)

  it("finds subscriptions wanted but not active", function()
    local t = { '{"seq":1,"t":1,"ev":"start"}', '{"seq":2,"t":2,"ev":"sub","conn":1,"channel":"a"}',
      '{"seq":3,"t":3,"ev":"sub","conn":1,"channel":"b"}', '{"seq":4,"t":4,"ev":"unsub","conn":1,"channel":"b"}',
      '{"seq":5,"t":5,"ev":"sub","conn":2,"channel":"c"}' }
    local mine = function(cid) return cid ~= "1:2" end -- 1:2 is the control connection
    local lost = A.subscriptions(ev(t), { a = true }, mine)
    assert.same({}, lost)
    lost = A.subscriptions(ev(t), {}, mine)
    assert.same({ "a" }, lost)
  end)

  it("finds the secret and token-shaped strings", function()
    assert.equal(0, A.secrets("all fine 1796177178034 and 0123abcd", "s3cr3t"))
    assert.equal(2, A.secrets("x s3cr3t y s3cr3t", "s3cr3t"))
    assert.equal(1, A.secrets("token 1796177178034." .. ("ab"):rep(16) .. " here", "zz"))
  end)

  it("finds sanitizer reports", function()
    assert.is_nil(A.sanitizer("INFO all good\n"))
    assert.truthy(A.sanitizer("x\n==1==ERROR: LeakSanitizer: detected memory leaks\n"))
    assert.truthy(A.sanitizer("src/a.c:3:4: runtime error: signed integer overflow\n"))
  end)
end)

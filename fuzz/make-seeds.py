#!/usr/bin/env python3
"""make-seeds.py — writes fuzz/seeds/<target>/ for the libFuzzer targets from tests/fixtures
(venue messages; provenance in tests/fixtures/SOURCES.md) and the method registry
(src/methods/registry.c). Run from the repository root; the output is committed, so this runs
only when fixtures or methods change. Each target's input format is in its fuzz/*_fuzz.c."""
import json, os, re, struct

FIX = "tests/fixtures"
OUT = "fuzz/seeds"

def methods():
    reg = open("src/methods/registry.c").read()
    body = reg[reg.index("lt_methods[] = {"):]
    syms = re.findall(r"&lt_m_(\w+),", body)
    names = {}
    for f in os.listdir("src/methods"):
        t = open(os.path.join("src/methods", f)).read()
        for sym, name in re.findall(r"const lt_method lt_m_(\w+) = \{\s*\.name = \"([^\"]+)\"", t):
            names[sym] = name
    return [names[s] for s in syms]

def fixture(name):
    return json.load(open(os.path.join(FIX, name)))

def compact(v):
    return json.dumps(v, separators=(",", ":"))

def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    open(os.path.join(d, name), "wb").write(data)

M = methods()
idx = {n: i for i, n in enumerate(M)}
results = {
    "http_get_account_summaries.json": "private/get_account_summary",
    "http_get_instrument.json": "public/get_instrument",
    "http_get_instrument_option.json": "public/get_instrument",
    "http_get_instruments.json": "public/get_instruments",
    "http_get_order_book.json": "public/get_order_book",
    "http_get_positions.json": "private/get_positions",
    "http_get_time.json": "public/get_time",
    "http_test.json": "public/test",
    "ws_order_buy_response.json": "private/buy",
    "ws_order_sell_response.json": "private/sell",
    "ws_order_edit_response.json": "private/edit",
    "ws_order_cancel_response.json": "private/cancel",
    "ws_order_stop_market_response.json": "private/buy",
    "ws_order_stop_market_no_filled_amount.json": "private/buy",
    "ws_subscribe_response.json": "public/subscribe",
}

# result_fuzz: method byte + result JSON (bit 7: the result before the id)
for f, m in results.items():
    r = compact(fixture(f)["result"]).encode()
    write("result_fuzz", f.replace(".json", ""), bytes([idx[m]]) + r)
    write("result_fuzz", f.replace(".json", "") + "_late", bytes([idx[m] | 0x80]) + r)
t = fixture("ws_ticker.json")["params"]["data"]
write("result_fuzz", "ticker", bytes([idx["public/ticker"]]) + compact(t).encode())
for i, m in enumerate(M):
    write("result_fuzz", "ok_%02d" % i, bytes([i]) + b'"ok"')

# notification_fuzz: channel byte + data JSON, and 0xff + the whole message
src = open("fuzz/notification_fuzz.c").read()
chans = re.findall(r'^\t"([^"]+)",$', src[src.index("channels[] = {"):src.index("#define NCHANNELS")], re.M)
def family(ch):
    p = ch.split(".")
    return (p[0], len(p)) if p[0] in ("book", "user") else (p[0],)
for f in sorted(os.listdir(FIX)):
    if not f.endswith(".json"):
        continue
    msg = fixture(f)
    ch = msg.get("params", {}).get("channel")
    if not ch:
        continue
    pick = next((i for i, c in enumerate(chans) if c == ch), None)
    if pick is None:
        pick = next((i for i, c in enumerate(chans) if family(c) == family(ch)), 0)
    data = compact(msg["params"]["data"]).encode()
    base = f.replace(".json", "")
    write("notification_fuzz", base, bytes([pick]) + data)
    write("notification_fuzz", base + "_late", bytes([pick | 0x80]) + data)
    write("notification_fuzz", base + "_raw", b"\xff" + open(os.path.join(FIX, f), "rb").read())

# router_fuzz: count byte (n-1, bit 7: deadlines), n method bytes, then '\n'-separated messages
def answer(f, new_id):
    m = fixture(f)
    m["id"] = new_id
    return compact(m)
ann = [answer("http_test.json", 1), answer("ws_ticker.json", 0) if False else compact(fixture("ws_ticker.json")),
       answer("ws_error.json", 2), answer("http_get_time.json", 99), compact(fixture("ws_test_request.json")),
       answer("ws_order_buy_response.json", 3), answer("ws_subscribe_response.json", 4),
       compact(fixture("ws_book_delta.json")), "!drop", "!open", "!sub\x05", "!wd\x06",
       answer("http_test.json", 6), answer("http_test.json", 1), "{\"jsonrpc\":\"2.0\",\"id\":5,\"res"]
picks = bytes([idx["public/test"], idx["public/get_time"], idx["private/buy"], idx["public/subscribe"],
               idx["public/ticker"]])
write("router_fuzz", "mixed", bytes([4]) + picks + b"\n" + "\n".join(ann).encode())
write("router_fuzz", "mixed_deadlines", bytes([0x84]) + picks + b"\n" + "\n".join(ann).encode())
write("router_fuzz", "deadlines_tick", bytes([0x84]) + picks + b"\n!tick\n" + "\n".join(ann).encode() +
      b"\n!tick\n!sub\x03\x01\n!tick")
write("router_fuzz", "drop_first", bytes([2]) + picks[:3] + b"\n!drop\n!sub\x01\n!open\n" +
      answer("http_test.json", 4).encode() + b"\n" + answer("http_test.json", 1).encode())
for f in ("ws_portfolio.json", "ws_user_trades_exact.json", "ws_trades.json", "ws_chart.json"):
    write("router_fuzz", "notify_" + f.replace(".json", ""), bytes([0]) + picks[:1] + b"\n" +
          compact(fixture(f)).encode() + b"\n" + answer("http_test.json", 1).encode())

# params_fuzz: method byte, id (2 bytes), 0 (a table), then the value program of params_fuzz.c
lit_bt = 0  # literals[0] = "BTC-PERPETUAL"
reg_params = {}
for f in os.listdir("src/methods"):
    t = open(os.path.join("src/methods", f)).read()
    for name in re.findall(r'\.name = "([a-z_]+/[a-z_]+)"', t):
        reg_params.setdefault(name, f)
for i, m in enumerate(M):
    for variant in range(3):
        prog = bytearray([i, 0, 42, 0, 8])
        for k in range(8):
            prog += bytes([k])            # key: parameter k (mod count)
            op = [6, 0, 5][variant] if k % 2 == 0 else [0, 4, 10][variant]
            prog.append(op)
            if op == 6:
                prog.append(lit_bt + k)
            elif op == 0:
                prog.append(10 + k)
            elif op == 4:
                prog.append(1)
            elif op == 5:
                prog += bytes([13]) + b"BTC-PERPETUAL"
            elif op == 10:
                prog += bytes([1, 200, 6, 14])  # { [1] = "ticker.BTC-PERPETUAL.100ms" }
        write("params_fuzz", "m%02d_%d" % (i, variant), bytes(prog))

# ratelimit_fuzz: 4-byte operations
def op(kind, pool, arg):
    return bytes([kind, pool, arg >> 8 & 255, arg & 255])
burst = b"".join(op(2, 1, 0) for _ in range(40))  # matching-engine requests of cost 1
write("ratelimit_fuzz", "me_burst", burst + op(8, 0, 50000) + burst)
write("ratelimit_fuzz", "methods", b"".join(op(10, 0, i) + op(0, 0, 1000) for i in range(len(M))))
write("ratelimit_fuzz", "changes", burst[:40] + op(6, 0, 2) + burst[:40] + op(7, 0, 30000) +
      op(5, 0, 0) + b"".join(op(3, 0, 499) for _ in range(30)) + op(9, 2, 40000))

# sim_dispatch_fuzz: '\n'-separated request texts on one connection (account alice:sa)
def rq(i, method, params=None):
    r = {"jsonrpc": "2.0", "id": i, "method": method}
    if params is not None:
        r["params"] = params
    return compact(r)
auth = rq(1, "public/auth", {"grant_type": "client_credentials", "client_id": "alice", "client_secret": "sa"})
sim = {
    "public": [rq(1, "public/test"), rq(2, "public/get_time"), rq(3, "public/hello", {"client_name": "f", "client_version": "1"}),
               rq(4, "public/ticker", {"instrument_name": "BTC-PERPETUAL"}),
               rq(5, "public/get_order_book", {"instrument_name": "BTC-PERPETUAL", "depth": 5}),
               rq(6, "public/get_instruments", {"currency": "BTC"}),
               rq(7, "public/subscribe", {"channels": ["ticker.BTC-PERPETUAL.100ms", "book.BTC-PERPETUAL.100ms"]}),
               rq(8, "public/set_heartbeat", {"interval": 10}), rq(9, "public/unsubscribe_all")],
    "private": [auth, rq(2, "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 90000.0, "label": "a"}),
                rq(3, "private/sell", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "market"}),
                rq(4, "private/get_open_orders_by_instrument", {"instrument_name": "BTC-PERPETUAL"}),
                rq(5, "private/edit", {"order_id": "1", "amount": 20, "price": 91000.0}),
                rq(6, "private/cancel_by_label", {"label": "a"}), rq(7, "private/get_positions", {"currency": "BTC"}),
                rq(8, "private/get_account_summary", {"currency": "BTC"}),
                rq(9, "private/subscribe", {"channels": ["user.orders.any.any.raw", "user.portfolio.btc"]}),
                rq(10, "private/enable_cancel_on_disconnect", {"scope": "connection"}), rq(11, "private/logout")],
    "faults": [rq(1, "sim/fault", {"action": "error", "code": 10009, "message": "x"}), rq(2, "public/test"),
               rq(3, "sim/fault", {"action": "stall", "count": 1}), rq(4, "public/test"),
               rq(5, "sim/fault", {"action": "delay", "ms": 5}), rq(6, "public/test"),
               rq(7, "sim/fault", {"action": "malformed"}), rq(8, "sim/stats"),
               rq(9, "sim/fault", {"action": "close", "code": 1000})],
    "envelope": ["[" + rq(1, "public/test") + "]", "{", "null", '{"jsonrpc":"2.0","id":1.5,"method":"public/test"}',
                 '{"jsonrpc":"2.0","id":"s","method":"public/test","params":[1]}',
                 '{"jsonrpc":"1.0","id":1,"method":"public/test"}', '{"id":1,"method":"nope/x","jsonrpc":"2.0"}',
                 rq(2, "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 1})],
}
for k, lines in sim.items():
    write("sim_dispatch_fuzz", k, "\n".join(lines))

# private_fuzz: flags byte (bit 0 client_credentials, bit 1 cancel on disconnect, bit 2 a 2 ms
# auth timeout), then '\n'-separated messages and commands (fuzz/private_fuzz.c)
AUTH_OK = (b'{"access_token":"at-1","refresh_token":"rt-1","expires_in":900,"scope":"connection '
           b'trade:read_write","token_type":"bearer"}')
write("private_fuzz", "auth_ok", bytes([0]) + b"\n!gated\n!auth" + AUTH_OK + b"\n!ans{}")
write("private_fuzz", "auth_13009", bytes([2]) + b"\n!gated\n!auth" + AUTH_OK +
      b"\n!ans\"ok\"\n!gated\n!err13009\n!auth" + AUTH_OK + b"\n!drop\n!open\n!auth{}")
write("private_fuzz", "auth_retry", bytes([5]) + b"\n!err10028\n!gated1\n!tick\n!auth" +
      AUTH_OK.replace(b"900", b"-1") + b"\n!err13004\n!gated")

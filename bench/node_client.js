// bench/node_client.js — the benchmark's Node peer (Node + npm's ws + JSON.parse, the stack
// CCXT Pro uses), doing the same work as bench/runtime.lua and the C peers.
//
//     node bench/node_client.js CA_FILE PORT ROUNDTRIPS [react]
//
// Connects to wss://127.0.0.1:PORT/ws/api/v2 (TLS verified against CA_FILE, no compression),
// then:
//   1. firehose: public/subscribe to ticker.BTC-PERPETUAL.raw; every message is JSON.parse'd
//      and params.data.best_bid_price / best_ask_price read, until the end marker
//      (params.data.end); timed from the subscribe send to the end marker;
//   2. round trip: ROUNDTRIPS awaited public/test calls, one at a time, each timed from before
//      the send to the answer parsed (process.hrtime);
//   3. react: private/subscribe to ticker.BTC-PERPETUAL.100ms; for each ticker, sends the same
//      order as the other peers (JSON.stringify of {instrument_name, amount: 10, type: "limit",
//      label: "bench", price: best_bid_price, post_only: true}) and waits for its answer; the
//      server times the reactions.
// Prints "RESULT key=value ..." lines like bench/bare_client.c; exits 1 on any failure.
// ws is installed by scripts/run-bench into bench/node_modules (bench/package.json).
'use strict';
const fs = require('fs');
const path = require('path');
const WebSocket = require(path.join(__dirname, 'node_modules', 'ws'));

const [caFile, portArg, rtsArg, mode] = process.argv.slice(2);
const port = Number(portArg), rts = Number(rtsArg);
if (!caFile || !(port > 0) || !(rts >= 0) || (mode !== undefined && mode !== 'react')) {
  process.stderr.write('usage: node bench/node_client.js CA_FILE PORT ROUNDTRIPS [react]\n');
  process.exit(2);
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const fail = (what) => { process.stderr.write(`node_client: ${what}\n`); process.exit(1); };

const ws = new WebSocket(`wss://127.0.0.1:${port}/ws/api/v2`, {
  ca: fs.readFileSync(caFile), perMessageDeflate: false, maxPayload: 256 * 1024,
});
let onMessage = () => {};
ws.on('message', (data) => onMessage(JSON.parse(data)));
ws.on('error', (e) => fail(`connection error: ${e.message}`));
ws.on('close', () => { if (!done) fail('connection closed'); });
let nextId = 1, done = false;
const send = (method, params) => ws.send(JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }));

function firehose() {
  return new Promise((resolve) => {
    let n = 0, spread = 0;
    const t0 = nowUs();
    onMessage = (msg) => {
      const d = msg.params && msg.params.data;
      if (!d) return;
      if (d.end) {
        const secs = (nowUs() - t0) / 1e6;
        if (!(spread > 0)) fail('the handler saw no spread');
        console.log(`RESULT firehose msgs=${n} secs=${secs.toFixed(3)} rate=${Math.round(n / secs)}`);
        resolve();
        return;
      }
      const bid = d.best_bid_price, ask = d.best_ask_price;
      spread += ask - bid;
      n++;
    };
    send('public/subscribe', { channels: ['ticker.BTC-PERPETUAL.raw'] });
  });
}

function roundtrips() {
  return new Promise((resolve) => {
    const us = [];
    let t = 0;
    const next = () => { t = nowUs(); send('public/test', {}); };
    onMessage = (msg) => {
      if (msg.id === undefined) return;
      us.push(nowUs() - t);
      if (us.length < rts) { next(); return; }
      us.sort((a, b) => a - b);
      const q = (p) => us[Math.max(0, Math.min(us.length - 1, Math.ceil(p * us.length) - 1))];
      console.log(`RESULT roundtrip n=${us.length} p50_us=${q(0.5)} p99_us=${q(0.99)}`);
      resolve();
    };
    if (rts > 0) next(); else resolve();
  });
}

function reactions() {
  return new Promise((resolve) => {
    let orders = 0;
    onMessage = (msg) => {
      if (msg.id !== undefined) { if (msg.result && msg.result.order) orders++; return; }
      const d = msg.params && msg.params.data;
      if (!d) return;
      if (d.end) { console.log(`RESULT react orders=${orders}`); resolve(); return; }
      send('private/buy', { instrument_name: 'BTC-PERPETUAL', amount: 10, type: 'limit',
                            label: 'bench', price: d.best_bid_price, post_only: true });
    };
    send('private/subscribe', { channels: ['ticker.BTC-PERPETUAL.100ms'] });
  });
}

ws.on('open', async () => {
  await firehose();
  await roundtrips();
  if (mode === 'react') await reactions();
  console.log(`RESULT rss_kib=${Math.round(process.resourceUsage().maxRSS)}`);
  done = true;
  ws.close();
});

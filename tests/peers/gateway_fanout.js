// gateway_fanout.js — the live feed's fan-out latency, for bench/bench_gateway.sh.
//
//   node gateway_fanout.js BASE TOKEN CLIENTS EXPECT [MAX_MS]
//
// Opens CLIENTS WebSocket connections to BASE/api/v1/ws, prints "ready" when
// all have their hello, then records for each alert and each client the time
// from the alert's committed_at (persistence's commit, same host clock) to
// its arrival.  Ends when every client has EXPECT alerts (or MAX_MS) and
// prints one line: clients=.. alerts=.. samples=.. p50_ms=.. p99_ms=.. max_ms=..
// spread_p99_ms=.. (spread: first to last client for one alert).
'use strict';
const WebSocket = require('ws');

const [base, token, nStr, expStr, maxStr] = process.argv.slice(2);
const n = Number(nStr);
const expect = Number(expStr);
const max = Number(maxStr || 120000);
const url = `${base.replace(/^http/, 'ws')}/api/v1/ws?access_token=${token}`;
const lat = [];
const arrivals = new Map(); // id -> [first, last]
let ready = 0;
let done = 0;
const counts = new Array(n).fill(0);

function pct(a, p) {
  if (a.length === 0) return NaN;
  return a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
}

function finish() {
  lat.sort((x, y) => x - y);
  const spread = [...arrivals.values()].map(([a, b]) => b - a).sort((x, y) => x - y);
  console.log(`clients=${n} alerts=${arrivals.size} samples=${lat.length} ` +
    `p50_ms=${pct(lat, 50).toFixed(1)} p99_ms=${pct(lat, 99).toFixed(1)} max_ms=${lat[lat.length - 1].toFixed(1)} ` +
    `spread_p99_ms=${pct(spread, 99).toFixed(1)} complete_clients=${done}`);
  process.exit(0);
}

let opened = 0;
function connect(i) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('message', (data) => {
    const now = Date.now();
    const m = JSON.parse(data.toString());
    if (m.type === 'hello') {
      if (++ready === n) console.log('ready');
      return;
    }
    if (m.type !== 'alert') return;
    const c = Date.parse(m.alert.committed_at);
    lat.push(now - c);
    const a = arrivals.get(m.alert.id);
    if (a) a[1] = now; else arrivals.set(m.alert.id, [now, now]);
    if (++counts[i] === expect && ++done === n) finish();
  });
  ws.on('error', (e) => { console.error(`client ${i}: ${e.message}`); });
  ws.on('open', () => {
    // open in waves so the accept queue never overflows
    if (++opened < n) connect(opened);
  });
}
connect(0);
setTimeout(() => { if (lat.length) finish(); console.log('timeout'); process.exit(1); }, max);

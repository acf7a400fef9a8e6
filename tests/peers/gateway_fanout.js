// gateway_fanout.js — the live feed's fan-out latency, for bench/bench_gateway.sh.
//
//   node gateway_fanout.js BASE TOKEN CLIENTS EXPECT [MAX_MS [SAMPLES_FILE]]
//   node gateway_fanout.js combine CLIENTS SAMPLES_FILE...
//
// Opens CLIENTS WebSocket connections to BASE/api/v1/ws, prints "ready" when
// all have their hello, then records for each alert and each client the time
// from the alert's committed_at (persistence's commit, same host clock) to
// its arrival.  Ends when every client has EXPECT alerts (or MAX_MS).
// Without SAMPLES_FILE it prints one line: clients=.. alerts=.. samples=..
// p50_ms=.. p99_ms=.. max_ms=.. spread_p99_ms=.. complete_clients=.. (spread:
// first to last client for one alert).  With SAMPLES_FILE it writes its
// samples there ("id arrival_ms latency_ms" lines) and prints "done
// complete_clients=N"; `combine` reads several such files (one per process,
// so that one node process's single thread does not itself become the
// latency being measured) and prints the same summary line over all.
//
// The alert messages are not parsed as JSON: the id and committed_at are
// found in the text, which keeps this client's CPU per message small.
'use strict';
const fs = require('fs');

function pct(a, p) {
  if (a.length === 0) return NaN;
  return a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
}

function summary(n, samples, complete) {
  // samples: array of [id, arrival, latency]
  const lat = samples.map((s) => s[2]).sort((x, y) => x - y);
  const arrivals = new Map();
  for (const [id, t] of samples) {
    const a = arrivals.get(id);
    if (!a) arrivals.set(id, [t, t]);
    else {
      if (t < a[0]) a[0] = t;
      if (t > a[1]) a[1] = t;
    }
  }
  const spread = [...arrivals.values()].map(([a, b]) => b - a).sort((x, y) => x - y);
  return `clients=${n} alerts=${arrivals.size} samples=${lat.length} ` +
    `p50_ms=${pct(lat, 50).toFixed(1)} p99_ms=${pct(lat, 99).toFixed(1)} ` +
    `max_ms=${lat.length ? lat[lat.length - 1].toFixed(1) : NaN} ` +
    `spread_p99_ms=${pct(spread, 99).toFixed(1)} complete_clients=${complete}`;
}

if (process.argv[2] === 'combine') {
  const n = Number(process.argv[3]);
  const samples = [];
  let complete = 0;
  for (const f of process.argv.slice(4)) {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    for (const l of lines) {
      if (l.startsWith('complete ')) { complete += Number(l.slice(9)); continue; }
      const p = l.split(' ');
      if (p.length === 3) samples.push([Number(p[0]), Number(p[1]), Number(p[2])]);
    }
  }
  console.log(summary(n, samples, complete));
  process.exit(0);
}

const WebSocket = require('ws');
const [base, token, nStr, expStr, maxStr, outFile] = process.argv.slice(2);
const n = Number(nStr);
const expect = Number(expStr);
const max = Number(maxStr || 120000);
const url = `${base.replace(/^http/, 'ws')}/api/v1/ws?access_token=${token}`;
const samples = [];
let ready = 0;
let done = 0;
const counts = new Array(n).fill(0);

function finish() {
  if (outFile) {
    const out = samples.map((s) => `${s[0]} ${s[1]} ${s[2]}`);
    out.push(`complete ${done}`);
    fs.writeFileSync(outFile, out.join('\n') + '\n');
    console.log(`done complete_clients=${done}`);
  } else {
    console.log(summary(n, samples, done));
  }
  process.exit(0);
}

const ALERT = '{"type":"alert"';
const COMMITTED = '"committed_at":"';
let opened = 0;
function connect(i) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('message', (data) => {
    const now = Date.now();
    const s = data.toString();
    if (!s.startsWith(ALERT)) {
      const m = JSON.parse(s);
      if (m.type === 'hello' && ++ready === n) console.log('ready');
      return;
    }
    const idAt = s.indexOf('"id":') + 5;
    const id = parseInt(s.slice(idAt, idAt + 24), 10);
    const cAt = s.indexOf(COMMITTED) + COMMITTED.length;
    const c = Date.parse(s.slice(cAt, s.indexOf('"', cAt)));
    samples.push([id, now, now - c]);
    if (++counts[i] === expect && ++done === n) finish();
  });
  ws.on('error', (e) => { console.error(`client ${i}: ${e.message}`); });
  ws.on('open', () => {
    // open in waves so the accept queue never overflows
    if (++opened < n) connect(opened);
  });
}
connect(0);
setTimeout(() => { if (samples.length) finish(); console.log('timeout'); process.exit(1); }, max);

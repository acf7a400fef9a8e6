// gateway_ws.js — WebSocket clients of the api-gateway's live feed (npm ws).
//
//   node gateway_ws.js feed BASE TOKEN [IDLE_MS] [MAX_MS]
//     connects four clients to BASE/api/v1/ws:
//       all      token as access_token, no filter
//       high     Bearer header, ?min_severity=high
//       switch   no filter at first, then sends {"type":"filter","min_severity":"critical",
//                "kinds":["unmanaged"]} and waits for the new hello
//       stalled  stops reading right after its hello (its socket is paused)
//     prints "ready" once every client has its hello (the test then makes
//     alerts), and after IDLE_MS (4000) without an alert for "all" (or MAX_MS)
//     resumes the stalled one, waits for it to be closed and prints one JSON
//     line: {client: {ids: [...], kinds: [...], severities: [...], close: code}}.
//   node gateway_ws.js noauth BASE
//     prints the HTTP status a handshake without a token gets.
//   node gateway_ws.js drain BASE TOKEN
//     connects, prints "ready", and prints "close CODE" when the server closes.
'use strict';
const WebSocket = require('ws');

const [mode, base, token] = process.argv.slice(2, 5);
const wsBase = base.replace(/^http/, 'ws');

function open(name, path, opts, onHello) {
  const ws = new WebSocket(wsBase + path, opts);
  const c = { name, ws, ids: [], kinds: [], severities: [], hellos: 0, close: null, errors: [] };
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.type === 'hello') {
      c.hellos++;
      onHello(c, m);
    } else if (m.type === 'alert') {
      c.ids.push(m.alert.id);
      c.kinds.push(m.alert.kind);
      c.severities.push(m.alert.severity);
      c.last = Date.now();
    } else if (m.type === 'error') {
      c.errors.push(m.message);
    }
  });
  ws.on('close', (code) => { c.close = code; });
  ws.on('error', (e) => { c.errors.push(String(e.message)); });
  return c;
}

if (mode === 'noauth') {
  const ws = new WebSocket(wsBase + '/api/v1/ws');
  ws.on('unexpected-response', (req, res) => { console.log(res.statusCode); process.exit(0); });
  ws.on('open', () => { console.log('101'); process.exit(0); });
  ws.on('error', (e) => { console.log('error ' + e.message); process.exit(0); });
} else if (mode === 'drain') {
  const ws = new WebSocket(`${wsBase}/api/v1/ws?access_token=${token}`);
  ws.on('message', (d) => { if (JSON.parse(d.toString()).type === 'hello') console.log('ready'); });
  ws.on('close', (code) => { console.log(`close ${code}`); process.exit(0); });
  ws.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
  setTimeout(() => { console.log('close none'); process.exit(1); }, 30000);
} else if (mode === 'feed') {
  const idle = Number(process.argv[5] || 4000);
  const max = Number(process.argv[6] || 90000);
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  let ready = 0;
  const want = 4;
  const hello = () => { if (++ready === want) console.log('ready'); };
  const clients = [
    open('all', `/api/v1/ws?access_token=${token}`, {}, (c) => { if (c.hellos === 1) hello(); }),
    open('high', '/api/v1/ws?min_severity=high', auth, (c) => { if (c.hellos === 1) hello(); }),
    open('switch', `/api/v1/ws?access_token=${token}`, {}, (c, m) => {
      if (c.hellos === 1) {
        c.ws.send(JSON.stringify({ type: 'filter', min_severity: 'critical', kinds: ['unmanaged'] }));
      } else if (c.hellos === 2) {
        c.filter = m.filter;
        hello();
      }
    }),
    open('stalled', `/api/v1/ws?access_token=${token}`, {}, (c) => {
      if (c.hellos === 1) {
        c.ws._socket.pause(); // reads nothing more until resumed
        hello();
      }
    }),
  ];
  const t0 = Date.now();
  const all = clients[0];
  const timer = setInterval(() => {
    const quiet = all.last && Date.now() - all.last > idle;
    if (!quiet && Date.now() - t0 < max) return;
    clearInterval(timer);
    const stalled = clients[3];
    stalled.ws._socket.resume();
    const t1 = Date.now();
    const wait = setInterval(() => {
      if (stalled.close === null && Date.now() - t1 < 8000) return;
      clearInterval(wait);
      const out = {};
      for (const c of clients) {
        out[c.name] = { ids: c.ids, kinds: c.kinds, severities: c.severities, close: c.close,
          errors: c.errors, filter: c.filter || null };
      }
      console.log(JSON.stringify(out));
      for (const c of clients) c.ws.terminate();
      process.exit(0);
    }, 100);
  }, 200);
} else {
  console.error('usage: gateway_ws.js feed|noauth|drain BASE [TOKEN]');
  process.exit(2);
}

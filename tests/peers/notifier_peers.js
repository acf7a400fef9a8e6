// notifier_peers.js — the outside services tfdrift-notifier talks to, on
// loopback, behaving like the real ones, for tests/integration/test_notifier_*.sh
// and bench/bench_notifier.sh.
//
//   node notifier_peers.js --http PORT --hook PORT [--smtp PORT --tls-key F --tls-cert F]
//                          [--secret whsec_...] [--token xoxb-...] [--pd-key KEY]
//                          [--slack-rate N] [--hook-delay MS]
//
// --hook PORT: a Standard Webhooks receiver.  Every request is verified with
//   the npm `standardwebhooks` package (an implementation independent of
//   ours); a bad signature is answered 401 and counted.  Like a careful real
//   receiver it processes each webhook-id once: a repeat is answered 200 and
//   counted in `duplicates`, not processed again.
// --http PORT:
//   POST /slack/hook              Slack incoming webhook: 200 "ok"
//   POST /slack/api/chat.postMessage, /slack/api/chat.update
//                                 Slack Web API with a bot token: 200
//                                 {"ok":true,"channel","ts"}; {"ok":false,
//                                 "error":"invalid_auth"} for a wrong token;
//                                 more than --slack-rate messages per second
//                                 per channel: 429 with Retry-After: 1
//   POST /pd/v2/enqueue           PagerDuty Events API v2: 202 {"status":
//                                 "success","dedup_key"}; 400 for an invalid
//                                 event; incidents kept by dedup_key
//   POST /teams                   a Teams workflow: 202
//   GET  /_state                  everything received, as JSON
//   POST /_control                {"target":"hook|slack|pd|teams","mode":
//                                 "ok|down|500|429","retry_after":S,"delay_ms":N}
//                                 "down" closes the webhook's port (connection
//                                 refused) until mode "ok" opens it again.
// --smtp PORT: an SMTP server (npm `smtp-server`) with STARTTLS required
//   before MAIL, and login as tfdrift with --smtp-password (else 535); each
//   message's raw text is kept.
'use strict';
const http = require('http');
const fs = require('fs');
const { Webhook } = require('standardwebhooks');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const secret = args.secret || 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const token = args.token || 'xoxb-test-token';
const pdKey = args['pd-key'] || 'R0UTINGKEY00000000000000000000AB';
const slackRate = Number(args['slack-rate'] || 1);
const hookDelay = Number(args['hook-delay'] || 0);
const wh = new Webhook(secret);

const state = {
  hook: { received: 0, processed: 0, duplicates: 0, bad_signature: 0, ids: [], events: [], first_seen: {} },
  slack_hook: { messages: [] },
  slack: { posts: [], updates: [], ratelimited: 0, bad_auth: 0 },
  pd: { events: [], incidents: {}, rejected: 0 },
  teams: { cards: [] },
  smtp: { mails: [] },
};
const modes = { hook: { mode: 'ok' }, slack: { mode: 'ok' }, pd: { mode: 'ok' }, teams: { mode: 'ok' } };
const seenIds = new Set();

function body(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function send(res, code, obj, headers) {
  const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
  res.writeHead(code, Object.assign({ 'content-type': typeof obj === 'string' ? 'text/plain' : 'application/json' }, headers || {}));
  res.end(text);
}

// Failure modes shared by the HTTP peers; true when it answered.
function failed(target, res) {
  const m = modes[target];
  if (m.mode === '500') {
    send(res, 500, { error: 'internal error' });
    return true;
  }
  if (m.mode === '429') {
    send(res, 429, { error: 'rate limited' }, { 'retry-after': String(m.retry_after || 1) });
    return true;
  }
  return false;
}

// ---- the webhook receiver ---------------------------------------------------
const hookSockets = new Set();
const hookServer = http.createServer(async (req, res) => {
  const text = await body(req);
  state.hook.received++;
  const reply = () => {
    if (failed('hook', res)) return;
    let payload;
    try {
      payload = wh.verify(text, req.headers);
    } catch (e) {
      state.hook.bad_signature++;
      send(res, 401, { error: String(e.message) });
      return;
    }
    const id = req.headers['webhook-id'];
    if (seenIds.has(id)) {
      state.hook.duplicates++;
      send(res, 200, { ok: true, duplicate: true });
      return;
    }
    seenIds.add(id);
    state.hook.processed++;
    state.hook.ids.push(id);
    const alerts = (payload.data && payload.data.alerts) || [];
    state.hook.events.push({
      id, type: payload.type, alerts: alerts.map((a) => a.id),
      addresses: alerts.map((a) => a.resource_address),
      status: payload.data.status || null, at: Date.now(),
    });
    send(res, 200, { ok: true });
  };
  if (hookDelay > 0 || modes.hook.delay_ms) setTimeout(reply, modes.hook.delay_ms || hookDelay);
  else reply();
});
hookServer.keepAliveTimeout = 30000;
hookServer.on('connection', (s) => {
  hookSockets.add(s);
  s.on('close', () => hookSockets.delete(s));
});
function hookDown() {
  hookServer.close();
  for (const s of hookSockets) s.destroy();
}
function hookUp() {
  if (!hookServer.listening) hookServer.listen(Number(args.hook), '127.0.0.1');
}

// ---- Slack, PagerDuty, Teams, control ----------------------------------------
let tsSeq = 0;
const channelSends = new Map(); // channel -> [times]
function slackTs() {
  tsSeq++;
  return `${Math.floor(Date.now() / 1000)}.${String(tsSeq).padStart(6, '0')}`;
}

const pdActions = new Set(['trigger', 'acknowledge', 'resolve']);
const pdSeverities = new Set(['critical', 'error', 'warning', 'info']);

const server = http.createServer(async (req, res) => {
  const text = await body(req);
  let j = null;
  try { j = text ? JSON.parse(text) : null; } catch (e) { j = null; }
  const url = req.url;
  if (req.method === 'GET' && url === '/_state') return send(res, 200, state);
  if (req.method === 'POST' && url === '/_control') {
    modes[j.target] = { mode: j.mode, retry_after: j.retry_after, delay_ms: j.delay_ms };
    if (j.target === 'hook') {
      if (j.mode === 'down') hookDown(); else hookUp();
    }
    return send(res, 200, { ok: true });
  }
  if (req.method === 'POST' && url === '/slack/hook') {
    if (failed('slack', res)) return;
    if (!j || (!j.text && !j.blocks)) return send(res, 400, 'no_text');
    state.slack_hook.messages.push(j);
    return send(res, 200, 'ok');
  }
  if (req.method === 'POST' && url.startsWith('/slack/api/')) {
    if (failed('slack', res)) return;
    if (req.headers.authorization !== `Bearer ${token}`) {
      state.slack.bad_auth++;
      return send(res, 200, { ok: false, error: 'invalid_auth' });
    }
    if (!j || !j.channel) return send(res, 200, { ok: false, error: 'channel_not_found' });
    const now = Date.now();
    const times = (channelSends.get(j.channel) || []).filter((t) => now - t < 1000);
    if (times.length >= slackRate) {
      state.slack.ratelimited++;
      return send(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' });
    }
    times.push(now);
    channelSends.set(j.channel, times);
    if (url === '/slack/api/chat.postMessage') {
      const ts = slackTs();
      state.slack.posts.push({ ts, channel: j.channel, thread_ts: j.thread_ts || null, text: j.text, attachments: j.attachments });
      return send(res, 200, { ok: true, channel: j.channel, ts, message: { text: j.text } });
    }
    if (url === '/slack/api/chat.update') {
      const orig = state.slack.posts.find((p) => p.ts === j.ts && p.channel === j.channel);
      if (!orig) return send(res, 200, { ok: false, error: 'message_not_found' });
      state.slack.updates.push({ ts: j.ts, channel: j.channel, text: j.text });
      orig.text = j.text;
      return send(res, 200, { ok: true, channel: j.channel, ts: j.ts, text: j.text });
    }
    return send(res, 404, { ok: false, error: 'unknown_method' });
  }
  if (req.method === 'POST' && url === '/pd/v2/enqueue') {
    if (failed('pd', res)) return;
    const bad = (msg) => { state.pd.rejected++; send(res, 400, { status: 'invalid event', message: 'Event object is invalid', errors: [msg] }); };
    if (!j) return bad('body is not JSON');
    if (j.routing_key !== pdKey) return bad("'routing_key' is invalid");
    if (!pdActions.has(j.event_action)) return bad("'event_action' is invalid");
    if (j.event_action !== 'trigger' && !j.dedup_key) return bad("'dedup_key' is required");
    if (j.event_action === 'trigger') {
      const p = j.payload || {};
      if (!p.summary || !p.source || !pdSeverities.has(p.severity)) return bad("'payload' is invalid");
    }
    const key = j.dedup_key;
    state.pd.events.push({ action: j.event_action, dedup_key: key, severity: j.payload && j.payload.severity });
    const inc = state.pd.incidents[key] || { status: 'none', triggers: 0 };
    if (j.event_action === 'trigger') { inc.triggers++; if (inc.status !== 'acknowledged') inc.status = 'triggered'; }
    if (j.event_action === 'acknowledge' && inc.status === 'triggered') inc.status = 'acknowledged';
    if (j.event_action === 'resolve' && inc.status !== 'none') inc.status = 'resolved';
    state.pd.incidents[key] = inc;
    return send(res, 202, { status: 'success', message: 'Event processed', dedup_key: key });
  }
  if (req.method === 'POST' && url === '/teams') {
    if (failed('teams', res)) return;
    const att = j && j.attachments && j.attachments[0];
    if (!att || att.contentType !== 'application/vnd.microsoft.card.adaptive' || !att.content || att.content.type !== 'AdaptiveCard') {
      return send(res, 400, { error: 'not an Adaptive Card message' });
    }
    state.teams.cards.push(att.content);
    return send(res, 202, '');
  }
  send(res, 404, { error: 'not found' });
});
server.keepAliveTimeout = 30000;

server.listen(Number(args.http), '127.0.0.1');
hookUp();

if (args.smtp) {
  const { SMTPServer } = require('smtp-server');
  const smtp = new SMTPServer({
    secure: false,
    key: fs.readFileSync(args['tls-key']),
    cert: fs.readFileSync(args['tls-cert']),
    authOptional: true,
    onAuth(auth, session, cb) {
      if (auth.username === 'tfdrift' && auth.password === args['smtp-password']) return cb(null, { user: auth.username });
      cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onMailFrom(address, session, cb) {
      if (!session.secure) return cb(Object.assign(new Error('Must issue a STARTTLS command first'), { responseCode: 530 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        state.smtp.mails.push({
          from: session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  smtp.on('error', () => {});
  smtp.listen(Number(args.smtp), '127.0.0.1');
}

console.log('ready');

#!/usr/bin/env node
// falco_http_driver.js — Falco's http_output at a fixed rate, for soak runs.
//
//   node falco_http_driver.js --url http://127.0.0.1:PORT/api/v1/falco/events
//        --alerts FILE --rate N --seconds S [--token T] [--log FILE]
//
// POSTs one alert per request (as Falco does) over keep-alive connections
// (at most 16 at once), each a fresh copy of a template (soak_alerts.js).
// An alert answered with anything but 2xx is sent again (as Falco's
// http_output does not, but a soak must not lose what it counts), so every
// alert counted as sent was accepted.  Every second, and at the end, the
// log gets {"t":ms,"accepted":n,"retried":n,"inflight":n}.
'use strict';
const http = require('http');
const fs = require('fs');
const soak = require('./soak_alerts');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const templates = soak.load(args.alerts);
const url = new URL(args.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const log = (o) => (args.log ? fs.appendFileSync(args.log, JSON.stringify(o) + '\n') : console.log(JSON.stringify(o)));
let accepted = 0, retried = 0, inflight = 0, next = 0, finished = false;
const backlog = [];

function post(body) {
	inflight++;
	const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
		headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
			...(args.token ? { authorization: 'Bearer ' + args.token } : {}) } }, (res) => {
		res.resume();
		res.on('end', () => {
			inflight--;
			if (res.statusCode >= 200 && res.statusCode < 300) accepted++;
			else { retried++; backlog.push(body); }
			pump();
		});
	});
	req.on('error', () => { inflight--; retried++; backlog.push(body); setTimeout(pump, 100); });
	req.end(body);
}

function pump() {
	while (backlog.length > 0 && inflight < 64) post(backlog.shift());
	if (finished && backlog.length === 0 && inflight === 0) {
		log({ t: Date.now(), accepted, retried, inflight, done: true });
		process.exit(0);
	}
}

const t0 = Date.now();
setInterval(() => log({ t: Date.now() - t0, accepted, retried, inflight }), 1000).unref();
soak.pace(+args.rate, +args.seconds, (n) => {
	for (let i = 0; i < n; i++) backlog.push(JSON.stringify(soak.fresh(templates[next++ % templates.length])));
	pump();
}, () => { finished = true; pump(); });

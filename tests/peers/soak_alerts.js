// soak_alerts.js — alerts for sustained-load runs (bench/bench_soak.sh).
//
// A soak sends far more events than a file holds, so Falco JSON alerts are
// used as templates: each one sent is a copy with a new CloudTrail event id
// (the pipeline deduplicates by it) and the current time as its CloudTrail
// eventTime (ms), so PostgreSQL's committed_at - event_time is the event ->
// commit latency.  A pacer sends `rate` a second in 10 ms ticks, catching up
// when a tick came late, for `seconds`.
'use strict';
const crypto = require('crypto');
const fs = require('fs');

function load(file) {
	return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

function fresh(a) {
	const now = new Date().toISOString();
	return { ...a, time: now, output_fields: { ...a.output_fields, 'ct.id': crypto.randomUUID(), 'ct.time': now } };
}

// Calls send(n) every 10 ms with how many are due; onDone() after `seconds`.
function pace(rate, seconds, send, onDone) {
	const t0 = Date.now();
	let sent = 0;
	const timer = setInterval(() => {
		const el = Date.now() - t0;
		const due = Math.floor((Math.min(el, seconds * 1000) * rate) / 1000) - sent;
		if (due > 0) {
			sent += due;
			send(due);
		}
		if (el >= seconds * 1000) {
			clearInterval(timer);
			onDone(sent);
		}
	}, 10);
}

module.exports = { load, fresh, pace };

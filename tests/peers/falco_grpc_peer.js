#!/usr/bin/env node
// falco_grpc_peer.js — a Falco gRPC output server (Falco up to 0.43) for tests.
//
// Loads the project's proto/falco/*.proto with @grpc/proto-loader and serves,
// as Falco does:
//   /falco.outputs.service/sub      bidi: nothing is sent until the client
//                                   sends a `request`; each request drains the
//                                   whole alert queue (one global queue)
//   /falco.version.service/version  Falco's version
//
//   node falco_grpc_peer.js --listen 127.0.0.1:PORT | unix:/path/sock
//        [--ca ca.pem --cert server.pem --key server.key]   mTLS (client cert required)
//        --alerts FILE      Falco JSON alerts, one per line, queued at start
//        [--ready FILE]     written once listening
//        [--log FILE]       one line per request / alert sent
//        [--log-requests 1] also a line "request" for every request
//        [--hold FILE]      answer requests only once FILE exists (a
//                           benchmark starts the clock when it creates it)
//        [--rate N --seconds S]  soak mode: the alerts are templates; N a
//                           second, for S seconds, a fresh copy of the next
//                           one is queued (soak_alerts.js: new event id, now
//                           as its time); the log gets "rate generated G
//                           written W" every second and "rate done G" at the end
//        [--bad FILE]       hostile messages sent first, one per request (a
//                           broken stream is reconnected): each line is
//                           hex:BYTES (raw message bytes: garbage, a truncated
//                           response) or big:N (a well-formed response with an
//                           N-byte output field, for the message size limit)
//
// output_fields values are sent as strings (JSON text for numbers and
// booleans; null fields are left out), as Falco's gRPC output does.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
	args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
if (!args.listen || !args.alerts) {
	console.error('usage: falco_grpc_peer.js --listen ADDR --alerts FILE [--ca --cert --key] [--ready FILE]');
	process.exit(2);
}

const protoDir = path.resolve(__dirname, '../../proto');
const def = loader.loadSync(['falco/outputs.proto', 'falco/version.proto'], {
	keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
	includeDirs: [protoDir],
});
const pkg = grpc.loadPackageDefinition(def);

const logf = args.log ? fs.openSync(args.log, 'a') : null;
function log(s) { if (logf !== null) fs.writeSync(logf, s + '\n'); }

const PRIORITIES = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFORMATIONAL', 'DEBUG'];

function toResponse(a) {
	const fields = {};
	for (const [k, v] of Object.entries(a.output_fields || {})) {
		if (v === null || v === undefined) continue;
		fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
	}
	const ms = Date.parse(a.time || '1970-01-01T00:00:00Z');
	const p = PRIORITIES.indexOf(String(a.priority || 'Debug').toUpperCase());
	return {
		time: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
		priority: PRIORITIES[p < 0 ? 7 : p],
		rule: a.rule || '',
		output: a.output || '',
		output_fields: fields,
		hostname: a.hostname || 'falco-peer',
		tags: a.tags || [],
		source: a.source || 'syscall',
	};
}

// Responses are encoded once, at load: the peer stands in for Falco, whose
// cost is not what the tests and the benchmark measure.  The sub method's
// serializer passes these bytes through (protobufjs would encode each write).
const outputs = pkg.falco.outputs.service.service;
const encode = outputs.sub.responseSerialize;
const subDef = { ...outputs.sub, responseSerialize: (v) => (Buffer.isBuffer(v) ? v : encode(v)) };
const soakMode = args.rate !== undefined;
const queue = soakMode ? [] : fs.readFileSync(args.alerts, 'utf8').split('\n').filter((l) => l.trim() !== '')
	.map((l) => encode(toResponse(JSON.parse(l))));
log(`queued ${queue.length}`);
let written = 0;
const bad = !args.bad ? [] : fs.readFileSync(args.bad, 'utf8').split('\n').filter((l) => l.trim() !== '')
	.map((l) => (l.startsWith('big:')
		? encode(toResponse({ rule: 'big', source: 'aws_cloudtrail', priority: 'Warning',
			output_fields: { 'ct.id': 'big-1', pad: 'A'.repeat(Number(l.slice(4))) } }))
		: Buffer.from(l.replace(/^hex:/, ''), 'hex')));

function sub(call) {
	log('sub opened');
	call.on('data', () => {
		if (args.hold && !fs.existsSync(args.hold)) return;
		if (bad.length > 0) {
			const m = bad.shift();
			log(`bad message ${m.length} bytes`);
			call.write(m);
			return;
		}
		// one request = one drain of the global queue
		if (args['log-requests']) log('request');
		const drained = queue.splice(0, queue.length);
		for (const m of drained) call.write(m);
		written += drained.length;
		if (drained.length > 0) log(`drained ${drained.length}`);
	});
	call.on('end', () => call.end());
	call.on('error', () => {});
}

function version(call, cb) {
	cb(null, {
		version: '0.43.0-peer', major: 0, minor: 43, patch: 0, prerelease: 'peer', build: '',
		engine_minor: 0, engine_fields_checksum: '', engine_major: 0, engine_patch: 0,
		engine_version: '0.0.0',
	});
}

const server = new grpc.Server();
server.addService({ ...outputs, sub: subDef }, { sub, get: (call) => call.end() });
server.addService(pkg.falco.version.service.service, { version });

let creds;
if (args.ca) {
	creds = grpc.ServerCredentials.createSsl(fs.readFileSync(args.ca),
		[{ private_key: fs.readFileSync(args.key), cert_chain: fs.readFileSync(args.cert) }], true);
} else {
	creds = grpc.ServerCredentials.createInsecure();
}
server.bindAsync(args.listen, creds, (err) => {
	if (err) {
		console.error(`falco_grpc_peer: cannot listen on ${args.listen}: ${err.message}`);
		process.exit(1);
	}
	log(`listening ${args.listen}`);
	if (args.ready) fs.writeFileSync(args.ready, 'ready\n');
	if (soakMode) startSoak();
});

function startSoak() {
	const soak = require('./soak_alerts');
	const templates = soak.load(args.alerts);
	let next = 0, generated = 0;
	const stats = setInterval(() => log(`rate generated ${generated} written ${written}`), 1000);
	soak.pace(+args.rate, +args.seconds, (n) => {
		for (let i = 0; i < n; i++) queue.push(encode(toResponse(soak.fresh(templates[next++ % templates.length]))));
		generated += n;
	}, () => {
		clearInterval(stats);
		log(`rate done ${generated}`);
	});
}
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));

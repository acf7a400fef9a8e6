#!/usr/bin/env node
// state_backends.js — remote state backends for tests/integration/test_state_sources.sh:
//   * a real S3-compatible store (s3rver) behind a proxy that verifies every
//     request's AWS Signature V4 (s3rver itself does not check V4) with the
//     test's secret key, then forwards it unsigned;
//   * a Terraform http backend (GET, basic auth, ETag / If-None-Match, 404 = no state);
//   * the HCP Terraform API (workspace lookup, current state version, download),
//     bearer token required.
// Every request is logged to --log as one JSON line. Objects are put with
// PUT http://127.0.0.1:<proxy>/__put/<bucket>/<key> (no signature).
// Optional: --hcp-429 N answers the first N HCP API requests 429 with
// Retry-After: 1; --hang-port H serves GET /state/* as 404 until the file
// <dir>/hang exists, then holds each request without ever answering (logged
// as held, and closed when the client gives up).
// usage: node state_backends.js --dir D --s3-port A --proxy-port B --http-port C
//        --hcp-port E --aws-port G --key-id K --secret S --user U --password P --token T --log F
//        [--hcp-429 N] [--hang-port H] [--http2-port I] [--http-delay-ms M]
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const S3rver = require('s3rver');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const log = (o) => fs.appendFileSync(args.log, JSON.stringify(o) + '\n');

const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');

// Checks the SigV4 Authorization header of req (for service, s3 or sts)
// against args.secret.
function verifySigV4(req, service = 's3') {
	const auth = req.headers['authorization'] || '';
	const m = new RegExp(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\\d{8})/([^/]+)/${service}/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$`).exec(auth);
	if (!m) return { ok: false, why: 'Authorization header shape: ' + auth.slice(0, 40) };
	const [, keyId, day, region, signed, sig] = m;
	if (keyId !== args['key-id']) return { ok: false, why: 'key id ' + keyId };
	const amzDate = req.headers['x-amz-date'] || '';
	const payload = req.headers['x-amz-content-sha256'] || sha('');
	const u = new URL(req.url, 'http://x');
	const query = [...u.searchParams.entries()].map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])
		.sort().map(([k, v]) => k + '=' + v).join('&');
	const names = signed.split(';');
	const headers = names.map((n) => n + ':' + String(req.headers[n] || '').trim().replace(/\s+/g, ' ') + '\n').join('');
	const canonical = [req.method, u.pathname, query, headers, signed, payload].join('\n');
	const scope = `${day}/${region}/${service}/aws4_request`;
	const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n');
	let k = hmac('AWS4' + args.secret, day);
	k = hmac(k, region);
	k = hmac(k, service);
	k = hmac(k, 'aws4_request');
	const want = crypto.createHmac('sha256', k).update(toSign).digest('hex');
	if (!names.includes('host') || !names.includes('x-amz-date')) return { ok: false, why: 'signed headers ' + signed };
	return { ok: want === sig, why: want === sig ? '' : 'signature mismatch', region };
}

function forward(req, res, body, headers) {
	const up = http.request({ host: '127.0.0.1', port: +args['s3-port'], method: req.method, path: req.url, headers },
		(r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
	up.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
	up.end(body);
}

function readBody(req) {
	return new Promise((resolve) => { const b = []; req.on('data', (c) => b.push(c)); req.on('end', () => resolve(Buffer.concat(b))); });
}

async function main() {
	const s3 = new S3rver({ port: +args['s3-port'], address: '127.0.0.1', silent: true,
		directory: path.join(args.dir, 's3'), configureBuckets: [{ name: 'tfstate' }] });
	await s3.run();

	http.createServer(async (req, res) => {
		const body = await readBody(req);
		if (req.url.startsWith('/__put/')) {
			forward({ method: 'PUT', url: req.url.slice(6) }, res, body, { 'content-length': body.length });
			return;
		}
		const v = verifySigV4(req);
		const entry = { kind: 's3', method: req.method, path: req.url, sig_ok: v.ok, why: v.why,
			region: v.region, inm: req.headers['if-none-match'] || null,
			token: req.headers['x-amz-security-token'] || null };
		if (!v.ok) {
			log({ ...entry, status: 403 });
			res.writeHead(403, { 'content-type': 'application/xml' });
			res.end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
			return;
		}
		const h = { ...req.headers };
		for (const k of Object.keys(h)) if (k === 'authorization' || k.startsWith('x-amz-')) delete h[k];
		const origEnd = res.end.bind(res);
		res.end = (...a) => { log({ ...entry, status: res.statusCode }); return origEnd(...a); };
		forward(req, res, body, h);
	}).listen(+args['proxy-port'], '127.0.0.1');

	const etagOf = (buf) => '"' + crypto.createHash('sha1').update(buf).digest('hex') + '"';
	// the http backend, on --http-port and (a second host) --http2-port;
	// --http-delay-ms holds every answer that long, and each request is logged
	// with how many requests its server (inflight) and both (total) hold
	let total = 0;
	const delay = +(args['http-delay-ms'] || 0);
	const backend = (port) => {
		let inflight = 0;
		http.createServer((req, res) => {
			inflight++;
			total++;
			const want = 'Basic ' + Buffer.from(args.user + ':' + args.password).toString('base64');
			const entry = { kind: 'http', port, method: req.method, path: req.url, inm: req.headers['if-none-match'] || null,
				inflight, total };
			const answer = (code, hdrs, b) => {
				log({ ...entry, status: code });
				inflight--;
				total--;
				res.writeHead(code, hdrs);
				res.end(b);
			};
			const done = (code, hdrs, b) => (delay > 0 ? setTimeout(() => answer(code, hdrs, b), delay) : answer(code, hdrs, b));
			if (req.headers['authorization'] !== want) return done(401, { 'www-authenticate': 'Basic' }, '');
			const file = path.join(args.dir, 'http', path.basename(req.url));
			if (!fs.existsSync(file)) return done(404, {}, '');
			const buf = fs.readFileSync(file);
			if (buf.length === 0) return done(204, {}, '');
			const tag = etagOf(buf);
			if (req.headers['if-none-match'] === tag) return done(304, { etag: tag }, '');
			done(200, { etag: tag, 'content-type': 'application/json' }, buf);
		}).listen(port, '127.0.0.1');
	};
	backend(+args['http-port']);
	if (args['http2-port']) backend(+args['http2-port']);

	let hcp429 = +(args['hcp-429'] || 0);
	http.createServer((req, res) => {
		const entry = { kind: 'hcp', method: req.method, path: req.url, t: Date.now() };
		const done = (code, obj) => { log({ ...entry, status: code }); res.writeHead(code, { 'content-type': 'application/vnd.api+json' }); res.end(typeof obj === 'string' || Buffer.isBuffer(obj) ? obj : JSON.stringify(obj)); };
		if (req.headers['authorization'] !== 'Bearer ' + args.token) return done(401, { errors: [{ status: '401' }] });
		if (hcp429 > 0) {
			hcp429--;
			log({ ...entry, status: 429 });
			res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/vnd.api+json' });
			return res.end(JSON.stringify({ errors: [{ status: '429', title: 'Too Many Requests' }] }));
		}
		const file = path.join(args.dir, 'hcp-state.json');
		let m;
		if ((m = /^\/api\/v2\/organizations\/([^/]+)\/workspaces\/([^/?]+)$/.exec(req.url))) {
			if (m[1] !== 'acme' || m[2] !== 'prod') return done(404, { errors: [{ status: '404' }] });
			return done(200, { data: { id: 'ws-abc123', type: 'workspaces', attributes: { name: m[2] } } });
		}
		if (req.url === '/api/v2/workspaces/ws-abc123/current-state-version') {
			if (!fs.existsSync(file)) return done(404, { errors: [{ status: '404' }] });
			const id = 'sv-' + crypto.createHash('sha1').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
			return done(200, { data: { id, type: 'state-versions', attributes: {
				'hosted-state-download-url': `http://127.0.0.1:${args['hcp-port']}/api/state-versions/${id}/hosted_state` } } });
		}
		if (/^\/api\/state-versions\/sv-[0-9a-f]+\/hosted_state$/.test(req.url)) return done(200, fs.readFileSync(file));
		done(404, { errors: [{ status: '404' }] });
	}).listen(+args['hcp-port'], '127.0.0.1');
	// AWS credential endpoints: STS AssumeRoleWithWebIdentity and AssumeRole
	// (SigV4-signed with the test's key, role arn:aws:iam::1:role/tfdrift-assumed),
	// the SSO portal's GetRoleCredentials (bearer sso-access-token),
	// ECS container credentials, IMDSv2. Each hands out the test's key with its
	// own session token.
	const exp = new Date(Date.now() + 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
	const creds = (token) => JSON.stringify({ AccessKeyId: args['key-id'], SecretAccessKey: args.secret, Token: token, Expiration: exp });
	http.createServer((req, res) => {
		const u = new URL(req.url, 'http://x');
		const entry = { kind: 'aws', method: req.method, path: u.pathname };
		const done = (code, b) => { log({ ...entry, status: code }); res.writeHead(code); res.end(b); };
		if (u.searchParams.get('Action') === 'AssumeRoleWithWebIdentity') {
			if (u.searchParams.get('WebIdentityToken') !== 'web-id-jwt' || u.searchParams.get('RoleArn') !== 'arn:aws:iam::1:role/tfdrift') return done(403, '<Error/>');
			return done(200, `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>
<AccessKeyId>${args['key-id']}</AccessKeyId><SecretAccessKey>${args.secret}</SecretAccessKey>
<SessionToken>sts-tok</SessionToken><Expiration>${exp}</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`);
		}
		if (u.searchParams.get('Action') === 'AssumeRole') {
			const v = verifySigV4(req, 'sts');
			const e = { ...entry, action: 'AssumeRole', sig_ok: v.ok, why: v.why, region: v.region,
				role: u.searchParams.get('RoleArn'), session: u.searchParams.get('RoleSessionName'),
				token: req.headers['x-amz-security-token'] || null };
			const fail = (code, c) => { log({ ...e, status: code }); res.writeHead(code); res.end(`<ErrorResponse><Error><Code>${c}</Code></Error></ErrorResponse>`); };
			if (!v.ok) return fail(403, 'SignatureDoesNotMatch');
			if (e.role !== 'arn:aws:iam::1:role/tfdrift-assumed') return fail(403, 'AccessDenied');
			log({ ...e, status: 200 });
			res.writeHead(200);
			return res.end(`<AssumeRoleResponse><AssumeRoleResult><Credentials>
<AccessKeyId>${args['key-id']}</AccessKeyId><SecretAccessKey>${args.secret}</SecretAccessKey>
<SessionToken>role-tok</SessionToken><Expiration>${exp}</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`);
		}
		if (u.pathname === '/federation/credentials') {
			if (req.headers['x-amz-sso_bearer_token'] !== 'sso-access-token') return done(401, '{"message":"Session token not found or invalid"}');
			if (u.searchParams.get('account_id') !== '111122223333' || u.searchParams.get('role_name') !== 'TfDrift') return done(403, '{"message":"No access"}');
			return done(200, JSON.stringify({ roleCredentials: { accessKeyId: args['key-id'], secretAccessKey: args.secret,
				sessionToken: 'sso-tok', expiration: Date.now() + 3600e3 } }));
		}
		if (u.pathname === '/ecs/creds') return req.headers['authorization'] === 'ecs-auth' ? done(200, creds('ecs-tok')) : done(401, '');
		if (u.pathname === '/latest/api/token' && req.method === 'PUT' && req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return done(200, 'imds-session');
		if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session') return done(401, '');
		if (u.pathname === '/latest/meta-data/iam/security-credentials/') return done(200, 'tfdrift-role\n');
		if (u.pathname === '/latest/meta-data/iam/security-credentials/tfdrift-role') return done(200, creds('imds-tok'));
		done(404, '');
	}).listen(+args['aws-port'], '127.0.0.1');
	if (args['hang-port']) {
		let n = 0;
		http.createServer((req, res) => {
			if (!fs.existsSync(path.join(args.dir, 'hang'))) {
				log({ kind: 'hang', event: 'answered', path: req.url });
				res.writeHead(404);
				return res.end();
			}
			const id = ++n;
			log({ kind: 'hang', event: 'held', id, path: req.url });
			req.socket.on('close', () => log({ kind: 'hang', event: 'closed', id }));
		}).listen(+args['hang-port'], '127.0.0.1');
	}
	log({ kind: 'ready' });
}
main().catch((e) => { console.error(e); process.exit(1); });
process.on('SIGTERM', () => process.exit(0));
